package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"policygraph/storage/badger"

	"policygraph/seed"
	"policygraph/storage"
)

// runScale builds a synthetic graph of each size (Generate, then the bulk
// importer, then the seed through the production write path on top), starts
// the real server on it in a child process (go run . serve), and measures cold
// start, the seed's and a synthetic series' headline and two-hop queries, and
// the server's RSS under load.
func runScale(ctx context.Context, o Options, out, stderr io.Writer) error {
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
	fmt.Fprintf(out, "- command: `go run . bench %s`\n", strings.Join(os.Args[2:], " "))
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
	st, err := BuildStore(base, n, o.Sync)
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

// Store is a synthetic graph built by BuildStore.
type Store struct {
	// Dir is the Badger data directory, ready for `serve -data Dir`.
	Dir string
	// File is the generated export (JSON lines) that was imported.
	File string
	// Report is what the import wrote; Import how long it took.
	Report storage.ImportReport
	Import time.Duration
}

// BuildStore generates a synthetic graph of n nodes (Generate) into
// base/synth-n.jsonl, bulk-imports it into a new store at base/data-n
// (Graph.Import), loads the seed on top through the production write path and
// closes the store. base and its parents are created if they do not exist.
func BuildStore(base string, n int, syncWrites bool) (Store, error) {
	st := Store{
		Dir:  filepath.Join(base, fmt.Sprintf("data-%d", n)),
		File: filepath.Join(base, fmt.Sprintf("synth-%d.jsonl", n)),
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return st, fmt.Errorf("scale store: %w", err)
	}
	f, err := os.Create(st.File)
	if err != nil {
		return st, fmt.Errorf("scale store: %w", err)
	}
	if _, _, err := Generate(f, n); err != nil {
		f.Close()
		return st, fmt.Errorf("scale store: generate: %w", err)
	}
	if err := f.Close(); err != nil {
		return st, fmt.Errorf("scale store: %w", err)
	}

	kv, err := badger.Open(badger.Options{Dir: st.Dir, SyncWrites: syncWrites, BulkMemory: badger.DefaultBulkMemory})
	if err != nil {
		return st, fmt.Errorf("scale store: %w", err)
	}
	g, err := storage.Open(kv)
	if err != nil {
		kv.Close()
		return st, fmt.Errorf("scale store: %w", err)
	}
	in, err := os.Open(st.File)
	if err != nil {
		g.Close()
		return st, fmt.Errorf("scale store: %w", err)
	}
	// The import's budget bounds the Go heap while it runs, as in the
	// import command.
	limit := debug.SetMemoryLimit(badger.DefaultBulkMemory)
	start := time.Now()
	st.Report, err = g.Import(bufio.NewReaderSize(in, 1<<20))
	st.Import = time.Since(start)
	debug.SetMemoryLimit(limit)
	in.Close()
	if err != nil {
		g.Close()
		return st, fmt.Errorf("scale store: import %s: %w", st.File, err)
	}
	if _, err := seed.Load(g); err != nil {
		g.Close()
		return st, fmt.Errorf("scale store: seed: %w", err)
	}
	if err := g.Close(); err != nil {
		return st, fmt.Errorf("scale store: close: %w", err)
	}
	return st, nil
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
