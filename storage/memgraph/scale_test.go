package memgraph

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/storage"
)

// TestScale measures the model against the pointer-per-record baseline on
// synthetic graphs (synth.Generate), each size and kind of model in a
// process of its own so that memory figures are its own:
//
//	MEMGRAPH_SCALE=1000,10000,100000,1000000 go test ./storage/memgraph -run TestScale -v -timeout 60m
//
// It prints, per size: bytes per entity and per fact (heap in use after a
// GC, divided by the counts), the RSS after the GC returns what it can and
// its peak, the time to load and build from records in the store's codec
// (as a store scan hands them over), a forced GC's duration, the latency
// of the reads, and for the model the time to apply one change. Inputs are
// kept in MEMGRAPH_SCALE_DIR (default: the temp dir).
func TestScale(t *testing.T) {
	if child := os.Getenv("MEMGRAPH_SCALE_CHILD"); child != "" {
		scaleChild(t, child)
		return
	}
	sizes := os.Getenv("MEMGRAPH_SCALE")
	if sizes == "" {
		t.Skip("set MEMGRAPH_SCALE=1000,10000,... to measure")
	}
	dir := os.Getenv("MEMGRAPH_SCALE_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	var rows []scaleResult
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("MEMGRAPH_SCALE: %v", err)
		}
		start := time.Now()
		path, err := scaleInput(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("input of %d entities ready in %v", n, time.Since(start).Round(time.Millisecond))
		for _, kind := range []string{"model", "pointer"} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestScale$", "-test.v")
			cmd.Env = append(os.Environ(), "MEMGRAPH_SCALE_CHILD="+kind+":"+path)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s at %d: %v\n%s", kind, n, err, out)
			}
			var r scaleResult
			for _, line := range strings.Split(string(out), "\n") {
				if j, ok := strings.CutPrefix(line, "RESULT "); ok {
					if err := json.Unmarshal([]byte(j), &r); err != nil {
						t.Fatal(err)
					}
				}
			}
			r.Size = n
			rows = append(rows, r)
		}
	}
	fmt.Println(scaleTable(rows))
}

type scaleResult struct {
	Size         int
	Kind         string
	Nodes, Facts int
	HeapInuse    uint64
	RSS, PeakRSS uint64
	Build, GC    time.Duration
	BuildCPU     time.Duration
	// Compact is the time to compact after the apply measurement, with
	// CompactEntries overlay entries.
	Compact, CompactCPU time.Duration
	CompactEntries      int
	Apply               time.Duration
	Lat                 map[string]time.Duration
	LatOrder            []string
	BytesPerNode        float64
	BytesPerFact        float64
	BytesPerGraph       float64 // heap in use per entity, facts included
}

func scaleTable(rows []scaleResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| entities | model | facts | heap in use | B/entity (all) | B/fact | RSS | peak RSS | load+build (CPU) | GC | apply 1 change | compaction (CPU) |")
	for _, l := range rows[0].LatOrder {
		fmt.Fprintf(&b, " %s |", l)
	}
	b.WriteString("\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for range rows[0].LatOrder {
		b.WriteString("--:|")
	}
	b.WriteByte('\n')
	mib := func(v uint64) string { return fmt.Sprintf("%.0f MiB", float64(v)/(1<<20)) }
	for _, r := range rows {
		apply, compact := "-", "-"
		if r.Apply > 0 {
			apply = r.Apply.String()
			compact = fmt.Sprintf("%v (%v), %d entries", r.Compact.Round(time.Millisecond), r.CompactCPU.Round(time.Millisecond), r.CompactEntries)
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %.0f | %.0f | %s | %s | %v (%v) | %v | %s | %s |", r.Size, r.Kind, r.Facts, mib(r.HeapInuse),
			r.BytesPerGraph, r.BytesPerFact, mib(r.RSS), mib(r.PeakRSS), r.Build.Round(time.Millisecond), r.BuildCPU.Round(time.Millisecond),
			r.GC.Round(time.Microsecond), apply, compact)
		for _, l := range r.LatOrder {
			fmt.Fprintf(&b, " %v |", r.Lat[l])
		}
		b.WriteByte('\n')
	}
	b.WriteString("\nB/entity (all): heap in use after GC per entity, its facts included. B/fact: the model's bytes for facts alone (IDs, records, adjacency, indexes; see factBytes). Latencies: mean CPU time per operation.\n")
	return b.String()
}

// procStatus reads a field of /proc/self/status, in bytes.
func procStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func heapAfterGC() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// timeIt is the mean CPU time of fn (the process's user and system time,
// its garbage collection included) over enough runs to take about 200ms.
// CPU time rather than wall time: on a machine shared with other work, a
// wait for a core is not the code's cost.
func timeIt(fn func(i int)) time.Duration {
	n := 1
	for {
		start := cpuTime()
		for i := range n {
			fn(i)
		}
		if d := cpuTime() - start; d > 200*time.Millisecond || n >= 1<<24 {
			return d / time.Duration(n)
		}
		n *= 4
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func scaleChild(t *testing.T, spec string) {
	kind, path, _ := strings.Cut(spec, ":")
	before := heapAfterGC()
	start, startCPU := time.Now(), cpuTime()
	var r reader
	var m *Model
	var nodeIDs, factIDs []uuid.UUID
	res := scaleResult{Kind: kind, Lat: map[string]time.Duration{}}
	switch kind {
	case "model":
		var err error
		if m, err = loadModel(path); err != nil {
			t.Fatal(err)
		}
		res.Build, res.BuildCPU = time.Since(start), cpuTime()-startCPU
		s := m.Latest()
		r = snapshotReader{s}
		nodeIDs, factIDs = s.b.nodes.ids, s.b.facts.ids
	case "pointer":
		p, err := loadPointer(path)
		if err != nil {
			t.Fatal(err)
		}
		res.Build, res.BuildCPU = time.Since(start), cpuTime()-startCPU
		r = p
		for id := range p.nodes {
			nodeIDs = append(nodeIDs, id)
		}
		for id := range p.facts {
			factIDs = append(factIDs, id)
		}
		slices.SortFunc(nodeIDs, compareID)
		slices.SortFunc(factIDs, compareID)
	}
	res.Nodes, res.Facts = len(nodeIDs), len(factIDs)
	idBytes := uint64(len(nodeIDs)+len(factIDs)) * 16 // the measurement's own ID lists
	res.HeapInuse = heapAfterGC() - before - idBytes
	res.RSS, res.PeakRSS = procStatus("VmRSS"), procStatus("VmHWM")
	start = time.Now()
	runtime.GC()
	res.GC = time.Since(start)
	start = time.Now()
	runtime.GC()
	res.GC = min(res.GC, time.Since(start))
	res.BytesPerGraph = float64(res.HeapInuse) / float64(res.Nodes)
	if m != nil {
		b := m.Latest().b
		res.BytesPerFact = float64(factBytes(b)) / float64(res.Facts)
	}

	rng := rand.New(rand.NewPCG(1, 1))
	pick := func(ids []uuid.UUID) []uuid.UUID {
		out := make([]uuid.UUID, 4096)
		for i := range out {
			out[i] = ids[rng.IntN(len(ids))]
		}
		return out
	}
	nodes, facts := pick(nodeIDs), pick(factIDs)
	nSeries := max(2, res.Nodes/250)
	var series, events []uuid.UUID
	for i := range nSeries {
		series = append(series, storage.SlugID(fmt.Sprintf("syn-series-%d", i)))
		events = append(events, storage.SlugID(fmt.Sprintf("syn-series-%d-%d", i, 2016+i%8)))
	}
	check := func(n int, err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	measure := func(name string, fn func(i int)) {
		res.LatOrder = append(res.LatOrder, name)
		res.Lat[name] = timeIt(fn)
	}
	measure("entity by ID", func(i int) { _, err := r.node(nodes[i%len(nodes)]); check(0, err) })
	measure("fact by ID", func(i int) { _, err := r.fact(facts[i%len(facts)]); check(0, err) })
	measure("sponsors of an event (adjacency, 20)", func(i int) {
		check(0, r.adjacent(events[i%len(events)], storage.In, storage.PredSponsored, func(storage.AdjEntry) error { return nil }))
	})
	measure("headline (series, US sponsors)", func(i int) { check(headline(r, series[i%len(series)], "US")) })
	measure("first 50 organizations by name", func(i int) { check(firstOfKind(r, storage.KindOrganization, 50)) })
	measure("all US holders (value index)", func(i int) { check(countryHolders(r, "US")) })
	measure("search \"thuong\" (name terms)", func(i int) { check(searchTerm(r, "thuong")) })
	if m != nil {
		m.SetOptions(Options{CompactAt: -1})
		res.Apply = applyLatency(t, m, nodeIDs, rng)
		entries := m.Figures().OverlayEntries
		start, startCPU := time.Now(), cpuTime()
		if err := m.Compact(); err != nil {
			t.Fatal(err)
		}
		res.Compact, res.CompactCPU, res.CompactEntries = time.Since(start), cpuTime()-startCPU, entries
	}
	runtime.KeepAlive(r)
	b, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", b)
}

// factBytes is what the base spends on facts: their IDs, records and
// offsets, both adjacency entries and the fact indexes.
func factBytes(b *base) int {
	n := len(b.facts.ids)*16 + len(b.facts.slab) + len(b.facts.off)*4 + len(b.facts.bucket)*4
	for d := range 2 {
		n += len(b.adjFact[d])*9 + len(b.adjStart[d])*4
	}
	for p := range numPreds {
		n += len(b.preds[p])*4 + len(b.factYears[p])*8 + len(b.values[p])*12
	}
	return n
}

// applyLatency is the mean time to apply one change of a writer's usual
// size: a new fact and a retraction of an earlier one, published as a
// snapshot.
func applyLatency(t *testing.T, m *Model, nodeIDs []uuid.UUID, rng *rand.Rand) time.Duration {
	s := m.Latest()
	src := storage.SlugID("syn-source-0")
	text, _ := s.SourceText(src)
	quote := text[:strings.Index(text, ".")+1]
	var prev uuid.UUID
	version := s.Version()
	var mu sync.Mutex
	return timeIt(func(int) {
		mu.Lock()
		defer mu.Unlock()
		f := &storage.Fact{ID: uuid.New(), Subject: nodeIDs[rng.IntN(len(nodeIDs))], Predicate: storage.PredMentions,
			Object: nodeIDs[rng.IntN(len(nodeIDs))], CreatedAt: time.Now(), CreatedBy: "bench",
			Evidence: []storage.Evidence{{Source: src, Quote: quote}}}
		c := storage.Change{Version: version + 1, Facts: []*storage.Fact{f}}
		if prev != uuid.Nil {
			old, err := m.Latest().Fact(prev)
			if err != nil {
				t.Fatal(err)
			}
			r := *old
			r.Retraction = &storage.Retraction{By: "bench", At: time.Now(), Reason: "measured"}
			c.Facts = append(c.Facts, &r)
		}
		if err := m.Apply(c); err != nil {
			t.Fatal(err)
		}
		version++
		prev = f.ID
	})
}
