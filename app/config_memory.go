package app

import (
	"flag"
	"fmt"
	"strings"

	"policygraph/api"
	"policygraph/storage"
)

// memoryConfig is the memory budget and what it pays for. With default flags
// every bound below is derived from the one budget (-memory-budget), so that
// no sequence of anonymous requests takes the heap above it; a bound set by
// hand is checked against it instead. docs/limits.md ("Memory") gives
// the arithmetic; budgetParts is it.
type memoryConfig struct {
	budget int64
	// The caches of the GraphQL endpoint, in bytes.
	responseCache, queryCache, apqCache, refusalCache int64
	// The store's caches: Badger's block cache and the decoded-record cache.
	blockCache, recordCache int64
	// maxConns bounds the open connections (and a quarter of it those of one
	// client address).
	maxConns int
}

// What the budget holds besides the bounds the flags set (measured; see
// TestMemoryBudgetHolds and docs/limits.md).
const (
	// runtimeReserve is the heap of a started server at rest, the store
	// aside: the Go runtime, the schema, the generated executor, metrics.
	runtimeReserve = 64 << 20
	// badgerMemtable is Badger's mutable memtable, allocated whole at open.
	// Writes can add immutable ones while they flush; anonymous reads cannot.
	badgerMemtable = 64 << 20
	// connBytes is the most an open connection holds between requests and
	// while its request waits for admission: its goroutine's stack, its read
	// and write buffers, and its request's headers (at most maxHeaderBytes).
	connBytes = 96 << 10
	// maxHeaderBytes bounds a request's headers (net/http's default is 1 MiB).
	maxHeaderBytes = 64 << 10
)

// DefaultMemoryBudget is -memory-budget's default.
const DefaultMemoryBudget = 1 << 30

// requestBytes is the most one admitted request holds: its body, its answer
// as gqlgen builds it and once serialized (2x, see api.encodeResponse), the
// records it loaded, bounded by the complexity limit (1x, taken generously).
func requestBytes(l api.Limits, maxBody int64) int64 {
	return 3*max(l.MaxResponseBytes, 1<<20) + max(maxBody, 0) + 1<<20
}

// budgetPart is one line of the budget's arithmetic.
type budgetPart struct {
	what  string
	bytes int64
}

// budgetParts is the heap the configuration allows anonymous requests to
// take, part by part.
func budgetParts(m memoryConfig, l api.Limits, maxBody int64) []budgetPart {
	return []budgetPart{
		{"runtime at rest", runtimeReserve},
		{"Badger memtable", badgerMemtable},
		{"Badger block cache (-block-cache-bytes)", m.blockCache},
		{"record cache (-record-cache-bytes)", m.recordCache},
		{"response cache (-cache-bytes)", m.responseCache},
		{"parsed-query cache (-query-cache-bytes)", m.queryCache},
		{"persisted-query cache (-apq-cache-bytes)", m.apqCache},
		{"refusal cache (-refusal-cache-bytes)", m.refusalCache},
		{fmt.Sprintf("%d connections (-max-conns) x %s", m.maxConns, storage.FormatBytes(connBytes)), int64(m.maxConns) * connBytes},
		{fmt.Sprintf("%d requests in flight (-max-in-flight) x %s", l.MaxInFlight, storage.FormatBytes(requestBytes(l, maxBody))), int64(l.MaxInFlight) * requestBytes(l, maxBody)},
	}
}

// memoryFlags defines the budget's flags, each with an environment fallback
// (a malformed value stops the start), and returns the func that, once the
// flags are parsed, derives the bounds left unset from the budget and checks
// the whole against it.
func memoryFlags(fs *flag.FlagSet, getenv func(string) string, m *memoryConfig, l *api.Limits, maxBody *int64) func() error {
	m.budget = DefaultMemoryBudget
	d := api.DefaultLimits()
	l.MaxResponseBytes, l.QueueWait = d.MaxResponseBytes, d.QueueWait
	sizes := []struct {
		name, env string
		p         *int64
		usage     string
	}{
		{"memory-budget", "POLICYGRAPH_MEMORY_BUDGET", &m.budget, "the heap the server may use, e.g. 1GiB or 512MiB: the caches and in-flight bounds below are derived from it, and Go's memory limit (GOMEMLIMIT, unless set) is set to it"},
		{"cache-bytes", "POLICYGRAPH_CACHE_BYTES", &m.responseCache, "bytes of query results the response cache holds; a result over 1/16 of it is not cached (default: budget/16)"},
		{"query-cache-bytes", "POLICYGRAPH_QUERY_CACHE_BYTES", &m.queryCache, "bytes of parsed queries cached; a query over 1/16 of it is parsed each time (default: budget/64)"},
		{"apq-cache-bytes", "POLICYGRAPH_APQ_CACHE_BYTES", &m.apqCache, "bytes of automatic persisted queries' texts cached (default: budget/256)"},
		{"refusal-cache-bytes", "POLICYGRAPH_REFUSAL_CACHE_BYTES", &m.refusalCache, "bytes of refused requests' answers remembered (default: budget/256)"},
		{"block-cache-bytes", "POLICYGRAPH_BLOCK_CACHE_BYTES", &m.blockCache, "Badger's block cache (default: budget/8)"},
		{"record-cache-bytes", "POLICYGRAPH_RECORD_CACHE_BYTES", &m.recordCache, "bytes of decoded entities and facts cached (default: budget/16)"},
		{"max-response-bytes", "POLICYGRAPH_MAX_RESPONSE_BYTES", &l.MaxResponseBytes, "largest answer to a query, in bytes (RESPONSE_TOO_LARGE past it); 0: no limit"},
	}
	// fromEnv sets the flag name from the variable env when it is set; the
	// first that does not parse is the error checked after parsing.
	var envErr error
	fromEnv := func(name, env string) {
		if v := getenv(env); v != "" && envErr == nil {
			if err := fs.Set(name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", env, v, err)
			}
		}
	}
	for _, s := range sizes {
		fs.Var((*byteSize)(s.p), s.name, s.usage+" (env "+s.env+")")
		fromEnv(s.name, s.env)
	}
	ints := []struct {
		name, env string
		p         *int
		usage     string
	}{
		{"max-in-flight", "POLICYGRAPH_MAX_IN_FLIGHT", &l.MaxInFlight, "requests to /graphql and /q/ running at once; past it they wait, then get 503 SERVER_BUSY; 0: no limit (default: what the budget leaves, see docs/limits.md)"},
		{"max-in-flight-per-client", "POLICYGRAPH_MAX_IN_FLIGHT_PER_CLIENT", &l.MaxInFlightPerClient, "of those, from one client address (default: a quarter of -max-in-flight)"},
		{"max-conns", "POLICYGRAPH_MAX_CONNS", &m.maxConns, "open connections; a quarter of them from one client address (default 1024)"},
	}
	m.maxConns = 1024
	for _, s := range ints {
		fs.IntVar(s.p, s.name, *s.p, s.usage+" (env "+s.env+")")
		fromEnv(s.name, s.env)
	}
	fs.DurationVar(&l.QueueWait, "queue-wait", l.QueueWait, "how long a request waits for a slot past -max-in-flight before 503 SERVER_BUSY (env POLICYGRAPH_QUEUE_WAIT)")
	fromEnv("queue-wait", "POLICYGRAPH_QUEUE_WAIT")
	return func() error {
		if envErr != nil {
			return envErr
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		return m.derive(set, l, *maxBody)
	}
}

// derive fills in the bounds not in set from the budget, and checks that the
// whole fits in it.
func (m *memoryConfig) derive(set map[string]bool, l *api.Limits, maxBody int64) error {
	if m.budget <= 0 {
		return fmt.Errorf("-memory-budget must be positive")
	}
	for _, d := range []struct {
		name string
		p    *int64
		div  int64
	}{
		{"cache-bytes", &m.responseCache, 16}, {"query-cache-bytes", &m.queryCache, 64},
		{"apq-cache-bytes", &m.apqCache, 256}, {"refusal-cache-bytes", &m.refusalCache, 256},
		{"block-cache-bytes", &m.blockCache, 8}, {"record-cache-bytes", &m.recordCache, 16},
	} {
		if !set[d.name] {
			*d.p = m.budget / d.div
		}
	}
	if m.maxConns <= 0 {
		return fmt.Errorf("-max-conns must be positive")
	}
	if !set["max-in-flight"] {
		l.MaxInFlight = 0
		rest := m.budget
		for _, p := range budgetParts(*m, *l, maxBody) {
			rest -= p.bytes
		}
		l.MaxInFlight = int(rest / requestBytes(*l, maxBody))
		if l.MaxInFlight < 1 {
			return fmt.Errorf("-memory-budget %s leaves no room for a request in flight: %s", storage.FormatBytes(m.budget), describeBudget(*m, *l, maxBody))
		}
	}
	if !set["max-in-flight-per-client"] {
		l.MaxInFlightPerClient = max(1, l.MaxInFlight/4)
	}
	if l.MaxInFlight > 0 {
		var total int64
		for _, p := range budgetParts(*m, *l, maxBody) {
			total += p.bytes
		}
		if total > m.budget {
			return fmt.Errorf("the bounds set need %s, more than -memory-budget %s: %s; raise the budget or lower a bound",
				storage.FormatBytes(total), storage.FormatBytes(m.budget), describeBudget(*m, *l, maxBody))
		}
	}
	return nil
}

// describeBudget spells out the budget's arithmetic.
func describeBudget(m memoryConfig, l api.Limits, maxBody int64) string {
	parts := budgetParts(m, l, maxBody)
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = p.what + " " + storage.FormatBytes(p.bytes)
	}
	return strings.Join(s, " + ")
}

// orNone maps a cache size of 0 bytes (none) to what api.Options reads as
// none: a negative size (0 there means its default).
func orNone(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// byteSize is a flag.Value of a size in bytes, read by storage.ParseBytes
// ("134217728", "128MiB", "1GiB").
type byteSize int64

func (b *byteSize) String() string { return storage.FormatBytes(int64(*b)) }

// Get implements flag.Getter.
func (b *byteSize) Get() any { return *b }

func (b *byteSize) Set(s string) error {
	n, err := storage.ParseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}
