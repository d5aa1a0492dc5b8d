package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"policygraph/storage"
	"policygraph/storage/badger"
	"policygraph/storage/memgraph"
)

// gatedWriter is a ResponseWriter whose first change line blocks until gate
// is closed: a follower that falls behind.
type gatedWriter struct {
	header http.Header
	gate   chan struct{}
	held   chan struct{} // closed once the first change line is waiting

	mu   sync.Mutex
	body bytes.Buffer
	once sync.Once
}

func (w *gatedWriter) Header() http.Header { return w.header }
func (w *gatedWriter) WriteHeader(int)     {}
func (w *gatedWriter) Flush()              {}

func (w *gatedWriter) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte(`{"version"`)) {
		w.once.Do(func() {
			close(w.held)
			<-w.gate
		})
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.Write(p)
}

// TestChangesFollowerFallsBehind: a follower that falls further behind than
// the log keeps gets an error line VERSION_GONE, after the lines it had, and
// its stream ends.
func TestChangesFollowerFallsBehind(t *testing.T) {
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := storage.OpenWith(kv, storage.Options{Model: memgraph.Load, Retention: storage.Retention{Versions: 3}})
	if err != nil {
		kv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	save := func(i int) {
		t.Helper()
		if _, err := g.PutSavedQuery(storage.SavedQuery{Name: fmt.Sprintf("q%d", i), Query: "{ stats { version } }"}); err != nil {
			t.Fatal(err)
		}
	}
	save(0)
	w := &gatedWriter{header: http.Header{}, gate: make(chan struct{}), held: make(chan struct{})}
	r := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/changes?follow=1&since=%d", g.Version()), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveChanges(w, r, g, NewStreams(StreamOptions{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	save(1) // the follower's first change: its line waits at the gate
	<-w.held
	for i := 2; i < 12; i++ { // and the log moves on past what it keeps
		save(i)
	}
	close(w.gate)
	<-done
	lines := strings.Split(strings.TrimSpace(w.body.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want the header, one change and an error line; got:\n%s", w.body.String())
	}
	var last struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil || last.Error.Code != "VERSION_GONE" || last.Error.Message == "" {
		t.Fatalf("last line %s (%v), want an error VERSION_GONE", lines[2], err)
	}
}
