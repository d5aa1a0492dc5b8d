package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"policygraph/errs"

	"github.com/prometheus/client_golang/prometheus"

	"policygraph/graph"
)

// AuthOptions configure NewAuth.
type AuthOptions struct {
	// Token is the bearer token of -token: a curator named "curator" with the
	// write and admin scopes. Ignored when Curators is set.
	Token string
	// Curators, when not nil, are the named tokens; SetCurators replaces them.
	// No curator refuses every write.
	Curators *Curators
	// Private makes every request need a token with the read scope.
	Private bool
	// Logger logs refusals for want of a scope (never a token); nil: slog.Default.
	Logger *slog.Logger
	// FailureDelay is what a failed attempt at the token costs its client
	// address: its answer is held back this long, and that address's attempts
	// are checked at most one per FailureDelay. 0 does not slow failures.
	FailureDelay time.Duration
	// Registerer, when not nil, gets policygraph_auth_failures_total.
	Registerer prometheus.Registerer
	// Now and Sleep are the clock; nil means the real one. Sleep must return
	// early when ctx is done. Tests inject a fake clock.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration)
}

// Auth checks requests' bearer tokens against its curators (see Curators)
// and slows clients that guess: a failed
// attempt is answered after FailureDelay, and the attempts of one client
// address (an IPv4 address, an IPv6 /64) that has failed are checked one per
// FailureDelay, however many connections it opens. An address whose attempts
// would wait more than maxQueuedFailures delays is refused at once, unchecked
// (so the refusal tells nothing about the token). The bookkeeping is bounded:
// at most maxPenalized addresses are remembered. Behind a proxy every client
// has the proxy's address, and one guesser slows the token for all of them.
type Auth struct {
	curators atomic.Pointer[Curators]
	private  bool
	log      *slog.Logger
	delay    time.Duration
	now      func() time.Time
	sleep    func(context.Context, time.Duration)
	failures *prometheus.CounterVec

	mu sync.Mutex
	// next is, per client address that failed recently, when its next
	// attempt may be checked.
	next map[string]time.Time
}

// The bounds of the failure bookkeeping.
const (
	maxQueuedFailures = 10
	maxPenalized      = 10000
)

// NewAuth makes the token check of the API and the admin routes.
func NewAuth(o AuthOptions) *Auth {
	a := &Auth{private: o.Private, log: o.Logger, delay: o.FailureDelay, now: o.Now, sleep: o.Sleep, next: map[string]time.Time{}}
	if o.Curators == nil {
		o.Curators = SingleCurator(o.Token)
	}
	a.curators.Store(o.Curators)
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.sleep == nil {
		a.sleep = sleep
	}
	a.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "policygraph_auth_failures_total",
		Help: "Requests refused for their Authorization header: a token checked and wrong (wrong_token), refused unchecked while their address waits for earlier failures (throttled), or a curator's token without the scope the request needs (forbidden)."},
		[]string{"reason"})
	if o.Registerer != nil {
		o.Registerer.MustRegister(a.failures)
	}
	return a
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// bearer returns the credentials of an Authorization header of the Bearer
// scheme, whose name is case-insensitive (RFC 7235, section 2.1).
func bearer(header string) (string, bool) {
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(cred, " "), true
}

// SetCurators replaces the set of curators whole (a reload of the token
// file): a request is checked against the old set or the new one, never a
// mix.
func (a *Auth) SetCurators(c *Curators) {
	if c == nil {
		c = &Curators{}
	}
	a.curators.Store(c)
}

// Curators is the set of curators requests are checked against now.
func (a *Auth) Curators() *Curators { return a.curators.Load() }

// curatorOf returns the curator whose token r carries, or nil.
func curatorOf(set *Curators, r *http.Request) *Curator {
	got, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return nil
	}
	return set.Lookup(got)
}

// Check returns the curator whose token r carries, or nil. A request with no
// Authorization header is not an attempt and is never held back. A failed
// attempt returns after the delays described on Auth; retryAfter > 0 means
// the request was refused unchecked and may be retried after that long.
func (a *Auth) Check(r *http.Request) (c *Curator, retryAfter time.Duration) {
	if r.Header.Get("Authorization") == "" {
		return nil, 0
	}
	set := a.curators.Load()
	if set.Len() == 0 {
		// No token: nothing to guess, every write is refused anyway.
		return nil, 0
	}
	if a.delay <= 0 {
		c = curatorOf(set, r)
		if c == nil {
			a.failures.WithLabelValues("wrong_token").Inc()
		}
		return c, 0
	}
	addr := ClientAddress(r.RemoteAddr)
	c = curatorOf(set, r) // before the lock: it is not acted on until its turn
	a.mu.Lock()
	now := a.now()
	if next, queued := a.next[addr]; queued && next.After(now) {
		wait := next.Sub(now)
		if wait > maxQueuedFailures*a.delay {
			a.mu.Unlock()
			a.failures.WithLabelValues("throttled").Inc()
			return nil, wait
		}
		a.next[addr] = next.Add(a.delay) // this attempt's turn
		a.mu.Unlock()
		a.sleep(r.Context(), wait)
		// The set of now: a reload while this attempt waited counts.
		if c := curatorOf(a.curators.Load(), r); c != nil {
			return c, 0
		}
		a.failures.WithLabelValues("wrong_token").Inc()
		return nil, 0
	}
	if c != nil {
		a.mu.Unlock()
		return c, 0
	}
	a.penalize(addr, now)
	a.mu.Unlock()
	a.failures.WithLabelValues("wrong_token").Inc()
	a.sleep(r.Context(), a.delay)
	return nil, 0
}

// Forbid counts and logs a request of curator c refused for want of scope s;
// the caller answers it 403 FORBIDDEN. It is not slowed: the token is right,
// so nothing is being guessed.
func (a *Auth) Forbid(r *http.Request, c *Curator, s Scope, what string) {
	a.forbid(r.Context(), c, s, what)
}

func (a *Auth) forbid(ctx context.Context, c *Curator, s Scope, what string) {
	a.failures.WithLabelValues("forbidden").Inc()
	a.log.WarnContext(ctx, "a curator's token lacks the scope a request needs", "curator", c.Name, "scope", string(s), "request", what)
}

// penalize makes addr's next attempt wait for a delay from now. a.mu is held.
func (a *Auth) penalize(addr string, now time.Time) {
	if len(a.next) >= maxPenalized {
		for k, t := range a.next {
			if !t.After(now) {
				delete(a.next, k)
			}
		}
		if len(a.next) >= maxPenalized {
			return // the failure is still held back by its own delay
		}
	}
	a.next[addr] = now.Add(a.delay)
}

// ClientAddress is the key a client is counted by (auth delays, admission,
// open connections): its IP address, an IPv6 one's /64 (one host is commonly
// given a whole /64); remoteAddr is host:port, as in http.Request.RemoteAddr.
func ClientAddress(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// authenticatedKey marks a request's context as checked by Authenticate,
// with the curator it carries (nil for an anonymous request), so that a
// handler it wraps twice (/q/ runs its query through /graphql's) checks the
// token once: one failure, one delay.
type authenticatedKey struct{}

// RequestCurator is the curator a request authenticated as (Authenticate
// records it), or nil for an anonymous one; authenticated is false when no
// Authenticate ran.
func RequestCurator(ctx context.Context) (c *Curator, authenticated bool) {
	c, authenticated = ctx.Value(authenticatedKey{}).(*Curator)
	return c, authenticated
}

// Authenticate records the request's curator (its name as the actor of the
// writes it makes) when it carries one's token; a request refused by
// Check's bound is answered 429 TOO_MANY_AUTH_FAILURES with Retry-After. On a
// private server (AuthOptions.Private) a request without a curator's token is
// answered 401 UNAUTHENTICATED. Other requests go on, anonymous.
func (a *Auth) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, done := RequestCurator(r.Context()); done {
			next.ServeHTTP(w, r)
			return
		}
		c, retry := a.Check(r)
		if retry > 0 {
			RefuseThrottled(w, retry)
			return
		}
		if a.private && !c.Can(ScopeRead) && !(isWebSocket(r) && r.Header.Get("Authorization") == "") {
			// Every curator can read: c is nil. A browser cannot set the
			// header on a WebSocket: its token comes in connection_init,
			// which the transport checks (initConnection).
			writeError(w, mediaJSON, errs.Unauthenticated, "this server is private: reads need the header Authorization: Bearer <token>")
			return
		}
		if r.Header.Get("Authorization") == "" {
			// Not an attempt: a second Check costs nothing, and the context
			// is left as it is.
			next.ServeHTTP(w, r)
			return
		}
		ctx := context.WithValue(r.Context(), authenticatedKey{}, c)
		if c != nil {
			ctx = graph.WithActor(ctx, c.Name)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// isWebSocket reports whether r asks for a WebSocket upgrade.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Require answers r unless it carries the token of a curator with scope s:
// 429 when Check refused it unchecked, 401 UNAUTHENTICATED without a
// curator's token, 403 FORBIDDEN (counted and logged) with one that lacks s.
// It returns the curator when the request may go on.
func (a *Auth) Require(w http.ResponseWriter, r *http.Request, s Scope, what string) (*Curator, bool) {
	c, authenticated := RequestCurator(r.Context())
	if !authenticated {
		var retry time.Duration
		if c, retry = a.Check(r); retry > 0 {
			RefuseThrottled(w, retry)
			return nil, false
		}
	}
	if c == nil {
		writeError(w, mediaJSON, errs.Unauthenticated, what+" needs the header Authorization: Bearer <token> of a curator with the "+string(s)+" scope")
		return nil, false
	}
	if !c.Can(s) {
		a.Forbid(r, c, s, what)
		writeError(w, mediaJSON, errs.Forbidden, what+" needs a token with the "+string(s)+" scope; curator "+strconv.Quote(c.Name)+"'s has "+scopeList(c))
		return nil, false
	}
	return c, true
}

func scopeList(c *Curator) string {
	var s []string
	for _, sc := range c.scopes {
		s = append(s, string(sc))
	}
	return strings.Join(s, ",")
}

// RefuseThrottled answers 429 TOO_MANY_AUTH_FAILURES, with Retry-After, for
// a request that Check refused unchecked.
func RefuseThrottled(w http.ResponseWriter, retryAfter time.Duration) {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, mediaJSON, errs.TooManyAuthFailures,
		"too many failed attempts at the token from this address; retry in "+strconv.Itoa(secs)+"s")
}
