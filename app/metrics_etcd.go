package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"policygraph/storage"
	"policygraph/storage/etcd"
)

// registerEtcdMetrics exports the etcd engine's counters (storage/etcd's
// Stats) when the graph is in a cluster: what tells an operator that writes
// contend (conflicts), that the cluster was out of reach (unavailable), and
// how often changes too big for one etcd transaction were staged.
func registerEtcdMetrics(reg prometheus.Registerer, g *storage.Graph) {
	var e *etcd.KV
	for kv := g.KV(); e == nil; {
		var ok bool
		if e, ok = kv.(*etcd.KV); ok {
			break
		}
		u, ok := kv.(interface{ Unwrap() storage.KV })
		if !ok {
			return // not a cluster
		}
		kv = u.Unwrap()
	}
	for _, c := range []struct {
		name, help string
		value      func(etcd.Stats) uint64
	}{
		{"policygraph_etcd_commits_total", "Transactions committed to the etcd cluster (staged ones included).", func(s etcd.Stats) uint64 { return s.Commits }},
		{"policygraph_etcd_staged_commits_total", "Commits too big for one etcd transaction, staged in chunks and published at once.", func(s etcd.Stats) uint64 { return s.StagedCommits }},
		{"policygraph_etcd_conflicts_total", "Transactions run again because another server changed what they read.", func(s etcd.Stats) uint64 { return s.Conflicts }},
		{"policygraph_etcd_unavailable_total", "Requests to the etcd cluster that failed with STORE_UNAVAILABLE (no quorum, no member reached within -etcd-timeout).", func(s etcd.Stats) uint64 { return s.Unavailable }},
		{"policygraph_etcd_staged_finished_total", "Published staged commits this server applied for a writer that stopped.", func(s etcd.Stats) uint64 { return s.FinishedStaged }},
		{"policygraph_etcd_stage_collected_total", "Staged commits never published (their writer stopped) whose chunks this server deleted.", func(s etcd.Stats) uint64 { return s.CollectedStage }},
		{"policygraph_etcd_chunked_values_total", "Values too long for one etcd key, written as content-addressed chunks.", func(s etcd.Stats) uint64 { return s.ChunkedValues }},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
			func() float64 { return float64(c.value(e.Stats())) }))
	}
}
