package app

import (
	"flag"
	"time"
)

// streamConfig bounds the server's streams (/changes): see api.StreamOptions.
type streamConfig struct {
	max, perClient      int
	heartbeat, lifetime time.Duration
}

// streamFlags defines the flags of the streams' bounds, each with an
// environment fallback. Zero turns a bound off.
func streamFlags(fs *flag.FlagSet, env *envDefaults, s *streamConfig) {
	fs.IntVar(&s.max, "max-streams", env.int("POLICYGRAPH_MAX_STREAMS", 256), "most streams (/changes) open at once, each holding a connection of -max-conns; past it 429 TOO_MANY_STREAMS; 0: no limit (env POLICYGRAPH_MAX_STREAMS)")
	fs.IntVar(&s.perClient, "max-streams-per-client", env.int("POLICYGRAPH_MAX_STREAMS_PER_CLIENT", 16), "most streams open at once from one client address; 0: no limit (env POLICYGRAPH_MAX_STREAMS_PER_CLIENT)")
	fs.DurationVar(&s.heartbeat, "stream-heartbeat", env.duration("POLICYGRAPH_STREAM_HEARTBEAT", 15*time.Second), "an idle stream writes a heartbeat line this often, so that proxies keep it open; 0: none (env POLICYGRAPH_STREAM_HEARTBEAT)")
	fs.DurationVar(&s.lifetime, "stream-lifetime", env.duration("POLICYGRAPH_STREAM_LIFETIME", time.Hour), "a stream ends (with a last line saying where to resume) this long after it opened; 0: no limit (env POLICYGRAPH_STREAM_LIFETIME)")
}
