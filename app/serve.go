package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"policygraph/api"
	"policygraph/graph"
	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
	"policygraph/storage/memgraph"
)

// serve starts the service and blocks until ctx is done, then shuts down cleanly.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := ParseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: slog.Level(cfg.logLevel)}))
	if n := len(cfg.token); n > 0 && n < minTokenBytes {
		log.Warn("the write token is short: a token under 16 bytes is easier to guess; use a long random one (openssl rand -hex 32)", "bytes", n)
	}

	// Listen first: while the store opens and the read model loads (seconds
	// for a large graph), /healthz answers that the process lives and
	// /readyz, like every other route, 503 with Retry-After, so that a load
	// balancer waits rather than the connection being refused.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ln = limitConns(ln, cfg.memory.maxConns)
	memLimit := "GOMEMLIMIT"
	if getenv("GOMEMLIMIT") == "" {
		// The runtime read GOMEMLIMIT at start; when it is not set, the budget
		// is the limit: the GC works harder, rather than the heap growing
		// past it. Set before the read model loads: its load peaks.
		debug.SetMemoryLimit(cfg.memory.budget)
		memLimit = "-memory-budget"
	}
	if getenv("GOGC") == "" {
		// A small live heap (a server over etcd) would be collected very
		// often: see gcfloor.go. An eighth of the budget between collections.
		defer startGCFloor(uint64(cfg.memory.budget / 8)).stop()
	}
	var routes atomic.Pointer[http.Handler]
	loading := startingHandler()
	routes.Store(&loading)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*routes.Load()).ServeHTTP(w, r) }),
		MaxHeaderBytes:    maxHeaderBytes,
		ReadHeaderTimeout: cfg.server.readHeaderTimeout,
		ReadTimeout:       cfg.server.readTimeout,
		WriteTimeout:      cfg.server.writeTimeout,
		IdleTimeout:       cfg.server.idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("starting", "addr", ln.Addr().String(), "data", cfg.data, "etcd", cfg.etcd, "read_model", cfg.readModel)
	stopEarly := func() {
		srv.Close()
		<-errc
	}

	g, err := Open(cfg, log)
	if err != nil {
		stopEarly()
		if damage := (*badger.DamageError)(nil); errors.As(err, &damage) && cfg.verify {
			err = fmt.Errorf("%w (-verify=false opens it anyway where it can, accepting the loss that check lists)", err)
		}
		log.Error("store refused", "data", cfg.data, "etcd", cfg.etcd, "err", err)
		return err
	}
	defer func() {
		if err := g.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()

	if err := checkSavedQueries(g, log); err != nil {
		stopEarly()
		return err
	}

	tp, stopTracing, err := startTracing(ctx, cfg, log)
	if err != nil {
		stopEarly()
		return err
	}
	defer func() {
		// After the server's shutdown: the spans of its last requests are sent.
		stopCtx, cancel := context.WithTimeout(context.Background(), cfg.server.shutdownTimeout)
		defer cancel()
		if err := stopTracing(stopCtx); err != nil {
			log.Error("send the last traces", "err", err)
		}
	}()
	cfg.tracerProvider = tp
	// Shutdown waits for handlers and cancels none of their contexts: the
	// streams (/changes) watch stopping, and end when it is done.
	stopping, stopStreams := context.WithCancel(context.Background())
	defer stopStreams()
	cfg.stopping = stopping
	cfg.liveConns = api.NewLiveConns()
	handler, auth := newRoutes(g, cfg, log)
	stopReload := reloadOnHangup(ctx, cfg, auth, log)
	defer stopReload()
	routes.Store(&handler)
	log.Info("listening", "addr", ln.Addr().String(), "data", cfg.data, "etcd", cfg.etcd, "writes", cfg.curators.CanAny(api.ScopeWrite), "curators", cfg.curators.Names(), "private", cfg.private, "sync", cfg.syncWrites,
		"memory_budget", storage.FormatBytes(cfg.memory.budget), "memory_limit_from", memLimit, "max_in_flight", cfg.limits.MaxInFlight,
		"max_in_flight_per_client", cfg.limits.MaxInFlightPerClient, "gzip", cfg.gzip, "otlp_endpoint", cfg.otlpEndpoint)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	stopStreams()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.server.shutdownTimeout)
	defer cancel()
	// Shutdown waits for event streams forever and does not see WebSocket
	// connections (hijacked): end them first, each with a proper close.
	if err := cfg.liveConns.Close(shutdownCtx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startingHandler answers while the service starts: /healthz 200 (the
// process lives), everything else 503 with Retry-After, /readyz included.
func startingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/healthz" {
			fmt.Fprintln(w, `{"status":"starting"}`)
			return
		}
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, `{"status":"starting","message":"the store is opening and the read model loading; retry"}`)
	})
}

// checkSavedQueries validates every stored saved query against the schema this
// binary serves, and logs each one that no longer validates (a field it names
// was removed), so that an operator learns of it at start rather than from a
// dashboard's SAVED_QUERY_INVALID. The queries are kept as they are: a curator
// updates them (savedQueries lists them with valid: false and their problems).
func checkSavedQueries(g *storage.Graph, log *slog.Logger) error {
	checked, invalid, err := graph.CheckSavedQueries(g)
	if err != nil {
		return fmt.Errorf("check saved queries: %w", err)
	}
	for _, q := range invalid {
		log.Warn("saved query no longer validates against the schema; /q/ answers it SAVED_QUERY_INVALID until a curator updates it",
			"name", q.Name, "problems", q.Problems)
	}
	log.Info("saved queries checked", "saved_queries", checked, "invalid", len(invalid))
	return nil
}

// reloadOnHangup re-reads the curators' tokens (the token file, with -token's
// and POLICYGRAPH_TOKENS's) on each SIGHUP and swaps the new set in whole. A
// file that does not load keeps the set before it, and the error, naming the
// file and line (never a hash), is logged. It returns what stops it.
func reloadOnHangup(ctx context.Context, cfg Config, auth *api.Auth, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
			case <-ctx.Done():
				return
			case <-done:
				return
			}
			set, err := loadCurators(cfg)
			if err != nil {
				log.Error("token reload failed; the curators loaded before stay", "err", err.Error(), "curators", auth.Curators().Names())
				continue
			}
			if cfg.private && set.Len() == 0 {
				log.Error("token reload failed; the curators loaded before stay", "err", "-private needs curators' tokens: the reloaded set is empty", "curators", auth.Curators().Names())
				continue
			}
			auth.SetCurators(set)
			log.Info("tokens reloaded", "file", cfg.tokensFile, "curators", set.Names())
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// minTokenBytes is the shortest write token served without a warning.
const minTokenBytes = 16

// ModelDir is the directory of the read model's files, inside the data
// directory (storage.ModelCache): the store's engine, check and backup
// leave it alone, and a restore makes a new store, whose ID no file there
// has.
const ModelDir = "model"

// Open opens the store cfg names, the Badger store in the data directory or,
// with -etcd, the graph under the prefix of an etcd cluster (whose servers
// race to seed an empty one: the committer makes one seed win and the others
// find it done), and seeds it when it holds no entity (and cfg says to seed).
func Open(cfg Config, log *slog.Logger) (*storage.Graph, error) {
	start := time.Now()
	var engine storage.KV
	where := cfg.data
	if cfg.etcd.enabled() {
		ekv, err := openEtcd(cfg.etcd, log)
		if err != nil {
			return nil, err
		}
		engine, where = ekv, cfg.etcd.String()
	} else {
		bkv, err := badger.Open(badger.Options{Dir: cfg.data, SyncWrites: cfg.syncWrites, Logger: log, NoVerify: !cfg.verify,
			BlockCacheBytes: cfg.memory.blockCache, MemTableSize: int64(cfg.memTableSize), MinFreeDisk: int64(cfg.minFreeDisk)})
		if err != nil {
			return nil, err
		}
		engine = bkv
	}
	kv := &storage.CountingKV{KV: engine}
	opts := storage.Options{Retention: cfg.retention(), Logger: log, FollowPoll: cfg.cluster.followPoll}
	if cfg.readModel {
		opts.Model = memgraph.Load
		if cfg.modelFile {
			opts.ModelCache = &memgraph.Files{Dir: filepath.Join(cfg.data, ModelDir), Logger: log}
			opts.ModelSaveEvery = cfg.modelSaveEvery
		}
	}
	g, err := storage.OpenWith(kv, opts)
	if err != nil {
		kv.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
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
