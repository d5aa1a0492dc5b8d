package memgraph

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"policygraph/storage"
)

// clone is a world that goes on from w on its own: records are never
// changed in place (a change puts copies), so the maps are copied, not the
// records.
func (w *world) clone(seed uint64) *world {
	c := *w
	c.rng = rand.New(rand.NewPCG(seed, 11))
	c.nodes, c.texts, c.facts, c.saved = maps.Clone(w.nodes), maps.Clone(w.texts), maps.Clone(w.facts), maps.Clone(w.saved)
	c.seqs = maps.Clone(w.seqs)
	c.revs, c.nodeIDs, c.factIDs, c.sources, c.slugs = slices.Clone(w.revs), slices.Clone(w.nodeIDs), slices.Clone(w.factIDs),
		slices.Clone(w.sources), slices.Clone(w.slugs)
	return &c
}

// withoutVersion drops a fingerprint's first line, its version: a draft
// keeps the version it started from.
func withoutVersion(fp string) string {
	_, rest, _ := strings.Cut(fp, "\n")
	return rest
}

// TestDraftSeesItsPuts puts random changes into a draft (every kind of
// record, renames and retractions that move the indexes) and holds the
// draft's answers, over every read, to a model built from the same
// records; neither the model's snapshot nor, after a Fork, the parent
// sees what was put after.
func TestDraftSeesItsPuts(t *testing.T) {
	w := newWorld(5, 200, 600)
	m := w.build(t)
	m.SetOptions(Options{Logger: quiet})
	t.Cleanup(m.Close)
	start := m.Latest()
	p0 := w.probe()
	before := fingerprint(t, start, p0)

	d := m.NewDraft()
	var _ storage.Draft = d
	for range 150 {
		if err := d.Put(w.change()); err != nil {
			t.Fatal(err)
		}
	}
	if d.Version() != start.Version() {
		t.Errorf("the draft is at version %d, started at %d", d.Version(), start.Version())
	}
	p := w.probe()
	want := fingerprint(t, w.build(t).Latest(), p)
	sameAnswers(t, "the draft", withoutVersion(fingerprint(t, d, p)), withoutVersion(want))
	if z := d.Sizes(); !reflect.DeepEqual(z, w.sizes()) {
		t.Fatalf("the draft's Sizes = %+v, counted from the records %+v", z, w.sizes())
	}
	if m.Latest() != start {
		t.Fatal("puts into a draft published a snapshot")
	}
	sameAnswers(t, "the model after puts into a draft", fingerprint(t, m.Latest(), p0), before)
	sameAnswers(t, "the snapshot the draft began on", fingerprint(t, start, p0), before)

	// A fork takes the draft's records; puts into it do not reach the
	// parent, and puts into the parent do not reach it.
	fork := d.Fork().(*Draft)
	wf := w.clone(6)
	for range 150 {
		if err := fork.Put(wf.change()); err != nil {
			t.Fatal(err)
		}
	}
	sameAnswers(t, "the parent after puts into its fork", withoutVersion(fingerprint(t, d, p)), withoutVersion(want))
	for range 50 {
		if err := d.Put(w.change()); err != nil {
			t.Fatal(err)
		}
	}
	pf := wf.probe()
	sameAnswers(t, "the fork", withoutVersion(fingerprint(t, fork, pf)), withoutVersion(fingerprint(t, wf.build(t).Latest(), pf)))
	p = w.probe()
	sameAnswers(t, "the parent after more puts", withoutVersion(fingerprint(t, d, p)), withoutVersion(fingerprint(t, w.build(t).Latest(), p)))
}

// TestDraftPutFailsWhole checks that a Put that cannot be applied (a fact
// about no entity, after records that could; an unknown kind; a text of no
// entity) leaves the draft as it was, and that the draft goes on taking
// puts.
func TestDraftPutFailsWhole(t *testing.T) {
	w := newWorld(7, 80, 200)
	m := w.build(t)
	d := m.NewDraft()
	for range 20 {
		if err := d.Put(w.change()); err != nil {
			t.Fatal(err)
		}
	}
	p := w.probe()
	before := fingerprint(t, d, p)
	n := w.newNode(storage.KindOrganization)
	good := w.newFact(n.ID)
	orphan := w.newFact(uuid.Nil)
	orphan.Subject = uuid.New()
	renamed := cloneNode(w.pickNode())
	renamed.Name, renamed.Slug = "Renamed Before A Failure", "renamed-before-a-failure"
	bad := []struct {
		name string
		c    storage.Change
	}{
		{"a fact about no entity", storage.Change{Nodes: []*storage.Node{n, renamed}, Facts: []*storage.Fact{good, orphan},
			Revisions: []*storage.Revision{{Node: n.ID, Seq: 1, Previous: n}}}},
		{"an unknown kind", storage.Change{Nodes: []*storage.Node{n, {ID: uuid.New(), Kind: "ROBOT", Slug: "r", Name: "R"}}}},
		{"a text of no entity", storage.Change{Nodes: []*storage.Node{n}, Texts: []storage.SourceText{{ID: uuid.New(), Text: "x"}}}},
		{"a fact with an unknown predicate", storage.Change{Nodes: []*storage.Node{n},
			Facts: []*storage.Fact{good, {ID: uuid.New(), Subject: n.ID, Predicate: "LIKES", Value: "new value"}}}},
	}
	for _, tc := range bad {
		if err := d.Put(tc.c); err == nil {
			t.Fatalf("%s: put", tc.name)
		}
		sameAnswers(t, tc.name, fingerprint(t, d, p), before)
	}
	for range 20 {
		if err := d.Put(w.change()); err != nil {
			t.Fatal(err)
		}
	}
	p = w.probe()
	sameAnswers(t, "puts after failures", withoutVersion(fingerprint(t, d, p)), withoutVersion(fingerprint(t, w.build(t).Latest(), p)))
}

// TestDraftSurvivesApplyAndCompact puts changes into a draft while the
// model applies other changes and compacts, in the background and by hand,
// on another goroutine, and into forks of the draft, each on a goroutine of
// its own: the draft keeps the generation it began on, and it, each fork
// and the model answer for their own records only (run it with -race).
func TestDraftSurvivesApplyAndCompact(t *testing.T) {
	w := newWorld(8, 150, 400)
	m := w.build(t)
	m.SetOptions(Options{CompactAt: 200, Logger: quiet})
	t.Cleanup(m.Close)
	start := m.Latest()
	wd := w.clone(9)
	d := m.NewDraft()

	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() {
		for i := range 600 {
			if err := m.Apply(w.change()); err != nil {
				errc <- err
				return
			}
			if i%200 == 100 {
				if err := m.Compact(); err != nil {
					errc <- err
					return
				}
			}
		}
	})
	// Forks go to goroutines of their own, each with a world of its own.
	var forks []*Draft
	var worlds []*world
	var fg sync.WaitGroup
	forkErrs := make(chan error, 4)
	for i := range 400 {
		if err := d.Put(wd.change()); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			f, fw := d.Copy(), wd.clone(uint64(100+i))
			forks, worlds = append(forks, f), append(worlds, fw)
			fg.Go(func() {
				for range 100 {
					if err := f.Put(fw.change()); err != nil {
						forkErrs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	fg.Wait()
	close(errc)
	close(forkErrs)
	for err := range errc {
		t.Fatal(err)
	}
	for err := range forkErrs {
		t.Fatal(err)
	}
	if st := m.Figures(); st.Compactions < 3 || st.CompactionErrors != 0 {
		t.Fatalf("the model compacted %d times (%d failed): the test lost its point", st.Compactions, st.CompactionErrors)
	}
	if d.b != start.b || m.Latest().b == start.b {
		t.Fatal("the draft does not hold the generation it began on, or the model did not move on")
	}
	p := wd.probe()
	sameAnswers(t, "the draft", withoutVersion(fingerprint(t, d, p)), withoutVersion(fingerprint(t, wd.build(t).Latest(), p)))
	for i, f := range forks {
		p := worlds[i].probe()
		sameAnswers(t, fmt.Sprintf("fork %d", i), withoutVersion(fingerprint(t, f, p)), withoutVersion(fingerprint(t, worlds[i].build(t).Latest(), p)))
	}
	p = w.probe()
	sameAnswers(t, "the model", fingerprint(t, m.Latest(), p), fingerprint(t, w.build(t).Latest(), p))

	// A draft of the model now starts on its new generation.
	d2 := m.NewDraft()
	if err := d2.Put(w.change()); err != nil {
		t.Fatal(err)
	}
	p = w.probe()
	sameAnswers(t, "a new draft", withoutVersion(fingerprint(t, d2, p)), withoutVersion(fingerprint(t, w.build(t).Latest(), p)))
}

// TestDraftDictionary checks the strings a draft interns (an author, a
// country never seen): the model goes on adding its own meanwhile, under
// IDs the draft must not take for its own, and a fork and its parent each
// add theirs, which the other must not see.
func TestDraftDictionary(t *testing.T) {
	w := newWorld(10, 40, 80)
	m := w.build(t)
	d := m.NewDraft()
	// The model adds strings after the draft began: the draft does not
	// have them, and must intern them itself.
	for i, author := range []string{"late-author", "later-author"} {
		n := w.newNode(storage.KindPerson)
		n.CreatedBy = author
		w.version++
		if err := m.Apply(storage.Change{Version: w.version, Nodes: []*storage.Node{n},
			Facts: []*storage.Fact{{ID: uuid.New(), Subject: n.ID, Predicate: storage.PredCountry, Value: fmt.Sprint("M", i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	put := func(d *Draft, author, country string) uuid.UUID {
		t.Helper()
		n := w.newNode(storage.KindPerson)
		n.CreatedBy = author
		f := &storage.Fact{ID: uuid.New(), Subject: n.ID, Predicate: storage.PredCountry, Value: country, CreatedBy: author}
		if err := d.Put(storage.Change{Nodes: []*storage.Node{n}, Facts: []*storage.Fact{f}}); err != nil {
			t.Fatal(err)
		}
		return n.ID
	}
	check := func(what string, d *Draft, id uuid.UUID, author, country string) {
		t.Helper()
		n, err := d.Node(id)
		if err != nil || n.CreatedBy != author {
			t.Fatalf("%s: entity %v, %v: want created by %q", what, n, err, author)
		}
		has, err := d.HasValue(id, storage.PredCountry, country)
		if err != nil || !has {
			t.Fatalf("%s: HasValue(%q) = %v, %v", what, country, has, err)
		}
		if z := d.Sizes(); z.CountryHolders[country] != 1 {
			t.Fatalf("%s: %d holders of %q", what, z.CountryHolders[country], country)
		}
	}
	a := put(d, "later-author", "M1")
	b := put(d, "draft-author", "D0")
	check("a string the model added later", d, a, "later-author", "M1")
	check("a string of the draft's own", d, b, "draft-author", "D0")
	fork := d.Copy()
	c := put(fork, "fork-author", "F0")
	e := put(d, "parent-author", "P0")
	check("the fork's string", fork, c, "fork-author", "F0")
	check("the parent's string", d, e, "parent-author", "P0")
	check("a string from before the fork, in the fork", fork, b, "draft-author", "D0")
	if _, err := d.Node(c); err == nil {
		t.Fatal("the parent sees the fork's entity")
	}
	if _, err := fork.Node(e); err == nil {
		t.Fatal("the fork sees the parent's entity")
	}
	if z := d.Sizes(); z.CountryHolders["F0"] != 0 {
		t.Fatal("the parent counts the fork's country")
	}
	s := m.Latest()
	for _, id := range []uuid.UUID{a, b, c, e} {
		if _, err := s.Node(id); err == nil {
			t.Fatal("the model sees a draft's entity")
		}
	}
}

// TestDraftForksOnGoroutines puts changes into a draft and two forks of it
// at once, each on a goroutine of its own with a world of its own: each
// answers for its own records (run it with -race: a fork shares nothing
// the others write).
func TestDraftForksOnGoroutines(t *testing.T) {
	w := newWorld(12, 100, 300)
	m := w.build(t)
	d := m.NewDraft()
	for range 10 {
		if err := d.Put(w.change()); err != nil {
			t.Fatal(err)
		}
	}
	drafts := []*Draft{d, d.Copy(), d.Copy()}
	worlds := []*world{w, w.clone(13), w.clone(14)}
	// The changes are made first: making them syncs the goroutines (IDs
	// come from a locked source), and would hide a race from the detector.
	changes := make([][]storage.Change, len(drafts))
	for i := range drafts {
		for range 100 {
			changes[i] = append(changes[i], worlds[i].change())
		}
	}
	start := make(chan struct{})
	errc := make(chan error, len(drafts))
	var wg sync.WaitGroup
	for i, dr := range drafts {
		wg.Go(func() {
			<-start
			for _, c := range changes[i] {
				if err := dr.Put(c); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for i, dr := range drafts {
		p := worlds[i].probe()
		sameAnswers(t, fmt.Sprintf("draft %d", i), withoutVersion(fingerprint(t, dr, p)), withoutVersion(fingerprint(t, worlds[i].build(t).Latest(), p)))
	}
}
