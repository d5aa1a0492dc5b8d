package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"policygraph/api"
	"policygraph/internal/etcdtest"
	"policygraph/internal/synth"
)

// runEtcdCompare is -etcd-compare (issue 12, "Measured"): it starts a
// 3-member etcd cluster (internal/etcdtest: members as separate processes on
// loopback), two servers over it (A and B, this binary's serve in child
// processes, -etcd) and one over a Badger data directory (-data), all with
// fsync on every commit, and measures in one run:
//
//  1. reads: the load bench's query scenarios on A and on the Badger server,
//     interleaved rounds, each answer checked to be the same bytes on both;
//  2. writes: addFact through the API, one writer (latency) and -c writers
//     (writes/s), on A and on Badger, interleaved; and -c writers split over
//     A and B at once (two committers racing on the version key);
//  3. replication lag: a write acknowledged by A until B answers a request
//     that asks for its version (Policygraph-Min-Version);
//  4. etcd's own request counters on every member (its /metrics) over an
//     idle period, a read load on A and B, and a write load, each as long;
//  5. with -etcd-sizes, the footprint: a synthetic graph of each size
//     imported into a fresh cluster, compacted and defragmented, then its
//     keys, backend size and member heap.
func runEtcdCompare(ctx context.Context, o Options, args []string, out, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	bin, err := etcdtest.Binary()
	if err != nil {
		return fmt.Errorf("-etcd-compare needs an etcd binary: %w", err)
	}
	version, _ := etcdtest.Version(bin)
	fmt.Fprintf(out, "# policygraph bench -etcd-compare\n\n")
	fmt.Fprintf(out, "- command: `go run ./cmd/bench %s`\n", strings.Join(args, " "))
	machine(out)
	fmt.Fprintf(out, "- load average at the start: %s\n", loadavg())
	fmt.Fprintf(out, "- the servers' garbage collector: GOGC=%q GOMEMLIMIT=%q in the environment (every process started here inherits it, the etcd members too; empty: GOGC 100, and serve sets the memory limit to -memory-budget)\n", os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"))
	fmt.Fprintf(out, "- etcd: %s %s, 3 members as separate processes on loopback (internal/etcdtest), etcd's defaults (fsync of the WAL before every acknowledgement)\n", bin, version)
	fmt.Fprintf(out, "- servers: this binary's `serve` in child processes, -cache-size 0, -sync (default true): A and B with -etcd over the cluster, and two with -data over Badger, each its own directory (the second, and B, are the controls of the reads; B is also the other end of the lag and of the two-server writes); the clients are in this process, closed loop, keep-alive, on the same 2 CPUs as everything else\n\n")
	if !o.EtcdSkipLoad {
		if err := etcdLoad(ctx, o, exe, out); err != nil {
			return err
		}
	}
	if o.EtcdSizes != "" {
		if err := etcdFootprint(ctx, o, out); err != nil {
			return fmt.Errorf("footprint: %w", err)
		}
	}
	fmt.Fprintf(out, "\n- load average at the end: %s\n", loadavg())
	return nil
}

// loadavg is /proc/loadavg's three averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// etcdLoad is parts 1 to 4 of runEtcdCompare.
func etcdLoad(ctx context.Context, o Options, exe string, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "policygraph-etcd-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cl, err := etcdtest.Start(ctx, etcdtest.Options{Dir: filepath.Join(tmp, "etcd")})
	if err != nil {
		return err
	}
	defer cl.Close()
	token := randomToken()
	etcdFlags := []string{"-etcd", strings.Join(cl.Endpoints(), ","), "-etcd-prefix", "/policygraph/", "-token", token}
	a, err := serveChild(ctx, exe, filepath.Join(tmp, "a"), etcdFlags, io.Discard)
	if err != nil {
		return fmt.Errorf("server A over etcd: %w", err)
	}
	defer a.Stop()
	b, err := serveChild(ctx, exe, filepath.Join(tmp, "b"), etcdFlags, io.Discard)
	if err != nil {
		return fmt.Errorf("server B over etcd: %w", err)
	}
	defer b.Stop()
	bg, err := serveChild(ctx, exe, filepath.Join(tmp, "badger"), []string{"-token", token}, io.Discard)
	if err != nil {
		return fmt.Errorf("server over Badger: %w", err)
	}
	defer bg.Stop()
	bg2, err := serveChild(ctx, exe, filepath.Join(tmp, "badger2"), []string{"-token", token}, io.Discard)
	if err != nil {
		return fmt.Errorf("second server over Badger: %w", err)
	}
	defer bg2.Stop()

	client := newClient(clientConns)
	prepared, err := prepare(ctx, client, a.URL, seedParams(), "qualcomm", 0)
	if err != nil {
		return fmt.Errorf("server A over etcd: %w", err)
	}
	onBadger, err := sameAnswers(ctx, client, bg.URL, "Badger: ", prepared)
	if err != nil {
		return err
	}
	onB, err := sameAnswers(ctx, client, b.URL, "etcd B: ", prepared)
	if err != nil {
		return err
	}
	onBadger2, err := sameAnswers(ctx, client, bg2.URL, "Badger 2: ", prepared)
	if err != nil {
		return err
	}

	// 1. Reads, interleaved: each scenario on each target in turn, per
	// round, the order rotating so that none is always measured right after
	// another's load. B (its model listed from etcd, not built by seeding)
	// and a second Badger server are the controls: how far two servers of
	// one kind differ here.
	targets := []struct {
		name string
		sc   []Scenario
	}{{"etcd A", nil}, {"Badger", onBadger}, {"etcd B", onB}, {"Badger 2", onBadger2}}
	for _, pr := range prepared {
		targets[0].sc = append(targets[0].sc, pr.Scenario)
	}
	res := make([][]Result, len(targets))
	for t := range res {
		res[t] = make([]Result, len(prepared))
	}
	urls := []string{a.URL, bg.URL, b.URL, bg2.URL}
	before := make([]map[string]float64, len(targets))
	for t, u := range urls {
		if before[t], err = scrapeEtcd(ctx, client, strings.TrimSuffix(u, "/graphql")); err != nil {
			return fmt.Errorf("%s's /metrics: %w", targets[t].name, err)
		}
	}
	for round := range o.Rounds {
		warm := o.Warmup / time.Duration(o.Rounds)
		if round == 0 {
			warm = o.Warmup
		}
		d := o.Duration / time.Duration(o.Rounds)
		for i := range prepared {
			for k := range targets {
				t := (k + round) % len(targets)
				res[t][i] = res[t][i].merge(ClosedLoop(ctx, client, targets[t].sc[i], o.Conc, warm, d))
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	fmt.Fprintf(out, "## Reads: a server over etcd against one over Badger\n\n")
	fmt.Fprintf(out, "%d concurrent clients, warm-up %s, %s per scenario and server in %d interleaved rounds (each round every server in turn, the order rotating by one each round); every answer the same bytes on all four (checked before timing and on every timed request). Controls: etcd B (a second server over the cluster, its model listed from etcd) and Badger 2 (a second server over a data directory of its own)\n\n", o.Conc, o.Warmup, o.Duration, o.Rounds)
	fmt.Fprintf(out, "| scenario | etcd A req/s | p50 ms | p99 ms | Badger req/s | p50 ms | p99 ms | etcd B req/s | Badger 2 req/s | A ÷ Badger | B ÷ Badger 2 | (A+B) ÷ (Badger+Badger 2) | control: B ÷ A | control: Badger 2 ÷ Badger | errors |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var ratios []float64
	for i := range prepared {
		a, g, b, g2 := res[0][i], res[1][i], res[2][i], res[3][i]
		r := (a.RPS + b.RPS) / (g.RPS + g2.RPS)
		ratios = append(ratios, r)
		fmt.Fprintf(out, "| %s | %.0f | %s | %s | %.0f | %s | %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %d |\n", prepared[i].Name, a.RPS, ms(a.P50), ms(a.P99), g.RPS, ms(g.P50), ms(g.P99),
			b.RPS, g2.RPS, a.RPS/g.RPS, b.RPS/g2.RPS, r, b.RPS/a.RPS, g2.RPS/g.RPS, a.Errors+g.Errors+b.Errors+g2.Errors)
	}
	// CPU and GC per request, from each server's own /metrics: less
	// sensitive to other work on the machine than its rate.
	fmt.Fprintf(out, "\nEach server's own CPU and garbage collection over all the reads (its /metrics before and after: process_cpu_seconds_total, go_gc_duration_seconds_count, and go_memstats_heap_alloc_bytes at the end), per request served including the warm-ups' requests:\n\n")
	fmt.Fprintf(out, "| server | requests | CPU µs / request | GC cycles / 1k requests | heap MB at the end | RSS MB |\n|---|--:|--:|--:|--:|--:|\n")
	pids := []int{a.PID, bg.PID, b.PID, bg2.PID}
	cpu := make([]float64, len(targets))
	for t, u := range urls {
		after, err := scrapeEtcd(ctx, client, strings.TrimSuffix(u, "/graphql"))
		if err != nil {
			return fmt.Errorf("%s's /metrics: %w", targets[t].name, err)
		}
		n := after["policygraph_graphql_requests_total"] - before[t]["policygraph_graphql_requests_total"]
		if n <= 0 { // no request counter: the measured requests only
			for _, r := range res[t] {
				n += float64(r.Requests)
			}
		}
		cpu[t] = (after["process_cpu_seconds_total"] - before[t]["process_cpu_seconds_total"]) / n * 1e6
		fmt.Fprintf(out, "| %s | %.0f | %.0f | %.2f | %.1f | %d |\n", targets[t].name, n, cpu[t],
			(after["go_gc_duration_seconds_count"]-before[t]["go_gc_duration_seconds_count"])/n*1000, after["go_memstats_heap_alloc_bytes"]/1e6, procStatus(pids[t], "VmRSS")/1024)
	}
	fmt.Fprintf(out, "\n- CPU per request, etcd ÷ Badger: A ÷ Badger %.2f, B ÷ Badger 2 %.2f\n", cpu[0]/cpu[1], cpu[2]/cpu[3])
	slices.Sort(ratios)
	fmt.Fprintf(out, "- etcd ÷ Badger req/s, both servers of each kind: min %.2f, median %.2f, max %.2f (target: within 10%%, 0.90-1.10)\n\n", ratios[0], ratios[len(ratios)/2], ratios[len(ratios)-1])

	// 2. Writes.
	if err := etcdWrites(ctx, o, client, a.URL, b.URL, bg.URL, token, out); err != nil {
		return err
	}
	// 3. Replication lag.
	if err := etcdLag(ctx, o, client, a.URL, b.URL, token, out); err != nil {
		return err
	}
	// 4. etcd's counters.
	return etcdCounters(ctx, o, client, cl, prepared[0].Scenario, a.URL, b.URL, token, out)
}

// sameAnswers aims the prepared scenarios at url, after asking each request
// there once: the answer must be the same bytes, or the comparison would not
// be of the same work.
func sameAnswers(ctx context.Context, client *http.Client, url, label string, prepared []Prepared) ([]Scenario, error) {
	var out []Scenario
	for _, pr := range prepared {
		s := pr.Scenario
		s.Name, s.URL = label+pr.Name, url
		for i := range pr.Requests {
			got, err := fetch(ctx, client, Scenario{Name: s.Name, URL: url, Body: pr.Requests[i]})
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(got, pr.Want[i]) {
				return nil, fmt.Errorf("%s, request %d: answered differently from server A over etcd (%d vs %d bytes):\n%.400s\n%.400s",
					s.Name, i+1, len(got), len(pr.Want[i]), got, pr.Want[i])
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// etcdWrites measures addFact through the API: one writer and -c writers on
// A and on Badger in interleaved rounds, then -c writers split over A and B.
func etcdWrites(ctx context.Context, o Options, client *http.Client, aURL, bURL, badgerURL, token string, out io.Writer) error {
	type row struct {
		name string
		conc int
		url  string
		res  Result
	}
	rows := []*row{
		{name: "etcd (A), 1 writer", conc: 1, url: aURL},
		{name: "Badger, 1 writer", conc: 1, url: badgerURL},
		{name: fmt.Sprintf("etcd (A), %d writers", o.Conc), conc: o.Conc, url: aURL},
		{name: fmt.Sprintf("Badger, %d writers", o.Conc), conc: o.Conc, url: badgerURL},
	}
	var two [2]Result
	for round := range o.Rounds {
		warm := o.Warmup / time.Duration(o.Rounds)
		if round == 0 {
			warm = o.Warmup
		}
		d := o.Duration / time.Duration(o.Rounds)
		for _, r := range rows {
			s := addFact(r.url, token)
			s.Name = r.name
			r.res = r.res.merge(ClosedLoop(ctx, client, s, r.conc, warm, d))
		}
		// Two servers writing at once: two committers race on the version key.
		var wg sync.WaitGroup
		for i, url := range []string{aURL, bURL} {
			wg.Go(func() {
				s := addFact(url, token)
				s.Name = fmt.Sprintf("etcd, %d writers on A and %d on B at once", o.Conc/2, o.Conc/2)
				two[i] = two[i].merge(ClosedLoop(ctx, client, s, max(1, o.Conc/2), warm, d))
			})
		}
		wg.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fmt.Fprintf(out, "## Writes: mutation addFact through the API, fsync on both\n\n")
	fmt.Fprintf(out, "Warm-up %s, %s per row in %d interleaved rounds (each round every row in turn)\n\n", o.Warmup, o.Duration, o.Rounds)
	fmt.Fprintf(out, "| writers | writes/s | p50 ms | p99 ms | max ms | errors |\n|---|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		fmt.Fprintf(out, "| %s | %.0f | %s | %s | %s | %d%s |\n", r.name, r.res.RPS, ms(r.res.P50), ms(r.res.P99), ms(r.res.Max), r.res.Errors, kinds(r.res))
	}
	both := two[0].merge(two[1])
	both.Elapsed = two[0].Elapsed // they ran at the same time
	both = both.finish()
	fmt.Fprintf(out, "| %s (A %.0f/s + B %.0f/s) | %.0f | %s | %s | %s | %d%s |\n", two[0].Scenario, two[0].RPS, two[1].RPS, both.RPS, ms(both.P50), ms(both.P99), ms(both.Max), both.Errors, kinds(both))
	fmt.Fprintf(out, "\n- etcd ÷ Badger: 1 writer p50 %.2f×, p99 %.2f×; %d writers writes/s %.2f×\n\n",
		float64(rows[0].res.P50)/float64(rows[1].res.P50), float64(rows[0].res.P99)/float64(rows[1].res.P99), o.Conc, rows[2].res.RPS/rows[3].res.RPS)
	return nil
}

// kinds is a Result's errors by kind, for a table cell.
func kinds(r Result) string {
	if len(r.ErrorKinds) == 0 {
		return ""
	}
	var ks []string
	for k, n := range r.ErrorKinds {
		ks = append(ks, fmt.Sprintf("%d × %s", n, k))
	}
	slices.Sort(ks)
	return " (" + strings.Join(ks, "; ") + ")"
}

// etcdLag measures replication lag: a write acknowledged by A (its answer's
// Policygraph-Version) until B answers a trivial query sent right after with
// Policygraph-Min-Version set to that version (B waits until its model has
// it). The same trivial query to B without the header is the floor (one
// round trip).
func etcdLag(ctx context.Context, o Options, client *http.Client, aURL, bURL, token string, out io.Writer) error {
	write := addFact(aURL, token)
	trivial := gql(`{ __typename }`, nil)
	post := func(url string, body []byte, hdr map[string]string) (http.Header, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK || bytes.Contains(got, []byte(`"errors":`)) {
			return nil, fmt.Errorf("%s: status %d: %.300s", url, resp.StatusCode, got)
		}
		return resp.Header, nil
	}
	var lags, floors []time.Duration
	behind := 0 // B answered without the header at a version below A's write
	for i := range o.EtcdLagWrites {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h, err := post(aURL, write.Body, map[string]string{"Authorization": "Bearer " + token})
		if err != nil {
			return fmt.Errorf("lag: write on A: %w", err)
		}
		acked := time.Now()
		v := h.Get(api.HeaderVersion)
		if v == "" {
			return fmt.Errorf("lag: A's answer to a write has no %s", api.HeaderVersion)
		}
		if i%2 == 0 {
			hb, err := post(bURL, trivial, map[string]string{api.HeaderMinVersion: v})
			if err != nil {
				return fmt.Errorf("lag: B at version %s: %w", v, err)
			}
			lags = append(lags, time.Since(acked))
			if got := hb.Get(api.HeaderVersion); versionOf(got) < versionOf(v) {
				return fmt.Errorf("lag: B answered a request for %s at %s", v, got)
			}
		} else {
			// Every other write: the floor, B without the header, and whether
			// B already had the write then.
			t0 := time.Now()
			hb, err := post(bURL, trivial, nil)
			if err != nil {
				return fmt.Errorf("lag: B: %w", err)
			}
			floors = append(floors, time.Since(t0))
			if versionOf(hb.Get(api.HeaderVersion)) < versionOf(v) {
				behind++
			}
		}
		time.Sleep(10 * time.Millisecond) // let B settle: each write is measured alone
	}
	lag, floor := Result{latencies: lags, Elapsed: time.Second}.finish(), Result{latencies: floors, Elapsed: time.Second}.finish()
	fmt.Fprintf(out, "## Replication lag: acknowledged on A, visible on B\n\n")
	fmt.Fprintf(out, "%d writes on A, one at a time, 10 ms apart; after each even one, a `{ __typename }` to B with Policygraph-Min-Version = the version A's answer gave (B answers once its model has it); after each odd one, the same to B without the header (one round trip, the floor), counting those B answered at an older version\n\n", o.EtcdLagWrites)
	fmt.Fprintf(out, "| | n | p50 ms | p95 ms | p99 ms | max ms |\n|---|--:|--:|--:|--:|--:|\n")
	fmt.Fprintf(out, "| A's acknowledgement to B's answer at that version | %d | %s | %s | %s | %s |\n", lag.Requests, ms(lag.P50), ms(lag.P95), ms(lag.P99), ms(lag.Max))
	fmt.Fprintf(out, "| floor: a request to B without the header | %d | %s | %s | %s | %s |\n", floor.Requests, ms(floor.P50), ms(floor.P95), ms(floor.P99), ms(floor.Max))
	fmt.Fprintf(out, "\n- B answered without the header at a version older than A's write just acknowledged: %d of %d\n\n", behind, len(floors))
	return nil
}

// versionOf is the version of a Policygraph-Version header, "<store>:<v>".
func versionOf(h string) uint64 {
	_, v, _ := strings.Cut(h, ":")
	n, _ := strconv.ParseUint(v, 10, 64)
	return n
}

// etcdCounterNames are the etcd counters etcdCounters reports: the backend's
// ranges, puts and transactions, and the gRPC requests handled by method.
var etcdCounterNames = []string{
	"etcd_debugging_mvcc_range_total",
	"etcd_debugging_mvcc_put_total",
	"etcd_debugging_mvcc_txn_total",
	"grpc Range",
	"grpc Txn",
	"grpc Put",
	"grpc LeaseKeepAlive",
}

// scrapeEtcd reads a Prometheus text page (an etcd member's /metrics, or a
// server's): each sample by its name, the samples of a labelled metric
// summed, but grpc_server_handled_total summed by grpc_method, as
// "grpc <method>".
func scrapeEtcd(ctx context.Context, client *http.Client, memberURL string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, memberURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name := line[:i]
		if rest, ok := strings.CutPrefix(name, "grpc_server_handled_total{"); ok {
			if _, after, ok := strings.Cut(rest, `grpc_method="`); ok {
				method, _, _ := strings.Cut(after, `"`)
				m["grpc "+method] += v
			}
			continue
		}
		base, _, _ := strings.Cut(name, "{") // labelled samples summed
		m[base] += v
	}
	return m, sc.Err()
}

// etcdCounters scrapes every member's counters around three periods of
// -etcd-counter-d each: idle (the servers only follow the cluster), a read
// load (the headline on A and B, -c clients each) and a write load (addFact
// on A, -c writers).
func etcdCounters(ctx context.Context, o Options, client *http.Client, cl *etcdtest.Cluster, read Scenario, aURL, bURL, token string, out io.Writer) error {
	scrapeAll := func() ([]map[string]float64, error) {
		var all []map[string]float64
		for _, m := range cl.Members() {
			s, err := scrapeEtcd(ctx, client, m.ClientURL())
			if err != nil {
				return nil, fmt.Errorf("member %s's /metrics: %w", m.Name(), err)
			}
			all = append(all, s)
		}
		return all, nil
	}
	d := o.EtcdCounterDur
	readB := read
	readB.URL = bURL
	phases := []struct {
		name string
		run  func() []Result
	}{
		{"idle (servers following only)", func() []Result { time.Sleep(d); return nil }},
		{fmt.Sprintf("read load: headline, %d clients on A and %d on B", o.Conc, o.Conc), func() []Result {
			var r [2]Result
			var wg sync.WaitGroup
			for i, s := range []Scenario{read, readB} {
				wg.Go(func() { r[i] = ClosedLoop(ctx, client, s, o.Conc, 0, d) })
			}
			wg.Wait()
			return r[:]
		}},
		{fmt.Sprintf("write load: addFact, %d writers on A", o.Conc), func() []Result {
			return []Result{ClosedLoop(ctx, client, addFact(aURL, token), o.Conc, 0, d)}
		}},
	}
	fmt.Fprintf(out, "## Do reads reach etcd? Every member's counters (its /metrics) around three periods of %s\n\n", d)
	fmt.Fprintf(out, "Deltas summed over the 3 members (per member in brackets). The servers read the head once a second each (-follow-poll, default 1s: a safety net beside the watch), which the idle period shows.\n\n")
	fmt.Fprintf(out, "| period | requests served | %s |\n|---|--:|%s\n", strings.Join(etcdCounterNames, " | "), strings.Repeat("--:|", len(etcdCounterNames)))
	for _, p := range phases {
		before, err := scrapeAll()
		if err != nil {
			return err
		}
		res := p.run()
		after, err := scrapeAll()
		if err != nil {
			return err
		}
		served, errors := 0, 0
		for _, r := range res {
			served += r.Requests
			errors += r.Errors
		}
		cells := []string{}
		for _, name := range etcdCounterNames {
			total := 0.0
			var per []string
			for i := range after {
				delta := after[i][name] - before[i][name]
				total += delta
				per = append(per, strconv.FormatFloat(delta, 'f', 0, 64))
			}
			cells = append(cells, fmt.Sprintf("%.0f (%s)", total, strings.Join(per, ", ")))
		}
		fmt.Fprintf(out, "| %s | %d (%d errors) | %s |\n", p.name, served, errors, strings.Join(cells, " | "))
	}
	fmt.Fprintln(out)
	return nil
}

// etcdFootprint imports a synthetic graph of each -etcd-sizes into a fresh
// 3-member cluster through the import command (-etcd), compacts the
// history and defragments every member, and reports the keys under the
// prefix, each member's backend size and heap after a forced GC, against
// the same cluster empty; then after restarting every member (which leaves
// the key index and only the raft log since the last snapshot in memory:
// --snapshot-count 100).
func etcdFootprint(ctx context.Context, o Options, out io.Writer) error {
	var sizes []int
	for _, s := range strings.Split(o.EtcdSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-etcd-sizes: %w", err)
		}
		sizes = append(sizes, n)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "## Footprint: a synthetic graph imported into a fresh cluster\n\n")
	fmt.Fprintf(out, "Per size: synth.Generate -> file -> `import -etcd` (a child process) into a new 3-member cluster (--enable-pprof --snapshot-count 100); then the history compacted at the current revision and every member defragmented; keys: a count of every key in the cluster; backend: each member's db size (Status) after the defragmentation; heap: go_memstats_heap_alloc_bytes after a forced GC (/debug/pprof/heap?gc=1), right after the load and again after restarting every member. Per 1,000 nodes: (loaded - empty) / nodes × 1,000; the members agree within the ranges given.\n\n")
	fmt.Fprintf(out, "| nodes | facts | import s | keys | keys / 1k nodes | backend MB (empty → loaded) | backend KB / 1k nodes | heap MB after load (empty → loaded) | heap KB / 1k nodes after load | heap MB after restart | heap KB / 1k nodes after restart |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, n := range sizes {
		row, err := footprintOne(ctx, exe, n)
		if err != nil {
			return fmt.Errorf("%d nodes: %w", n, err)
		}
		fmt.Fprintln(out, row)
		if f, ok := out.(*os.File); ok {
			f.Sync()
		}
	}
	return nil
}

// memberState is one member's backend size and heap.
type memberState struct{ db, heap int64 }

// members reads every member's backend size and heap after a forced GC.
func members(ctx context.Context, cl *etcdtest.Cluster, cli *clientv3.Client) ([]memberState, error) {
	hc := newClient(4)
	var st []memberState
	for _, m := range cl.Members() {
		s, err := cli.Status(ctx, m.ClientURL())
		if err != nil {
			return nil, err
		}
		resp, err := hc.Get(m.ClientURL() + "/debug/pprof/heap?gc=1")
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c, err := scrapeEtcd(ctx, hc, m.ClientURL())
		if err != nil {
			return nil, err
		}
		st = append(st, memberState{db: s.DbSize, heap: int64(c["go_memstats_heap_alloc_bytes"])})
	}
	return st, nil
}

// compactDefrag compacts the cluster's history and defragments every member.
func compactDefrag(ctx context.Context, cl *etcdtest.Cluster, cli *clientv3.Client) error {
	if _, err := cl.Compact(ctx); err != nil {
		return err
	}
	for _, m := range cl.Members() {
		if _, err := cli.Defragment(ctx, m.ClientURL()); err != nil {
			return fmt.Errorf("defragment %s: %w", m.Name(), err)
		}
	}
	return nil
}

func footprintOne(ctx context.Context, exe string, n int) (string, error) {
	tmp, err := os.MkdirTemp("", "policygraph-etcd-footprint-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, "synth.jsonl")
	f, err := os.Create(file)
	if err != nil {
		return "", err
	}
	nodes, facts, err := synth.Generate(f, n)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return "", err
	}
	cl, err := etcdtest.Start(ctx, etcdtest.Options{Dir: filepath.Join(tmp, "etcd"), Args: []string{"--enable-pprof", "--snapshot-count", "100"}})
	if err != nil {
		return "", err
	}
	defer cl.Close()
	cli, err := cl.NewClient()
	if err != nil {
		return "", err
	}
	defer cli.Close()
	if err := compactDefrag(ctx, cl, cli); err != nil {
		return "", err
	}
	empty, err := members(ctx, cl, cli)
	if err != nil {
		return "", err
	}
	in, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer in.Close()
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, exe, "import", "-etcd", strings.Join(cl.Endpoints(), ","), "-etcd-prefix", "/policygraph/")
	cmd.Stdin = in
	cmd.Env = append(os.Environ(), childEnv+"=1") // a test binary runs the bench (TestMain)
	var cmdOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &cmdOut, &cmdOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("import: %w\n%s", err, cmdOut.Bytes())
	}
	took := time.Since(t0)
	if err := compactDefrag(ctx, cl, cli); err != nil {
		return "", err
	}
	keys, err := cli.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly())
	if err != nil {
		return "", err
	}
	loaded, err := members(ctx, cl, cli)
	if err != nil {
		return "", err
	}
	for _, m := range cl.Members() {
		if err := m.Stop(); err != nil {
			return "", err
		}
		if err := m.Start(); err != nil {
			return "", err
		}
		if err := cl.WaitHealthy(ctx); err != nil {
			return "", err
		}
	}
	restarted, err := members(ctx, cl, cli)
	if err != nil {
		return "", err
	}
	span := func(get func(memberState) int64, from []memberState) string { // MB, min-max over members
		var vs []int64
		for _, s := range from {
			vs = append(vs, get(s))
		}
		lo, hi := slices.Min(vs), slices.Max(vs)
		if float64(hi-lo) < 0.02*float64(hi) {
			return fmt.Sprintf("%.1f", float64(hi)/1e6)
		}
		return fmt.Sprintf("%.1f-%.1f", float64(lo)/1e6, float64(hi)/1e6)
	}
	per := func(get func(memberState) int64, from []memberState) string { // KB per 1k nodes, min-max
		var vs []float64
		for i, s := range from {
			vs = append(vs, float64(get(s)-get(empty[i]))/float64(nodes)) // bytes per node = KB per 1k
		}
		lo, hi := slices.Min(vs), slices.Max(vs)
		if hi-lo < 0.02*hi {
			return fmt.Sprintf("%.0f", hi)
		}
		return fmt.Sprintf("%.0f-%.0f", lo, hi)
	}
	db := func(s memberState) int64 { return s.db }
	heap := func(s memberState) int64 { return s.heap }
	return fmt.Sprintf("| %d | %d | %.1f | %d | %.0f | %s → %s | %s | %s → %s | %s | %s | %s |", nodes, facts, took.Seconds(), keys.Count,
		float64(keys.Count)/float64(nodes)*1000, span(db, empty), span(db, loaded), per(db, loaded),
		span(heap, empty), span(heap, loaded), per(heap, loaded), span(heap, restarted), per(heap, restarted)), nil
}
