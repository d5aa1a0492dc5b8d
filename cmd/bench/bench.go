// Command bench is policygraph's load benchmark (go run ./cmd/bench): it drives the
// real HTTP handler on loopback with concurrent clients through the scenarios
// an analyst and a dashboard run (scenarios.go), each answer checked before
// timing, and compares each with its GraphQL floor, gqlgen answering the same
// requests with the same bytes from memory (package floor), measured in the same
// run on the same machine; the headline also with the net/http ceiling (its
// bytes from memory) and the response cache. The open loop runs from a load
// generator in a separate process on its own CPU (apart.go). With -scale it
// builds synthetic graphs of growing size (see synth.Generate) through the bulk
// importer and measures how the scenarios scale against the seed alone.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"policygraph/cmd/bench/floor"
	"policygraph/seed"
)

// Options are the bench's flags.
type Options struct {
	URL        string
	Token      string
	Duration   time.Duration
	Warmup     time.Duration
	Conc       int
	Rounds     int
	Sync       bool
	CPUProfile string
	Compare    bool
	Profile    string
	Writes     bool
	Scale      bool
	Sizes      string
	ScaleDur   time.Duration
	Keep       string
	ScalePages int
	ServeFlags string
	ColdStart  string // -cold-start: store directories
	Loadgen    string
	LoadgenCPU int
	// -etcd-compare (etcd.go)
	EtcdCompare    bool
	EtcdSkipLoad   bool
	EtcdSizes      string
	EtcdLagWrites  int
	EtcdCounterDur time.Duration
}

// bench parses args and runs the load benchmark, or the scale benchmark with -scale.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.URL, "url", "", "drive this running server's /graphql instead of starting one (e.g. http://127.0.0.1:8080/graphql)")
	fs.StringVar(&o.Token, "token", "", "bearer token for the mutation scenario with -url (without it, -url skips writes)")
	fs.DurationVar(&o.Duration, "d", 8*time.Second, "measured duration of each scenario")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured warm-up before each scenario")
	fs.IntVar(&o.Conc, "c", 8, "concurrent clients (closed loop)")
	fs.IntVar(&o.Rounds, "rounds", 4, "split each scenario's duration into this many turns, interleaved with the others")
	fs.BoolVar(&o.Sync, "sync", true, "SyncWrites: fsync every commit (the server's default)")
	fs.BoolVar(&o.Compare, "compare-store", false, "also run every scenario against a second seeded store served with -read-model=false (reads from the store's transactions, each write committed alone: the path before the read model), reporting both in one run")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of one scenario's first round (server and clients) to this file")
	fs.StringVar(&o.Profile, "profile", "headline sponsorshipsByYear", "with -cpuprofile: the first scenario whose name starts with this")
	fs.BoolVar(&o.Scale, "scale", false, "run the scaling benchmark on synthetic graphs instead")
	fs.StringVar(&o.Sizes, "sizes", "1000,10000,100000,1000000", "with -scale: graph sizes in nodes")
	fs.DurationVar(&o.ScaleDur, "scale-d", 4*time.Second, "with -scale: measured duration of each query at each size")
	fs.StringVar(&o.Keep, "keep", "", "with -scale: keep the generated stores under this directory")
	fs.IntVar(&o.ScalePages, "scale-pages", 20, "with -scale: walk at most this many pages of the facts walk")
	fs.StringVar(&o.ServeFlags, "serve-flags", "", "with -scale: more flags for the servers it starts, e.g. \"-max-complexity 1000000\" (default: serve's defaults but -cache-size 0)")
	fs.StringVar(&o.ColdStart, "cold-start", "", "run the cold-start benchmark on these store directories (comma-separated; their model files are replaced: give copies)")
	fs.StringVar(&o.Loadgen, "loadgen", "", "internal: be the open loop's load generator for the scenario in this file (the bench starts itself so)")
	fs.IntVar(&o.LoadgenCPU, "loadgen-cpu", -1, "internal: with -loadgen, pin the load generator to this CPU (-1: do not pin)")
	fs.BoolVar(&o.EtcdCompare, "etcd-compare", false, "run the etcd engine's measurements instead (issue 12): a 3-member etcd cluster of its own (internal/etcdtest; needs an etcd binary), two servers over it and one over Badger in child processes: reads and writes on etcd against Badger, replication lag, etcd's request counters under reads and writes, and with -etcd-sizes the footprint")
	etcdLoad := fs.Bool("etcd-load", true, "with -etcd-compare: measure reads, writes, lag and counters (false: only the footprint)")
	fs.StringVar(&o.EtcdSizes, "etcd-sizes", "10000,50000", "with -etcd-compare: synthetic graph sizes in nodes whose etcd keys, backend size and member heap it measures, each imported into a fresh cluster (empty: none)")
	fs.IntVar(&o.EtcdLagWrites, "etcd-lag-writes", 400, "with -etcd-compare: writes on A whose replication lag to B it measures (half of them; the other half measure the floor)")
	fs.DurationVar(&o.EtcdCounterDur, "etcd-counter-d", 10*time.Second, "with -etcd-compare: length of each period (idle, reads, writes) around which it reads etcd's counters")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.EtcdSkipLoad = !*etcdLoad
	if o.EtcdCompare {
		return runEtcdCompare(ctx, o, args, stdout, stderr)
	}
	if o.Loadgen != "" {
		return runLoadgen(ctx, o, stdout)
	}
	if o.ColdStart != "" {
		return runColdStart(ctx, o, stdout, stderr)
	}
	if o.Scale {
		return runScale(ctx, o, args, stdout, stderr)
	}
	return runLoad(ctx, o, args, stdout, stderr)
}

// gql renders a GraphQL POST body.
func gql(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// cachedName is the scenario of the headline query repeated against the route
// table with the response cache on.
const cachedName = "headline, repeated, response cache"

func headline(url, series, country string) Scenario {
	return Scenario{Name: headlineName, URL: url, Body: gql(headlineQuery, map[string]any{"series": series, "country": country})}
}

func twoHop(url, event string) Scenario {
	return Scenario{Name: "two-hop event.sponsorships.subject{sanctions,parent}", URL: url, Body: gql(twoHopQuery, map[string]any{"slug": event})}
}

// listen serves h on a fresh loopback port with the serve command's timeouts.
func listen(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	go s.Serve(ln)
	return "http://" + ln.Addr().String(), func() { s.Close() }, nil
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// clientConns bounds the load generator's connections. It is one client
// address, and the server accepts a quarter of -max-conns (256 by default)
// from one address and closes the connections past that: with 512, the open
// loop's bursts met resets. Requests past it wait for a connection, their
// latency counted from when they were due.
const clientConns = 128

func runLoad(ctx context.Context, o Options, args []string, out, stderr io.Writer) error {
	client := newClient(clientConns)
	url := o.URL
	storeURL := ""  // with -compare-store: the same route table over a store without the read model
	cachedURL := "" // the same route table with the response cache on
	token := o.Token
	where := "a running server at " + url + " (its response cache as configured there)"
	if url == "" {
		dir, err := os.MkdirTemp("", "policygraph-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		g, err := openStore(dir, o.Sync)
		if err != nil {
			return err
		}
		defer g.Close()
		token = randomToken()
		// Two route tables on the one store: without the response cache, so the
		// query scenarios measure the query path, and with it (the serve default).
		base, stop, err := listen(handler(g, token, 0))
		if err != nil {
			return err
		}
		defer stop()
		cachedBase, stopCached, err := listen(handler(g, token, 1000))
		if err != nil {
			return err
		}
		defer stopCached()
		url = base + "/graphql"
		cachedURL = cachedBase + "/graphql"
		where = "the real handler (app.NewHandler, the service's route table) in this process, seeded temp data dir: response cache off (-cache-size 0) on " + base + ", on (-cache-size 1000) on " + cachedBase
		if o.Compare {
			sdir, err := os.MkdirTemp("", "policygraph-bench-store-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(sdir)
			sg, err := openStoreWith(sdir, o.Sync, false)
			if err != nil {
				return err
			}
			defer sg.Close()
			sbase, stopStore, err := listen(handler(sg, token, 0))
			if err != nil {
				return err
			}
			defer stopStore()
			storeURL = sbase + "/graphql"
			where += "; with -compare-store, a second seeded store served with -read-model=false (response cache off) on " + sbase
		}
	}

	// Every scenario asked once and its answer checked; each timed request
	// must get the same bytes.
	prepared, err := prepare(ctx, client, url, seedParams(), "qualcomm", 0)
	if err != nil {
		return err
	}
	head := prepared[0].Scenario
	body := head.Want[0]
	var stores []Scenario // with -compare-store: each scenario against the store path
	if storeURL != "" {
		if stores, err = storePath(ctx, client, storeURL, prepared); err != nil {
			return err
		}
	}

	// The references: the ceiling (the headline's bytes from net/http) and
	// the floor (gqlgen answering every scenario's requests with the recorded
	// answers), checked byte for byte against the server's.
	ceilURL, stopCeil, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	if err != nil {
		return err
	}
	defer stopCeil()
	fr := floor.New()
	floorBase, stopFloor, err := listen(floor.NewHandler(fr))
	if err != nil {
		return err
	}
	defer stopFloor()
	floors, err := recordFloor(ctx, client, fr, floorBase+"/graphql", prepared)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "# policygraph bench\n\n")
	fmt.Fprintf(out, "- command: `go run ./cmd/bench %s`\n", strings.Join(args, " "))
	machine(out)
	fmt.Fprintf(out, "- target: %s\n", where)
	fmt.Fprintf(out, "- clients: closed loop, %d concurrent, keep-alive, in this process (they share the CPUs with the server); warm-up %s, measured %s per scenario in %d interleaved rounds\n", o.Conc, o.Warmup, o.Duration, o.Rounds)
	fmt.Fprintf(out, "- writes: SyncWrites=%v (-sync)\n", o.Sync)
	fmt.Fprintf(out, "- each scenario asked once before timing, its answer checked (no errors, not trivial), then every timed request must get the same bytes (else an error); its floor is gqlgen answering the same requests from the recorded answers:\n")
	for _, pr := range prepared {
		what := "1 request"
		if n := len(pr.Requests); n > 1 || pr.Name == walkName {
			what = fmt.Sprintf("a walk of %d pages, each page one request", n)
		}
		fmt.Fprintf(out, "  - %s: %s, %d bytes; the floor's answer is identical, byte for byte\n", pr.Name, what, pr.Bytes)
	}
	fmt.Fprintln(out)

	// scenarios[0] is the ceiling, then for scenario i: scenarios[1+per*i] on
	// the model, the next its floor, and with -compare-store the next on the
	// store path.
	scenarios := []Scenario{{Name: "ceiling: net/http, the headline's bytes", URL: ceilURL, Body: head.Body}}
	per := 2
	if stores != nil {
		per = 3
	}
	for i, pr := range prepared {
		scenarios = append(scenarios, pr.Scenario, floors[i])
		if stores != nil {
			scenarios = append(scenarios, stores[i])
		}
	}
	if cachedURL != "" {
		cached := head
		cached.Name, cached.URL = cachedName, cachedURL
		if _, err := fetch(ctx, client, cached); err != nil {
			return fmt.Errorf("the cached handler's headline response: %w", err)
		}
		scenarios = append(scenarios, cached)
	}
	// Scenarios take turns in rounds, so that noise from other work on a shared
	// machine spreads over all of them instead of skewing one ratio.
	results := make([]Result, len(scenarios))
	var prof *os.File
	if o.CPUProfile != "" {
		if prof, err = os.Create(o.CPUProfile); err != nil {
			return err
		}
		defer prof.Close()
	}
	for round := range o.Rounds {
		for i, s := range scenarios {
			profile := prof != nil && strings.HasPrefix(s.Name, o.Profile)
			if profile {
				pprof.StartCPUProfile(prof)
			}
			warm := o.Warmup / time.Duration(o.Rounds)
			if round == 0 {
				warm = o.Warmup
			}
			r := ClosedLoop(ctx, client, s, o.Conc, warm, o.Duration/time.Duration(o.Rounds))
			if profile {
				pprof.StopCPUProfile()
				prof = nil
			}
			results[i] = results[i].merge(r)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	ceil := results[0]

	// Open loop at half the maximum rate of the headline query, from a load
	// generator in another process on another CPU, which measures the maximum
	// itself just before, under the same placement.
	apart, place, err := openLoopApart(ctx, head, o.URL == "", o.Conc, o.Warmup, o.Duration, stderr)
	if err != nil {
		return err
	}
	apart.Max.Scenario = headlineName + ", max rate (load generator apart)"
	apart.Open.Scenario = headlineName + " at half max rate (load generator apart)"

	var write, storeWrite *Result
	if o.URL == "" || o.Token != "" {
		// With -compare-store, the two stores take turns, so that noise spreads
		// over both.
		for round := range o.Rounds {
			warm := o.Warmup / time.Duration(o.Rounds)
			if round == 0 {
				warm = o.Warmup
			}
			d := o.Duration / time.Duration(o.Rounds)
			r := ClosedLoop(ctx, client, addFact(url, token), o.Conc, warm, d)
			if write == nil {
				write = &r
			} else {
				*write = write.merge(r)
			}
			if storeURL != "" {
				s := addFact(storeURL, token)
				s.Name += ", store path (-read-model=false: one commit per write)"
				r := ClosedLoop(ctx, client, s, o.Conc, warm, d)
				if storeWrite == nil {
					storeWrite = &r
				} else {
					*storeWrite = storeWrite.merge(r)
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}

	fmt.Fprintf(out, "| scenario | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | floor req/s | floor p50 ms | × floor | ≥ %.1f× floor |\n", floorTarget)
	fmt.Fprintf(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	var verdicts []string
	for i := range prepared {
		r, f := results[1+per*i], results[2+per*i]
		ratio := r.RPS / f.RPS
		pass := ratio >= floorTarget && r.Errors == 0 && f.Errors == 0
		fmt.Fprintf(out, "| %s | %.0f | %s | %s | %s | %s | %d | %.0f | %s | %.2f | %s |\n", r.Scenario, r.RPS,
			ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), r.Errors, f.RPS, ms(f.P50), ratio, passFail(pass))
		verdicts = append(verdicts, fmt.Sprintf("%s %s ≥ %.1f× its floor: %.2f× (%d errors, floor %d errors)", passFail(pass), r.Scenario, floorTarget, ratio, r.Errors, f.Errors))
	}
	fmt.Fprintln(out)
	if stores != nil {
		fmt.Fprintf(out, "Read model against the store path (-read-model=false), same run, same floor:\n\n")
		fmt.Fprintf(out, "| scenario | model req/s | model p50 ms | model p99 ms | store req/s | store p50 ms | store p99 ms | floor req/s | model × floor | store × floor | model ÷ store |\n")
		fmt.Fprintf(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for i := range prepared {
			r, f, st := results[1+per*i], results[2+per*i], results[3+per*i]
			fmt.Fprintf(out, "| %s | %.0f | %s | %s | %.0f | %s | %s | %.0f | %.2f | %.2f | %.2f |\n", r.Scenario, r.RPS, ms(r.P50), ms(r.P99),
				st.RPS, ms(st.P50), ms(st.P99), f.RPS, r.RPS/f.RPS, st.RPS/f.RPS, r.RPS/st.RPS)
		}
		if write != nil && storeWrite != nil {
			fmt.Fprintf(out, "| mutation addFact (writes/s; model: group commit, store: one commit per write) | %.0f | %s | %s | %.0f | %s | %s | | | | %.2f |\n",
				write.RPS, ms(write.P50), ms(write.P99), storeWrite.RPS, ms(storeWrite.P50), ms(storeWrite.P99), write.RPS/storeWrite.RPS)
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "| reference or mode | mode | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | late | × ceiling |\n")
	fmt.Fprintf(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	refs := []Result{ceil}
	if cachedURL != "" {
		refs = append(refs, results[len(results)-1])
	}
	refs = append(refs, apart.Max, apart.Open)
	if write != nil {
		refs = append(refs, *write)
	}
	if storeWrite != nil {
		refs = append(refs, *storeWrite)
	}
	for _, r := range refs {
		fmt.Fprintf(out, "| %s | %s | %.0f | %s | %s | %s | %s | %d | %d | %.2f |\n", r.Scenario, r.Mode, r.RPS,
			ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), r.Errors, r.Late, r.RPS/ceil.RPS)
	}
	fmt.Fprintf(out, "\n- open loop: %s\n", place)
	for _, r := range append(results, refs...) {
		if len(r.ErrorKinds) == 0 {
			continue
		}
		kinds := make([]string, 0, len(r.ErrorKinds))
		for k, n := range r.ErrorKinds {
			kinds = append(kinds, fmt.Sprintf("%d × %s", n, k))
		}
		slices.Sort(kinds)
		fmt.Fprintf(out, "- errors and late requests of %s (%s), by kind: %s\n", r.Scenario, r.Mode, strings.Join(kinds, "; "))
	}
	fmt.Fprintln(out)
	if cachedURL != "" {
		c := results[len(results)-1]
		verdicts = append(verdicts, fmt.Sprintf("%s %s ≥ 0.7× the net/http ceiling: %.2f×", passFail(c.RPS >= 0.7*ceil.RPS), cachedName, c.RPS/ceil.RPS))
	}
	open := apart.Open
	verdicts = append(verdicts,
		fmt.Sprintf("%s open loop at half max rate (%.0f/s), every request answered: %d errors, %d late of %d", passFail(open.Errors == 0 && open.Late == 0 && open.Requests > 0),
			apart.Max.RPS/2, open.Errors, open.Late, open.Requests+open.Late),
		fmt.Sprintf("%s open loop at half max rate, p99 < 5 ms: %s ms", passFail(open.P99 < 5*time.Millisecond && open.Requests > 0), ms(open.P99)))
	for _, v := range verdicts {
		fmt.Fprintf(out, "- %s\n", v)
	}
	return nil
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// addFact is the write scenario: a MENTIONS fact of the seed article, quoting it.
func addFact(url, token string) Scenario {
	f, err := seed.Parse(seed.FactsYAML)
	quote := ""
	if err == nil && len(f.Facts) > 0 && len(f.Facts[0].Evidence) > 0 {
		quote = f.Facts[0].Evidence[0].Quote
	}
	input := map[string]any{"subject": "waic-2023-article", "predicate": "MENTIONS", "object": "sensetime",
		"evidence": []map[string]any{{"source": "waic-2023-article", "quote": quote, "gloss": "bench"}}}
	return Scenario{Name: "mutation addFact", URL: url, Token: token, Body: gql(addFactQuery, map[string]any{"input": input})}
}

// machine prints the machine the numbers come from.
func machine(out io.Writer) {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	fmt.Fprintf(out, "- machine: nproc %d, GOMAXPROCS %d, %s, %s/%s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), model, runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(out, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
}

// storePath returns the prepared scenarios aimed at the store path at url
// (a server with -read-model=false over its own seeded store), after asking
// each request there once: the answer must be the model's, byte for byte,
// or the comparison would not be of the same work.
func storePath(ctx context.Context, client *http.Client, url string, prepared []Prepared) ([]Scenario, error) {
	var out []Scenario
	for _, pr := range prepared {
		s := pr.Scenario
		s.Name = "store path: " + pr.Name
		s.URL = url
		for i := range pr.Requests {
			got, err := fetch(ctx, client, Scenario{Name: s.Name, URL: url, Body: pr.Requests[i]})
			if err != nil {
				return nil, err
			}
			if string(got) != string(pr.Want[i]) {
				return nil, fmt.Errorf("%s, request %d: the store path answers differently from the read model (%d vs %d bytes):\n%.400s\n%.400s",
					s.Name, i+1, len(got), len(pr.Want[i]), got, pr.Want[i])
			}
		}
		out = append(out, s)
	}
	return out, nil
}
