package app_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"policygraph/app"
	"policygraph/internal/synth"
	"policygraph/internal/testenv"
)

// TestMeasureEtcdOperations times the operations on a synthetic graph of
// POLICYGRAPH_ETCD_MEASURE_NODES entities (default 100,000) in the cluster
// against the same on a data directory, in one run: import, check, backup,
// export, and a server's start from the cluster (a full list) and from its
// model file. It only runs with POLICYGRAPH_ETCD_MEASURE=1 (with
// POLICYGRAPH_ETCD_MEASURE_STARTS_ONLY=1: the import and the starts); the
// numbers are in docs/cluster.md.
func TestMeasureEtcdOperations(t *testing.T) {
	if os.Getenv("POLICYGRAPH_ETCD_MEASURE") != "1" {
		t.Skip("a measurement: POLICYGRAPH_ETCD_MEASURE=1 runs it")
	}
	n := 100000
	if v := os.Getenv("POLICYGRAPH_ETCD_MEASURE_NODES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	var export bytes.Buffer
	nodes, facts, err := synth.Generate(&export, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("synthetic graph: %d entities, %d facts, export %d bytes", nodes, facts, export.Len())
	dir := t.TempDir()
	cluster := onCluster(t)
	data := []string{"-data", filepath.Join(dir, "badger")}
	timed := func(what string, f func()) time.Duration {
		start := time.Now()
		f()
		took := time.Since(start)
		t.Logf("%-40s %s", what, took.Round(time.Millisecond))
		return took
	}
	ratio := func(what string, etcd, badger time.Duration) {
		t.Logf("%-40s etcd/Badger %.2f", what, etcd.Seconds()/badger.Seconds())
	}
	run := func(stdin string, args ...string) string {
		return mustCommand(t, strings.NewReader(stdin), args...)
	}
	steps := []struct {
		name string
		args []string
		in   string
	}{
		{"import", []string{"import"}, export.String()},
		{"check", []string{"check"}, ""},
		{"backup", []string{"backup", "-out", filepath.Join(dir, "b")}, ""},
		{"export", []string{"export"}, ""},
	}
	if os.Getenv("POLICYGRAPH_ETCD_MEASURE_STARTS_ONLY") == "1" {
		steps = steps[:1] // the import the starts need
	}
	for _, step := range steps {
		var flags []string
		if step.name == "backup" {
			flags = []string{"-data", data[1]}
		} else {
			flags = data
		}
		b := timed(step.name+" (Badger)", func() { run(step.in, append(step.args, flags...)...) })
		e := timed(step.name+" (etcd)", func() { run(step.in, append(step.args, cluster...)...) })
		ratio(step.name, e, b)
	}
	model := filepath.Join(dir, "model-dir")
	// A server's start, to its "listening" line (the model loaded): longer
	// than testenv.Start waits at this size.
	listen := func(what string, flags ...string) time.Duration {
		ctx, stop := context.WithCancel(t.Context())
		defer stop()
		out := testenv.NewLineWriter()
		errc := make(chan error, 1)
		start := time.Now()
		go func() {
			errc <- app.Run(ctx, append([]string{"serve", "-addr", "127.0.0.1:0"}, flags...), testenv.NoEnv, nil, out, io.Discard)
		}()
		if addr := <-out.Listening(30 * time.Minute); addr == "" {
			t.Fatalf("%s: no listening line:\n%s", what, out)
		}
		took := time.Since(start)
		t.Logf("%-40s %s", "start to listening, "+what, took.Round(time.Millisecond))
		stop()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		return took
	}
	b := listen("Badger, model built", append(data, "-model-file=false", "-verify=false")...)
	e := listen("etcd, model built (a list)", append(cluster, "-model-file=false", "-data", model)...)
	ratio("start, the model built from the store", e, b)
	listen("etcd, model built, file written at stop", append(cluster, "-data", model)...)
	listen("etcd, model read from its file", append(cluster, "-data", model)...)
}
