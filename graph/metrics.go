package graph

import (
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Metrics are the GraphQL endpoint's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errs     *prometheus.CounterVec
	cacheUse *prometheus.CounterVec

	mu  sync.Mutex
	ops map[string]bool // operation names seen, to bound label cardinality
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
		ops: map[string]bool{},
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
	l := m.opLabel(op)
	m.requests.WithLabelValues(l, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(l).Observe(d.Seconds())
}

func (m *Metrics) errors(errs gqlerror.List) {
	if m == nil {
		return
	}
	for _, e := range errs {
		code, _ := e.Extensions["code"].(string)
		if code == "" {
			code = "UNKNOWN"
		}
		m.errs.WithLabelValues(code).Inc()
	}
}

func (m *Metrics) cache(result string) {
	if m == nil {
		return
	}
	m.cacheUse.WithLabelValues(result).Inc()
}
