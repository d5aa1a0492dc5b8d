package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"policygraph/internal/synth"
)

// runScale builds a synthetic graph of each size (synth.Generate, then the bulk
// importer, then the seed through the production write path on top), starts
// the real server on it in a child process (this binary's "serve", app.Run),
// and measures cold start, the seed's and a synthetic series' headline and
// two-hop queries, and the server's RSS under load.
func runScale(ctx context.Context, o Options, args []string, out, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var sizes []int
	for _, s := range strings.Split(o.Sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-sizes: %w", err)
		}
		sizes = append(sizes, n)
	}
	fmt.Fprintf(out, "# policygraph bench -scale\n\n")
	fmt.Fprintf(out, "- command: `go run ./cmd/bench %s`\n", strings.Join(args, " "))
	machine(out)
	fmt.Fprintf(out, "- per size: Generate -> file -> Graph.Import (Badger StreamWriter, within the import memory budget badger.DefaultBulkMemory: sorted runs on disk past it) -> seed.Load (transactions) -> close; then `serve -cache-size 0` in a child process\n")
	fmt.Fprintf(out, "- latency: one client (closed loop, c=1), %s per query after a 1s warm-up; RSS: the server's VmRSS after %s of c=8 headline load\n\n", o.ScaleDur, o.ScaleDur)
	fmt.Fprintf(out, "| nodes | facts | edges | import s | edges/s | store MiB | cold start ms | seed headline p50/p99 ms | seed two-hop p50/p99 ms | synth headline p50/p99 ms | synth two-hop p50/p99 ms | server RSS MiB |\n")
	fmt.Fprintf(out, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, n := range sizes {
		row, err := scaleOne(ctx, o, exe, n, stderr)
		if err != nil {
			return fmt.Errorf("size %d: %w", n, err)
		}
		fmt.Fprintln(out, row)
		if f, ok := out.(*os.File); ok {
			f.Sync()
		}
	}
	fmt.Fprintf(out, "\n- bench process peak RSS (generation and import): %d MiB\n", procStatus(os.Getpid(), "VmHWM")/1024)
	return nil
}

func scaleOne(ctx context.Context, o Options, exe string, n int, stderr io.Writer) (string, error) {
	base := o.Keep
	if base == "" {
		tmp, err := os.MkdirTemp("", "policygraph-scale-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)
		base = tmp
	}
	st, err := synth.BuildStore(base, n, o.Sync)
	if err != nil {
		return "", err
	}
	if o.Keep == "" {
		os.Remove(st.File)
	}
	dir, rep, took := st.Dir, st.Report, st.Import
	size := dirSize(dir)

	// Cold start: from exec to the first answer of the headline query.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	url := "http://" + addr + "/graphql"
	t0 := time.Now()
	// The response cache is off: the latencies are of the query path, not of
	// the cache answering the same request again.
	cmd := exec.CommandContext(ctx, exe, "serve", "-addr", addr, "-data", dir, "-ide=false", "-cache-size", "0")
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	client := newClient(64)
	head := headline(url, "waic", "US")
	for {
		if _, err := fetch(ctx, client, head); err == nil {
			break
		}
		if time.Since(t0) > 2*time.Minute {
			return "", fmt.Errorf("server did not answer within 2 minutes")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cold := time.Since(t0)

	lat := func(s Scenario) string {
		r := ClosedLoop(ctx, client, s, 1, time.Second, o.ScaleDur)
		if r.Errors > 0 {
			return fmt.Sprintf("%d errors", r.Errors)
		}
		return ms(r.P50) + " / " + ms(r.P99)
	}
	cols := []string{lat(head), lat(twoHop(url, "waic-2023")),
		lat(headline(url, "syn-series-1", "US")), lat(twoHop(url, "syn-series-1-2023"))}
	ClosedLoop(ctx, client, head, 8, 0, o.ScaleDur)
	rss := procStatus(cmd.Process.Pid, "VmRSS") / 1024
	return fmt.Sprintf("| %d | %d | %d | %.1f | %.0f | %d | %d | %s | %d |", rep.Nodes, rep.Facts, rep.Edges, took.Seconds(),
		float64(rep.Edges)/took.Seconds(), size>>20, cold.Milliseconds(), strings.Join(cols, " | "), rss), nil
}

// procStatus reads a kB field of /proc/<pid>/status.
func procStatus(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb
		}
	}
	return 0
}

func dirSize(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
