package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discardExporter takes spans and drops them.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkTracing is the headline query (response cache off) with tracing
// off (the default: no otelhttp handler, no gqlgen extension) and on (every
// request traced, its spans batched to an exporter that drops them). See
// BENCHMARKS.md, "Tracing (issue 13)".
func BenchmarkTracing(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	open := Config{data: b.TempDir(), seed: true}
	g, err := Open(open, log)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	body, _ := json.Marshal(map[string]string{"query": `{ sponsorshipsByYear(series: "waic", sponsorCountry: "US") { year sponsorships { tier tierSize { amount } subject { name } evidence { quote gloss } } } }`})
	for _, traced := range []bool{false, true} {
		cfg, err := ParseConfig([]string{"-data", open.data, "-cache-size", "0"}, func(string) string { return "" }, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		name := "off"
		if traced {
			tp := newTracerProvider(discardExporter{})
			defer tp.Shutdown(context.Background())
			cfg.tracerProvider = tp
			name = "on"
		}
		srv := httptest.NewServer(NewHandler(g, cfg, log))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(string(body)))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
		srv.Close()
	}
}
