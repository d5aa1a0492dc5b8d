package model_test

import (
	"testing"

	"github.com/google/uuid"

	"policygraph/graph/model"
	"policygraph/storage"
)

func TestView(t *testing.T) {
	for _, k := range storage.Kinds {
		n := &storage.Node{ID: uuid.New(), Kind: k}
		v := model.View(nil, n)
		if v == nil || v.Base() != n || v.GlobalID() != n.ID {
			t.Errorf("View(%s) = %v", k, v)
		}
	}
	if model.View(nil, nil) != nil || model.View(nil, &storage.Node{Kind: "NOPE"}) != nil {
		t.Error("View of nil or an unknown kind is not nil")
	}
	ev := &storage.Node{Kind: storage.KindEvent}
	if model.ViewAs[model.Event](nil, ev) == nil || model.ViewAs[model.Organization](nil, ev) != nil {
		t.Error("ViewAs does not tell the kinds apart")
	}
}

// TestNullForZero: a field storage leaves zero when it is not stated is
// null in the schema; a stated one is its value.
func TestNullForZero(t *testing.T) {
	en, vi := "en", "vi"
	n := &storage.Node{Kind: storage.KindOrganization, Name: "Shanghai", Labels: []storage.Label{{Lang: "vi", Text: "Thượng Hải"}}}
	org := model.ViewAs[model.Organization](nil, n)
	if org.OrgType() != nil || org.Description() != nil {
		t.Errorf("unstated orgType %v, description %v: want null", org.OrgType(), org.Description())
	}
	if org.Name(nil) != "Shanghai" || org.Name(&en) != "Shanghai" || org.Name(&vi) != "Thượng Hải" {
		t.Errorf("Name: %q %q %q", org.Name(nil), org.Name(&en), org.Name(&vi))
	}
	n.OrgType = "COMPANY"
	if got := org.OrgType(); got == nil || *got != "COMPANY" {
		t.Errorf("orgType %v, want COMPANY", got)
	}
	f := model.NewFact(nil, &storage.Fact{Predicate: storage.PredMeasure, Measure: "sponsors",
		Quantity: &storage.Quantity{Amount: 22}, Date: &storage.Date{Year: 2023, Month: 7, Precision: storage.PrecisionMonth},
		Evidence: []storage.Evidence{{Quote: "q", Gloss: "g"}}})
	if f.Value() != nil || f.Tier() != nil || f.Year() != nil || f.Role() != nil || f.CreatedBy() != nil || f.Start() != nil {
		t.Error("an unstated field of a fact is not null")
	}
	if q := f.Quantity(); q == nil || q.Bound() != storage.BoundExact || q.Unit() != nil || q.Amount != 22 {
		t.Errorf("quantity %+v", q)
	}
	if d := f.Date(); d == nil || d.Value() != "2023-07" || d.Day() != nil || *d.Month() != 7 {
		t.Errorf("date %+v", d)
	}
	if ev := f.Evidence(); len(ev) != 1 || *ev[0].Gloss() != "g" || ev[0].Note() != nil || ev[0].Quote != "q" {
		t.Errorf("evidence %+v", ev)
	}
	if got := model.Facts(nil, []*storage.Fact{f.Fact, f.Fact}); len(got) != 2 || got[1].Fact != f.Fact {
		t.Errorf("Facts = %v", got)
	}
	if model.NewFact(nil, nil) != nil || model.NewQuantity(nil) != nil || model.NewPartialDate(nil) != nil || model.NewSavedQuery(nil) != nil {
		t.Error("a nil record is not a nil adapter")
	}
	g := model.FactGroups([]storage.Group{{Tier: storage.TierSponsor, Count: 3}})[0]
	if g.Year() != nil || *g.Tier() != storage.TierSponsor || g.Count != 3 {
		t.Errorf("group %+v", g)
	}
}
