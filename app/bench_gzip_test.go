package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkGzip measures the headline query and a 200-entity page with
// evidence through the real route table, as sent (Accept-Encoding: identity)
// and gzipped (Accept-Encoding: gzip), with the response cache off (every
// request runs the query) and on (every request after the first is answered
// from the cache, so compression is most of the work). wire-B/op is the
// body's bytes on the wire. The client reads the body as it travelled and
// does not decompress it: the numbers are the server's cost. See
// BENCHMARKS.md, "Compression (issue 13)".
func BenchmarkGzip(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	open := Config{data: b.TempDir(), seed: true}
	g, err := Open(open, log)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	queries := []struct{ name, query string }{
		{"headline", `{ sponsorshipsByYear(series: "waic", sponsorCountry: "US") { year sponsorships { tier tierSize { amount } subject { name } evidence { quote gloss } } } }`},
		{"page200", `{ entities(first: 200) { nodes { id slug name facts { id evidence { quote gloss } } } } }`},
	}
	for _, cache := range []string{"0", "1000"} {
		cfg, err := ParseConfig([]string{"-data", open.data, "-cache-size", cache}, func(string) string { return "" }, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(NewHandler(g, cfg, log))
		client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
		for _, q := range queries {
			body, _ := json.Marshal(map[string]string{"query": q.query})
			for _, enc := range []string{"identity", "gzip"} {
				name := q.name + "/cache=" + map[string]string{"0": "off", "1000": "on"}[cache] + "/" + enc
				b.Run(name, func(b *testing.B) {
					var wire int64
					b.ReportAllocs()
					for b.Loop() {
						req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(string(body)))
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("Accept-Encoding", enc)
						resp, err := client.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						n, _ := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK || (enc == "gzip") != (resp.Header.Get("Content-Encoding") == "gzip") {
							b.Fatalf("status %d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
						}
						wire = n
					}
					b.ReportMetric(float64(wire), "wire-B/op")
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				})
			}
		}
		srv.Close()
	}
}
