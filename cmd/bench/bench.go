// Command bench is policygraph's load benchmark (go run ./cmd/bench): it drives the
// real HTTP handler on loopback with concurrent clients and compares it with two
// references measured in the same run on the same machine, the net/http ceiling
// (the same response bytes from memory) and the GraphQL floor (gqlgen serving the
// same response shape from Go structs, see package floor). With -scale it builds
// synthetic graphs of growing size (see synth.Generate) through the bulk importer and
// measures how the headline and two-hop queries scale.
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
	Profile    string
	Writes     bool
	Scale      bool
	Sizes      string
	ScaleDur   time.Duration
	Keep       string
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
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of one scenario's first round (server and clients) to this file")
	fs.StringVar(&o.Profile, "profile", "headline sponsorshipsByYear", "with -cpuprofile: the first scenario whose name starts with this")
	fs.BoolVar(&o.Scale, "scale", false, "run the scaling benchmark on synthetic graphs instead")
	fs.StringVar(&o.Sizes, "sizes", "1000,10000,100000,1000000", "with -scale: graph sizes in nodes")
	fs.DurationVar(&o.ScaleDur, "scale-d", 4*time.Second, "with -scale: measured duration of each query at each size")
	fs.StringVar(&o.Keep, "keep", "", "with -scale: keep the generated stores under this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Scale {
		return runScale(ctx, o, args, stdout, stderr)
	}
	return runLoad(ctx, o, args, stdout)
}

// gql renders a GraphQL POST body.
func gql(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// The queries the benchmark sends.
const (
	headlineQuery = `query Headline($series: String, $country: String) { sponsorshipsByYear(series: $series, sponsorCountry: $country) { year sponsorships { tier tierSize { amount } subject { name } evidence { quote gloss } } } }`
	lookupQuery   = `query Lookup($id: ID!) { organization(id: $id) { id slug name orgType country } }`
	twoHopQuery   = `query TwoHop($slug: String!) { event(slug: $slug) { sponsorships { subject { ... on Organization { name sanctions { name } parent { name } } } } } }`
	searchQuery   = `query Search($text: String!) { search(text: $text) { score entity { id name } } }`
	addFactQuery  = `mutation AddFact($input: AddFactInput!) { addFact(input: $input) { id } }`
	idQuery       = `query ID($slug: String!) { organization(slug: $slug) { id } }`
)

// cachedName is the scenario of the headline query repeated against the route
// table with the response cache on.
const cachedName = "headline, repeated, response cache"

func headline(url, series, country string) Scenario {
	return Scenario{Name: "headline sponsorshipsByYear, no response cache", URL: url, Body: gql(headlineQuery, map[string]any{"series": series, "country": country})}
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

func runLoad(ctx context.Context, o Options, args []string, out io.Writer) error {
	client := newClient(clientConns)
	url := o.URL
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
	}

	head := headline(url, "waic", "US")
	body, err := fetch(ctx, client, head)
	if err != nil {
		return err
	}
	idBody, err := fetch(ctx, client, Scenario{Name: "id of qualcomm", URL: url, Body: gql(idQuery, map[string]any{"slug": "qualcomm"})})
	if err != nil {
		return err
	}
	var idResp struct {
		Data struct{ Organization struct{ ID string } }
	}
	if err := json.Unmarshal(idBody, &idResp); err != nil || idResp.Data.Organization.ID == "" {
		return fmt.Errorf("id of qualcomm: %v %s", err, idBody)
	}

	// The references.
	ceilURL, stopCeil, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	if err != nil {
		return err
	}
	defer stopCeil()
	fr, err := floor.FromResponse(body)
	if err != nil {
		return err
	}
	floorURL, stopFloor, err := listen(floor.NewHandler(fr))
	if err != nil {
		return err
	}
	defer stopFloor()
	floorBody, err := fetch(ctx, client, Scenario{Name: "floor", URL: floorURL + "/graphql", Body: head.Body})
	if err != nil {
		return err
	}
	same := "identical"
	if string(floorBody) != string(body) {
		same = fmt.Sprintf("DIFFERENT (%d vs %d bytes)", len(floorBody), len(body))
	}

	fmt.Fprintf(out, "# policygraph bench\n\n")
	fmt.Fprintf(out, "- command: `go run ./cmd/bench %s`\n", strings.Join(args, " "))
	machine(out)
	fmt.Fprintf(out, "- target: %s\n", where)
	fmt.Fprintf(out, "- clients: closed loop, %d concurrent, keep-alive, in this process (they share the CPUs with the server); warm-up %s, measured %s per scenario in %d interleaved rounds\n", o.Conc, o.Warmup, o.Duration, o.Rounds)
	fmt.Fprintf(out, "- writes: SyncWrites=%v (-sync)\n", o.Sync)
	fmt.Fprintf(out, "- headline response: %d bytes; the floor's response to the same query is %s\n\n", len(body), same)

	scenarios := []Scenario{
		{Name: "ceiling: net/http, same bytes", URL: ceilURL, Body: head.Body},
		{Name: "floor: gqlgen, same shape, no store", URL: floorURL + "/graphql", Body: head.Body},
		head,
		{Name: "lookup organization(id:)", URL: url, Body: gql(lookupQuery, map[string]any{"id": idResp.Data.Organization.ID})},
		twoHop(url, "waic-2023"),
		{Name: "search(text:\"thuong\")", URL: url, Body: gql(searchQuery, map[string]any{"text": "thuong"})},
	}
	if cachedURL != "" {
		cachedBody, err := fetch(ctx, client, Scenario{URL: cachedURL, Body: head.Body})
		if err != nil {
			return err
		}
		if string(cachedBody) != string(body) {
			return fmt.Errorf("the cached handler's headline response differs from the uncached one")
		}
		scenarios = append(scenarios, Scenario{Name: cachedName, URL: cachedURL, Body: head.Body})
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
	ceil, flr, hl := results[0], results[1], results[2]
	var cached *Result
	if cachedURL != "" {
		cached = &results[len(results)-1]
	}
	// Open loop at half the maximum rate of the headline query. The maximum
	// is measured again just before, and the lower of that and the rounds'
	// is taken: on a shared machine the capacity moves, and an open loop
	// offered more than the server can do at that moment piles requests up
	// until the generator drops them ("late"), which is what the errors of
	// this scenario were.
	now := ClosedLoop(ctx, client, head, o.Conc, 0, max(o.Duration/time.Duration(2*o.Rounds), time.Second))
	rate := min(hl.RPS, now.RPS) / 2
	open := OpenLoop(ctx, client, head, rate, o.Warmup, o.Duration)
	open.Scenario = head.Name + " at half max rate"
	results = append(results, open)

	if o.URL == "" || o.Token != "" {
		results = append(results, ClosedLoop(ctx, client, addFact(url, token), o.Conc, o.Warmup, o.Duration))
	}

	fmt.Fprintf(out, "| scenario | mode | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | late | × floor | × ceiling |\n")
	fmt.Fprintf(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range results {
		fmt.Fprintf(out, "| %s | %s | %.0f | %s | %s | %s | %s | %d | %d | %.2f | %.2f |\n", r.Scenario, r.Mode, r.RPS,
			ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), r.Errors, r.Late, r.RPS/flr.RPS, r.RPS/ceil.RPS)
	}
	fmt.Fprintln(out)
	for _, r := range results {
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
	check := func(name string, ok bool, got string) {
		verdict := "NOT MET"
		if ok {
			verdict = "met"
		}
		fmt.Fprintf(out, "- %s: %s (%s)\n", name, got, verdict)
	}
	check("headline, no response cache ≥ 0.6× GraphQL floor req/s", hl.RPS >= 0.6*flr.RPS, fmt.Sprintf("%.2f×", hl.RPS/flr.RPS))
	if cached != nil {
		check("headline, repeated, response cache ≥ 0.7× net/http ceiling req/s", cached.RPS >= 0.7*ceil.RPS, fmt.Sprintf("%.2f×", cached.RPS/ceil.RPS))
	}
	check("every request at half max rate answered", open.Errors == 0 && open.Late == 0 && open.Requests > 0,
		fmt.Sprintf("%d errors, %d late of %d", open.Errors, open.Late, open.Requests+open.Late))
	check("p99 at half max rate < 5 ms", open.P99 < 5*time.Millisecond && open.Requests > 0, ms(open.P99)+" ms")
	return nil
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
