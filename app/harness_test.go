package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// articleQuote is verbatim in the seed article, for writes that need evidence.
const articleQuote = "Tại WAIC năm 2019, IBM, Microsoft và Amazon Web Services đều là đối tác chiến lược"

// lineWriter hands each line written to it to a channel, and keeps them all.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	all   strings.Builder
	lines chan string
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 10000)} }

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.all.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			return len(p), nil
		}
		select {
		case l.lines <- strings.TrimSpace(line):
		default:
		}
	}
}

func (l *lineWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// listenAddr waits for the server's "listening" log line and returns its address.
func listenAddr(t testing.TB, lines <-chan string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line := <-lines:
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				return rec.Addr
			}
		case <-deadline:
			t.Fatalf("the server did not start listening within %s", timeout)
		}
	}
}

// inProcess is a server started with run, in this process.
type inProcess struct {
	url    string
	stdout *lineWriter
	stop   func() error
}

// startInProcess runs "serve" with args on a free loopback port.
func startInProcess(t testing.TB, args ...string) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := newLineWriter()
	errc := make(chan error, 1)
	args = append([]string{"serve", "-addr", "127.0.0.1:0", "-token", testToken}, args...)
	go func() { errc <- Run(ctx, args, func(string) string { return "" }, nil, out, io.Discard) }()
	addr := listenAddr(t, out.lines, 30*time.Second)
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() { cancel(); stopErr = <-errc })
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return &inProcess{url: "http://" + addr, stdout: out, stop: stop}
}

// gqlResult is a GraphQL answer.
type gqlResult struct {
	Status int
	Raw    []byte
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// postGQL sends a GraphQL request; it returns an error only when no answer came.
func postGQL(ctx context.Context, c *http.Client, url, query string, vars map[string]any, token string) (*gqlResult, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	out := &gqlResult{Status: res.StatusCode, Raw: raw}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("status %d, body not JSON: %v: %q", res.StatusCode, err, raw)
	}
	return out, nil
}

// acked reports whether the server acknowledged the write: 200, data, no errors.
func (r *gqlResult) acked() bool {
	return r.Status == http.StatusOK && len(r.Errors) == 0 && r.Data != nil
}

// mustPost is postGQL that fails the test unless the answer is acknowledged.
func mustPost(t testing.TB, url, query string, vars map[string]any, token string) *gqlResult {
	t.Helper()
	r, err := postGQL(context.Background(), http.DefaultClient, url, query, vars, token)
	if err != nil {
		t.Fatal(err)
	}
	if !r.acked() {
		t.Fatalf("%s: status %d: %s", firstLine(query), r.Status, r.Raw)
	}
	return r
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

const createEntityMutation = `mutation($in: CreateEntityInput!) { createEntity(input: $in) { id slug } }`
const addSponsorshipMutation = `mutation($in: AddFactInput!) { addFact(input: $in) { id } }`

// writer streams writes to a server and records the ones it acknowledged.
type writer struct {
	mu       sync.Mutex
	entities map[string]string // id -> name
	facts    []string
	errors   int
	// verified counts the entities and facts verify has already found.
	verifiedEntities map[string]bool
	verifiedFacts    int
}

func newWriter() *writer {
	return &writer{entities: map[string]string{}, verifiedEntities: map[string]bool{}}
}

// stream writes (an organization, then a fact about it) until ctx is done or the
// server stops answering.
func (w *writer) stream(ctx context.Context, url, client string) {
	c := &http.Client{Timeout: 10 * time.Second}
	for i := 0; ctx.Err() == nil; i++ {
		name := fmt.Sprintf("Org %s %d %d", client, i, time.Now().UnixNano())
		r, err := postGQL(ctx, c, url, createEntityMutation, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": name}}, testToken)
		if err != nil {
			return
		}
		if !r.acked() {
			w.mu.Lock()
			w.errors++
			w.mu.Unlock()
			continue
		}
		var e struct{ ID string }
		json.Unmarshal(r.Data["createEntity"], &e)
		w.mu.Lock()
		w.entities[e.ID] = name
		w.mu.Unlock()
		r, err = postGQL(ctx, c, url, addSponsorshipMutation, map[string]any{"in": map[string]any{
			"subject": e.ID, "predicate": "SPONSORED", "object": "waic-2019", "tier": "SPONSOR",
			"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": articleQuote}}}}, testToken)
		if err != nil {
			return
		}
		if r.acked() {
			var f struct{ ID string }
			json.Unmarshal(r.Data["addFact"], &f)
			w.mu.Lock()
			w.facts = append(w.facts, f.ID)
			w.mu.Unlock()
		}
	}
}

// verify checks that every acknowledged write is on the server.
func (w *writer) verify(t testing.TB, url string) { w.check(t, url, true) }

// verifyNew checks the acknowledged writes verify has not found before.
func (w *writer) verifyNew(t testing.TB, url string) { w.check(t, url, false) }

func (w *writer) check(t testing.TB, url string, all bool) {
	t.Helper()
	w.mu.Lock()
	ids := make([]string, 0, len(w.entities)+len(w.facts))
	for id := range w.entities {
		if all || !w.verifiedEntities[id] {
			ids = append(ids, id)
			w.verifiedEntities[id] = true
		}
	}
	if all {
		ids = append(ids, w.facts...)
	} else {
		ids = append(ids, w.facts[w.verifiedFacts:]...)
	}
	w.verifiedFacts = len(w.facts)
	w.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), 100)
		batch := ids[:n]
		ids = ids[n:]
		r := mustPost(t, url, `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Organization { name } ... on Fact { predicate retraction { at } } } }`,
			map[string]any{"ids": batch}, "")
		var got []*struct {
			ID         string
			Name       string
			Predicate  string
			Retraction any
		}
		json.Unmarshal(r.Data["nodes"], &got)
		for i, n := range got {
			switch {
			case n == nil:
				t.Errorf("acknowledged write %s is missing", batch[i])
			case n.Predicate == "" && n.Name != w.entities[n.ID]:
				t.Errorf("entity %s is named %q, want %q", n.ID, n.Name, w.entities[n.ID])
			case n.Predicate != "" && (n.Predicate != "SPONSORED" || n.Retraction != nil):
				t.Errorf("fact %s is %s retracted %v", n.ID, n.Predicate, n.Retraction)
			}
		}
	}
}

func (w *writer) counts() (entities, facts int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.entities), len(w.facts)
}

// scanLines is bufio.Scanner over r, sending lines to a channel.
func scanLines(r io.Reader, into *lineWriter) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		into.Write(append(s.Bytes(), '\n'))
	}
}
