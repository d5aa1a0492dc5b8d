package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildBench builds this command into a temporary directory.
func buildBench(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "bench")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// TestBenchScaleKeepCreatesDir runs `bench -scale -keep DIR` through the
// binary (which starts itself as the server) with a DIR that does not exist yet: the bench creates it and keeps
// the generated export and store there, and measures every scenario on the
// seed alone and at the size (a walk's first page alone too, and search for
// the seed's number of hits).
func TestBenchScaleKeepCreatesDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and serves a generated graph")
	}
	keep := filepath.Join(t.TempDir(), "not", "yet")
	out, err := exec.Command(buildBench(t), "-scale", "-sizes", "1000", "-scale-d", "50ms", "-keep", keep).CombinedOutput()
	if err != nil {
		t.Fatalf("bench -scale -keep %s: %v\n%s", keep, err, out)
	}
	if !strings.Contains(string(out), "| 1") {
		t.Errorf("no result row:\n%s", out)
	}
	// Every scenario measured on the seed alone and at the size, with a verdict.
	for _, s := range append(specs, searchSeedHits) {
		names := []string{s.name}
		if s.walk {
			names = append(names, s.name+walkFirstPage)
		}
		for _, name := range names {
			if !strings.Contains(string(out), "| "+name+" | ") || !strings.Contains(string(out), name+" at 1000 nodes within 1.2×") {
				t.Errorf("no row or verdict for scenario %q:\n%s", name, out)
			}
		}
	}
	for _, name := range []string{"synth-1000.jsonl", "data-1000"} {
		if _, err := os.Stat(filepath.Join(keep, name)); err != nil {
			t.Errorf("-keep %s: %v", keep, err)
		}
	}
}

// TestBenchLoadRuns runs the whole load benchmark for a moment, in process:
// the store opened as serve opens it (app.Open), the real route table
// (app.NewHandler), every scenario and its floor (checked byte for byte
// before timing, or the bench fails), the open loop from a load generator in
// a child process; every scenario answered without an error, each timed
// answer the same as before timing.
func TestBenchLoadRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario")
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-d", "100ms", "-warmup", "0", "-rounds", "1", "-c", "2"}, &out, io.Discard); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{"- command: `go run ./cmd/bench -d 100ms", cachedName, "load generator apart", "pinned to CPU"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	for _, s := range specs {
		if !strings.Contains(report, "  - "+s.name+": ") || !strings.Contains(report, s.name+" ≥ 0.7× its floor") {
			t.Errorf("the report lacks scenario %q or its verdict:\n%s", s.name, report)
		}
		// The row: | name | req/s | p50 | p95 | p99 | max | errors | ...
		for _, line := range strings.Split(report, "\n") {
			cols := strings.Split(line, " | ")
			if strings.HasPrefix(line, "| "+s.name+" | ") && len(cols) > 6 && cols[6] != "0" {
				t.Errorf("%s: %s errors:\n%s", s.name, cols[6], report)
			}
		}
	}
	if strings.Contains(report, "errors and late requests of") {
		t.Errorf("errors in the run:\n%s", report)
	}
}
