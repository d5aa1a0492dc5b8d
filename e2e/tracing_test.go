package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"policygraph/internal/testenv"
)

// otlpReceiver is an OTLP/HTTP collector: it takes POST /v1/traces
// (protobuf) and keeps the spans.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces, application/x-protobuf", http.StatusBadRequest)
		return
	}
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				o.services = append(o.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Write(out)
}

func spanAttr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestTracesReachACollector: with -otlp-endpoint, a GraphQL request makes an
// HTTP server span and an operation span named for its operation, in one
// trace, sent over OTLP/HTTP; a client's W3C traceparent makes them part of
// its trace; and the request's log lines carry that trace ID beside its
// request ID.
func TestTracesReachACollector(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	t.Cleanup(collector.Close)
	p := testenv.Start(t, "-data", t.TempDir(), "-otlp-endpoint", collector.URL)

	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	send := func(traceparent, requestID, country string) {
		// Each asks for other data: an answer from the response cache runs no operation.
		body := `{"query":"query Headline { sponsorshipsByYear(series: \"waic\", sponsorCountry: \"` + country + `\") { year } }","operationName":"Headline"}`
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", requestID)
		if traceparent != "" {
			req.Header.Set("Traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.Contains(string(b), `"errors"`) {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	send("00-"+clientTrace+"-"+clientSpan+"-01", "traced-by-client", "US")
	send("", "traced-here", "CN")
	if err := p.Stop(); err != nil { // the shutdown sends the spans not yet sent
		t.Fatal(err)
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.services) == 0 || recv.services[0] != "policygraph" {
		t.Errorf("service.name %q, want policygraph", recv.services)
	}
	type pair struct{ http, op *tracepb.Span }
	byTrace := map[string]*pair{}
	for _, s := range recv.spans {
		id := hex.EncodeToString(s.TraceId)
		if byTrace[id] == nil {
			byTrace[id] = &pair{}
		}
		switch {
		case s.Kind == tracepb.Span_SPAN_KIND_SERVER && s.Name == "POST /graphql":
			byTrace[id].http = s
		case s.Name == "query Headline":
			byTrace[id].op = s
		}
	}
	if len(byTrace) != 2 {
		names := []string{}
		for _, s := range recv.spans {
			names = append(names, s.Name+" "+hex.EncodeToString(s.TraceId))
		}
		t.Fatalf("spans in %d traces, want 2 (one per request): %q", len(byTrace), names)
	}
	client := byTrace[clientTrace]
	if client == nil {
		t.Fatalf("no span in the client's trace %s", clientTrace)
	}
	for id, sp := range byTrace {
		if sp.http == nil || sp.op == nil {
			t.Fatalf("trace %s: HTTP span %v, operation span %v", id, sp.http != nil, sp.op != nil)
		}
		if got := spanAttr(sp.op, "graphql.operation.name"); got != "Headline" {
			t.Errorf("trace %s: graphql.operation.name %q", id, got)
		}
		if !bytesEqual(sp.op.ParentSpanId, sp.http.SpanId) {
			t.Errorf("trace %s: the operation span's parent is not the HTTP span", id)
		}
	}
	if hex.EncodeToString(client.http.ParentSpanId) != clientSpan {
		t.Errorf("the HTTP span's parent is %x, want the client's span %s", client.http.ParentSpanId, clientSpan)
	}

	// The log: each request's line carries its request ID and its trace.
	traceOf := map[string]string{}
	for _, line := range strings.Split(p.Stdout.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "request" {
			continue
		}
		id, _ := rec["request_id"].(string)
		tr, _ := rec["trace_id"].(string)
		traceOf[id] = tr
	}
	if traceOf["traced-by-client"] != clientTrace {
		t.Errorf("the request line of the traced request has trace_id %q, want %s", traceOf["traced-by-client"], clientTrace)
	}
	if tr := traceOf["traced-here"]; tr == "" || tr == clientTrace || byTrace[tr] == nil {
		t.Errorf("the request line of the other request has trace_id %q, not that of its spans", tr)
	}
}

func bytesEqual(a, b []byte) bool { return len(a) > 0 && string(a) == string(b) }
