package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"

	"policygraph/api"
	"policygraph/internal/logctx"
	"policygraph/storage"
	"policygraph/web"
)

// NewHandler is the whole route table: every path the service answers, its
// middleware, and what serves it.
func NewHandler(g *storage.Graph, cfg Config, log *slog.Logger) http.Handler {
	h, _ := newRoutes(g, cfg, log)
	return h
}

// newRoutes is NewHandler, and the Auth that checks its tokens, whose
// curators a reload replaces.
func newRoutes(g *storage.Graph, cfg Config, log *slog.Logger) (http.Handler, *api.Auth) {
	// Every line a request causes carries its ID (and trace), from its context.
	log = slog.New(logctx.Handler(log.Handler()))
	reg := prometheus.NewRegistry()
	metrics := api.NewMetrics(reg)
	registerGraphMetrics(reg, g)
	registerEtcdMetrics(reg, g)
	curators := cfg.curators
	if curators == nil { // a Config not made by ParseConfig
		curators = api.SingleCurator(cfg.token)
	}
	auth := api.NewAuth(api.AuthOptions{Curators: curators, Private: cfg.private, FailureDelay: cfg.authDelay, Registerer: reg, Logger: log})
	if cfg.liveConns == nil { // a Config serve did not make (tests, the bench)
		cfg.liveConns = api.NewLiveConns()
	}
	live := cfg.liveConns
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "policygraph_subscriptions_running",
		Help: "GraphQL operations running over WebSocket and server-sent event streams now (subscriptions, live queries)."},
		func() float64 { return float64(live.Running()) }))
	graphQL := api.NewHandler(g, api.Options{Auth: auth, Introspection: cfg.introspection, Logger: log,
		MaxBodyBytes: cfg.maxBody, CacheSize: cfg.cacheSize, CacheControl: cfg.cacheControl, Metrics: metrics, Limits: &cfg.limits,
		CacheBytes: orNone(cfg.memory.responseCache), QueryCacheBytes: orNone(cfg.memory.queryCache), APQCacheBytes: orNone(cfg.memory.apqCache),
		RefusalCacheBytes: orNone(cfg.memory.refusalCache), TracerProvider: cfg.tracerProvider,
		Subscriptions: &cfg.subscriptions, LiveConns: cfg.liveConns, AllowedOrigins: cfg.corsOrigins, MinVersionWait: cfg.cluster.minVersionWait})
	gql := auth.Authenticate(graphQL)
	crossOrigin := allowOrigins(cfg.corsOrigins)
	compress := func(h http.Handler) http.Handler { return h }
	if cfg.gzip {
		compress = api.Compress
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", compress(crossOrigin(gql)))
	// /q/ is checked before the saved query is looked up: a private server
	// does not tell which names exist. Its query through gql is not checked
	// again.
	mux.Handle("/q/", compress(crossOrigin(auth.Authenticate(api.SavedQueryHandler(g, gql, api.SavedQueryOptions{
		CSVMaxRows: cfg.csvMaxRows, CSVMaxBytes: cfg.csvMaxBytes, Timeout: cfg.limits.Timeout})))))
	streams := api.NewStreams(api.StreamOptions{MaxStreams: cfg.streams.max, MaxStreamsPerClient: cfg.streams.perClient, Heartbeat: cfg.streams.heartbeat,
		Lifetime: cfg.streams.lifetime, WriteTimeout: cfg.server.writeTimeout, Stopping: cfg.stopping, Registerer: reg})
	// A stream, outside the request guard: streams bounds it (api/streams.go).
	mux.Handle("GET /changes", crossOrigin(auth.Authenticate(api.ChangesHandler(g, streams, api.ChangesOptions{Gzip: cfg.gzip, Logger: log}))))
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
		// On a store other servers write: not ready while behind it or cut
		// off from it (the load balancer sends reads elsewhere), though this
		// server goes on answering them at its version.
		if status, reason := cfg.cluster.readiness(g.Follow(), time.Now()); status != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write(readyBody(status, reason, g.Version()))
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
	return traceRequests(cfg.tracerProvider, requestID(logRequests(log, mux))), auth
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
		AllowedHeaders: []string{"Content-Type", "Authorization", "Accept", "If-None-Match", "X-Request-Id", api.HeaderMinVersion},
		ExposedHeaders: []string{"ETag", "X-Request-Id", api.HeaderVersion, "Retry-After"},
		MaxAge:         600,
	}).Handler
}

// registerGraphMetrics exports the graph's size and version, and the store
// transactions run (when the store counts them).
func registerGraphMetrics(reg prometheus.Registerer, g *storage.Graph) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "policygraph_graph_version", Help: "Grows with every committed write."},
		func() float64 { return float64(g.Version()) }))
	logGauge := func(name, help string, f func(storage.LogStats) uint64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(f(g.LogStats())) }))
	}
	logGauge("policygraph_change_log_head", "The last version the change log holds (the graph's version).", func(s storage.LogStats) uint64 { return s.Head })
	logGauge("policygraph_change_log_first", "The oldest version the change log keeps (0: not known yet); see -change-log-versions and -change-log-age.", func(s storage.LogStats) uint64 { return s.First })
	logGauge("policygraph_read_model_version", "The version the read model answers at (0: no read model).", func(s storage.LogStats) uint64 { return s.Model })
	logGauge("policygraph_read_model_lag", "Versions the read model is behind the change log's head (0 but while a batch of writes is being applied).", func(s storage.LogStats) uint64 {
		if s.Model == 0 || s.Model > s.Head {
			return 0
		}
		return s.Head - s.Model
	})
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "policygraph_commits_total", Help: "Writes committed since start (with the read model: by the committer)."},
		func() float64 { return float64(g.LogStats().Commits) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "policygraph_commit_batches_total", Help: "Store transactions that committed them: commits/batches is the writes per fsync."},
		func() float64 { return float64(g.LogStats().Batches) }))
	if _, shared := storage.AsShared(g.KV()); shared {
		// Following a store other servers write (etcd): how far behind it
		// this server is, and since when it has not reached it.
		follow := func(name, help string, f func(storage.FollowState) float64) {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
				func() float64 { return f(g.Follow()) }))
		}
		follow("policygraph_store_head", "The store's head (its last version) as this server last read it.", func(s storage.FollowState) float64 { return float64(s.StoreHead) })
		follow("policygraph_store_lag", "Versions the read model is behind the store's head last read (see -max-lag).", func(s storage.FollowState) float64 { return float64(s.Lag()) })
		follow("policygraph_store_contact_age_seconds", "Seconds since the store was last read or written successfully (see -max-staleness); -1 before the first time.", func(s storage.FollowState) float64 {
			if s.LastContact.IsZero() {
				return -1
			}
			return time.Since(s.LastContact).Seconds()
		})
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "policygraph_read_model_reloads_total", Help: "Rebuilds of the read model from the store's records because the change log no longer held the changes it needed."},
			func() float64 { return float64(g.Follow().Reloads) }))
	}
	if m := g.ReadModel(); m != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "policygraph_read_model_overlay_entries", Help: "Keys the read model changed since its last compaction."},
			func() float64 { return float64(g.ReadModel().Stats().OverlayEntries) }))
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "policygraph_read_model_compactions_total", Help: "Compactions of the read model's overlay into a new base."},
			func() float64 { return float64(g.ReadModel().Stats().Compactions) }))
	}
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
