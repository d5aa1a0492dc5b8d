package storage

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestCheckFindsEachKindOfDamage(t *testing.T) {
	w := newSponsorshipWorld(t, 2, 2)
	if err := w.sponsor(w.orgs[0], w.editions[0]); err != nil {
		t.Fatal(err)
	}
	rep, err := w.g.Check()
	if err != nil || !rep.OK() {
		t.Fatalf("a sound store: %v %v", err, rep.Problems)
	}
	damage := []struct {
		name string
		do   func(w *sponsorshipWorld, f *Fact, tx Txn) error
		want string
	}{
		{"reverse edge gone", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			return tx.Delete(adjKey(In, f.Object, f.Predicate, f.ID))
		}, "missing reverse adjacency entry"},
		{"forward edge gone", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			return tx.Delete(adjKey(Out, f.Subject, f.Predicate, f.ID))
		}, "missing forward adjacency entry"},
		{"index entry gone", func(w *sponsorshipWorld, f *Fact, tx Txn) error { return tx.Delete(predKey(f.Predicate, f.ID)) }, "missing predicate index entry"},
		{"orphan index entry", func(w *sponsorshipWorld, f *Fact, tx Txn) error { return tx.Set(predKey(PredMeasure, w.orgs[0]), nil) }, "orphan predicate index entry"},
		{"orphan edge", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			return tx.Set(adjKey(Out, w.orgs[0], PredSponsored, w.orgs[1]), []byte{flagActive})
		}, "orphan forward adjacency entry"},
		{"wrong flag", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			return tx.Set(adjKey(In, f.Object, f.Predicate, f.ID), append([]byte{flagRetracted}, f.Subject[:]...))
		}, "reverse adjacency entry holds"},
		{"stale slug", func(w *sponsorshipWorld, f *Fact, tx Txn) error { return tx.Set(slugKey("gone"), w.orgs[0][:]) }, "orphan slug entry"},
		{"name entry gone", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			n, err := (&kvSnapshot{tx: tx}).Node(w.orgs[0])
			if err != nil {
				return err
			}
			return tx.Delete(nodeIndexKeys(n)[0])
		}, "missing kind index entry"},
		{"quote not in source", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			return tx.Set(textKey(w.source), []byte("rewritten"))
		}, "is not in the text"},
		{"fact without its subject", func(w *sponsorshipWorld, f *Fact, tx Txn) error { return tx.Delete(nodeKey(w.orgs[1])) }, "subject"},
		{"undecodable record", func(w *sponsorshipWorld, f *Fact, tx Txn) error { return tx.Set(factKey(f.ID), []byte("{")) }, "does not decode"},
		{"unknown key", func(w *sponsorshipWorld, f *Fact, tx Txn) error { return tx.Set([]byte("Zzz"), nil) }, "key of no known kind"},
		{"dispute link to a missing fact", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			d := cloneFact(f)
			d.DisputedBy = []uuid.UUID{w.orgs[1]}
			b, _ := encodeFact(d)
			return tx.Set(factKey(f.ID), b)
		}, "which does not exist"},
		{"one-way dispute link", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			other := cloneFact(f)
			other.ID = uuid.New()
			b, _ := encodeFact(other)
			if err := tx.Set(factKey(other.ID), b); err != nil {
				return err
			}
			d := cloneFact(f)
			d.DisputedBy = []uuid.UUID{other.ID}
			b, _ = encodeFact(d)
			return tx.Set(factKey(f.ID), b)
		}, "which does not name it back"},
		{"revision of a missing node", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			b, _ := encodeRevision(&Revision{Node: f.ID, Seq: 1, Previous: &Node{ID: f.ID, Kind: KindEvent, Name: "E"}})
			return tx.Set(revisionKey(f.ID, 1), b)
		}, "revision of a missing node"},
		{"revision out of sequence", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			b, _ := encodeRevision(&Revision{Node: w.orgs[0], Seq: 2, Previous: &Node{ID: w.orgs[0], Kind: KindOrganization, Name: "O"}})
			return tx.Set(revisionKey(w.orgs[0], 2), b)
		}, "revision 2 follows revision 0"},
		{"undecodable revision", func(w *sponsorshipWorld, f *Fact, tx Txn) error {
			return tx.Set(revisionKey(w.orgs[0], 1), []byte{recordRevision})
		}, "revision record does not decode"},
	}
	for _, d := range damage {
		t.Run(d.name, func(t *testing.T) {
			w := newSponsorshipWorld(t, 2, 2)
			f, err := w.g.AddFact(&Fact{Subject: w.orgs[1], Predicate: PredSponsored, Object: w.editions[1], Evidence: w.ev()})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.g.kv.Update(func(tx Txn) error { return d.do(w, f, tx) }); err != nil {
				t.Fatal(err)
			}
			wantProblem(t, w.g, d.want)
		})
	}
}

// wantProblem checks that Check finds a problem of g whose text contains want.
func wantProblem(t *testing.T, g *Graph, want string) {
	t.Helper()
	rep, err := g.Check()
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range rep.Problems {
		all = append(all, p.String())
	}
	if !strings.Contains(strings.Join(all, "\n"), want) {
		t.Errorf("Check found %q, want a problem containing %q", all, want)
	}
}
