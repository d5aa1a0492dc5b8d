package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"policygraph/internal/etcdtest"
)

// TestScrapeEtcd reads a Prometheus page as etcd and the server write it:
// unlabelled samples by name, a labelled metric's samples summed, and
// grpc_server_handled_total by method, which the counters table reports.
func TestScrapeEtcd(t *testing.T) {
	page := `# HELP etcd_debugging_mvcc_range_total Total number of ranges seen by this member.
# TYPE etcd_debugging_mvcc_range_total counter
etcd_debugging_mvcc_range_total 42
grpc_server_handled_total{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 7
grpc_server_handled_total{grpc_code="Unavailable",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 2
grpc_server_handled_total{grpc_code="OK",grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary"} 5
policygraph_graphql_requests_total{operation="query"} 10
policygraph_graphql_requests_total{operation="mutation"} 3
process_cpu_seconds_total 1.5e+00
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, page) }))
	defer srv.Close()
	got, err := scrapeEtcd(t.Context(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"etcd_debugging_mvcc_range_total":    42,
		"grpc Range":                         9,
		"grpc Txn":                           5,
		"policygraph_graphql_requests_total": 13,
		"process_cpu_seconds_total":          1.5,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}

// TestVersionOf reads the version of a Policygraph-Version header.
func TestVersionOf(t *testing.T) {
	for h, want := range map[string]uint64{"7f3a:12": 12, "": 0, "x:": 0, "abc:18446744073709551615": 18446744073709551615} {
		if got := versionOf(h); got != want {
			t.Errorf("versionOf(%q) = %d, want %d", h, got, want)
		}
	}
}

// TestBenchEtcdCompareRuns runs -etcd-compare for a moment (its own etcd
// cluster, four servers as child processes, a 1,000-node footprint): every
// section and every scenario reported. A measurement's harness, so it runs
// only with POLICYGRAPH_ETCD_MEASURE=1 (about a minute).
func TestBenchEtcdCompareRuns(t *testing.T) {
	if os.Getenv("POLICYGRAPH_ETCD_MEASURE") != "1" {
		t.Skip("a measurement's harness: POLICYGRAPH_ETCD_MEASURE=1 runs it")
	}
	etcdtest.Require(t)
	var out, errOut strings.Builder
	err := run(context.Background(), []string{"-etcd-compare", "-d", "400ms", "-warmup", "100ms", "-rounds", "1",
		"-etcd-lag-writes", "10", "-etcd-counter-d", "300ms", "-etcd-sizes", "1000"}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench -etcd-compare: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"## Reads", "## Writes", "## Replication lag", "## Do reads reach etcd", "## Footprint", "| 1000 | "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in the report:\n%s", want, out.String())
		}
	}
	for _, s := range specs {
		if !strings.Contains(out.String(), "| "+s.name+" | ") {
			t.Errorf("no row for scenario %q:\n%s", s.name, out.String())
		}
	}
}
