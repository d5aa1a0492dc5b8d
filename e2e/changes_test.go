package e2e

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"policygraph/internal/testenv"
)

// changeStream is one GET /changes read line by line.
type changeStream struct {
	res    *http.Response
	lines  chan streamLine
	cancel context.CancelFunc
}

// streamLine is a line of the change stream, decoded (Raw: as it came).
type streamLine struct {
	Raw       string
	Store     string                 `json:"store"`
	Since     *uint64                `json:"since"`
	Head      *uint64                `json:"head"`
	Version   uint64                 `json:"version"`
	Kinds     []string               `json:"kinds"`
	Entities  []string               `json:"entities"`
	Facts     []string               `json:"facts"`
	Heartbeat string                 `json:"heartbeat"`
	End       string                 `json:"end"`
	Reset     bool                   `json:"reset"`
	Error     *struct{ Code string } `json:"error"`
	Records   *struct {
		Entities []struct{ ID, Name string } `json:"entities"`
	} `json:"records"`
	Err error // the stream's read error, on the last value sent
}

// openChanges opens GET base/changes?query with the headers (name, value
// pairs), and fails the test unless it is 200 application/x-ndjson. Its
// lines come on lines, which is closed at the end of the stream.
func openChanges(t *testing.T, base, query string, headers ...string) *changeStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/changes?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	// Its own transport: no gzip negotiated behind the test's back, no
	// connection shared with the writes.
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true, ResponseHeaderTimeout: 30 * time.Second}}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET /changes?%s: %v", query, err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/x-ndjson" {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Fatalf("GET /changes?%s: %d %s: %s", query, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	var body io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		body = zr
	}
	s := &changeStream{res: res, lines: make(chan streamLine, 1024), cancel: cancel}
	go func() {
		defer close(s.lines)
		defer res.Body.Close()
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			l := streamLine{Raw: sc.Text()}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l.Err = fmt.Errorf("line not JSON: %v: %s", err, testenv.Clip(sc.Text()))
			}
			s.lines <- l
		}
		if err := sc.Err(); err != nil {
			s.lines <- streamLine{Err: err}
		}
	}()
	return s
}

// next is the stream's next line; the test fails when none comes in a minute
// or the stream ended.
func (s *changeStream) next(t *testing.T) streamLine {
	t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			t.Fatal("the change stream ended")
		}
		if l.Err != nil {
			t.Fatal(l.Err)
		}
		return l
	case <-time.After(time.Minute):
		t.Fatal("no line on the change stream in a minute")
	}
	return streamLine{}
}

// nextChange skips heartbeats to the next change line.
func (s *changeStream) nextChange(t *testing.T) streamLine {
	t.Helper()
	for {
		l := s.next(t)
		if l.Heartbeat != "" {
			continue
		}
		if l.Version == 0 {
			t.Fatalf("want a change, got %s", l.Raw)
		}
		return l
	}
}

// rest reads the stream to its end, and returns its lines.
func (s *changeStream) rest(t *testing.T) []streamLine {
	t.Helper()
	var out []streamLine
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return out
			}
			if l.Err != nil {
				t.Fatal(l.Err)
			}
			out = append(out, l)
		case <-time.After(time.Minute):
			t.Fatal("the change stream did not end in a minute")
		}
	}
}

// refused GETs base/changes?query and returns the refusal.
func refusedChanges(t *testing.T, base, query string, headers ...string) *testenv.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/changes?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r, err := testenv.ReadResponse(res)
	if err != nil {
		t.Fatalf("GET /changes?%s: %v", query, err)
	}
	return r
}

// createTopic writes an entity and returns its ID, once acknowledged.
func createTopic(t *testing.T, c *testenv.Client, name string) string {
	t.Helper()
	var id string
	r := c.Must(t, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "TOPIC", "name": name}})
	if err := r.Decode("createEntity.id", &id); err != nil {
		t.Fatal(err)
	}
	return id
}

func startServer(t *testing.T, flags ...string) *testenv.Process {
	t.Helper()
	return testenv.Start(t, append([]string{"-data", filepath.Join(t.TempDir(), "d"), "-sync=false"}, flags...)...)
}

// TestChangesResumeUnderWrites: a consumer that follows the stream, drops it
// and resumes from the last version it saw, while writers keep writing, sees
// every version once, in order, and every acknowledged write on its line.
func TestChangesResumeUnderWrites(t *testing.T) {
	for _, e := range testenv.Engines {
		t.Run(e.Name, func(t *testing.T) { testChangesResumeUnderWrites(t, e.Serve(t).Client) })
	}
}

func testChangesResumeUnderWrites(t *testing.T, s *testenv.Client) {
	// The graph's version, from a read's header: a store on etcd starts at
	// the cluster's revision, and its log keeps no version 0.
	pv := s.Must(t, "", `{ entities(first: 1) { totalCount } }`, nil).Header.Get("Policygraph-Version")
	_, v, _ := strings.Cut(pv, ":")
	header := openChanges(t, s.URL, "since="+v)
	first := header.next(t)
	if first.Store == "" || first.Since == nil || fmt.Sprint(*first.Since) != v || first.Head == nil || fmt.Sprint(*first.Head) != v {
		t.Fatalf("header line after version %s (Policygraph-Version %q): %s", v, pv, first.Raw)
	}
	store, start := first.Store, *first.Head
	header.cancel()

	const writers, each = 4, 25
	acked := make(chan string, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, err := s.Do(context.Background(), testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "TOPIC", "name": fmt.Sprintf("stream topic %d-%d", w, i)}})
				var id string
				if err != nil || !r.Acked() || r.Decode("createEntity.id", &id) != nil {
					t.Errorf("write %d-%d: %v %+v", w, i, err, r)
					return
				}
				acked <- id
			}
		}()
	}

	// Follow from the head before the writes; drop the stream every few
	// changes and resume from the last version seen. Each write is one
	// version.
	seen := map[string]uint64{} // entity ID -> version of its line
	last, end := start, start+writers*each
	for reconnects := 0; last < end; reconnects++ {
		st := openChanges(t, s.URL, fmt.Sprintf("follow=1&since=%d&store=%s", last, store))
		if h := st.next(t); h.Store != store || *h.Since != last {
			t.Fatalf("header after a reconnect from %d: %s", last, h.Raw)
		}
		for i := 0; i < 7 && last < end; i++ {
			l := st.nextChange(t)
			if l.Version != last+1 {
				t.Fatalf("after version %d came %d (reconnect %d): a gap or a duplicate", last, l.Version, reconnects)
			}
			last = l.Version
			for _, id := range l.Entities {
				if v, dup := seen[id]; dup {
					t.Fatalf("entity %s at versions %d and %d", id, v, l.Version)
				}
				seen[id] = l.Version
			}
		}
		st.cancel()
	}
	wg.Wait()
	close(acked)
	n := 0
	for id := range acked {
		n++
		if _, ok := seen[id]; !ok {
			t.Errorf("acknowledged entity %s never came on the stream", id)
		}
	}
	if n != writers*each {
		t.Fatalf("%d writes acknowledged", n)
	}
	// Without follow the stream ends at the head, with a last line saying so.
	lines := openChanges(t, s.URL, fmt.Sprintf("since=%d", start)).rest(t)
	if n := len(lines); n != 2+writers*each || lines[n-1].End != "head" || *lines[n-1].Since != last {
		t.Fatalf("without follow: %d lines, the last %s; want %d, ending {\"end\":\"head\",\"since\":%d}", n, lines[n-1].Raw, 2+writers*each, last)
	}
}

// TestChangesRefusals: the refusals come before any line, with the errs
// codes: a bad parameter, a version ahead of the head, one the log no longer
// keeps, another store's.
func TestChangesRefusals(t *testing.T) {
	s := startServer(t, "-change-log-versions", "3", "-change-log-age", "0")
	for i := range 8 {
		createTopic(t, s.Client, fmt.Sprintf("retention %d", i))
	}
	for _, tt := range []struct {
		query  string
		status int
		code   string
	}{
		{"since=abc", 400, "BAD_REQUEST"},
		{"since=-1", 400, "BAD_REQUEST"},
		{"follow=perhaps", 400, "BAD_REQUEST"},
		{"include=everything", 400, "BAD_REQUEST"},
		{"store=not-a-uuid", 400, "BAD_REQUEST"},
		{"since=1000000", 400, "INVALID_ARGUMENT"},
		{"since=0", 410, "VERSION_GONE"},
		{"since=1&follow=1", 410, "VERSION_GONE"},
		{"since=8&store=00000000-0000-4000-8000-000000000001", 410, "VERSION_GONE"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			refusedChanges(t, s.URL, tt.query).WantError(t, tt.status, tt.code)
		})
	}
	// What the log keeps is served.
	if lines := openChanges(t, s.URL, "since=7").rest(t); len(lines) != 4 || lines[1].Version != 8 || lines[3].End != "head" {
		t.Fatalf("since=7 with the last 3 kept: %d lines", len(lines))
	}
}

// TestChangesStreamBounds: past -max-streams-per-client or -max-streams a
// stream is refused 429 TOO_MANY_STREAMS with Retry-After; a closed stream
// gives its slot back.
func TestChangesStreamBounds(t *testing.T) {
	for _, tt := range []struct {
		name  string
		flags []string
		open  int
	}{
		{"per client", []string{"-max-streams-per-client", "2"}, 2},
		{"in all", []string{"-max-streams", "3", "-max-streams-per-client", "0"}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.flags...)
			var open []*changeStream
			for range tt.open {
				st := openChanges(t, s.URL, "follow=1")
				st.next(t) // the header: it is admitted
				open = append(open, st)
			}
			r := refusedChanges(t, s.URL, "follow=1")
			r.WantError(t, http.StatusTooManyRequests, "TOO_MANY_STREAMS")
			if r.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			open[0].cancel()
			// The server sees the close when it next writes (a heartbeat
			// or a change): a write makes it look.
			for i := 0; ; i++ {
				createTopic(t, s.Client, fmt.Sprintf("free a slot %d", i))
				req, _ := http.NewRequest(http.MethodGet, s.URL+"/changes?follow=1", nil)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
				if i > 100 {
					t.Fatalf("the slot of a closed stream did not come back: %d", res.StatusCode)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestChangesPrivate: on a private server /changes needs a curator's token.
func TestChangesPrivate(t *testing.T) {
	s := startServer(t, "-private")
	refusedChanges(t, s.URL, "").WantError(t, http.StatusUnauthorized, "UNAUTHENTICATED")
	st := openChanges(t, s.URL, "", "Authorization", "Bearer "+testenv.Token)
	if l := st.next(t); l.Store == "" {
		t.Fatalf("header: %s", l.Raw)
	}
}

// TestChangesOutliveTimeouts: a stream is not cut by the server's read and
// write timeouts (each line has a deadline of its own), keeps alive with
// heartbeats, and ends at -stream-lifetime with a line that says where to
// resume.
func TestChangesOutliveTimeouts(t *testing.T) {
	// Short timeouts, but not so short that a write's own request outlives
	// them on a loaded machine: the stream outlives them four times over.
	const timeout = 500 * time.Millisecond
	s := startServer(t, "-write-timeout", timeout.String(), "-read-timeout", timeout.String(), "-stream-heartbeat", "50ms", "-stream-lifetime", "30s")
	st := openChanges(t, s.URL, "follow=1")
	st.next(t)
	opened := time.Now()
	for i := 0; time.Since(opened) < 4*timeout || i < 3; i++ {
		time.Sleep(100 * time.Millisecond)
		id := createTopic(t, s.Client, fmt.Sprintf("outlive %d", i))
		if l := st.nextChange(t); !slices.Contains(l.Entities, id) {
			t.Fatalf("want the write's line, got %s", l.Raw)
		}
	}
	beats := 0
	for beats == 0 {
		if l := st.next(t); l.Heartbeat != "" {
			beats++
		} else {
			t.Fatalf("an idle stream wrote %s", l.Raw)
		}
	}
	life := startServer(t, "-stream-lifetime", "300ms")
	lines := openChanges(t, life.URL, "follow=1").rest(t)
	if end := lines[len(lines)-1]; end.End != "lifetime" || end.Since == nil || *end.Since != *lines[0].Head {
		t.Fatalf("a stream past its lifetime ended with %s", end.Raw)
	}
}

// TestChangesShutdown: SIGTERM (serve's context done) ends each stream with
// a last line, and the server's shutdown does not wait out its timeout.
func TestChangesShutdown(t *testing.T) {
	s := startServer(t, "-shutdown-timeout", "20s")
	id := createTopic(t, s.Client, "before shutdown")
	st := openChanges(t, s.URL, "follow=1&since=1")
	st.next(t)
	if l := st.nextChange(t); !slices.Contains(l.Entities, id) {
		t.Fatalf("want the write's line, got %s", l.Raw)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop() }()
	lines := st.rest(t)
	if len(lines) == 0 || lines[len(lines)-1].End != "shutdown" || *lines[len(lines)-1].Since != 2 {
		t.Fatalf("the stream ended with %v, want {\"end\":\"shutdown\",\"since\":2}", lines)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestChangesGzip: a client that accepts gzip gets the stream gzipped, each
// line flushed through the compressor as it comes (a line written while the
// stream is open arrives), and it decodes to the identity stream's lines.
func TestChangesGzip(t *testing.T) {
	s := startServer(t)
	st := openChanges(t, s.URL, "follow=1&since=0", "Accept-Encoding", "gzip")
	if st.res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", st.res.Header.Get("Content-Encoding"))
	}
	st.next(t)
	st.nextChange(t) // the seed
	id := createTopic(t, s.Client, "gzipped")
	if l := st.nextChange(t); !slices.Contains(l.Entities, id) {
		t.Fatalf("want the write's line, got %s", l.Raw)
	}
	plain := openChanges(t, s.URL, "since=0&include=records").rest(t)
	zipped := openChanges(t, s.URL, "since=0&include=records", "Accept-Encoding", "gzip").rest(t)
	if len(plain) != len(zipped) {
		t.Fatalf("%d lines plain, %d gzipped", len(plain), len(zipped))
	}
	for i := range plain {
		if plain[i].Raw != zipped[i].Raw {
			t.Fatalf("line %d: plain %s, gzipped %s", i, testenv.Clip(plain[i].Raw), testenv.Clip(zipped[i].Raw))
		}
	}
	if r := plain[2].Records; r == nil || len(r.Entities) != 1 || r.Entities[0].ID != id || r.Entities[0].Name != "gzipped" {
		t.Fatalf("include=records: %s", plain[2].Raw)
	}
	if strings.Contains(plain[1].Raw, `"records"`) == false {
		t.Fatal("the seed's line has no records")
	}
}

// TestChangesCORS: browsers on the -cors-origins may read the stream, as
// they may call /graphql.
func TestChangesCORS(t *testing.T) {
	const origin = "https://newsroom.example"
	s := testenv.Server(t, "-cors-origins", origin)
	st := openChanges(t, s.URL, "", "Origin", origin)
	if got := st.res.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, origin)
	}
	st.next(t)
}

// TestChangesReset: a store loaded whole (import, restore) starts its log
// with a reset line, which tells a consumer to read the graph again; the
// writes after it follow as usual.
func TestChangesReset(t *testing.T) {
	var export strings.Builder
	if err := testenv.Seeded(t).ExportJSONL(&export); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "d")
	g := testenv.OpenDir(t, dir)
	if _, err := g.Import(strings.NewReader(export.String())); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	s := testenv.Start(t, "-data", dir, "-seed=false", "-sync=false")
	id := createTopic(t, s.Client, "after the import")
	lines := openChanges(t, s.URL, "since=0").rest(t)
	if len(lines) != 4 {
		t.Fatalf("%d lines: %v", len(lines), lines)
	}
	reset, write := lines[1], lines[2]
	if !reset.Reset || !slices.Equal(reset.Kinds, []string{"reset"}) || len(reset.Entities) != 0 {
		t.Fatalf("want a reset line, got %s", reset.Raw)
	}
	if write.Version != reset.Version+1 || !slices.Equal(write.Entities, []string{id}) {
		t.Fatalf("after the reset at %d: %s", reset.Version, write.Raw)
	}
}
