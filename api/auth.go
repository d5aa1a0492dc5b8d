package api

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"policygraph/errs"

	"github.com/prometheus/client_golang/prometheus"

	"policygraph/graph"
)

// AuthOptions configure NewAuth.
type AuthOptions struct {
	// Token is the bearer token that writes need; empty refuses every write.
	Token string
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

// Auth checks requests' bearer tokens and slows clients that guess: a failed
// attempt is answered after FailureDelay, and the attempts of one client
// address (an IPv4 address, an IPv6 /64) that has failed are checked one per
// FailureDelay, however many connections it opens. An address whose attempts
// would wait more than maxQueuedFailures delays is refused at once, unchecked
// (so the refusal tells nothing about the token). The bookkeeping is bounded:
// at most maxPenalized addresses are remembered. Behind a proxy every client
// has the proxy's address, and one guesser slows the token for all of them.
type Auth struct {
	token    string
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
	a := &Auth{token: o.Token, delay: o.FailureDelay, now: o.Now, sleep: o.Sleep, next: map[string]time.Time{}}
	if a.now == nil {
		a.now = time.Now
	}
	if a.sleep == nil {
		a.sleep = sleep
	}
	a.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "policygraph_auth_failures_total",
		Help: "Requests whose Authorization header did not carry the token: checked and wrong (wrong_token), or refused unchecked while their address waits for earlier failures (throttled)."},
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

// HasToken reports whether r carries Authorization: Bearer <token> (the
// scheme in any case), compared in constant time. With no token configured
// nothing has it. It does not slow guesses; Auth.Check does.
func HasToken(r *http.Request, token string) bool {
	got, ok := bearer(r.Header.Get("Authorization"))
	return token != "" && ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// Check reports whether r carries the token. A request with no Authorization
// header is not an attempt and is never held back. A failed attempt returns
// after the delays described on Auth; retryAfter > 0 means the request was
// refused unchecked and may be retried after that long.
func (a *Auth) Check(r *http.Request) (ok bool, retryAfter time.Duration) {
	if r.Header.Get("Authorization") == "" {
		return false, 0
	}
	if a.token == "" || a.delay <= 0 {
		// No token: nothing to guess, every write is refused anyway.
		ok = HasToken(r, a.token)
		if !ok && a.token != "" {
			a.failures.WithLabelValues("wrong_token").Inc()
		}
		return ok, 0
	}
	addr := clientAddress(r.RemoteAddr)
	a.mu.Lock()
	now := a.now()
	if next, queued := a.next[addr]; queued && next.After(now) {
		wait := next.Sub(now)
		if wait > maxQueuedFailures*a.delay {
			a.mu.Unlock()
			a.failures.WithLabelValues("throttled").Inc()
			return false, wait
		}
		a.next[addr] = next.Add(a.delay) // this attempt's turn
		a.mu.Unlock()
		a.sleep(r.Context(), wait)
		if HasToken(r, a.token) {
			return true, 0
		}
		a.failures.WithLabelValues("wrong_token").Inc()
		return false, 0
	}
	if HasToken(r, a.token) {
		a.mu.Unlock()
		return true, 0
	}
	a.penalize(addr, now)
	a.mu.Unlock()
	a.failures.WithLabelValues("wrong_token").Inc()
	a.sleep(r.Context(), a.delay)
	return false, 0
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

// clientAddress is the key of a client: its IP address, an IPv6 one's /64
// (one host is commonly given a whole /64).
func clientAddress(remoteAddr string) string {
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

// Authenticate records the request's actor ("curator") when it carries the
// token; a request refused by Check's bound is answered 429
// TOO_MANY_AUTH_FAILURES with Retry-After. Other requests go on, anonymous.
func (a *Auth) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, retry := a.Check(r)
		if retry > 0 {
			RefuseThrottled(w, retry)
			return
		}
		if ok {
			r = r.WithContext(graph.WithActor(r.Context(), "curator"))
		}
		next.ServeHTTP(w, r)
	})
}

// RefuseThrottled answers 429 TOO_MANY_AUTH_FAILURES, with Retry-After, for
// a request that Check refused unchecked.
func RefuseThrottled(w http.ResponseWriter, retryAfter time.Duration) {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, mediaJSON, errs.TooManyAuthFailures,
		"too many failed attempts at the token from this address; retry in "+strconv.Itoa(secs)+"s")
}

// Authenticate is Auth.Authenticate with the token alone: failed attempts are
// not slowed. The server uses NewAuth.
func Authenticate(token string) func(http.Handler) http.Handler {
	return NewAuth(AuthOptions{Token: token}).Authenticate
}
