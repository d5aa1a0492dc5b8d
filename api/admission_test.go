package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"policygraph/api"
	"policygraph/errs"
)

// blocking is a handler whose requests hold their slot until released: one
// of a client's by a send on release[client], all by closing all.
type blocking struct {
	entered chan string // the client address of each request let in
	release map[string]chan struct{}
	all     chan struct{}
}

func newBlocking(clients ...string) *blocking {
	b := &blocking{entered: make(chan string, 1000), release: map[string]chan struct{}{}, all: make(chan struct{})}
	for _, c := range clients {
		b.release[c+":40000"] = make(chan struct{})
	}
	return b
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- r.RemoteAddr
	select {
	case <-b.release[r.RemoteAddr]:
	case <-b.all:
	}
	w.Write([]byte(`{"data":{}}`))
}

// request sends one request from client (an IP address) through h.
func request(h http.Handler, client string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.RemoteAddr = client + ":40000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestAdmissionIsFairAcrossClients: one client floods, holding its slots and
// never letting go; it gets its share of the slots and no more: its excess
// requests wait, then are refused 503 SERVER_BUSY with Retry-After, while
// another client still gets in at once, and a third, which waited while every
// slot was taken, gets the first slot freed by another client.
func TestAdmissionIsFairAcrossClients(t *testing.T) {
	b := newBlocking("10.0.0.1", "10.0.0.2", "10.0.0.3")
	lim := api.Limits{MaxInFlight: 4, MaxInFlightPerClient: 2, QueueWait: 200 * time.Millisecond}
	h := lim.Guard(b, nil)

	var wg sync.WaitGroup
	var busy, served atomic.Int64
	var busyRec *httptest.ResponseRecorder
	var mu sync.Mutex
	for range 10 {
		wg.Go(func() {
			rec := request(h, "10.0.0.1")
			switch rec.Code {
			case http.StatusOK:
				served.Add(1)
			case http.StatusServiceUnavailable:
				busy.Add(1)
				mu.Lock()
				busyRec = rec
				mu.Unlock()
			default:
				t.Errorf("flood: status %d", rec.Code)
			}
		})
	}
	for range 2 {
		if got := <-b.entered; got != "10.0.0.1:40000" {
			t.Fatalf("entered: %s", got)
		}
	}
	// The flooder holds its two slots: another client gets the other two at once.
	other := make(chan int, 2)
	for range 2 {
		go func() { other <- request(h, "10.0.0.2").Code }()
	}
	for range 2 {
		if got := <-b.entered; got != "10.0.0.2:40000" {
			t.Fatalf("a flooder's request got in past its share: %s", got)
		}
	}
	// Every slot is taken; a third client comes. When the second client's
	// request finishes, the slot goes to the third (waiting or not yet come),
	// not to the flooder waiting before it, which is at its share.
	third := make(chan int, 1)
	go func() { third <- request(h, "10.0.0.3").Code }()
	b.release["10.0.0.2:40000"] <- struct{}{}
	if got := <-b.entered; got != "10.0.0.3:40000" {
		t.Fatalf("the freed slot went to %s, want the waiting third client", got)
	}
	// The flooder's waiters time out: 503 with Retry-After.
	deadline := time.After(10 * time.Second)
	for busy.Load() < 8 {
		select {
		case <-deadline:
			t.Fatalf("only %d of the flooder's 8 excess requests were refused", busy.Load())
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(b.all)
	wg.Wait()
	for range 2 {
		if code := <-other; code != http.StatusOK {
			t.Errorf("second client: status %d", code)
		}
	}
	if code := <-third; code != http.StatusOK {
		t.Errorf("third client: status %d", code)
	}
	if served.Load() != 2 || busy.Load() != 8 {
		t.Errorf("flooder: %d served, %d refused; want 2, 8", served.Load(), busy.Load())
	}
	var body struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(busyRec.Body.Bytes(), &body); err != nil || len(body.Errors) == 0 ||
		body.Errors[0].Extensions["code"] != string(errs.ServerBusy) || busyRec.Header().Get("Retry-After") == "" {
		t.Errorf("refusal: %v %q, Retry-After %q", err, busyRec.Body.String(), busyRec.Header().Get("Retry-After"))
	}
}

// TestAdmissionWaitersAreBounded: past the waiters a client may have, a
// request is refused at once instead of waiting.
func TestAdmissionWaitersAreBounded(t *testing.T) {
	b := newBlocking("10.0.0.1")
	lim := api.Limits{MaxInFlight: 1, MaxInFlightPerClient: 1, QueueWait: time.Hour}
	h := lim.Guard(b, nil)
	var wg sync.WaitGroup
	wg.Go(func() { request(h, "10.0.0.1") })
	<-b.entered
	// One slot, so 64 waiters at most: the 65th extra request is refused at once
	// (it would otherwise wait an hour).
	codes := make(chan int, 128)
	for range 65 {
		wg.Go(func() { codes <- request(h, "10.0.0.1").Code })
	}
	if code := <-codes; code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", code)
	}
	close(b.all)
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		if c == http.StatusOK {
			ok++
		}
	}
	if ok != 64 {
		t.Errorf("%d waiters served, want 64", ok)
	}
}
