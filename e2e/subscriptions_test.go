package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"policygraph/internal/testenv"
)

// This file tests GraphQL subscriptions through the real server, over both
// transports, with small clients of the two protocols: graphql-transport-ws
// (wsClient) and graphql-sse's distinct connections mode (sseStream).

// wsMessage is one message of graphql-transport-ws.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is a graphql-transport-ws client.
type wsClient struct {
	c   *websocket.Conn
	ctx context.Context
}

// dialWS opens /graphql over WebSocket with header and sends connection_init
// with payload; it returns once the server acknowledged it, or the error
// (a *websocket.CloseError when the server closed the connection).
func dialWS(ctx context.Context, base string, header http.Header, payload map[string]any) (*wsClient, error) {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header})
	if err != nil {
		return nil, err
	}
	w := &wsClient{c: c, ctx: ctx}
	init := map[string]any{"type": "connection_init"}
	if payload != nil {
		init["payload"] = payload
	}
	if err := w.send(init); err != nil {
		return nil, err
	}
	m, err := w.read()
	if err != nil {
		return nil, err
	}
	if m.Type != "connection_ack" {
		return nil, fmt.Errorf("after connection_init: %s %s", m.Type, m.Payload)
	}
	return w, nil
}

func (w *wsClient) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.c.Write(w.ctx, websocket.MessageText, b)
}

// read returns the next message that is not a keep-alive (a ping is
// answered with a pong).
func (w *wsClient) read() (wsMessage, error) {
	for {
		_, b, err := w.c.Read(w.ctx)
		if err != nil {
			return wsMessage{}, err
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return m, fmt.Errorf("message %s: %w", b, err)
		}
		switch m.Type {
		case "ping":
			if err := w.send(map[string]any{"type": "pong"}); err != nil {
				return m, err
			}
		case "pong", "ka":
		default:
			return m, nil
		}
	}
}

func (w *wsClient) subscribe(t testing.TB, id, query string, vars map[string]any) {
	t.Helper()
	if err := w.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}}); err != nil {
		t.Fatalf("subscribe %s: %v", id, err)
	}
}

// next returns the payload of the next message, which must be a next
// message of the subscription id.
func (w *wsClient) next(t testing.TB, id string) map[string]any {
	t.Helper()
	m, err := w.read()
	for err == nil && m.ID != id && m.Type == "complete" { // another's end
		m, err = w.read()
	}
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if m.ID == id && m.Type == "error" { // a refusal before the operation ran
		return map[string]any{"errors": decodeJSON(t, m.Payload)}
	}
	if m.ID != id || m.Type != "next" {
		t.Fatalf("got %s %s %s, want next of %s", m.ID, m.Type, m.Payload, id)
	}
	var p map[string]any
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// sseStream is a graphql-sse stream (distinct connections mode).
type sseStream struct {
	res *http.Response
	r   *bufio.Reader
}

// subscribeSSE posts query to /graphql asking for an event stream.
func subscribeSSE(ctx context.Context, base, token, query string, vars map[string]any) (*sseStream, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return nil, fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	return &sseStream{res: res, r: bufio.NewReader(res.Body)}, nil
}

// event returns the next event's name and data (comments skipped); io.EOF
// once the stream ended.
func (s *sseStream) event() (name string, data []byte, err error) {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if name != "" {
				return name, data, nil
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: ")...)
		}
	}
}

func (s *sseStream) next(t testing.TB) map[string]any {
	t.Helper()
	name, data, err := s.event()
	if err != nil || name != "next" {
		t.Fatalf("event %q %s (%v), want next", name, data, err)
	}
	var p map[string]any
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// subscriber is one transport's way to subscribe and read events.
type subscriber struct {
	name string
	// open subscribes to query; next returns each event's payload.
	open func(t *testing.T, ctx context.Context, base, query string, vars map[string]any) (next func() map[string]any)
}

var subscribers = []subscriber{
	{"websocket", func(t *testing.T, ctx context.Context, base, query string, vars map[string]any) func() map[string]any {
		w, err := dialWS(ctx, base, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.c.CloseNow() })
		w.subscribe(t, "1", query, vars)
		return func() map[string]any { return w.next(t, "1") }
	}},
	{"sse", func(t *testing.T, ctx context.Context, base, query string, vars map[string]any) func() map[string]any {
		s, err := subscribeSSE(ctx, base, "", query, vars)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.res.Body.Close() })
		return func() map[string]any { return s.next(t) }
	}},
}

// startLive starts the service in process on a store of its own.
func startLive(t *testing.T, args ...string) *testenv.Process {
	t.Helper()
	return testenv.Start(t, append([]string{"-data", t.TempDir()}, args...)...)
}

// addCountry adds a COUNTRY fact about subject through the API and returns
// its ID.
func addCountry(t testing.TB, c *testenv.Client, subject, country string) string {
	t.Helper()
	d := c.Must(t, testenv.Token, addFactMutation, map[string]any{"in": map[string]any{"subject": subject, "predicate": "COUNTRY", "value": country,
		"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": "Qualcomm là công ty Mỹ duy nhất tài trợ cho sự kiện này"}}}})
	return testenv.Value(d.Data, "addFact.id").(string)
}

func createOrg(t testing.TB, c *testenv.Client, name string) string {
	t.Helper()
	d := c.Must(t, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": name}})
	return testenv.Value(d.Data, "createEntity.slug").(string)
}

func version(t testing.TB, c *testenv.Client) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(testenv.Value(c.Query(t, `{ stats { version } }`, nil), "stats.version").(string), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSubscriptionsDeliverWrites: over each transport, a subscriber to the
// facts of one entity gets the fact written through the API, and not the
// one written about another entity before it; one resuming from a version
// gets every version after it once, in order, then the live ones.
func TestSubscriptionsDeliverWrites(t *testing.T) {
	srv := startLive(t)
	for _, sub := range subscribers {
		t.Run(sub.name, func(t *testing.T) {
			ctx := t.Context()
			intel := createOrg(t, srv.Client, "Intel "+sub.name)
			// From the version before the writes, not "from now on": one
			// the server registers after a write would miss it.
			next := sub.open(t, ctx, srv.URL, `subscription($s: String, $v: String) {
				factChanged(filter: {subject: $s, predicates: [COUNTRY]}, since: $v) { version change fact { id value subject { slug } } } }`,
				map[string]any{"s": intel, "v": strconv.FormatUint(version(t, srv.Client), 10)})
			addCountry(t, srv.Client, "qualcomm", "CN") // not Intel's: filtered out
			id := addCountry(t, srv.Client, intel, "US")
			ev := next()
			if got := testenv.Value(ev, "data.factChanged.fact.id"); got != id {
				t.Fatalf("event %v, want the fact %s", ev, id)
			}
			eq(t, testenv.Value(ev, "data.factChanged.change"), "ADDED")
			eq(t, testenv.Value(ev, "data.factChanged.fact.subject.slug"), intel)
			eq(t, testenv.Value(ev, "data.factChanged.version"), strconv.FormatUint(version(t, srv.Client), 10))

			srv.Must(t, testenv.Token, `mutation($id: ID!) { retractFact(input: {id: $id, reason: "test"}) { id } }`, map[string]any{"id": id})
			ev = next()
			eq(t, testenv.Value(ev, "data.factChanged.change"), "RETRACTED")
			eq(t, testenv.Value(ev, "data.factChanged.fact.id"), id)

			// Resume: every version after since, once, in order, then live.
			since := version(t, srv.Client)
			for i := range 3 {
				createOrg(t, srv.Client, fmt.Sprintf("Resumed %s %d", sub.name, i))
			}
			next = sub.open(t, ctx, srv.URL, `subscription($v: String) { graphVersion(since: $v) { version entities } }`,
				map[string]any{"v": strconv.FormatUint(since, 10)})
			for want := since + 1; want <= since+3; want++ {
				eq(t, testenv.Value(next(), "data.graphVersion.version"), strconv.FormatUint(want, 10))
			}
			createOrg(t, srv.Client, "Live "+sub.name)
			ev = next()
			eq(t, testenv.Value(ev, "data.graphVersion.version"), strconv.FormatUint(since+4, 10))
			eq(t, testenv.Value(ev, "data.graphVersion.entities"), 1.0)
		})
	}
}

// TestSubscriptionErrors: an old version is VERSION_GONE with what to do, a
// version ahead and a subscription too deep are refused with their codes,
// over each transport.
func TestSubscriptionErrors(t *testing.T) {
	srv := startLive(t, "-change-log-versions", "1", "-change-log-age", "1ns", "-max-depth", "4")
	for i := range 3 { // prune the log: each commit drops what is past retention
		createOrg(t, srv.Client, fmt.Sprintf("Pruner %d", i))
	}
	ahead := strconv.FormatUint(version(t, srv.Client)+100, 10)
	for _, sub := range subscribers {
		t.Run(sub.name, func(t *testing.T) {
			for _, tc := range []struct {
				name, query, code, message string
			}{
				{"gone", `subscription { graphVersion(since: "1") { version } }`, "VERSION_GONE", "read the graph again"},
				{"ahead", `subscription { graphVersion(since: "` + ahead + `") { version } }`, "INVALID_ARGUMENT", "ahead"},
				{"too deep", `subscription { factChanged { fact { subject { facts { subject { name } } } } } }`, "DEPTH_LIMIT_EXCEEDED", "deep"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ev := sub.open(t, t.Context(), srv.URL, tc.query, nil)()
					var got struct {
						Errors []struct {
							Message    string
							Extensions struct{ Code string }
						}
					}
					b, _ := json.Marshal(ev)
					json.Unmarshal(b, &got)
					if len(got.Errors) == 0 || got.Errors[0].Extensions.Code != tc.code || !strings.Contains(got.Errors[0].Message, tc.message) {
						t.Fatalf("got %s, want %s saying %q", b, tc.code, tc.message)
					}
				})
			}
		})
	}
}

// TestSubscriptionLimits: past the bound per connection, and past the bound
// in all, a subscription is refused with TOO_MANY_SUBSCRIPTIONS; one that
// ends gives its slot back.
func TestSubscriptionLimits(t *testing.T) {
	srv := startLive(t, "-max-subscriptions", "2", "-max-subscriptions-per-conn", "1")
	ctx := t.Context()
	// Each subscription that must see the next write follows from the
	// version before it (from()): one "from now on" that the server
	// registers after the write would miss it and wait for ever.
	q := `subscription($v: String) { graphVersion(since: $v) { version } }`
	from := func() map[string]any { return map[string]any{"v": strconv.FormatUint(version(t, srv.Client), 10)} }
	w, err := dialWS(ctx, srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.c.CloseNow()
	w.subscribe(t, "a", q, from())
	createOrg(t, srv.Client, "Counted")
	eq(t, testenv.Value(w.next(t, "a"), "data.graphVersion.version") != nil, true) // a runs
	w.subscribe(t, "b", q, nil)
	refused := func(t *testing.T, p map[string]any) {
		t.Helper()
		if code := testenv.Value(p, "errors.0.extensions.code"); code != "TOO_MANY_SUBSCRIPTIONS" {
			t.Fatalf("got %v, want TOO_MANY_SUBSCRIPTIONS", p)
		}
	}
	refused(t, w.next(t, "b"))
	// The total: a's and one stream's; a third is refused.
	s1, err := subscribeSSE(ctx, srv.URL, "", q, from())
	if err != nil {
		t.Fatal(err)
	}
	defer s1.res.Body.Close()
	createOrg(t, srv.Client, "Counted again")
	w.next(t, "a")
	s1.next(t) // s1 runs: it holds the second slot
	if got := metricValue(t, srv.URL, "policygraph_subscriptions_running"); got != "2" {
		t.Errorf("policygraph_subscriptions_running = %q with two subscriptions running, want 2", got)
	}
	s2, err := subscribeSSE(ctx, srv.URL, "", q, nil)
	if err != nil {
		t.Fatal(err)
	}
	refused(t, s2.next(t))
	s2.res.Body.Close()
	// a ends (complete): its slot is free again, on its connection too.
	if err := w.send(map[string]any{"id": "a", "type": "complete"}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := w.read()
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == "a" && m.Type == "complete" {
			break
		}
	}
	w.subscribe(t, "c", q, from())
	createOrg(t, srv.Client, "After a")
	eq(t, testenv.Value(w.next(t, "c"), "data.graphVersion.version") != nil, true)
}

// TestSubscriptionAuth: on a private server a WebSocket without a token in
// connection_init is closed with 4401, one with a wrong token too, and one
// with the token subscribes; an event stream needs the header, as any
// request does.
func TestSubscriptionAuth(t *testing.T) {
	srv := startLive(t, "-private")
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		payload map[string]any
	}{
		{"no token", nil},
		{"wrong token", map[string]any{"Authorization": "Bearer nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dialWS(ctx, srv.URL, nil, tc.payload)
			if code := websocket.CloseStatus(err); code != 4401 {
				t.Fatalf("got %v (close %d), want a close with 4401", err, code)
			}
		})
	}
	w, err := dialWS(ctx, srv.URL, nil, map[string]any{"Authorization": "Bearer " + testenv.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer w.c.CloseNow()
	since := func() map[string]any { // the server is private: the read needs the token
		v := testenv.Value(srv.Must(t, testenv.Token, `{ stats { version } }`, nil).Data, "stats.version")
		return map[string]any{"v": v}
	}
	w.subscribe(t, "1", `subscription($v: String) { graphVersion(since: $v) { version } }`, since())
	createOrg(t, srv.Client, "Private")
	eq(t, testenv.Value(w.next(t, "1"), "data.graphVersion.version") != nil, true)

	if _, err := subscribeSSE(ctx, srv.URL, "", `subscription { graphVersion { version } }`, nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("an event stream without the token: %v, want 401", err)
	}
	s, err := subscribeSSE(ctx, srv.URL, testenv.Token, `subscription($v: String) { graphVersion(since: $v) { version } }`, since())
	if err != nil {
		t.Fatal(err)
	}
	defer s.res.Body.Close()
	createOrg(t, srv.Client, "Private 2")
	eq(t, testenv.Value(s.next(t), "data.graphVersion.version") != nil, true)
}

// TestWebSocketOrigin: a page of an origin -cors-origins does not name
// cannot open a WebSocket; one it names can, and so can the server's own.
func TestWebSocketOrigin(t *testing.T) {
	srv := startLive(t, "-cors-origins", "https://dash.example.org")
	ctx := t.Context()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://evil.example.org", false},
		{"https://dash.example.org", true},
		{"http://" + host, true},
		{"", true}, // not a browser
	} {
		t.Run(tc.origin, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			w, err := dialWS(ctx, srv.URL, h, nil)
			if tc.ok != (err == nil) {
				t.Fatalf("origin %q: %v, want ok=%v", tc.origin, err, tc.ok)
			}
			if err == nil {
				w.c.CloseNow()
			} else if !strings.Contains(err.Error(), "403") {
				t.Fatalf("origin %q refused with %v, want 403", tc.origin, err)
			}
		})
	}
}

// TestShutdownEndsStreams: when the server stops, a WebSocket subscriber
// gets a close frame with 1001 (going away) and an event stream ends with
// its complete event; the server's stop does not wait out its timeout.
func TestShutdownEndsStreams(t *testing.T) {
	srv := startLive(t)
	ctx := t.Context()
	w, err := dialWS(ctx, srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// From the version before the write: a subscription registered after
	// it would miss it and wait for ever.
	since := map[string]any{"v": strconv.FormatUint(version(t, srv.Client), 10)}
	w.subscribe(t, "1", `subscription($v: String) { graphVersion(since: $v) { version } }`, since)
	s, err := subscribeSSE(ctx, srv.URL, "", `subscription($v: String) { graphVersion(since: $v) { version } }`, since)
	if err != nil {
		t.Fatal(err)
	}
	defer s.res.Body.Close()
	createOrg(t, srv.Client, "Before the stop")
	w.next(t, "1")
	s.next(t)

	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop() }()
	_, err = w.read()
	if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
		t.Fatalf("WebSocket read after stop: %v (close %d), want close 1001", err, code)
	}
	name, _, err := s.event()
	if name != "complete" {
		t.Fatalf("event stream after stop: %q %v, want complete", name, err)
	}
	if _, _, err := s.event(); !errors.Is(err, io.EOF) {
		t.Fatalf("event stream after complete: %v, want its end", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// TestSavedQueryLive: a live saved query answers at once, then again only
// when a write changes its answer: a write that leaves it as it was pushes
// nothing. Over each transport.
func TestSavedQueryLive(t *testing.T) {
	srv := startLive(t)
	srv.Must(t, testenv.Token, `mutation($in: SaveQueryInput!) { saveQuery(input: $in) { name } }`, map[string]any{"in": map[string]any{
		"name": "org-countries", "query": `query($slug: String!) { organization(slug: $slug) { facts(predicates: [COUNTRY]) { value } } }`}})
	for _, sub := range subscribers {
		t.Run(sub.name, func(t *testing.T) {
			org := createOrg(t, srv.Client, "Live "+sub.name)
			next := sub.open(t, t.Context(), srv.URL, `subscription($v: String) { savedQueryLive(name: "org-countries", variables: $v) { version answer } }`,
				map[string]any{"v": `{"slug": "` + org + `"}`})
			first := next()
			eq(t, testenv.Value(first, "data.savedQueryLive.answer"), `{"data":{"organization":{"facts":[]}}}`)
			createOrg(t, srv.Client, "Noise "+sub.name) // the answer stays: nothing is pushed
			addCountry(t, srv.Client, org, "US")
			second := next()
			eq(t, testenv.Value(second, "data.savedQueryLive.answer"), `{"data":{"organization":{"facts":[{"value":"US"}]}}}`)
			eq(t, testenv.Value(second, "data.savedQueryLive.version"), strconv.FormatUint(version(t, srv.Client), 10))
		})
	}
	ev := subscribers[0].open(t, t.Context(), srv.URL, `subscription { savedQueryLive(name: "no-such-query") { answer } }`, nil)()
	eq(t, testenv.Value(ev, "errors.0.extensions.code"), "NOT_FOUND")
}

// TestEntityChanged: an entity's subscriber gets its update with the
// revision it made, and a fact about it, each with its version.
func TestEntityChanged(t *testing.T) {
	srv := startLive(t)
	org := createOrg(t, srv.Client, "Watched")
	// From the version before the update: a subscription registered after
	// it would miss it.
	next := subscribers[1].open(t, t.Context(), srv.URL, `subscription($id: String!, $v: String) {
		entityChanged(id: $id, since: $v) { version updated revision { name } entity { name } facts { change fact { value } } } }`,
		map[string]any{"id": org, "v": strconv.FormatUint(version(t, srv.Client), 10)})
	srv.Must(t, testenv.Token, `mutation($in: UpdateEntityInput!) { updateEntity(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"entity": org, "name": "Watched Inc."}})
	ev := next()
	eq(t, testenv.Value(ev, "data.entityChanged.updated"), true)
	eq(t, testenv.Value(ev, "data.entityChanged.revision.name"), "Watched")
	eq(t, testenv.Value(ev, "data.entityChanged.entity.name"), "Watched Inc.")
	createOrg(t, srv.Client, "Not watched")
	addCountry(t, srv.Client, org, "FR")
	ev = next()
	eq(t, testenv.Value(ev, "data.entityChanged.updated"), false)
	eq(t, testenv.Value(ev, "data.entityChanged.facts.0.fact.value"), "FR")
	eq(t, testenv.Value(ev, "data.entityChanged.version"), strconv.FormatUint(version(t, srv.Client), 10))
}

// TestStreamLifetimeAndIdle: a WebSocket connection that runs no
// subscription is closed after the idle timeout, and an event stream ends
// (complete) at its lifetime.
func TestStreamLifetimeAndIdle(t *testing.T) {
	srv := startLive(t, "-subscription-idle-timeout", "50ms", "-subscription-lifetime", "300ms")
	ctx := t.Context()
	w, err := dialWS(ctx, srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.read()
	if code := websocket.CloseStatus(err); code != websocket.StatusNormalClosure {
		t.Fatalf("idle WebSocket: %v (close %d), want a normal close", err, code)
	}
	s, err := subscribeSSE(ctx, srv.URL, "", `subscription { graphVersion { version } }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.res.Body.Close()
	if name, _, err := s.event(); name != "complete" {
		t.Fatalf("event stream past its lifetime: %q %v, want complete", name, err)
	}
}

// TestSubscriptionEventsReadFresh: each event is answered from the graph as
// it stands when it is sent, not from what an earlier event of the same
// subscription read (an operation's loaders remember what they loaded).
func TestSubscriptionEventsReadFresh(t *testing.T) {
	srv := startLive(t)
	org := createOrg(t, srv.Client, "Fresh")
	for _, sub := range subscribers {
		t.Run(sub.name, func(t *testing.T) {
			srv.Must(t, testenv.Token, `mutation($in: UpdateEntityInput!) { updateEntity(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"entity": org, "name": "Fresh " + sub.name}})
			// From the version before the write, not "from now on": a
			// subscription the server registers after the write would
			// otherwise miss it and next() would wait for ever.
			since := strconv.FormatUint(version(t, srv.Client), 10)
			next := sub.open(t, t.Context(), srv.URL, `subscription($s: String, $v: String) { factChanged(filter: {subject: $s}, since: $v) { fact { subject { name } } } }`,
				map[string]any{"s": org, "v": since})
			addCountry(t, srv.Client, org, "DE")
			eq(t, testenv.Value(next(), "data.factChanged.fact.subject.name"), "Fresh "+sub.name)
			srv.Must(t, testenv.Token, `mutation($in: UpdateEntityInput!) { updateEntity(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"entity": org, "name": "Renamed " + sub.name}})
			addCountry(t, srv.Client, org, "AT")
			eq(t, testenv.Value(next(), "data.factChanged.fact.subject.name"), "Renamed "+sub.name)
		})
	}
}

// metricValue reads one unlabelled metric's value from the server's /metrics.
func metricValue(t *testing.T, url, name string) string {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return ""
}
