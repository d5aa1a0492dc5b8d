package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"policygraph/api"
	"policygraph/storage"
)

// Config is the service's configuration: flags, with environment fallbacks.
type Config struct {
	addr         string
	data         string
	token        string
	tokensFile   string
	tokensInline string
	private      bool
	curators     *api.Curators
	authDelay    time.Duration
	syncWrites   bool
	readModel    bool
	// modelFile and modelSaveEvery: the read model's file (storage.ModelCache).
	modelFile      bool
	modelSaveEvery time.Duration
	// logVersions and logAge are the change log's retention (storage.Retention).
	logVersions   int64
	logAge        time.Duration
	verify        bool
	introspection bool
	ide           bool
	seed          bool
	corsOrigins   []string
	gzip          bool
	logLevel      logLevel
	otlpEndpoint  string
	cacheSize     int
	cacheControl  string
	csvMaxRows    int
	csvMaxBytes   int64
	maxBody       int64
	memTableSize  byteSize
	minFreeDisk   byteSize
	limits        api.Limits
	subscriptions api.SubscriptionLimits
	server        serverLimits
	memory        memoryConfig
	streams       streamConfig
	cluster       clusterConfig
	// etcd is the cluster the graph lives in (-etcd); unset: the data directory.
	etcd etcdConfig

	// tracerProvider is what serve's startTracing made (nil: no tracing).
	tracerProvider trace.TracerProvider
	// stopping is done once serve begins to shut down (nil: never): the
	// streams end then (api.StreamOptions.Stopping).
	stopping context.Context
	// liveConns is what serve ends on shutdown (nil: newRoutes makes its own).
	liveConns *api.LiveConns
}

// ParseConfig reads the service's flags from args, each with its environment
// fallback read through getenv; a malformed value, flag or variable, is an
// error. Usage and flag errors are written to stderr.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	env := &envDefaults{getenv: getenv}
	fs, cors, deriveMemory, diskDone := configFlags(&c, env, stderr)
	err := fs.Parse(args)
	if err != nil {
		return c, err
	}
	if err := env.err(); err != nil {
		// Even when a flag overrides it: a malformed setting is a mistake to fix.
		return c, err
	}
	if err := diskDone(); err != nil {
		return c, err
	}
	if c.etcd.enabled() && !c.readModel {
		return c, errors.New("-etcd needs the read model (-read-model=false reads the store's indexes, which a cluster does not keep)")
	}
	if c.logVersions < 0 || c.logAge < 0 {
		return c, fmt.Errorf("-change-log-versions %d and -change-log-age %s: neither may be negative", c.logVersions, c.logAge)
	}
	if err := c.cluster.check(); err != nil {
		return c, err
	}
	if err := deriveMemory(); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.otlpEndpoint != "" {
		if _, err := otlpTracesURL(c.otlpEndpoint); err != nil {
			return c, err
		}
	}
	if c.curators, err = loadCurators(c); err != nil {
		return c, err
	}
	if c.private && c.curators.Len() == 0 {
		return c, errors.New("-private needs curators' tokens (-token, -tokens-file or POLICYGRAPH_TOKENS): without one, nothing could be read")
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
	fs.StringVar(&c.data, "data", env.string("POLICYGRAPH_DATA", "./data"), "data directory of the embedded database; with -etcd, of the read model's file only (env POLICYGRAPH_DATA)")
	fs.StringVar(&c.token, "token", env.string("POLICYGRAPH_TOKEN", ""), "bearer token of a curator named \"curator\" with the write and admin scopes; with no token and no -tokens-file, writes are refused (env POLICYGRAPH_TOKEN)")
	fs.StringVar(&c.tokensFile, "tokens-file", env.string("POLICYGRAPH_TOKENS_FILE", ""), "file of curators' named tokens, one NAME SCOPES sha256:HASH a line (policygraph token prints one); re-read on SIGHUP (env POLICYGRAPH_TOKENS_FILE)")
	c.tokensInline = env.getenv("POLICYGRAPH_TOKENS")
	fs.BoolVar(&c.private, "private", env.bool("POLICYGRAPH_PRIVATE", false), "every request to the API and /q/ needs a curator's token (any scope reads); reads are public otherwise (env POLICYGRAPH_PRIVATE)")
	fs.DurationVar(&c.authDelay, "auth-failure-delay", env.duration("POLICYGRAPH_AUTH_FAILURE_DELAY", time.Second), "hold back a request with a wrong token this long, and check one client address's attempts at most one per this long; 0: no slowing (env POLICYGRAPH_AUTH_FAILURE_DELAY)")
	fs.BoolVar(&c.syncWrites, "sync", env.bool("POLICYGRAPH_SYNC", true), "fsync every commit before acknowledging it (env POLICYGRAPH_SYNC)")
	fs.BoolVar(&c.readModel, "read-model", env.bool("POLICYGRAPH_READ_MODEL", true), "answer every read from the graph held in memory, built at start and advanced by each commit; off: read the store's transactions (env POLICYGRAPH_READ_MODEL)")
	fs.BoolVar(&c.modelFile, "model-file", env.bool("POLICYGRAPH_MODEL_FILE", true), "keep the read model in a file in DATA/model (written at shutdown and after compactions) and start from it, replaying the change log after it, instead of building the model from the whole store (env POLICYGRAPH_MODEL_FILE)")
	fs.DurationVar(&c.modelSaveEvery, "model-save-every", env.duration("POLICYGRAPH_MODEL_SAVE_EVERY", storage.DefaultModelSaveEvery), "write the read model's file after a compaction at most once this often (it is written at shutdown too) (env POLICYGRAPH_MODEL_SAVE_EVERY)")
	fs.Int64Var(&c.logVersions, "change-log-versions", env.int64("POLICYGRAPH_CHANGE_LOG_VERSIONS", int64(storage.DefaultRetention.Versions)), "keep at least the last this many changes in the change log; 0: keep by age alone (env POLICYGRAPH_CHANGE_LOG_VERSIONS)")
	fs.DurationVar(&c.logAge, "change-log-age", env.duration("POLICYGRAPH_CHANGE_LOG_AGE", storage.DefaultRetention.Age), "keep every change of the change log this young; a change goes once it is past both limits (0 and 0: keep all) (env POLICYGRAPH_CHANGE_LOG_AGE)")
	fs.BoolVar(&c.verify, "verify", env.bool("POLICYGRAPH_VERIFY", true), "before serving, read every table whole and scan the logs; refuse a damaged store (env POLICYGRAPH_VERIFY)")
	fs.BoolVar(&c.introspection, "introspection", env.bool("POLICYGRAPH_INTROSPECTION", true), "allow schema introspection (env POLICYGRAPH_INTROSPECTION)")
	fs.BoolVar(&c.ide, "ide", env.bool("POLICYGRAPH_IDE", true), "serve the GraphQL IDE at / (env POLICYGRAPH_IDE)")
	fs.BoolVar(&c.seed, "seed", env.bool("POLICYGRAPH_SEED", true), "seed an empty database from the article (env POLICYGRAPH_SEED)")
	cors = fs.String("cors-origins", env.string("POLICYGRAPH_CORS_ORIGINS", ""), "comma-separated origins that browsers may call the API from, or *; none by default (env POLICYGRAPH_CORS_ORIGINS)")
	fs.BoolVar(&c.gzip, "gzip", env.bool("POLICYGRAPH_GZIP", true), "gzip answers of /graphql and /q/ of 1 KiB or more, and the change stream /changes line by line, to clients that accept it (env POLICYGRAPH_GZIP)")
	c.logLevel = env.logLevel("POLICYGRAPH_LOG_LEVEL", logLevel(slog.LevelInfo))
	fs.Var(&c.logLevel, "log-level", "least severe log lines written: debug, info, warn or error (env POLICYGRAPH_LOG_LEVEL)")
	fs.StringVar(&c.otlpEndpoint, "otlp-endpoint", env.string("POLICYGRAPH_OTLP_ENDPOINT", ""), "send OpenTelemetry traces over OTLP/HTTP to this collector URL (such as http://127.0.0.1:4318); none by default: no tracing (env POLICYGRAPH_OTLP_ENDPOINT)")
	fs.IntVar(&c.cacheSize, "cache-size", env.int("POLICYGRAPH_CACHE_SIZE", 1000), "query results the response cache holds; 0 disables it (env POLICYGRAPH_CACHE_SIZE)")
	fs.StringVar(&c.cacheControl, "cache-control", env.string("POLICYGRAPH_CACHE_CONTROL", "public, max-age=0, must-revalidate"), "Cache-Control of GET query responses (env POLICYGRAPH_CACHE_CONTROL)")
	fs.IntVar(&c.csvMaxRows, "csv-max-rows", env.int("POLICYGRAPH_CSV_MAX_ROWS", 100000), "most rows of a CSV table from /q/ (400 CSV_TOO_LARGE past it); 0: no limit (env POLICYGRAPH_CSV_MAX_ROWS)")
	fs.Int64Var(&c.csvMaxBytes, "csv-max-bytes", env.int64("POLICYGRAPH_CSV_MAX_BYTES", 32<<20), "most bytes of a CSV table from /q/ (400 CSV_TOO_LARGE past it); 0: no limit (env POLICYGRAPH_CSV_MAX_BYTES)")
	fs.Int64Var(&c.maxBody, "max-body", env.int64("POLICYGRAPH_MAX_BODY", api.DefaultMaxBodyBytes), "largest POST body in bytes (env POLICYGRAPH_MAX_BODY)")
	limitFlags(fs, env, &c.limits, &c.server)
	streamFlags(fs, env, &c.streams)
	clusterFlags(fs, env, &c.cluster)
	subscriptionFlags(fs, env, &c.subscriptions)
	deriveMemory = memoryFlags(fs, env.getenv, &c.memory, &c.limits, &c.maxBody)
	disk := diskFlags(fs, env.getenv, c)
	etcd := etcdFlags(fs, env.getenv, &c.etcd)
	diskDone = func() error { return errors.Join(disk(), etcd()) }
	return fs, cors, deriveMemory, diskDone
}

// retention is the change log's retention the flags set.
func (c Config) retention() storage.Retention {
	return storage.Retention{Versions: uint64(c.logVersions), Age: c.logAge}
}

// loadCurators is the set of curators c names: -token's ("curator"), then
// those of POLICYGRAPH_TOKENS, then the token file's. A malformed entry, a
// name or a token given twice, is an error naming where it is, never its
// hash. It is what SIGHUP re-reads.
func loadCurators(c Config) (*api.Curators, error) {
	set := api.SingleCurator(c.token)
	if c.tokensInline != "" {
		inline, err := api.ParseInlineCurators(c.tokensInline, "POLICYGRAPH_TOKENS entry")
		if err != nil {
			return nil, err
		}
		if set, err = set.Merge(inline); err != nil {
			return nil, fmt.Errorf("POLICYGRAPH_TOKENS: %w", err)
		}
	}
	if c.tokensFile != "" {
		f, err := os.Open(c.tokensFile)
		if err != nil {
			return nil, fmt.Errorf("token file: %w", err)
		}
		defer f.Close()
		file, err := api.ParseCurators(f, c.tokensFile)
		if err != nil {
			return nil, err
		}
		if set, err = set.Merge(file); err != nil {
			return nil, fmt.Errorf("%s: %w", c.tokensFile, err)
		}
	}
	return set, nil
}

// logLevel is a flag.Value of a log level: debug, info, warn or error.
type logLevel slog.Level

func parseLogLevel(s string) (logLevel, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return logLevel(slog.LevelDebug), nil
	case "info":
		return logLevel(slog.LevelInfo), nil
	case "warn", "warning":
		return logLevel(slog.LevelWarn), nil
	case "error":
		return logLevel(slog.LevelError), nil
	}
	return 0, fmt.Errorf("%q is not a log level (debug, info, warn or error)", s)
}

func (l *logLevel) Set(s string) error {
	v, err := parseLogLevel(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

func (l logLevel) String() string { return strings.ToLower(slog.Level(l).String()) }

// Get implements flag.Getter.
func (l logLevel) Get() any { return l }
