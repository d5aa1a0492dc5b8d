package api

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// admission bounds the requests in flight, in total and per client address,
// so that memory held by requests (bodies, answers being built and written)
// is bounded, and so that a flood from one address can hold at most its own
// share of the slots: a well-behaved client on another address still finds
// one. A request that finds no slot waits, in arrival order, until one frees
// up, up to a bounded time; a released slot goes to the first waiter whose
// client is under its own bound. The waiters themselves are bounded too (they
// hold a goroutine and the request's headers, not its body, which is read only
// once admitted).
type admission struct {
	maxTotal, maxPerClient int
	maxWaiting             int // in all
	maxWaitingPerClient    int

	mu        sync.Mutex
	total     int
	perClient map[string]int // slots held by each client
	waiting   map[string]int // waiters of each client
	queue     []*waiter      // arrival order
}

type waiter struct {
	client  string
	ready   chan struct{} // closed when granted
	granted bool
}

// Waiters allowed per slot: enough to absorb a burst at half the server's
// capacity without refusing anything, few enough to stay cheap.
const waitersPerSlot = 64

// newAdmission makes the bounds; 0 (or less) for maxTotal turns admission off,
// and for maxPerClient means no per-client bound below maxTotal.
func newAdmission(maxTotal, maxPerClient int) *admission {
	if maxPerClient <= 0 || maxPerClient > maxTotal {
		maxPerClient = maxTotal
	}
	return &admission{maxTotal: maxTotal, maxPerClient: maxPerClient,
		maxWaiting: maxTotal * waitersPerSlot, maxWaitingPerClient: maxPerClient * waitersPerSlot,
		perClient: map[string]int{}, waiting: map[string]int{}}
}

// acquire takes a slot for client, waiting up to wait (or until ctx ends) for
// one. It returns the func that gives the slot back, or false when none was
// found.
func (a *admission) acquire(ctx context.Context, client string, wait time.Duration) (release func(), ok bool) {
	if a.maxTotal <= 0 {
		return func() {}, true
	}
	release = func() { a.release(client) }
	a.mu.Lock()
	if a.total < a.maxTotal && a.perClient[client] < a.maxPerClient {
		a.take(client)
		a.mu.Unlock()
		return release, true
	}
	if wait <= 0 || len(a.queue) >= a.maxWaiting || a.waiting[client] >= a.maxWaitingPerClient {
		a.mu.Unlock()
		return nil, false
	}
	w := &waiter{client: client, ready: make(chan struct{})}
	a.queue = append(a.queue, w)
	a.waiting[client]++
	a.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-w.ready:
		return release, true
	case <-timer.C:
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if w.granted { // granted as the wait ended
		return release, true
	}
	for i, x := range a.queue {
		if x == w {
			a.queue = append(a.queue[:i], a.queue[i+1:]...)
			break
		}
	}
	a.unwait(client)
	return nil, false
}

// take gives client a slot; a.mu is held.
func (a *admission) take(client string) {
	a.total++
	a.perClient[client]++
}

func (a *admission) unwait(client string) {
	if a.waiting[client]--; a.waiting[client] <= 0 {
		delete(a.waiting, client)
	}
}

// release gives client's slot back and hands it to the first waiter that may
// have it.
func (a *admission) release(client string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total--
	if a.perClient[client]--; a.perClient[client] <= 0 {
		delete(a.perClient, client)
	}
	for i := 0; i < len(a.queue) && a.total < a.maxTotal; {
		w := a.queue[i]
		if a.perClient[w.client] >= a.maxPerClient {
			i++
			continue
		}
		a.queue = append(a.queue[:i], a.queue[i+1:]...)
		a.unwait(w.client)
		a.take(w.client)
		w.granted = true
		close(w.ready)
	}
}

// clientOf is the address a request's admission is counted against: the
// peer's IP address, or its /64 for IPv6 (one host commonly holds a whole
// /64). Behind a reverse proxy every request shares the proxy's address.
func clientOf(r *http.Request) string { return ClientAddress(r.RemoteAddr) }
