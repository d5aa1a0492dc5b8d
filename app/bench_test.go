package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkHeadlineHTTP is the headline query end to end: HTTP, the route table,
// gqlgen, loaders and storage on a seeded Badger. go run ./cmd/bench measures the
// same under concurrent load; see BENCHMARKS.md.
func BenchmarkHeadlineHTTP(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg := Config{data: b.TempDir(), seed: true, introspection: true}
	g, err := Open(cfg, log)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(NewHandler(g, cfg, log))
	defer srv.Close()
	body := `{"query":"{ sponsorshipsByYear(series: \"waic\", sponsorCountry: \"US\") { year sponsorships { tier tierSize { amount } subject { name } evidence { quote gloss } } } }"}`
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(string(out), `"errors"`) {
			b.Fatalf("status %d: %s", resp.StatusCode, out)
		}
	}
}
