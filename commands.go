package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"policygraph/bench"
	"policygraph/storage"
)

// exportCommand streams the whole graph to stdout as JSON lines or N-Quads.
func exportCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	format := "jsonl"
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&format, "format", format, "jsonl (what import reads) or nquads (RDF 1.1 N-Quads)")
	data := fs.String("data", envOr(getenv, "POLICYGRAPH_DATA", "./data"), "data directory (env POLICYGRAPH_DATA)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	g, err := openStore(*data, false, stderr)
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	g, err := openStore(*data, true, stderr)
	if err != nil {
		return err
	}
	defer g.Close()
	start := time.Now()
	rep, err := g.Import(bufio.NewReaderSize(stdin, 1<<20))
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "import: %d nodes, %d texts, %d facts (%d edges) in %s: %.0f edges/s\n",
		rep.Nodes, rep.Texts, rep.Facts, rep.Edges, took.Round(time.Millisecond), float64(rep.Edges)/took.Seconds())
	return nil
}

// benchCommand runs the load benchmark against the real route table (newHandler).
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// The service logs every request; the bench keeps that cost but drops the lines.
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return bench.Run(ctx, args, stdout, stderr, bench.Server{
		Open: func(dir string, syncWrites bool) (*storage.Graph, error) {
			return openGraph(config{data: dir, syncWrites: syncWrites, seed: true}, log)
		},
		Handler: func(g *storage.Graph, token string, cacheSize int) http.Handler {
			// The serve defaults (limits, timeouts, body size), with the bench's
			// token and cache size.
			cfg, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
			if err != nil {
				panic(err) // the defaults parse, or every serve would fail
			}
			cfg.token, cfg.cacheSize, cfg.introspection, cfg.ide = token, cacheSize, true, true
			return newHandler(g, cfg, log)
		},
	})
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func openStore(dir string, syncWrites bool, stderr io.Writer) (*storage.Graph, error) {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kv, err := storage.OpenBadger(storage.BadgerOptions{Dir: dir, SyncWrites: syncWrites, Logger: log})
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
