package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"policygraph/errs"
	"policygraph/graph"
	"policygraph/storage"
)

// SubscriptionLimits bound the streams of /graphql: GraphQL subscriptions
// over WebSocket (graphql-transport-ws) and server-sent events (graphql-sse).
// A zero field means no bound, but for PingInterval and WriteTimeout, whose
// zero means their default.
type SubscriptionLimits struct {
	// Max bounds the operations running over streams in all; MaxPerConn those
	// over one WebSocket connection. Past either a subscription is refused
	// with TOO_MANY_SUBSCRIPTIONS.
	Max, MaxPerConn int
	// Idle closes a WebSocket connection that has had no operation running
	// for this long (the client subscribes again on a new one).
	Idle time.Duration
	// Lifetime ends a WebSocket connection or an event stream this long
	// after it began (a client reconnects, resuming with since:).
	Lifetime time.Duration
	// PingInterval is how often the server pings a WebSocket client (and
	// sends a keep-alive comment down an event stream); a WebSocket client
	// that answers no ping within two intervals is cut off.
	PingInterval time.Duration
	// WriteTimeout bounds the writing of one event down an event stream.
	WriteTimeout time.Duration
}

// DefaultSubscriptionLimits are the limits the server runs with unless told
// otherwise.
func DefaultSubscriptionLimits() SubscriptionLimits {
	return SubscriptionLimits{Max: 1000, MaxPerConn: 32, Idle: 5 * time.Minute, Lifetime: 24 * time.Hour,
		PingInterval: 25 * time.Second, WriteTimeout: 10 * time.Second}
}

// LiveConns tracks the streams /graphql serves, so that they end cleanly on
// shutdown (Close): http.Server.Shutdown waits for event streams forever and
// does not see hijacked WebSocket connections at all.
type LiveConns struct {
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
	// done ends on Close: every operation over a stream ends with it.
	done   context.Context
	finish context.CancelFunc
	// running counts the operations running over streams; handlers the
	// stream requests being served.
	running  atomic.Int64
	handlers sync.WaitGroup
}

// NewLiveConns makes the registry of one server's streams.
func NewLiveConns() *LiveConns {
	s := &LiveConns{conns: map[*trackedConn]struct{}{}}
	s.done, s.finish = context.WithCancel(context.Background())
	return s
}

// Close ends every stream: each WebSocket connection with the close code
// 1001 (going away), each event stream with its end (a complete event); new
// streams are refused with 503. It waits until their handlers have returned,
// or ctx ends.
func (s *LiveConns) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.WriteClose(int(coderws.StatusGoingAway), "the server is shutting down")
	}
	s.finish()
	done := make(chan struct{})
	go func() { s.handlers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("streams still open at the shutdown's deadline")
	}
}

// Running is how many operations run over streams now.
func (s *LiveConns) Running() int64 { return s.running.Load() }

// streamKey holds a stream request's state in its context.
type streamKey struct{}

// streamState is one stream request's: for a WebSocket connection, the
// connection (set once accepted) and its operations.
type streamState struct {
	remoteAddr string
	conn       *trackedConn
	running    atomic.Int64
	// idle is reset each time the connection has no operation left.
	mu   sync.Mutex
	idle *time.Timer
	// endLife ends a WebSocket connection's lifetime early: when its
	// request ends.
	endLife context.CancelFunc
}

func streamOf(ctx context.Context) *streamState {
	s, _ := ctx.Value(streamKey{}).(*streamState)
	return s
}

// subscriptions adds the streaming transports to srv, with their limits and
// auth, and returns the handler that serves srv with streams tracked.
func subscriptions(srv *handler.Server, g *storage.Graph, o Options, lim SubscriptionLimits, limits Limits, log *slog.Logger) func(http.Handler) http.Handler {
	streams := o.LiveConns
	if streams == nil {
		streams = NewLiveConns()
	}
	if lim.PingInterval == 0 {
		lim.PingInterval = DefaultSubscriptionLimits().PingInterval
	}
	if lim.WriteTimeout == 0 {
		lim.WriteTimeout = DefaultSubscriptionLimits().WriteTimeout
	}
	accept := coderws.AcceptOptions{}
	for _, origin := range o.AllowedOrigins {
		if origin == "*" {
			accept.InsecureSkipVerify = true // any origin, as -cors-origins '*' says
			continue
		}
		if u, err := url.Parse(origin); err == nil && u.Host != "" {
			accept.OriginPatterns = append(accept.OriginPatterns, u.Scheme+"://"+u.Host)
		}
	}
	srv.AddTransport(transport.Websocket{
		Implementation: trackedWebsocket{streams: streams, inner: transport.CoderWebsocketImplementation{AcceptOptions: accept}},
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			return initConnection(ctx, o, p, lim)
		},
		InitTimeout:           10 * time.Second,
		PingPongInterval:      lim.PingInterval,
		KeepAlivePingInterval: lim.PingInterval, // the older graphql-ws protocol's keep-alive
		ErrorFunc: func(ctx context.Context, err error) {
			log.DebugContext(ctx, "websocket", "err", err)
		},
	})
	srv.AddTransport(transport.SSE{KeepAlivePingInterval: lim.PingInterval})
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		// Each event of a subscription is answered with loaders of its own:
		// the operation's would remember what the first events read.
		if op := graphql.GetOperationContext(ctx); op != nil && isSubscription(op) {
			ctx = graph.WithLoaders(ctx, g, log)
		}
		return next(ctx)
	})
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		st := streamOf(ctx)
		op := graphql.GetOperationContext(ctx)
		if st == nil {
			if isSubscription(op) {
				return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{limitError(errs.BadRequest,
					"a subscription is served over WebSocket (graphql-transport-ws) or server-sent events (Accept: text/event-stream), not a plain request")}})
			}
			return next(ctx)
		}
		if streams.running.Add(1) > int64(lim.Max) && lim.Max > 0 {
			streams.running.Add(-1)
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{limitError(errs.TooManySubscriptions,
				"the server serves %d subscriptions at most, and is serving that many; try again later", lim.Max)}})
		}
		if st.running.Add(1) > int64(lim.MaxPerConn) && lim.MaxPerConn > 0 {
			st.running.Add(-1)
			streams.running.Add(-1)
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{limitError(errs.TooManySubscriptions,
				"a connection may run %d subscriptions at once; end one, or open another connection", lim.MaxPerConn)}})
		}
		st.busy()
		ctx, cancel := context.WithCancel(ctx)
		if !isSubscription(op) {
			// A query or a mutation over a stream is bounded as over GET/POST.
			if limits.Timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, limits.Timeout)
			}
		}
		// Close ends an event stream's operation; a WebSocket's end with its
		// connection, whose close frame (1001) must be the last thing sent,
		// not preceded by a complete message.
		stopOnClose := func() bool { return true }
		if st.conn == nil {
			stopOnClose = context.AfterFunc(streams.done, cancel)
		}
		// The slot is free once the operation's last answer is out (before
		// the transport says complete), or its context ends.
		release := sync.OnceFunc(func() {
			stopOnClose()
			st.running.Add(-1)
			streams.running.Add(-1)
			st.maybeIdle(lim.Idle)
		})
		context.AfterFunc(ctx, release)
		responses := next(ctx)
		return func(rctx context.Context) *graphql.Response {
			resp := responses(rctx)
			if resp == nil {
				release()
				cancel()
			}
			return resp
		}
	})
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !IsStream(r) {
				next.ServeHTTP(w, r)
				return
			}
			streams.mu.Lock()
			closed := streams.closed
			if !closed {
				streams.handlers.Add(1)
			}
			streams.mu.Unlock()
			if closed {
				w.Header().Set("Retry-After", "1")
				writeError(w, mediaJSON, errs.ServerBusy, "the server is shutting down; reconnect shortly")
				return
			}
			defer streams.handlers.Done()
			st := &streamState{remoteAddr: r.RemoteAddr}
			ctx := context.WithValue(r.Context(), streamKey{}, st)
			if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				// An event stream: one operation, ended at the lifetime and
				// on Close, each event written within WriteTimeout.
				if lim.Lifetime > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, lim.Lifetime)
					defer cancel()
				}
				rc := http.NewResponseController(w)
				// The server's read timeout would end the stream's context:
				// its body is read, and a closed connection is still seen.
				_ = rc.SetReadDeadline(time.Time{})
				w = &eventStreamWriter{ResponseWriter: w, rc: rc, timeout: lim.WriteTimeout}
			}
			next.ServeHTTP(w, r.WithContext(ctx))
			st.end()
		})
	}
}

// isSubscription reports whether op is a subscription (not a query or a
// mutation, nor an operation whose document did not parse).
func isSubscription(op *graphql.OperationContext) bool {
	return op.Operation != nil && op.Operation.Operation == ast.Subscription
}

// initConnection checks a WebSocket connection's connection_init: its
// payload's Authorization (a curator's bearer token) stands for the header a
// browser cannot set on a WebSocket. On a private server a connection
// without a reader's token is closed with 4401; a wrong token is 4401 too,
// and a throttled address's attempt 4429.
func initConnection(ctx context.Context, o Options, p transport.InitPayload, lim SubscriptionLimits) (context.Context, *transport.InitPayload, error) {
	refuse := func(code int, msg string) (context.Context, *transport.InitPayload, error) {
		return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, code), msg), nil, errors.New(msg)
	}
	st := streamOf(ctx)
	c, authenticated := RequestCurator(ctx)
	if h := p.Authorization(); h != "" && o.Auth != nil {
		r := (&http.Request{Header: http.Header{"Authorization": {h}}}).WithContext(ctx)
		if st != nil {
			r.RemoteAddr = st.remoteAddr
		}
		var retry time.Duration
		if c, retry = o.Auth.Check(r); retry > 0 {
			return refuse(4429, "too many failed attempts at the token from this address")
		}
		if c == nil {
			return refuse(4401, "the token in connection_init is not a curator's")
		}
		ctx = context.WithValue(ctx, authenticatedKey{}, c)
		ctx = graph.WithActor(ctx, c.Name)
		authenticated = true
	}
	if o.Auth != nil && o.Auth.private && !(authenticated && c.Can(ScopeRead)) {
		return refuse(4401, "this server is private: send connection_init with the payload {\"Authorization\": \"Bearer <token>\"}")
	}
	if st != nil {
		if lim.Lifetime > 0 {
			ctx, st.endLife = context.WithTimeout(ctx, lim.Lifetime)
		}
		st.maybeIdle(lim.Idle)
	}
	return ctx, nil, nil
}

// busy notes that an operation started: the connection is not idle.
func (st *streamState) busy() {
	st.mu.Lock()
	if st.idle != nil {
		st.idle.Stop()
		st.idle = nil
	}
	st.mu.Unlock()
}

// maybeIdle closes the WebSocket connection after d unless an operation
// starts meanwhile.
func (st *streamState) maybeIdle(d time.Duration) {
	if d <= 0 || st.conn == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.running.Load() > 0 || st.idle != nil {
		return
	}
	st.idle = time.AfterFunc(d, func() {
		if st.running.Load() == 0 {
			_ = st.conn.WriteClose(int(coderws.StatusNormalClosure), "idle: no subscription for "+d.String())
		}
	})
}

// end stops the connection's timers once its request ends.
func (st *streamState) end() {
	st.mu.Lock()
	if st.idle != nil {
		st.idle.Stop()
	}
	st.mu.Unlock()
	if st.endLife != nil {
		st.endLife()
	}
}

// trackedWebsocket accepts WebSocket connections through inner and tracks
// them in streams until they close.
type trackedWebsocket struct {
	streams *LiveConns
	inner   transport.WebsocketImplementation
}

func (t trackedWebsocket) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := t.inner.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	c := &trackedConn{WebsocketConn: conn, streams: t.streams}
	t.streams.mu.Lock()
	t.streams.conns[c] = struct{}{}
	t.streams.mu.Unlock()
	if st := streamOf(r.Context()); st != nil {
		st.conn = c
	}
	return c, nil
}

// trackedConn is a WebSocket connection that leaves its registry when it
// closes. Its first close frame is the one sent: a later WriteClose is a
// no-op (gqlgen's adapter).
type trackedConn struct {
	transport.WebsocketConn
	streams *LiveConns
	once    sync.Once
}

func (c *trackedConn) forget() {
	c.once.Do(func() {
		c.streams.mu.Lock()
		delete(c.streams.conns, c)
		c.streams.mu.Unlock()
	})
}

func (c *trackedConn) WriteClose(code int, msg string) error {
	defer c.forget()
	return c.WebsocketConn.WriteClose(code, msg)
}

func (c *trackedConn) Close() error {
	defer c.forget()
	return c.WebsocketConn.Close()
}

// SetReadLimit and SetReadDeadline pass through to the connection (gqlgen
// asserts them).
func (c *trackedConn) SetReadLimit(n int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(n)
	}
}

func (c *trackedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// eventStreamWriter is an event stream's ResponseWriter: each write has
// timeout to reach the client (the server's WriteTimeout would cut a stream
// after its first seconds), and Flush reaches the connection through every
// wrapper (gqlgen's SSE transport asserts http.Flusher).
type eventStreamWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (e *eventStreamWriter) Write(p []byte) (int, error) {
	_ = e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	return e.ResponseWriter.Write(p)
}

func (e *eventStreamWriter) Flush() {
	_ = e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	_ = e.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (e *eventStreamWriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// queryRunner runs a query through h, the /graphql handler, as a GET from
// the server itself: the live queries' runs are limited, cached and timed as
// a client's GET is. ctx's pin (storage.Pin) fixes the version answered.
func queryRunner(h http.Handler) graph.QueryRunner {
	return func(ctx context.Context, query string, vars map[string]any) ([]byte, bool, error) {
		// The run is not an operation over the stream it serves.
		ctx = context.WithValue(ctx, streamKey{}, (*streamState)(nil))
		varJSON, err := json.Marshal(vars)
		if err != nil {
			return nil, false, fmt.Errorf("live query variables: %w", err)
		}
		u := "/graphql?" + url.Values{"query": {query}, "variables": {string(varJSON)}}.Encode()
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, false, fmt.Errorf("live query: %w", err)
		}
		r.Header.Set("Accept", mediaJSON)
		// The live queries' runs are one client to admission: they take at
		// most -max-in-flight-per-client slots, whatever their number.
		r.RemoteAddr = "live-query:0"
		w := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
		h.ServeHTTP(w, r)
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		return w.body.Bytes(), w.status == http.StatusOK, nil
	}
}

// bufferedResponse is the ResponseWriter of a request the server makes of
// itself.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedResponse) WriteHeader(code int)        { b.status = code }
