package memgraph

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// TestChangesMatchRebuild applies thousands of random changes (new entities
// and facts, retractions of both, renames that move the name and kind
// indexes, new slugs, year changes, replaced texts, saved queries) to a
// model, compacting now and then (by hand and in the background), and holds
// it, answer for answer over every read, to a model built from scratch from
// the same records. Snapshots taken along the way must still answer as they
// did when taken.
func TestChangesMatchRebuild(t *testing.T) {
	changes := 3000
	if testing.Short() {
		changes = 600
	}
	w := newWorld(1, 300, 900)
	m := w.build(t)
	m.SetOptions(Options{CompactAt: 700, Logger: quiet})
	t.Cleanup(m.Close)
	type kept struct {
		s  *Snapshot
		p  probe
		fp string
	}
	var old []kept
	for i := 1; i <= changes; i++ {
		c := w.change()
		if err := m.Apply(c); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		if got := m.Latest().Version(); got != c.Version {
			t.Fatalf("after change %d the snapshot is at version %d", c.Version, got)
		}
		if i%1000 == 500 {
			if err := m.Compact(); err != nil {
				t.Fatal(err)
			}
		}
		if i%300 == 0 || i == changes {
			p := w.probe()
			got := fingerprint(t, m.Latest(), p)
			sameAnswers(t, fmt.Sprintf("after %d changes", i), got, fingerprint(t, w.build(t).Latest(), p))
			if z := m.Latest().Sizes(); !reflect.DeepEqual(z, w.sizes()) {
				t.Fatalf("after %d changes Sizes = %+v, counted from the records %+v", i, z, w.sizes())
			}
			old = append(old, kept{s: m.Latest(), p: p, fp: got})
		}
	}
	m.Close()
	if st := m.Figures(); st.Compactions < changes/1000 || st.CompactionErrors != 0 || st.Version != w.version {
		t.Errorf("Stats = %+v: want a compaction at least every 1000 changes, none failed, at version %d", st, w.version)
	}
	for _, k := range old {
		sameAnswers(t, fmt.Sprintf("snapshot of version %d, read again", k.s.Version()), fingerprint(t, k.s, k.p), k.fp)
	}
}

// TestApplyRefusesBadChanges checks that a change out of order, or one that
// cannot be applied, leaves the model as it was.
func TestApplyRefusesBadChanges(t *testing.T) {
	w := newWorld(2, 60, 120)
	m := w.build(t)
	p := w.probe()
	before := fingerprint(t, m.Latest(), p)
	orphan := w.newFact(uuid.Nil)
	orphan.Subject = uuid.New()
	n := w.newNode("")
	bad := []struct {
		name string
		c    storage.Change
	}{
		{"a version gap", storage.Change{Version: w.version + 2, Nodes: []*storage.Node{n}}},
		{"a version again", storage.Change{Version: w.version, Nodes: []*storage.Node{n}}},
		{"a fact about no entity", storage.Change{Version: w.version + 1, Nodes: []*storage.Node{n}, Facts: []*storage.Fact{orphan}}},
		{"an unknown kind", storage.Change{Version: w.version + 1, Nodes: []*storage.Node{{ID: uuid.New(), Kind: "ROBOT", Slug: "r", Name: "R"}}}},
		{"a text of no entity", storage.Change{Version: w.version + 1, Texts: []storage.SourceText{{ID: uuid.New(), Text: "x"}}}},
	}
	for _, tc := range bad {
		if err := m.Apply(tc.c); err == nil {
			t.Errorf("%s: applied", tc.name)
		}
		sameAnswers(t, tc.name, fingerprint(t, m.Latest(), p), before)
	}
}

// TestBuildRefusesBadRecords checks the builder's errors: records out of
// order, duplicates, references to nothing.
func TestBuildRefusesBadRecords(t *testing.T) {
	n1 := &storage.Node{ID: uuid.New(), Kind: storage.KindOrganization, Slug: "a", Name: "A"}
	n2 := &storage.Node{ID: uuid.New(), Kind: storage.KindOrganization, Slug: "a", Name: "B"}
	f := &storage.Fact{ID: uuid.New(), Subject: n1.ID, Predicate: storage.PredCountry, Value: "US"}
	cases := []struct {
		name string
		add  func(b *Builder) error
	}{
		{"an entity after a fact", func(b *Builder) error {
			b.Node(n1)
			b.Fact(f)
			return b.Node(&storage.Node{ID: uuid.New(), Kind: storage.KindPerson, Slug: "p", Name: "P"})
		}},
		{"an entity twice", func(b *Builder) error { b.Node(n1); b.Node(n1); _, err := b.Build(); return err }},
		{"a slug twice", func(b *Builder) error { b.Node(n1); b.Node(n2); _, err := b.Build(); return err }},
		{"a fact twice", func(b *Builder) error { b.Node(n1); b.Fact(f); b.Fact(f); _, err := b.Build(); return err }},
		{"a fact about no entity", func(b *Builder) error { return b.Fact(f) }},
		{"an unknown predicate", func(b *Builder) error {
			b.Node(n1)
			return b.Fact(&storage.Fact{ID: uuid.New(), Subject: n1.ID, Predicate: "LIKES"})
		}},
		{"a text of no entity", func(b *Builder) error {
			b.Text(storage.SourceText{ID: uuid.New(), Text: "x"})
			_, err := b.Build()
			return err
		}},
	}
	for _, tc := range cases {
		if err := tc.add(NewBuilder(1)); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestReadersDuringWrites reads snapshots on several goroutines while one
// writer applies changes and the model compacts in the background: each
// snapshot must be consistent in itself (run it with -race).
func TestReadersDuringWrites(t *testing.T) {
	w := newWorld(3, 150, 400)
	m := w.build(t)
	m.SetOptions(Options{CompactAt: 300, Logger: quiet})
	t.Cleanup(m.Close)
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Go(func() {
			last := uint64(0)
			for i := 0; !done.Load() || i < 3; i++ {
				s := m.Latest()
				if s.Version() < last {
					errs <- fmt.Errorf("reader %d: version went back from %d to %d", r, last, s.Version())
					return
				}
				last = s.Version()
				if err := consistent(s); err != nil {
					errs <- fmt.Errorf("reader %d at version %d: %w", r, s.Version(), err)
					return
				}
			}
		})
	}
	changes := 1500
	if testing.Short() {
		changes = 300
	}
	for range changes {
		if err := m.Apply(w.change()); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// consistent checks that a snapshot agrees with itself: the counts with the
// indexes, the indexes with the records.
func consistent(s *Snapshot) error {
	z := s.Sizes()
	nodes := 0
	for _, k := range storage.Kinds {
		err := s.NodesByKind(k, func(id uuid.UUID) error {
			nodes++
			n, err := s.Node(id)
			if err != nil {
				return err
			}
			if n.Kind != k || n.Retraction != nil {
				return fmt.Errorf("kind index %s lists %s (%s, retracted %v)", k, id, n.Kind, n.Retraction != nil)
			}
			return s.Adjacent(id, storage.Out, "", func(e storage.AdjEntry) error {
				f, err := s.Fact(e.Fact)
				if err != nil {
					return err
				}
				if f.Subject != id || f.Object != e.Other {
					return fmt.Errorf("adjacency of %s lists fact %s about %s", id, f.ID, f.Subject)
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	if nodes != z.Nodes {
		return fmt.Errorf("the kind index lists %d entities, Sizes says %d", nodes, z.Nodes)
	}
	active := 0
	for _, p := range predList {
		err := s.FactsByPredicate(p, func(id uuid.UUID) error {
			active++
			f, err := s.Fact(id)
			if err != nil {
				return err
			}
			if !f.Active() || f.Predicate != p {
				return fmt.Errorf("predicate index %s lists %s (%s, active %v)", p, id, f.Predicate, f.Active())
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if active != z.ActiveFacts {
		return fmt.Errorf("the predicate index lists %d facts, Sizes says %d", active, z.ActiveFacts)
	}
	return nil
}

// TestStopEndsScans checks the stop sentinel: a scan ends at once and
// returns nil; another error comes back as is.
func TestStopEndsScans(t *testing.T) {
	w := newWorld(4, 100, 300)
	m := w.build(t)
	s := m.Latest()
	calls := 0
	if err := s.NodesByKind(storage.KindOrganization, func(uuid.UUID) error { calls++; return storage.ErrStop }); err != nil || calls != 1 {
		t.Errorf("storage.ErrStop: err %v after %d calls", err, calls)
	}
	boom := errors.New("boom")
	if err := s.FactsByPredicate(storage.PredSponsored, func(uuid.UUID) error { return fmt.Errorf("wrapped: %w", boom) }); !errors.Is(err, boom) {
		t.Errorf("an error from the callback came back as %v", err)
	}
	if _, err := s.Node(uuid.New()); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("Node of an unknown ID: %v", err)
	}
}
