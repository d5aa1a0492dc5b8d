package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// tracesPath is where an OTLP/HTTP collector takes traces.
const tracesPath = "/v1/traces"

// otlpTracesURL is the URL the exporter posts traces to, from -otlp-endpoint:
// a collector's base URL (http://127.0.0.1:4318) gets /v1/traces, as the
// OTLP specification does with OTEL_EXPORTER_OTLP_ENDPOINT; a URL that ends
// with /v1/traces is taken as it is.
func otlpTracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("-otlp-endpoint (POLICYGRAPH_OTLP_ENDPOINT) %q: want the collector's OTLP/HTTP URL, such as http://127.0.0.1:4318", endpoint)
	}
	if !strings.HasSuffix(u.Path, tracesPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + tracesPath
	}
	return u.String(), nil
}

// newTracerProvider is the service's tracer provider: every span (sampled as
// its parent was, or always at the root) goes to exporter in batches, with
// the resource service.name=policygraph.
func newTracerProvider(exporter sdktrace.SpanExporter) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "policygraph"))),
	)
}

// startTracing sets up tracing as cfg says: with no -otlp-endpoint, none
// (nil, and a shutdown that does nothing); else a provider exporting over
// OTLP/HTTP, and its shutdown, which sends the spans not yet sent. What goes
// wrong in the SDK (a collector that does not answer) is logged to log.
func startTracing(ctx context.Context, cfg Config, log *slog.Logger) (trace.TracerProvider, func(context.Context) error, error) {
	if cfg.otlpEndpoint == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	u, err := otlpTracesURL(cfg.otlpEndpoint)
	if err != nil {
		return nil, nil, err
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: spans not sent", "err", err, "otlp_endpoint", u)
	}))
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u))
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	tp := newTracerProvider(exp)
	return tp, tp.Shutdown, nil
}

// traceRequests wraps h in otelhttp's handler over tp: a server span per
// request (health checks and metrics scrapes aside), a child of the span
// the client's W3C traceparent names, if any. With no tp, h is returned as
// it is: tracing off costs nothing.
func traceRequests(tp trace.TracerProvider, h http.Handler) http.Handler {
	if tp == nil {
		return h
	}
	return otelhttp.NewHandler(h, "policygraph",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + route(r.URL.Path) }),
	)
}

// route is the route of the table (routes.go) that serves path, so that span
// names do not grow with every saved query's name.
func route(path string) string {
	switch {
	case path == "/graphql", path == "/changes", path == "/explore", path == "/admin/backup":
		return path
	case strings.HasPrefix(path, "/q/"):
		return "/q/{name}"
	case strings.HasPrefix(path, "/explore/"):
		return "/explore/"
	}
	return "/"
}
