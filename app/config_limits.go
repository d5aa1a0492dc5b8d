package app

import (
	"flag"
	"time"

	"policygraph/api"
)

// serverLimits are the http.Server timeouts and the shutdown grace period.
type serverLimits struct {
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout, shutdownTimeout time.Duration
}

// limitFlags defines the flags of the request limits and server timeouts, each
// with an environment fallback; DefaultLimits gives the defaults. Zero turns a
// request limit off. (The body limit, -max-body, is ParseConfig's.)
func limitFlags(fs *flag.FlagSet, env *envDefaults, l *api.Limits, s *serverLimits) {
	envInt, envDur := env.int, env.duration
	d := api.DefaultLimits()
	fs.IntVar(&l.MaxDepth, "max-depth", envInt("POLICYGRAPH_MAX_DEPTH", d.MaxDepth), "deepest field nesting a query may have; 0: no limit (env POLICYGRAPH_MAX_DEPTH)")
	fs.IntVar(&l.MaxComplexity, "max-complexity", envInt("POLICYGRAPH_MAX_COMPLEXITY", d.MaxComplexity), "highest query complexity (lists and traversals cost more, first multiplies); 0: no limit (env POLICYGRAPH_MAX_COMPLEXITY)")
	fs.IntVar(&l.MaxAliases, "max-aliases", envInt("POLICYGRAPH_MAX_ALIASES", d.MaxAliases), "most aliased or repeated fields in a query; 0: no limit (env POLICYGRAPH_MAX_ALIASES)")
	fs.IntVar(&l.MaxTokens, "max-tokens", envInt("POLICYGRAPH_MAX_TOKENS", d.MaxTokens), "most lexical tokens in a query; 0: no limit (env POLICYGRAPH_MAX_TOKENS)")
	fs.DurationVar(&l.Timeout, "timeout", envDur("POLICYGRAPH_TIMEOUT", d.Timeout), "longest a GraphQL request may run; 0: no limit (env POLICYGRAPH_TIMEOUT)")
	fs.DurationVar(&l.RefusalDelay, "refusal-delay", envDur("POLICYGRAPH_REFUSAL_DELAY", d.RefusalDelay), "hold back the answer to a refused request this long, to slow abusive clients; 0: answer at once (env POLICYGRAPH_REFUSAL_DELAY)")
	fs.DurationVar(&s.readHeaderTimeout, "read-header-timeout", envDur("POLICYGRAPH_READ_HEADER_TIMEOUT", 5*time.Second), "time a client has to send the request headers (env POLICYGRAPH_READ_HEADER_TIMEOUT)")
	fs.DurationVar(&s.readTimeout, "read-timeout", envDur("POLICYGRAPH_READ_TIMEOUT", 15*time.Second), "time a client has to send the whole request (env POLICYGRAPH_READ_TIMEOUT)")
	fs.DurationVar(&s.writeTimeout, "write-timeout", envDur("POLICYGRAPH_WRITE_TIMEOUT", 30*time.Second), "time to write a response, from the end of the headers (env POLICYGRAPH_WRITE_TIMEOUT)")
	fs.DurationVar(&s.idleTimeout, "idle-timeout", envDur("POLICYGRAPH_IDLE_TIMEOUT", 120*time.Second), "how long an idle keep-alive connection stays open (env POLICYGRAPH_IDLE_TIMEOUT)")
	fs.DurationVar(&s.shutdownTimeout, "shutdown-timeout", envDur("POLICYGRAPH_SHUTDOWN_TIMEOUT", 10*time.Second), "how long a shutdown waits for requests in flight (env POLICYGRAPH_SHUTDOWN_TIMEOUT)")
}

// subscriptionFlags defines the flags of the subscriptions' limits (see
// api.SubscriptionLimits), each with an environment fallback.
func subscriptionFlags(fs *flag.FlagSet, env *envDefaults, l *api.SubscriptionLimits) {
	envInt, envDur := env.int, env.duration
	d := api.DefaultSubscriptionLimits()
	l.WriteTimeout = d.WriteTimeout
	fs.IntVar(&l.Max, "max-subscriptions", envInt("POLICYGRAPH_MAX_SUBSCRIPTIONS", d.Max), "most subscriptions running at once over WebSocket and server-sent events, in all (TOO_MANY_SUBSCRIPTIONS past it); 0: no limit (env POLICYGRAPH_MAX_SUBSCRIPTIONS)")
	fs.IntVar(&l.MaxPerConn, "max-subscriptions-per-conn", envInt("POLICYGRAPH_MAX_SUBSCRIPTIONS_PER_CONN", d.MaxPerConn), "most subscriptions running at once over one WebSocket connection; 0: no limit (env POLICYGRAPH_MAX_SUBSCRIPTIONS_PER_CONN)")
	fs.DurationVar(&l.Idle, "subscription-idle-timeout", envDur("POLICYGRAPH_SUBSCRIPTION_IDLE_TIMEOUT", d.Idle), "close a WebSocket connection that has run no subscription for this long; 0: never (env POLICYGRAPH_SUBSCRIPTION_IDLE_TIMEOUT)")
	fs.DurationVar(&l.Lifetime, "subscription-lifetime", envDur("POLICYGRAPH_SUBSCRIPTION_LIFETIME", d.Lifetime), "end a WebSocket connection or an event stream this long after it began (the client resumes with since:); 0: never (env POLICYGRAPH_SUBSCRIPTION_LIFETIME)")
	fs.DurationVar(&l.PingInterval, "subscription-ping-interval", envDur("POLICYGRAPH_SUBSCRIPTION_PING_INTERVAL", d.PingInterval), "ping WebSocket clients (and keep event streams alive) this often; a client silent for two intervals is cut off (env POLICYGRAPH_SUBSCRIPTION_PING_INTERVAL)")
}
