package e2e

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"policygraph/app"
	"policygraph/internal/testenv"
)

func TestIDEAndIntrospectionCanBeTurnedOff(t *testing.T) {
	introspect := func(h http.Handler) string {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __schema { queryType { name } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	ide := func(h http.Handler) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Code
	}
	on := testenv.Handler(t, testenv.Seeded(t))
	if got := introspect(on); !strings.Contains(got, `"queryType":{"name":"Query"}`) {
		t.Errorf("introspection on: %s", got)
	}
	if got := ide(on); got != http.StatusOK {
		t.Errorf("IDE on: GET / = %d", got)
	}
	off := testenv.Handler(t, testenv.Seeded(t), "-ide=false", "-introspection=false")
	if got := introspect(off); !strings.Contains(got, "INTROSPECTION_DISABLED") || strings.Contains(got, `"queryType"`) {
		t.Errorf("introspection off: %s", got)
	}
	if got := ide(off); got != http.StatusNotFound {
		t.Errorf("IDE off: GET / = %d, want 404", got)
	}
}

func TestAdminBackupNeedsTheToken(t *testing.T) {
	h := testenv.Handler(t, testenv.Seeded(t))
	for _, auth := range []string{"", "Bearer wrong", "Basic " + testenv.Token} {
		req := httptest.NewRequest(http.MethodGet, "/admin/backup", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized || rec.Body.Len() > 200 {
			t.Errorf("Authorization %q: status %d, %d bytes", auth, rec.Code, rec.Body.Len())
		}
	}
}

// A client that sends its headers slowly is cut off at -read-header-timeout.
func TestSlowHeadersAreCutOff(t *testing.T) {
	s := testenv.Start(t, "-data", t.TempDir(), "-read-header-timeout", "300ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	// Trickle a header byte at a time, never finishing.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			if _, err := conn.Write([]byte("X")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, conn) // returns when the server closes the connection
	took := time.Since(start)
	if took < 250*time.Millisecond || took > 2*time.Second {
		t.Errorf("the slow client was cut off after %s, want about 300ms", took)
	}
	<-done
	// A normal client is still served.
	res, err := http.Get(s.URL + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
}

// queriesToCompare cover every kind of read; a restored store must answer each
// exactly as the original does.
var queriesToCompare = []string{
	`{ stats { entities facts activeFacts byKind { kind count } } }`,
	`{ entities(first: 200) { totalCount nodes { id kind slug name labels { lang text } aliases description retraction { by reason } } } }`,
	`{ facts(first: 200, filter: { includeRetracted: true }) { totalCount nodes { id predicate subject { id } object { id } value measure quantity { amount bound upper unit }
		tier role former negated date { value } start { value } end { value } year evidence { quote gloss note source { slug } } retraction { by at reason } createdAt createdBy } } }`,
	`{ sponsorshipsByYear(series: "waic") { year events { slug } sponsorships { id tier tierSize { amount } subject { name } } } }`,
	`{ search(text: "wa", first: 50) { score entity { id } } }`,
	`{ event(slug: "waic-2019") { sponsorships { id subject { name } } participants { id } absentees { id } } }`,
	`{ organization(slug: "qualcomm") { country sponsorships(negated: true) { id } facts { id } } }`,
	`{ source(slug: "waic-2023-article") { text title } }`,
}

func TestBackupRestoreCheck(t *testing.T) {
	dir := t.TempDir()
	s := testenv.Start(t, "-data", filepath.Join(dir, "live"))
	// Writes beyond the seed: entities, facts, a retraction.
	w := newWriter()
	w.streamFor(s.URL, "a", 300*time.Millisecond)
	var f struct{ ID string }
	s.Must(t, testenv.Token, addSponsorshipMutation, map[string]any{"in": map[string]any{"subject": "qualcomm", "predicate": "PARTICIPATED_IN",
		"object": "waic-2019", "evidence": []any{map[string]any{"source": "waic-2023-article", "quote": testenv.ArticleQuote}}}}).Decode("addFact", &f)
	testenv.At(s.URL).Must(t, testenv.Token, `mutation($id: ID!) { retractFact(input: {id: $id, reason: "test"}) { id } }`, map[string]any{"id": f.ID})

	// Online backup while the server serves (and the data directory is locked).
	backup := filepath.Join(dir, "backup")
	getenv := testenv.NoEnv
	if err := app.Run(context.Background(), []string{"backup", "-url", s.URL, "-token", testenv.Token, "-out", backup}, getenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if err := app.Run(context.Background(), []string{"backup", "-url", s.URL, "-token", "wrong", "-out", filepath.Join(dir, "nope")}, getenv, nil, io.Discard, io.Discard); err == nil {
		t.Error("backup with a wrong token succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); err == nil {
		t.Error("a failed backup left a file")
	}

	// Restore refuses a non-empty directory, then fills an empty one.
	var out bytes.Buffer
	if err := app.Run(context.Background(), []string{"restore", "-data", filepath.Join(dir, "live"), "-in", backup}, getenv, nil, &out, io.Discard); err == nil {
		t.Error("restore into a non-empty directory succeeded")
	}
	restored := filepath.Join(dir, "restored")
	if err := app.Run(context.Background(), []string{"restore", "-data", restored, "-in", backup}, getenv, nil, &out, io.Discard); err != nil {
		t.Fatalf("restore: %v", err)
	}
	out.Reset()
	if err := app.Run(context.Background(), []string{"check", "-data", restored}, getenv, nil, &out, io.Discard); err != nil {
		t.Fatalf("check of the restored store: %v\n%s", err, out.String())
	}

	r := testenv.Start(t, "-data", restored, "-seed=false")
	for _, q := range queriesToCompare {
		a, b := testenv.At(s.URL).Must(t, "", q, nil), testenv.At(r.URL).Must(t, "", q, nil)
		if a.Raw != b.Raw {
			t.Errorf("%s\noriginal: %s\nrestored: %s", testenv.FirstLine(q), testenv.Clip(a.Raw), testenv.Clip(b.Raw))
		}
	}
	w.verify(t, r.URL)

	// Offline: check and backup of the stopped original.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := app.Run(context.Background(), []string{"check", "-data", filepath.Join(dir, "live")}, getenv, nil, &out, io.Discard); err != nil {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	if err := app.Run(context.Background(), []string{"backup", "-data", filepath.Join(dir, "live"), "-out", filepath.Join(dir, "offline")}, getenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("offline backup: %v", err)
	}
}

// TestHeadersAndStreamsAtTheEdge: headers past 64 KiB are refused (431)
// before any handler runs, and a request for a stream, which no transport
// serves yet, is refused, not run as a query.
func TestHeadersAndStreamsAtTheEdge(t *testing.T) {
	p := testenv.StartBinary(t, t.TempDir())
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/graphql?query=%7B__typename%7D", nil)
	req.Header.Set("X-Padding", strings.Repeat("x", 70<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("70 KiB of headers: status %d, want 431", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodGet, p.URL+"/graphql?query=%7B__typename%7D", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "__typename") {
		t.Errorf("a stream request: %d %s", resp.StatusCode, b)
	}
}
