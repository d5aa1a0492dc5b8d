package storage

import (
	"testing"

	"github.com/google/uuid"
)

// TestCheckFindsLiveFactsOfRetractedEntities: Check reports a fact that is
// active or negated while its subject or object is retracted.
func TestCheckFindsLiveFactsOfRetractedEntities(t *testing.T) {
	// retract marks a node retracted as RetractNode would, but leaves its facts.
	retract := func(tx Txn, id uuid.UUID) error {
		wr := &kvWriter{kvSnapshot: kvSnapshot{tx: tx}}
		old, err := wr.Node(id)
		if err != nil {
			return err
		}
		n := cloneNode(old)
		n.Retraction = &Retraction{By: "test", Reason: "damage"}
		return putNode(wr, old, n, "")
	}
	damage := []struct {
		name    string
		negated bool
		do      func(w *sponsorshipWorld, f *Fact, tx Txn) error
		want    string
	}{
		{"retracted subject, active fact", false, func(w *sponsorshipWorld, f *Fact, tx Txn) error { return retract(tx, f.Subject) },
			"its subject org-1 was retracted"},
		{"retracted object, negated fact", true, func(w *sponsorshipWorld, f *Fact, tx Txn) error { return retract(tx, f.Object) },
			"its object edition-1 was retracted"},
	}
	for _, d := range damage {
		t.Run(d.name, func(t *testing.T) {
			w := newSponsorshipWorld(t, 2, 2)
			f, err := w.g.AddFact(&Fact{Subject: w.orgs[1], Predicate: PredSponsored, Object: w.editions[1], Negated: d.negated, Evidence: w.ev()})
			if err != nil {
				t.Fatal(err)
			}
			if rep, err := w.g.Check(); err != nil || !rep.OK() {
				t.Fatalf("a sound store: %v %v", err, rep.Problems)
			}
			if err := w.g.kv.Update(func(tx Txn) error { return d.do(w, f, tx) }); err != nil {
				t.Fatal(err)
			}
			wantProblem(t, w.g, d.want)
		})
	}
	// RetractNode itself leaves a store Check finds sound.
	w := newSponsorshipWorld(t, 2, 2)
	if _, err := w.g.AddFact(&Fact{Subject: w.orgs[1], Predicate: PredSponsored, Object: w.editions[1], Evidence: w.ev()}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.g.RetractNode(w.editions[1], "test", "gone"); err != nil {
		t.Fatal(err)
	}
	if rep, err := w.g.Check(); err != nil || !rep.OK() {
		t.Fatalf("after RetractNode: %v %v", err, rep.Problems)
	}
}
