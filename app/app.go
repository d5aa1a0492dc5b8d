// Package app is the policygraph service as a program: its configuration
// (flags with environment fallbacks), the route table, the middleware and the
// subcommands (serve, seed, export, import, backup, restore, check). Run is
// what main calls and what tests start. Serving opens (or creates) an embedded
// Badger database, seeds it from the WAIC 2023 article when empty, and serves
// the API, the GraphQL IDE, the explorer and a health check.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"

	"policygraph/api"
	"policygraph/seed"
	"policygraph/storage"
	"policygraph/web"
)

// Config is the service's configuration: flags, with environment fallbacks.
type Config struct {
	addr          string
	data          string
	token         string
	authDelay     time.Duration
	syncWrites    bool
	verify        bool
	introspection bool
	ide           bool
	seed          bool
	corsOrigins   []string
	cacheSize     int
	cacheControl  string
	csvMaxRows    int
	csvMaxBytes   int64
	maxBody       int64
	memTableSize  byteSize
	minFreeDisk   byteSize
	limits        api.Limits
	server        serverLimits
	memory        memoryConfig
}

// ParseConfig reads the service's flags from args, each with its environment
// fallback read through getenv; a malformed value, flag or variable, is an
// error. Usage and flag errors are written to stderr.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	env := &envDefaults{getenv: getenv}
	fs, cors, deriveMemory, diskDone := configFlags(&c, env, stderr)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := env.err(); err != nil {
		// Even when a flag overrides it: a malformed setting is a mistake to fix.
		return c, err
	}
	if err := diskDone(); err != nil {
		return c, err
	}
	if err := deriveMemory(); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, o := range strings.Split(*cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.corsOrigins = append(c.corsOrigins, o)
		}
	}
	return c, nil
}

// configFlags defines the service's flags on a new flag set, their defaults
// read from the environment through env; it returns the set and the
// -cors-origins value, split by ParseConfig.
func configFlags(c *Config, env *envDefaults, stderr io.Writer) (fs *flag.FlagSet, cors *string, deriveMemory, diskDone func() error) {
	fs = flag.NewFlagSet("policygraph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", env.string("POLICYGRAPH_ADDR", ":8080"), "listen address (env POLICYGRAPH_ADDR)")
	fs.StringVar(&c.data, "data", env.string("POLICYGRAPH_DATA", "./data"), "data directory of the embedded database (env POLICYGRAPH_DATA)")
	fs.StringVar(&c.token, "token", env.string("POLICYGRAPH_TOKEN", ""), "bearer token that writes need; empty refuses writes (env POLICYGRAPH_TOKEN)")
	fs.DurationVar(&c.authDelay, "auth-failure-delay", env.duration("POLICYGRAPH_AUTH_FAILURE_DELAY", time.Second), "hold back a request with a wrong token this long, and check one client address's attempts at most one per this long; 0: no slowing (env POLICYGRAPH_AUTH_FAILURE_DELAY)")
	fs.BoolVar(&c.syncWrites, "sync", env.bool("POLICYGRAPH_SYNC", true), "fsync every commit before acknowledging it (env POLICYGRAPH_SYNC)")
	fs.BoolVar(&c.verify, "verify", env.bool("POLICYGRAPH_VERIFY", true), "before serving, read every table whole and scan the logs; refuse a damaged store (env POLICYGRAPH_VERIFY)")
	fs.BoolVar(&c.introspection, "introspection", env.bool("POLICYGRAPH_INTROSPECTION", true), "allow schema introspection (env POLICYGRAPH_INTROSPECTION)")
	fs.BoolVar(&c.ide, "ide", env.bool("POLICYGRAPH_IDE", true), "serve the GraphQL IDE at / (env POLICYGRAPH_IDE)")
	fs.BoolVar(&c.seed, "seed", env.bool("POLICYGRAPH_SEED", true), "seed an empty database from the article (env POLICYGRAPH_SEED)")
	cors = fs.String("cors-origins", env.string("POLICYGRAPH_CORS_ORIGINS", ""), "comma-separated origins that browsers may call the API from, or *; none by default (env POLICYGRAPH_CORS_ORIGINS)")
	fs.IntVar(&c.cacheSize, "cache-size", env.int("POLICYGRAPH_CACHE_SIZE", 1000), "query results the response cache holds; 0 disables it (env POLICYGRAPH_CACHE_SIZE)")
	fs.StringVar(&c.cacheControl, "cache-control", env.string("POLICYGRAPH_CACHE_CONTROL", "public, max-age=0, must-revalidate"), "Cache-Control of GET query responses (env POLICYGRAPH_CACHE_CONTROL)")
	fs.IntVar(&c.csvMaxRows, "csv-max-rows", env.int("POLICYGRAPH_CSV_MAX_ROWS", 100000), "most rows of a CSV table from /q/ (400 CSV_TOO_LARGE past it); 0: no limit (env POLICYGRAPH_CSV_MAX_ROWS)")
	fs.Int64Var(&c.csvMaxBytes, "csv-max-bytes", env.int64("POLICYGRAPH_CSV_MAX_BYTES", 32<<20), "most bytes of a CSV table from /q/ (400 CSV_TOO_LARGE past it); 0: no limit (env POLICYGRAPH_CSV_MAX_BYTES)")
	fs.Int64Var(&c.maxBody, "max-body", env.int64("POLICYGRAPH_MAX_BODY", api.DefaultMaxBodyBytes), "largest POST body in bytes (env POLICYGRAPH_MAX_BODY)")
	limitFlags(fs, env, &c.limits, &c.server)
	deriveMemory = memoryFlags(fs, env.getenv, &c.memory, &c.limits, &c.maxBody)
	diskDone = diskFlags(fs, env.getenv, c)
	return fs, cors, deriveMemory, diskDone
}

// Run dispatches to a subcommand; with none (or "serve") it serves until ctx
// is done. It reads the environment only through getenv, and standard input
// (the import command's) only through stdin.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "seed":
		return seedCommand(args, getenv, stdout, stderr)
	case "export":
		return exportCommand(args, getenv, stdout, stderr)
	case "import":
		return importCommand(stdin, args, getenv, stdout, stderr)
	case "backup":
		return backupCommand(ctx, args, getenv, stdout, stderr)
	case "restore":
		return restoreCommand(args, getenv, stdout, stderr)
	case "check":
		return checkCommand(args, getenv, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q (commands: serve, seed, export, import, backup, restore, check)", cmd)
}

// seedCommand adds what the data directory lacks of the article's facts,
// never overwriting curated records, and prints what it wrote and kept.
func seedCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := ParseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	cfg.seed = false
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

// serve starts the service and blocks until ctx is done, then shuts down cleanly.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := ParseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	if n := len(cfg.token); n > 0 && n < minTokenBytes {
		log.Warn("the write token is short: a token under 16 bytes is easier to guess; use a long random one (openssl rand -hex 32)", "bytes", n)
	}

	g, err := Open(cfg, log)
	if err != nil {
		if damage := (*storage.DamageError)(nil); errors.As(err, &damage) && cfg.verify {
			err = fmt.Errorf("%w (-verify=false opens it anyway where it can, accepting the loss that check lists)", err)
		}
		log.Error("store refused", "data", cfg.data, "err", err)
		return err
	}
	defer func() {
		if err := g.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ln = limitConns(ln, cfg.memory.maxConns)
	memLimit := "GOMEMLIMIT"
	if getenv("GOMEMLIMIT") == "" {
		// The runtime read GOMEMLIMIT at start; when it is not set, the budget
		// is the limit: the GC works harder, rather than the heap growing
		// past it.
		debug.SetMemoryLimit(cfg.memory.budget)
		memLimit = "-memory-budget"
	}
	srv := &http.Server{
		Handler:           NewHandler(g, cfg, log),
		MaxHeaderBytes:    maxHeaderBytes,
		ReadHeaderTimeout: cfg.server.readHeaderTimeout,
		ReadTimeout:       cfg.server.readTimeout,
		WriteTimeout:      cfg.server.writeTimeout,
		IdleTimeout:       cfg.server.idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "data", cfg.data, "writes", cfg.token != "", "sync", cfg.syncWrites,
		"memory_budget", storage.FormatBytes(cfg.memory.budget), "memory_limit_from", memLimit, "max_in_flight", cfg.limits.MaxInFlight,
		"max_in_flight_per_client", cfg.limits.MaxInFlightPerClient)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.server.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// minTokenBytes is the shortest write token served without a warning.
const minTokenBytes = 16

// Open opens the store cfg names and seeds it when it holds no entity (and
// cfg says to seed).
func Open(cfg Config, log *slog.Logger) (*storage.Graph, error) {
	start := time.Now()
	bkv, err := storage.OpenBadger(storage.BadgerOptions{Dir: cfg.data, SyncWrites: cfg.syncWrites, Logger: log, NoVerify: !cfg.verify,
		BlockCacheBytes: cfg.memory.blockCache, MemTableSize: int64(cfg.memTableSize), MinFreeDisk: int64(cfg.minFreeDisk)})
	if err != nil {
		return nil, err
	}
	kv := &storage.CountingKV{KV: bkv}
	g, err := storage.Open(kv)
	if err != nil {
		kv.Close()
		return nil, fmt.Errorf("%s: %w", cfg.data, err)
	}
	opened := time.Since(start)
	if cfg.memory.recordCache > 0 {
		g.SetRecordCacheBytes(cfg.memory.recordCache)
	}
	if cfg.seed {
		empty, err := g.Empty()
		if err != nil {
			g.Close()
			return nil, err
		}
		if empty {
			start := time.Now()
			rep, err := seed.Load(g)
			if err != nil {
				g.Close()
				return nil, fmt.Errorf("seed: %w", err)
			}
			log.Info("seeded from the article", "entities", rep.Entities, "facts", rep.Facts, "written", rep.Written, "took", time.Since(start).String())
		}
	}
	// Count the graph once, now, by a key-only scan: from here on the writes
	// keep the counts, which stats and the cost model read (storage/counts.go).
	start = time.Now()
	s, err := g.Stats()
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("count the graph: %w", err)
	}
	log.Info("store opened", "store", g.StoreID().String(), "version", g.Version(), "verified", cfg.verify, "opened_in", opened.String(),
		"entities", s.Nodes, "facts", s.Facts, "counted_in", time.Since(start).String())
	return g, nil
}

// NewHandler is the whole route table: every path the service answers, its
// middleware, and what serves it.
func NewHandler(g *storage.Graph, cfg Config, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	metrics := api.NewMetrics(reg)
	registerGraphMetrics(reg, g)
	graphQL := api.NewHandler(g, api.Options{Token: cfg.token, Introspection: cfg.introspection, Logger: log,
		MaxBodyBytes: cfg.maxBody, CacheSize: cfg.cacheSize, CacheControl: cfg.cacheControl, Metrics: metrics, Limits: &cfg.limits,
		CacheBytes: orNone(cfg.memory.responseCache), QueryCacheBytes: orNone(cfg.memory.queryCache), APQCacheBytes: orNone(cfg.memory.apqCache),
		RefusalCacheBytes: orNone(cfg.memory.refusalCache)})
	auth := api.NewAuth(api.AuthOptions{Token: cfg.token, FailureDelay: cfg.authDelay, Registerer: reg})
	gql := auth.Authenticate(graphQL)
	crossOrigin := allowOrigins(cfg.corsOrigins)
	mux := http.NewServeMux()
	mux.Handle("/graphql", crossOrigin(gql))
	mux.Handle("/q/", crossOrigin(api.SavedQueryHandler(g, gql, api.SavedQueryOptions{
		CSVMaxRows: cfg.csvMaxRows, CSVMaxBytes: cfg.csvMaxBytes, Timeout: cfg.limits.Timeout})))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /admin/backup", backupHandler(g, auth, log))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","version":%d}`+"\n", g.Version())
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if _, err := g.Empty(); err != nil { // one key read: the store answers
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"status":"unavailable"}`+"\n")
			return
		}
		fmt.Fprintf(w, `{"status":"ready","version":%d}`+"\n", g.Version())
	})
	explorer := web.Explorer()
	mux.Handle("/explore", explorer)
	mux.Handle("/explore/", explorer)
	if cfg.ide {
		mux.Handle("/", web.IDE("/graphql"))
	}
	return requestID(logRequests(log, mux))
}

// allowOrigins lets browsers on the given origins ("*" for any) call the API;
// with none, only same-origin pages can.
func allowOrigins(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodHead},
		AllowedHeaders: []string{"Content-Type", "Authorization", "Accept", "If-None-Match", "X-Request-Id"},
		ExposedHeaders: []string{"ETag", "X-Request-Id"},
		MaxAge:         600,
	}).Handler
}

// registerGraphMetrics exports the graph's size and version, and the store
// transactions run (when the store counts them).
func registerGraphMetrics(reg prometheus.Registerer, g *storage.Graph) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "policygraph_graph_version", Help: "Grows with every committed write."},
		func() float64 { return float64(g.Version()) }))
	// The graph's counts are kept in process: reading them costs no store read.
	stat := func(f func(storage.Stats) int) func() float64 {
		return func() float64 {
			s, err := g.Stats()
			if err != nil {
				return -1
			}
			return float64(f(s))
		}
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "policygraph_graph_entities", Help: "Entities in the graph."},
		stat(func(s storage.Stats) int { return s.Nodes })))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "policygraph_graph_facts", Help: "Facts in the graph, retracted ones included."},
		stat(func(s storage.Stats) int { return s.Facts })))
	if c, ok := g.KV().(*storage.CountingKV); ok {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "policygraph_store_reads_total", Help: "Read transactions run on the store."},
			func() float64 { return float64(c.Views()) }))
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "policygraph_store_writes_total", Help: "Write transactions run on the store."},
			func() float64 { return float64(c.Updates()) }))
	}
}

// requestID gives every request an ID (the client's X-Request-Id when it is
// sane, else a new one), in the response header and the request's log line.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = uuid.NewString()
			r.Header["X-Request-Id"] = []string{id} // the canonical key: no Set needed
		}
		w.Header()["X-Request-Id"] = []string{id}
		next.ServeHTTP(w, r)
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// logRequests logs one structured line per request.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		// LogAttrs: typed attributes, no boxing of each value into an any.
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("id", r.Header.Get("X-Request-Id")),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.status),
			slog.String("took", time.Since(start).String()))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
