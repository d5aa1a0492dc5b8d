package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"policygraph/storage/badger"

	"policygraph/seed"
	"policygraph/storage"
)

// The write token of the benchmarks' servers, and the write they repeat.
const (
	testToken            = "test-token"
	createEntityMutation = `mutation($in: CreateEntityInput!) { createEntity(input: $in) { id slug } }`
)

// benchServer serves a seeded store over loopback with the given flags.
func benchServer(b *testing.B, dir string, args ...string) *httptest.Server {
	b.Helper()
	cfg, err := ParseConfig(append([]string{"-token", testToken}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	kv, err := badger.Open(badger.Options{InMemory: dir == "", Dir: dir, SyncWrites: cfg.syncWrites})
	if err != nil {
		b.Fatal(err)
	}
	g, err := storage.Open(kv)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := seed.Load(g); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(g, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil))))
	b.Cleanup(func() { srv.Close(); g.Close() })
	return srv
}

// abusive are what a hostile client floods the server with: each is refused
// under the default limits and costly without them.
func abusive() [][]byte {
	body := func(q string, vars map[string]any) []byte {
		b, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
		return b
	}
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 100 {
		fmt.Fprintf(&aliases, ` a%d: sponsorshipsByYear(series: "waic") { sponsorships { subject { name } } }`, i)
	}
	aliases.WriteString(" }")
	deep := "id"
	for range 4 {
		deep = "facts { subject { " + deep + " } }"
	}
	return [][]byte{
		body(`{ entities(first: 200) { nodes { facts { subject { facts { id } } } } } }`, nil),
		body(aliases.String(), nil),
		body(`{ entity(slug: "waic-2023") { `+deep+` } }`, nil),
		body(`{ stats { entities } }`, map[string]any{"pad": strings.Repeat("x", 2<<20)}),
	}
}

const wellBehavedQuery = `{ event(slug: "waic-2023") { name year sponsorships { tier subject { name } } participants { subject { name } } } }`

// BenchmarkHardening measures a well-behaved client's latency, alone and while
// another client floods the server with deep, wide, aliased and oversized
// queries, with the default limits and with every limit off. Run with a fixed
// count, e.g. -benchtime=300x, and read p50 and p99.
func BenchmarkHardening(b *testing.B) {
	for _, c := range []struct {
		name  string
		flood bool
		args  []string
	}{
		{"unloaded", false, nil},
		{"flood/limits=default", true, nil},
		{"flood/limits=default,refusal-delay=0", true, []string{"-refusal-delay=0"}},
		{"flood/limits=off", true, []string{"-max-depth=0", "-max-complexity=0", "-max-aliases=0", "-max-tokens=0", "-max-body=0", "-timeout=0", "-refusal-delay=0"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			// The response cache off: the well-behaved query must really run.
			srv := benchServer(b, "", append([]string{"-cache-size=0"}, c.args...)...)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var refused, served atomic.Int64
			if c.flood {
				for i := range 4 {
					wg.Go(func() {
						bodies := abusive()
						client := &http.Client{}
						for j := i; ctx.Err() == nil; j++ {
							req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", bytes.NewReader(bodies[j%len(bodies)]))
							req.Header.Set("Content-Type", "application/json")
							// Under this media type a refusal has a 4xx or 5xx status;
							// under application/json it would be a 200 with errors.
							req.Header.Set("Accept", "application/graphql-response+json")
							res, err := client.Do(req)
							if err != nil {
								continue
							}
							io.Copy(io.Discard, res.Body)
							res.Body.Close()
							if res.StatusCode == http.StatusOK {
								served.Add(1)
							} else {
								refused.Add(1)
							}
						}
					})
				}
				time.Sleep(200 * time.Millisecond)
			}
			body, _ := json.Marshal(map[string]any{"query": wellBehavedQuery})
			client := &http.Client{}
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				res, err := client.Post(srv.URL+"/graphql", "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("well-behaved query: %s", res.Status)
				}
				lat = append(lat, time.Since(start))
			}
			cancel()
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			if c.flood {
				b.ReportMetric(float64(refused.Load()), "flood-refused")
				b.ReportMetric(float64(served.Load()), "flood-served")
			}
		})
	}
}

// BenchmarkMutationThroughput measures createEntity over loopback from 8
// concurrent clients into an on-disk store, with fsync on every commit
// (-sync=true, the default) and without.
func BenchmarkMutationThroughput(b *testing.B) {
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			srv := benchServer(b, b.TempDir(), fmt.Sprintf("-sync=%v", sync))
			var n atomic.Int64
			b.SetParallelism(4) // 4 x GOMAXPROCS(2) = 8 clients
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				client := &http.Client{}
				for pb.Next() {
					i := n.Add(1)
					body, _ := json.Marshal(map[string]any{"query": createEntityMutation,
						"variables": map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": fmt.Sprintf("Bench Org %d %d", i, time.Now().UnixNano())}}})
					req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+testToken)
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "mutations/s")
		})
	}
}
