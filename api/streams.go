package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"policygraph/errs"
)

// StreamOptions configure Streams. A zero bound or duration means none.
type StreamOptions struct {
	// MaxStreams bounds the streams open at once, MaxStreamsPerClient those
	// of one client address (an IPv4 address, an IPv6 /64).
	MaxStreams, MaxStreamsPerClient int
	// Heartbeat is how often an idle stream writes a keep-alive, so that
	// proxies and clients that time out idle connections keep it open.
	Heartbeat time.Duration
	// Lifetime ends a stream this long after it opened (the client resumes
	// where it left off), so that no connection is held for ever.
	Lifetime time.Duration
	// WriteTimeout bounds each write of a stream (one event, flushed): a
	// client that reads nothing for that long is cut off. It replaces the
	// server's WriteTimeout, which counts from the request's start.
	WriteTimeout time.Duration
	// Stopping is done when the server begins to shut down: every stream
	// ends, with its last event, before http.Server.Shutdown gives up (it
	// waits for handlers, and does not cancel their contexts). nil: never.
	Stopping context.Context
	// Registerer, when not nil, gets policygraph_streams_open and
	// policygraph_streams_refused_total.
	Registerer prometheus.Registerer
}

// Streams admits and bounds the server's long-lived responses (the change
// stream; any streaming transport can use it): how many are open, in all and
// per client, their lifetime, the keep-alive period, a write deadline per
// event and a flush after it, and their end at shutdown.
type Streams struct {
	o StreamOptions

	mu     sync.Mutex
	total  int
	perKey map[string]int

	refused prometheus.Counter
}

// NewStreams makes the bound on the server's streams.
func NewStreams(o StreamOptions) *Streams {
	if o.Stopping == nil {
		o.Stopping = context.Background()
	}
	s := &Streams{o: o, perKey: map[string]int{}}
	s.refused = prometheus.NewCounter(prometheus.CounterOpts{Name: "policygraph_streams_refused_total",
		Help: "Streams refused TOO_MANY_STREAMS: past -max-streams or -max-streams-per-client."})
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.refused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "policygraph_streams_open",
			Help: "Streams open (/changes)."}, func() float64 { return float64(s.Open()) }))
	}
	return s
}

// Open reports the streams open now.
func (s *Streams) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Why a stream's context ended, when the server ended it (context.Cause).
var (
	// ErrShuttingDown: the server is shutting down.
	ErrShuttingDown = errors.New("the server is shutting down")
	// ErrLifetime: the stream reached the server's lifetime limit.
	ErrLifetime = errors.New("the stream reached its lifetime")
)

// Start admits the stream r asks for, or answers 429 TOO_MANY_STREAMS with
// Retry-After and returns false. An admitted stream's writes go through the
// Stream it returns, whose Close the caller defers. (The server's
// ReadTimeout does not cut a stream: net/http clears the read deadline once
// a request without a body is read; WriteTimeout would, and Write replaces it.)
func (s *Streams) Start(w http.ResponseWriter, r *http.Request) (*Stream, bool) {
	release, ok := s.Admit(clientOf(r))
	if !ok {
		s.Refuse(w)
		return nil, false
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	st := &Stream{s: s, release: release, w: w, rc: http.NewResponseController(w), ctx: ctx, cancel: cancel, opened: time.Now()}
	st.stopShutdown = context.AfterFunc(s.o.Stopping, func() { cancel(ErrShuttingDown) })
	if s.o.Lifetime > 0 {
		st.lifetime = time.AfterFunc(s.o.Lifetime, func() { cancel(ErrLifetime) })
	}
	return st, true
}

// Admit takes a slot for a stream of client (ClientAddress of its remote
// address), or returns false past MaxStreams or MaxStreamsPerClient. release
// gives the slot back; calling it twice is harmless. Start uses it; a
// transport that hijacks its connection (WebSocket) can use it alone, with
// Stopping and the lifetime of its own.
func (s *Streams) Admit(client string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.MaxStreams > 0 && s.total >= s.o.MaxStreams || s.o.MaxStreamsPerClient > 0 && s.perKey[client] >= s.o.MaxStreamsPerClient {
		s.refused.Inc()
		return nil, false
	}
	s.total++
	s.perKey[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.perKey[client]--; s.perKey[client] <= 0 {
				delete(s.perKey, client)
			}
		})
	}, true
}

// Refuse answers a stream that Admit refused: 429 TOO_MANY_STREAMS, with
// Retry-After.
func (s *Streams) Refuse(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	msg := fmt.Sprintf("too many streams are open, from this client (at most %d) or in all (at most %d): close one, or retry later", s.o.MaxStreamsPerClient, s.o.MaxStreams)
	writeError(w, mediaJSON, errs.TooManyStreams, msg)
}

// Stream is one admitted stream: its context, which ends when the client goes,
// the server shuts down, or the lifetime passes; and its writer, which writes
// each event with its own deadline and flushes it to the connection through
// every wrapper (http.ResponseController), never keeping a copy. Write is safe
// for concurrent use (a keep-alive beside the events).
type Stream struct {
	s       *Streams
	release func()
	ctx     context.Context
	cancel  context.CancelCauseFunc
	opened  time.Time

	stopShutdown func() bool
	lifetime     *time.Timer

	mu     sync.Mutex
	w      http.ResponseWriter
	rc     *http.ResponseController
	last   time.Time // of the last write
	err    error     // the first write's error: the stream is cut
	closed bool
}

// Context ends when the stream should: the client went away, or Ended says
// why the server ended it.
func (st *Stream) Context() context.Context { return st.ctx }

// Ended is why the server ended the stream (ErrShuttingDown, ErrLifetime),
// or nil while it runs or when the client ended it.
func (st *Stream) Ended() error {
	switch err := context.Cause(st.ctx); err {
	case ErrShuttingDown, ErrLifetime:
		return err
	}
	return nil
}

// Write writes one event (b, whole), with a deadline of WriteTimeout from
// now, and flushes it. After an error every Write fails: the stream is cut.
func (st *Stream) Write(b []byte) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return st.err
	}
	if st.s.o.WriteTimeout > 0 {
		// A writer that reaches no connection cannot set one: no deadline.
		_ = st.rc.SetWriteDeadline(time.Now().Add(st.s.o.WriteTimeout))
	}
	if _, err := st.w.Write(b); err != nil {
		st.fail(fmt.Errorf("write to the stream: %w", err))
		return st.err
	}
	if err := st.rc.Flush(); err != nil {
		st.fail(fmt.Errorf("flush the stream: %w", err))
		return st.err
	}
	st.last = time.Now()
	return nil
}

func (st *Stream) fail(err error) {
	st.err = err
	st.cancel(err)
}

// Idle is how long the stream has written nothing.
func (st *Stream) Idle() time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.last.IsZero() {
		return time.Since(st.opened)
	}
	return time.Since(st.last)
}

// KeepAlive writes line (from beat) whenever the stream has been idle for
// the Heartbeat period, until the stream's context ends or the returned stop
// is called (stop waits for the writer to finish). No heartbeat: stop does
// nothing.
func (st *Stream) KeepAlive(beat func() []byte) (stop func()) {
	period := st.s.o.Heartbeat
	if period <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(period / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-st.ctx.Done():
				return
			case <-t.C:
				if st.Idle() >= period {
					if st.Write(beat()) != nil {
						return
					}
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}

// Close releases the stream's slot and its timers. The response is the
// handler's to end (by returning).
func (st *Stream) Close() {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.closed = true
	st.mu.Unlock()
	st.stopShutdown()
	if st.lifetime != nil {
		st.lifetime.Stop()
	}
	st.cancel(context.Canceled)
	st.release()
}
