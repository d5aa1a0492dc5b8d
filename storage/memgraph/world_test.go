package memgraph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// world is the truth a test holds the model to: the current records of a
// random graph, and the random changes that move it on.
type world struct {
	rng     *rand.Rand
	version uint64
	now     time.Time
	nodes   map[uuid.UUID]*storage.Node
	texts   map[uuid.UUID]string
	facts   map[uuid.UUID]*storage.Fact
	saved   map[string]*storage.SavedQuery
	revs    []*storage.Revision
	seqs    map[uuid.UUID]int
	// Every ID and slug ever used, in order of appearance, for picks and
	// for probes (old slugs must stay unknown).
	nodeIDs, factIDs, sources []uuid.UUID
	slugs                     []string
	serial                    int
}

var syllables = []string{"An", "Bình", "Cường", "Đại", "Hải", "Long", "Minh", "Nam", "Thượng", "Việt", "Nova", "Terra",
	"Quantum", "Helix", "Orion", "AI", "Lab", "Tech"}

var countries = []string{"US", "CN", "VN", "DE", "JP"}

func newWorld(seed uint64, nodes, facts int) *world {
	w := &world{rng: rand.New(rand.NewPCG(seed, 7)), now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		nodes: map[uuid.UUID]*storage.Node{}, texts: map[uuid.UUID]string{}, facts: map[uuid.UUID]*storage.Fact{},
		saved: map[string]*storage.SavedQuery{}, seqs: map[uuid.UUID]int{}}
	for range max(2, nodes/40) {
		n := w.newNode(storage.KindSource)
		w.put(n)
		w.texts[n.ID] = w.text(n.ID)
	}
	for w.serial < nodes {
		w.put(w.newNode(""))
	}
	for range facts {
		w.putFact(w.newFact(uuid.Nil))
	}
	return w
}

func (w *world) tick() time.Time {
	w.now = w.now.Add(time.Second)
	return w.now
}

func (w *world) name() string {
	n := 1 + w.rng.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = syllables[w.rng.IntN(len(syllables))]
	}
	if w.rng.IntN(4) > 0 {
		parts = append(parts, fmt.Sprint(w.rng.IntN(50)))
	}
	return strings.Join(parts, " ")
}

func (w *world) newNode(kind storage.Kind) *storage.Node {
	w.serial++
	if kind == "" {
		kind = storage.Kinds[w.rng.IntN(len(storage.Kinds)-1)] // not SOURCE: those have texts
	}
	slug := fmt.Sprintf("n-%d", w.serial)
	n := &storage.Node{ID: uuid.New(), Kind: kind, Slug: slug, Name: w.name(), CreatedAt: w.tick(), CreatedBy: "test"}
	n.UpdatedAt = n.CreatedAt
	w.decorate(n)
	return n
}

// decorate gives n random labels, aliases, a year and a classification.
func (w *world) decorate(n *storage.Node) {
	n.Labels, n.Aliases = nil, nil
	if w.rng.IntN(3) == 0 {
		n.Labels = []storage.Label{{Lang: "vi", Text: w.name()}}
	}
	for range w.rng.IntN(3) {
		n.Aliases = append(n.Aliases, w.name())
	}
	n.Year = 0
	if n.Kind == storage.KindEvent || w.rng.IntN(5) == 0 {
		n.Year = 2016 + w.rng.IntN(9)
	}
	if n.Kind == storage.KindOrganization {
		n.OrgType = []string{"COMPANY", "GOVERNMENT_BODY", ""}[w.rng.IntN(3)]
	}
}

func (w *world) text(id uuid.UUID) string {
	var b strings.Builder
	for j := range 20 {
		fmt.Fprintf(&b, "Câu %d của %s: %s. ", j, id.String()[:8], w.name())
	}
	return b.String()
}

func (w *world) put(n *storage.Node) {
	if _, ok := w.nodes[n.ID]; !ok {
		w.nodeIDs = append(w.nodeIDs, n.ID)
		if n.Kind == storage.KindSource {
			w.sources = append(w.sources, n.ID)
		}
	}
	w.nodes[n.ID] = n
	w.slugs = append(w.slugs, n.Slug)
}

func (w *world) putFact(f *storage.Fact) {
	if _, ok := w.facts[f.ID]; !ok {
		w.factIDs = append(w.factIDs, f.ID)
	}
	w.facts[f.ID] = f
}

func (w *world) pickNode() *storage.Node { return w.nodes[w.nodeIDs[w.rng.IntN(len(w.nodeIDs))]] }
func (w *world) pickFact() *storage.Fact { return w.facts[w.factIDs[w.rng.IntN(len(w.factIDs))]] }

// newFact makes a random fact shaped by its predicate; about subject when
// not nil.
func (w *world) newFact(subject uuid.UUID) *storage.Fact {
	spec := storage.Predicates[w.rng.IntN(len(storage.Predicates))]
	if subject == uuid.Nil {
		subject = w.pickNode().ID
	}
	f := &storage.Fact{ID: uuid.New(), Subject: subject, Predicate: spec.Predicate, CreatedAt: w.tick(), CreatedBy: "test"}
	if spec.ObjectRequired {
		for f.Object == uuid.Nil || f.Object == f.Subject {
			f.Object = w.pickNode().ID
		}
	}
	if spec.Value {
		f.Value = countries[w.rng.IntN(len(countries))]
	}
	if spec.Quantity {
		f.Measure, f.Quantity = "sponsors", &storage.Quantity{Amount: float64(w.rng.IntN(500)), Bound: storage.BoundAbout}
	}
	if spec.Tier {
		f.Tier = []storage.Tier{storage.TierSponsor, storage.TierElitePartner}[w.rng.IntN(2)]
	}
	if w.rng.IntN(2) == 0 {
		f.Year = 2016 + w.rng.IntN(9)
		f.Date = &storage.Date{Year: f.Year, Precision: storage.PrecisionYear}
	}
	f.Negated = w.rng.IntN(10) == 0
	src := w.sources[w.rng.IntN(len(w.sources))]
	quote := "not in the text"
	if text := w.texts[src]; w.rng.IntN(10) > 0 {
		sentences := strings.SplitAfter(text, ". ")
		if q := strings.TrimSpace(sentences[w.rng.IntN(len(sentences))]); q != "" {
			quote = q
		}
	}
	f.Evidence = []storage.Evidence{{Source: src, Quote: quote, Gloss: "a gloss"}}
	return f
}

func cloneNode(n *storage.Node) *storage.Node {
	c := *n
	c.Labels, c.Aliases = slices.Clone(n.Labels), slices.Clone(n.Aliases)
	return &c
}

func cloneFact(f *storage.Fact) *storage.Fact {
	c := *f
	c.Evidence = slices.Clone(f.Evidence)
	return &c
}

// change makes a random change, applies it to the world, and returns it.
func (w *world) change() storage.Change {
	w.version++
	c := storage.Change{Version: w.version}
	putNode := func(n *storage.Node) { w.put(n); c.Nodes = append(c.Nodes, n) }
	putFact := func(f *storage.Fact) { w.putFact(f); c.Facts = append(c.Facts, f) }
	switch op := w.rng.IntN(100); {
	case op < 15: // a new entity, with facts about it
		n := w.newNode("")
		if w.rng.IntN(4) == 0 {
			n = w.newNode(storage.KindSource)
			w.texts[n.ID] = w.text(n.ID)
			c.Texts = append(c.Texts, storage.SourceText{ID: n.ID, Text: w.texts[n.ID]})
		}
		putNode(n)
		for range w.rng.IntN(3) {
			putFact(w.newFact(n.ID))
		}
	case op < 40: // new facts
		for range 1 + w.rng.IntN(3) {
			putFact(w.newFact(uuid.Nil))
		}
	case op < 52: // a retraction
		f := cloneFact(w.pickFact())
		if f.Retraction == nil {
			f.Retraction = &storage.Retraction{By: "curator", At: w.tick(), Reason: "wrong"}
		}
		putFact(f)
	case op < 64: // a rename: the name, labels and aliases move in the indexes; a revision kept
		old := w.pickNode()
		n := cloneNode(old)
		w.seqs[n.ID]++
		r := &storage.Revision{Node: n.ID, Seq: w.seqs[n.ID], At: w.tick(), By: "editor", Previous: old}
		w.revs = append(w.revs, r)
		c.Revisions = append(c.Revisions, r)
		n.Name = w.name()
		w.decorate(n)
		n.UpdatedAt = w.tick()
		putNode(n)
	case op < 70: // a new slug; the old one is free
		n := cloneNode(w.pickNode())
		w.serial++
		n.Slug = fmt.Sprintf("renamed-%d", w.serial)
		putNode(n)
	case op < 76: // an entity's year
		n := cloneNode(w.pickNode())
		n.Year = []int{0, 2017, 2023, 2030}[w.rng.IntN(4)]
		putNode(n)
	case op < 82: // a fact's year or negation (writes do not do this, but a put may)
		f := cloneFact(w.pickFact())
		f.Year = []int{0, 2018, 2024}[w.rng.IntN(3)]
		f.Negated = !f.Negated
		putFact(f)
	case op < 88: // an entity retracted, with every fact about it
		n := cloneNode(w.pickNode())
		if n.Retraction != nil {
			break
		}
		r := &storage.Retraction{By: "curator", At: w.tick(), Reason: "withdrawn"}
		n.Retraction, n.UpdatedAt = r, r.At
		putNode(n)
		for _, id := range slices.Clone(w.factIDs) {
			if f := w.facts[id]; f.Retraction == nil && (f.Subject == n.ID || f.Object == n.ID) {
				f = cloneFact(f)
				f.Retraction = r
				putFact(f)
			}
		}
	case op < 92: // a source's text replaced
		src := w.sources[w.rng.IntN(len(w.sources))]
		text := []string{w.texts[src] + " Thêm một câu.", "Ngắn."}[w.rng.IntN(2)]
		w.texts[src] = text
		c.Texts = append(c.Texts, storage.SourceText{ID: src, Text: text})
	case op < 96: // a saved query
		q := &storage.SavedQuery{Name: fmt.Sprintf("q-%d", w.rng.IntN(8)), Query: "{ stats { nodes } }", CreatedAt: w.tick()}
		q.UpdatedAt = q.CreatedAt
		w.saved[q.Name] = q
		c.Saved = append(c.Saved, q)
	default:
		name := fmt.Sprintf("q-%d", w.rng.IntN(8))
		delete(w.saved, name)
		c.DeleteSaved = append(c.DeleteSaved, name)
	}
	return c
}

// build builds a model of the world's current records, handed over in a
// random order (entities and texts first).
func (w *world) build(t testing.TB) *Model {
	t.Helper()
	b := NewBuilder(w.version)
	for _, n := range w.nodes {
		if err := b.Node(n); err != nil {
			t.Fatal(err)
		}
	}
	for id, text := range w.texts {
		if err := b.Text(storage.SourceText{ID: id, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range w.facts {
		if err := b.Fact(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range w.saved {
		if err := b.Saved(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range w.revs {
		if err := b.Revision(r); err != nil {
			t.Fatal(err)
		}
	}
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// probe is what fingerprint asks a snapshot about.
type probe struct {
	nodes, facts []uuid.UUID
	slugs        []string
	prefixes     []string
	saved        []string
}

func (w *world) probe() probe {
	p := probe{nodes: slices.Clone(w.nodeIDs), facts: slices.Clone(w.factIDs), slugs: slices.Clone(w.slugs)}
	p.nodes = append(p.nodes, uuid.New(), uuid.Nil)
	p.facts = append(p.facts, uuid.New())
	p.slugs = append(p.slugs, "no-such-slug", "")
	p.prefixes = []string{"", "^", "^a", "a", "^thuong", "thuong h", "h", "nova", "^nova helix", "1", "4", "lab 1", "zz", "^ "}
	for c := 'a'; c <= 'z'; c += 3 {
		p.prefixes = append(p.prefixes, string(c), "^"+string(c))
	}
	for i := range 8 {
		p.saved = append(p.saved, fmt.Sprintf("q-%d", i))
	}
	return p
}

// fingerprint renders every answer of every read of s that p asks for, one
// a line: two snapshots with the same fingerprint answer alike.
func fingerprint(t testing.TB, s sizedSnapshot, p probe) string {
	t.Helper()
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	errStr := func(err error) string {
		if err == nil {
			return "ok"
		}
		return fmt.Sprintf("%s %v", errs.CodeOf(err), err)
	}
	must := func(what string, err error) {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	line("version %d", s.Version())
	for _, id := range p.nodes {
		n, err := s.Node(id)
		line("node %s %s %s", id, js(n), errStr(err))
		text, err := s.SourceText(id)
		line("text %s %q %s", id, text, errStr(err))
		for _, v := range append(slices.Clone(countries), "") {
			has, err := s.HasValue(id, storage.PredCountry, v)
			line("hasvalue %s %s %v %s", id, v, has, errStr(err))
		}
		must("Revisions", s.Revisions(id, func(r *storage.Revision) error { line("revision %s", js(r)); return nil }))
		for _, dir := range []storage.Direction{storage.Out, storage.In} {
			for _, pred := range []storage.Predicate{"", storage.PredSponsored, storage.PredCountry, storage.PredMentions, "NOPE"} {
				must("Adjacent", s.Adjacent(id, dir, pred, func(e storage.AdjEntry) error {
					line("adj %s %v %s: %s %s %d", id, dir, pred, e.Fact, e.Other, e.State)
					return nil
				}))
			}
		}
	}
	for _, id := range p.facts {
		f, err := s.Fact(id)
		line("fact %s %s %s", id, js(f), errStr(err))
	}
	for _, slug := range p.slugs {
		id, err := s.SlugID(slug)
		line("slug %q %s %s", slug, id, errStr(err))
	}
	years := [][2]int{{0, 9999}, {2018, 2020}, {2020, 2020}, {-5, 2017}, {2030, 2010}, {2024, 1 << 20}}
	for _, k := range append(slices.Clone(storage.Kinds), "NOPE") {
		must("NodesByKind", s.NodesByKind(k, func(id uuid.UUID) error { line("kind %s %s", k, id); return nil }))
		for _, y := range years {
			must("NodesByYear", s.NodesByYear(k, y[0], y[1], func(id uuid.UUID) error { line("nodeyear %s %v %s", k, y, id); return nil }))
		}
	}
	for _, p := range append(slices.Clone(predList), "NOPE") {
		must("FactsByPredicate", s.FactsByPredicate(p, func(id uuid.UUID) error { line("pred %s %s", p, id); return nil }))
		for _, y := range years {
			must("FactsByYear", s.FactsByYear(p, y[0], y[1], func(id uuid.UUID) error { line("year %s %v %s", p, y, id); return nil }))
		}
	}
	for _, v := range append(slices.Clone(countries), "", "ZZ") {
		must("SubjectsByValue", s.SubjectsByValue(storage.PredCountry, v, func(subj, fact uuid.UUID) error {
			line("value %s %s %s", v, subj, fact)
			return nil
		}))
	}
	for _, prefix := range p.prefixes {
		for _, whole := range []bool{false, true} {
			must("NameTerms", s.NameTerms(prefix, whole, func(term string, id uuid.UUID) error {
				line("term %q %v %q %s", prefix, whole, term, id)
				return nil
			}))
		}
	}
	for _, name := range p.saved {
		q, err := s.SavedQuery(name)
		line("saved %s %s %s", name, js(q), errStr(err))
	}
	must("SavedQueries", s.SavedQueries(func(q *storage.SavedQuery) error { line("saved %s", js(q)); return nil }))
	z := s.Sizes()
	line("sizes %d %d %d %d %v %v %v %v", z.Nodes, z.Facts, z.ActiveFacts, z.MaxSourceText, z.ByKind, z.ActiveByPredicate, z.CountryHolders, z.ActiveByYear)
	must("Nodes", s.Nodes(func(n *storage.Node) error { line("export node %s", js(n)); return nil }))
	must("SourceTexts", s.SourceTexts(func(id uuid.UUID, text string) error { line("export text %s %q", id, text); return nil }))
	must("Facts", s.Facts(func(f *storage.Fact) error { line("export fact %s", js(f)); return nil }))
	must("FactIDs", s.FactIDs(func(id uuid.UUID) error { line("export fact ID %s", id); return nil }))
	must("Revisions", s.Revisions(uuid.Nil, func(r *storage.Revision) error { line("export revision %s", js(r)); return nil }))
	return b.String()
}

// sizedSnapshot is a snapshot that counts what it holds: a *Snapshot, a
// *Draft.
type sizedSnapshot interface {
	storage.Snapshot
	storage.Sizer
}

// sameAnswers fails the test at the first answer in which got and want
// differ.
func sameAnswers(t testing.TB, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			t.Fatalf("%s: answer %d differs:\n got %s\nwant %s", what, i, g[i], w[i])
		}
	}
	t.Fatalf("%s: %d answers, want %d", what, len(g), len(w))
}

// worldCounts is the graph's size counted from the records, as storage
// counts its keys.
func (w *world) sizes() storage.Sizes {
	z := storage.Sizes{ByKind: map[storage.Kind]int{}, ActiveByPredicate: map[storage.Predicate]int{}, CountryHolders: map[string]int{},
		ActiveByYear: map[storage.Predicate]map[int]int{}}
	for _, n := range w.nodes {
		if n.Retraction == nil {
			z.ByKind[n.Kind]++
			z.Nodes++
		}
	}
	for _, f := range w.facts {
		z.Facts++
		if f.Active() {
			z.ActiveFacts++
			z.ActiveByPredicate[f.Predicate]++
			if f.Predicate == storage.PredCountry {
				z.CountryHolders[f.Value]++
			}
			if f.Year != 0 {
				if z.ActiveByYear[f.Predicate] == nil {
					z.ActiveByYear[f.Predicate] = map[int]int{}
				}
				z.ActiveByYear[f.Predicate][f.Year]++
			}
		}
	}
	for _, t := range w.texts {
		z.MaxSourceText = max(z.MaxSourceText, len(t))
	}
	return z
}
