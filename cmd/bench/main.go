package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"policygraph/app"
	"policygraph/storage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// run runs the benchmark; "serve" runs the service itself (app.Run), which is
// how the scale benchmark starts the server it measures, in a child process;
// "import" is the import command, which -etcd-compare runs so.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "serve" || args[0] == "import") {
		return app.Run(ctx, args, os.Getenv, os.Stdin, stdout, stderr)
	}
	return bench(ctx, args, stdout, stderr)
}

// quiet is the service's logger in the bench: it keeps the cost of a log line
// per request but drops the lines.
var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// noEnv is an empty environment: the bench configures the service by flags only.
func noEnv(string) string { return "" }

// openStore is the serve command's open-and-seed step (app.Open), with the
// store settings the bench has always measured: no verification pass, no
// free-disk watermark, and Badger's and storage's default cache sizes.
func openStore(dir string, syncWrites bool) (*storage.Graph, error) {
	return openStoreWith(dir, syncWrites, true)
}

// openStoreWith is openStore with the read model on or off (-read-model):
// off, reads go through the store's transactions and each write commits
// alone, as before the read model and its committer.
func openStoreWith(dir string, syncWrites, readModel bool) (*storage.Graph, error) {
	cfg, err := app.ParseConfig([]string{"-data", dir, "-sync=" + strconv.FormatBool(syncWrites), "-seed=true", "-verify=false",
		"-read-model=" + strconv.FormatBool(readModel),
		"-min-free-disk", "0", "-block-cache-bytes", "256MiB", "-record-cache-bytes", strconv.Itoa(storage.DefaultRecordCacheBytes)}, noEnv, io.Discard)
	if err != nil {
		return nil, err
	}
	return app.Open(cfg, quiet)
}

// handler is the service's route table (app.NewHandler) with the serve
// defaults (limits, timeouts, body size), the bench's write token, and the
// response cache holding cacheSize results (0 disables it).
func handler(g *storage.Graph, token string, cacheSize int) http.Handler {
	cfg, err := app.ParseConfig([]string{"-token", token, "-cache-size", strconv.Itoa(cacheSize), "-introspection=true", "-ide=true"}, noEnv, io.Discard)
	if err != nil {
		panic(err) // the defaults parse, or every serve would fail
	}
	return app.NewHandler(g, cfg, quiet)
}
