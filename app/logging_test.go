package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"policygraph/app"
	"policygraph/internal/testenv"
	"policygraph/storage"
)

// faultKV makes every read of the store panic or fail, as its mode says.
type faultKV struct {
	storage.KV
	mode atomic.Int32
}

const (
	faultNone = iota
	faultPanic
	faultError
)

func (f *faultKV) View(fn func(storage.Txn) error) error {
	switch f.mode.Load() {
	case faultPanic:
		panic("injected fault")
	case faultError:
		return errors.New("injected fault: disk on fire")
	}
	return f.KV.View(fn)
}

// logBuffer collects log lines written from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines are the JSON log lines written so far, decoded.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line that is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// TestLogLinesCarryTheRequestID: the lines a request causes when it panics,
// hits an internal error or times out carry its request ID, as its request
// line does: the client's X-Request-Id, or the one the server made.
func TestLogLinesCarryTheRequestID(t *testing.T) {
	var f *faultKV
	g := testenv.Store(t, func(kv storage.KV) storage.KV { f = &faultKV{KV: kv}; return f })
	g.SetRecordCache(false)
	for _, tc := range []struct {
		name  string
		mode  int32
		flags []string
		msg   string
	}{
		{"panic", faultPanic, nil, "panic in resolver"},
		{"internal error", faultError, nil, "internal error"},
		{"timeout", faultNone, []string{"-timeout", "1ns"}, "request timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			srv := httptest.NewServer(app.NewHandler(g, testenv.Config(t, tc.flags...), slog.New(slog.NewJSONHandler(logs, nil))))
			t.Cleanup(srv.Close)
			f.mode.Store(tc.mode)
			t.Cleanup(func() { f.mode.Store(faultNone) })
			for _, sent := range []string{"client-id-" + strings.ReplaceAll(tc.name, " ", "-"), ""} {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(`{"query":"{ search(text: \"waic\") { score } }"}`))
				req.Header.Set("Content-Type", "application/json")
				if sent != "" {
					req.Header.Set("X-Request-Id", sent)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				id := resp.Header.Get("X-Request-Id")
				if id == "" || sent != "" && id != sent {
					t.Fatalf("X-Request-Id %q, sent %q", id, sent)
				}
				found := map[string]bool{}
				for _, line := range logs.lines(t) {
					if line["request_id"] == id {
						found[line["msg"].(string)] = true
					}
				}
				for _, msg := range []string{tc.msg, "request"} {
					if !found[msg] {
						t.Errorf("no %q line carries request_id %q; the log:\n%s", msg, id, logs.buf.String())
					}
				}
			}
		})
	}
}
