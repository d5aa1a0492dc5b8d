package app

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
)

// seedCommand adds what the data directory lacks of the article's facts,
// never overwriting curated records, and prints what it wrote and kept.
func seedCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := ParseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	cfg.seed = false
	if cfg.etcd.enabled() {
		// The model's file is a server's cache; -data is not this command's.
		cfg.modelFile = false
	}
	g, err := Open(cfg, slog.New(slog.NewJSONHandler(stderr, nil)))
	if err != nil {
		return err
	}
	defer g.Close()
	rep, err := seed.Load(g)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seed: %d entities and %d facts in the file; %d written (0 means the store already held them all); "+
		"kept %d curated records that differ from the file; skipped %d that would undo curation\n",
		rep.Entities, rep.Facts, rep.Written, len(rep.Kept), len(rep.Skipped))
	for _, k := range rep.Kept {
		fmt.Fprintf(stdout, "  kept %s\n", k)
	}
	for _, k := range rep.Skipped {
		fmt.Fprintf(stdout, "  skipped %s\n", k)
	}
	return nil
}

// exportCommand streams the whole graph to stdout as JSON lines or N-Quads.
func exportCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	format := "jsonl"
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&format, "format", format, "jsonl (what import reads) or nquads (RDF 1.1 N-Quads)")
	data := fs.String("data", envOr(getenv, "POLICYGRAPH_DATA", "./data"), "data directory (env POLICYGRAPH_DATA)")
	var cluster etcdConfig
	etcdDone := etcdFlags(fs, getenv, &cluster)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := etcdDone(); err != nil {
		return err
	}
	var g *storage.Graph
	var err error
	if cluster.enabled() {
		g, err = openEtcdGraph(cluster, warnLogger(stderr))
	} else {
		g, err = openStore(*data, false, stderr)
	}
	if err != nil {
		return err
	}
	defer g.Close()
	switch format {
	case "jsonl":
		return g.ExportJSONL(stdout)
	case "nquads":
		return g.ExportNQuads(stdout)
	}
	return fmt.Errorf("export: unknown format %q (jsonl or nquads)", format)
}

// importCommand loads a JSON-lines export from stdin into an empty data directory.
func importCommand(stdin io.Reader, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "POLICYGRAPH_DATA", "./data"), "data directory, new or empty (env POLICYGRAPH_DATA)")
	var budget byteSize
	budgetErr := byteSizeFlag(fs, getenv, &budget, "import-memory", "POLICYGRAPH_IMPORT_MEMORY", badger.DefaultBulkMemory,
		"the import's memory budget: past it, it sorts runs on disk and merges them; at least 128MiB")
	var cluster etcdConfig
	etcdDone := etcdFlags(fs, getenv, &cluster)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := errors.Join(budgetErr(), etcdDone()); err != nil {
		return err
	}
	if cluster.enabled() {
		return importEtcd(stdin, cluster, stdout, stderr)
	}
	if budget < badger.MinBulkMemory {
		return fmt.Errorf("import: -import-memory %s is under the %s minimum", &budget, storage.FormatBytes(badger.MinBulkMemory))
	}
	// The budget bounds the Go heap too, so that the decoding's garbage is
	// collected before the heap outgrows it (unless GOMEMLIMIT says otherwise).
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(budget))
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kv, err := badger.Open(badger.Options{Dir: *data, SyncWrites: true, Logger: log,
		BulkMemory: int(budget), MinFreeDisk: badger.DefaultMinFreeDisk(0)})
	if err != nil {
		return err
	}
	g, err := storage.Open(kv)
	if err != nil {
		kv.Close()
		return err
	}
	defer g.Close()
	start := time.Now()
	rep, err := g.Import(bufio.NewReaderSize(stdin, 1<<20))
	if err != nil {
		return err
	}
	printImport(stdout, rep, time.Since(start), &budget)
	return nil
}

// printImport prints what an import loaded and how fast; budget is its
// memory budget (nil: none, as into a cluster).
func printImport(stdout io.Writer, rep storage.ImportReport, took time.Duration, budget *byteSize) {
	fmt.Fprintf(stdout, "import: %d nodes, %d texts, %d facts (%d edges) in %s: %.0f edges/s",
		rep.Nodes, rep.Texts, rep.Facts, rep.Edges, took.Round(time.Millisecond), float64(rep.Edges)/took.Seconds())
	if rep.Revisions > 0 { // entities' earlier values (Entity.revisions); said only when there are some
		fmt.Fprintf(stdout, "; %d entity revisions", rep.Revisions)
	}
	if rep.SortedRuns > 0 && budget != nil {
		fmt.Fprintf(stdout, "; past the %s memory budget, %d sorted runs on disk, merged", budget, rep.SortedRuns)
	}
	if peak, ok := peakRSS(); ok {
		fmt.Fprintf(stdout, "; peak RSS %s", storage.FormatBytes(peak))
	}
	fmt.Fprintln(stdout)
}

// importEtcd loads a JSON-lines export into the cluster, under a prefix
// that holds no key; on failure it deletes what it wrote there.
func importEtcd(stdin io.Reader, cluster etcdConfig, stdout, stderr io.Writer) error {
	g, clear, err := openEmptyEtcdGraph(cluster, warnLogger(stderr))
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := g.Import(bufio.NewReaderSize(stdin, 1<<20))
	took := time.Since(start)
	if closeErr := g.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return errors.Join(fmt.Errorf("import: %w", err), clear())
	}
	printImport(stdout, rep, took, nil)
	return nil
}

// warnLogger is the log of a command: warnings and errors, to stderr.
func warnLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// peakRSS is the process's peak resident set size so far (VmHWM, Linux only):
// its own memory and the pages of the files it maps, such as the tables an
// import writes.
func peakRSS() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// envOr is the variable name, or def when it is unset or empty.
func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func openStore(dir string, syncWrites bool, stderr io.Writer) (*storage.Graph, error) {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kv, err := badger.Open(badger.Options{Dir: dir, SyncWrites: syncWrites, Logger: log})
	if err != nil {
		return nil, err
	}
	g, err := storage.Open(kv)
	if err != nil {
		kv.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return g, nil
}
