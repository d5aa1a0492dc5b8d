package api

import (
	"regexp"
	"strconv"
	"sync"
	"time"

	"policygraph/errs"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Metrics are the GraphQL endpoint's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errs     *prometheus.CounterVec
	cacheUse *prometheus.CounterVec
	reg      prometheus.Registerer

	mu  sync.Mutex
	ops map[string]bool // operation names seen, to bound label cardinality

	// The label lookups of every request, resolved once: the children of
	// requests and duration by operation name and status, and cacheUse's.
	childMu  sync.RWMutex
	children map[opStatus]opMetrics
	cacheBy  map[string]prometheus.Counter
}

type opStatus struct {
	op     string
	status int
}

type opMetrics struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// maxOperationLabels bounds how many distinct operation names become labels;
// later ones are counted as "other".
const maxOperationLabels = 200

// NewMetrics registers the endpoint's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "policygraph_graphql_requests_total",
			Help: "GraphQL requests by operation name and HTTP status."}, []string{"operation", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "policygraph_graphql_request_duration_seconds",
			Help: "GraphQL request latency by operation name.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}},
			[]string{"operation"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "policygraph_graphql_errors_total",
			Help: "GraphQL errors by extensions.code."}, []string{"code"}),
		cacheUse: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "policygraph_response_cache_total",
			Help: "Response cache lookups: hit, miss (computed and stored), not_modified (answered 304)."}, []string{"result"}),
		ops:      map[string]bool{},
		children: map[opStatus]opMetrics{},
		cacheBy:  map[string]prometheus.Counter{},
		reg:      reg,
	}
	for _, r := range []string{"hit", "miss", "not_modified"} {
		m.cacheBy[r] = m.cacheUse.WithLabelValues(r)
	}
	reg.MustRegister(m.requests, m.duration, m.errs, m.cacheUse)
	return m
}

var opNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func (m *Metrics) opLabel(op string) string {
	if op == "" {
		return "anonymous"
	}
	if !opNameRE.MatchString(op) {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ops[op] {
		if len(m.ops) >= maxOperationLabels {
			return "other"
		}
		m.ops[op] = true
	}
	return op
}

func (m *Metrics) request(op string, status int, d time.Duration) {
	if m == nil {
		return
	}
	key := opStatus{op, status}
	m.childMu.RLock()
	c, ok := m.children[key]
	m.childMu.RUnlock()
	if !ok {
		l := m.opLabel(op)
		c = opMetrics{m.requests.WithLabelValues(l, strconv.Itoa(status)), m.duration.WithLabelValues(l)}
		m.childMu.Lock()
		// Bounded like the labels: names past the bound share "other"'s
		// children, looked up each time.
		if len(m.children) < 4*maxOperationLabels {
			m.children[key] = c
		}
		m.childMu.Unlock()
	}
	c.requests.Inc()
	c.duration.Observe(d.Seconds())
}

func (m *Metrics) errors(list gqlerror.List) {
	if m == nil {
		return
	}
	for _, e := range list {
		code, _ := e.Extensions["code"].(string)
		if code == "" {
			code = string(errs.Unknown)
		}
		m.errs.WithLabelValues(code).Inc()
	}
}

// sizedCache is what the cache metrics read of a cache.
type sizedCache interface {
	Bytes() int64
	MaxBytes() int64
}

// cacheBytes exports what each of the endpoint's caches holds, in bytes,
// beside its bound: the memory budget's caches, watched.
func (m *Metrics) cacheBytes(caches map[string]sizedCache) {
	if m == nil {
		return
	}
	for name, c := range caches {
		labels := prometheus.Labels{"cache": name}
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "policygraph_cache_bytes", ConstLabels: labels,
				Help: "Bytes held by each cache of the GraphQL endpoint: response, query (parsed), apq, refusal."},
				func() float64 { return float64(c.Bytes()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "policygraph_cache_max_bytes", ConstLabels: labels,
				Help: "The bound on policygraph_cache_bytes."},
				func() float64 { return float64(c.MaxBytes()) }))
	}
}

// errorCodes counts errors by their codes, as errors does.
func (m *Metrics) errorCodes(codes []string) {
	if m == nil {
		return
	}
	for _, code := range codes {
		m.errs.WithLabelValues(code).Inc()
	}
}

func (m *Metrics) cache(result string) {
	if m == nil {
		return
	}
	if c, ok := m.cacheBy[result]; ok {
		c.Inc()
		return
	}
	m.cacheUse.WithLabelValues(result).Inc()
}
