package storage_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

func TestAddFactAndRead(t *testing.T) { onEngines(t, testAddFactAndRead) }

func testAddFactAndRead(t *testing.T, open func(testing.TB) *storage.Graph) {
	x := newFixtureOn(t, open(t))
	in := x.sponsored(x.qualcomm, x.waic2023, storage.TierElitePartner)
	in.Evidence[0].Gloss = "Qualcomm is the only US sponsor"
	f := mustAdd(t, x.g, in)
	if f.ID == uuid.Nil || f.CreatedAt.IsZero() {
		t.Errorf("AddFact left ID or CreatedAt zero: %+v", f)
	}
	if in.ID != uuid.Nil {
		t.Errorf("AddFact changed its input's ID")
	}
	if f.Year != 2023 {
		t.Errorf("Year = %d, want 2023 from the object event", f.Year)
	}
	got, err := x.g.Fact(f.ID)
	if err != nil {
		t.Fatalf("Fact: %v", err)
	}
	if got.Subject != x.qualcomm.ID || got.Object != x.waic2023.ID || got.Predicate != storage.PredSponsored ||
		got.Tier != storage.TierElitePartner || len(got.Evidence) != 1 || got.Evidence[0].Quote != quoteQualcomm ||
		got.Evidence[0].Gloss != in.Evidence[0].Gloss || got.Evidence[0].Source != x.src.ID || !got.CreatedAt.Equal(f.CreatedAt) ||
		!got.Active() {
		t.Errorf("read back %+v", got)
	}
	list, err := x.g.Facts([]uuid.UUID{uuid.New(), f.ID})
	if err != nil || len(list) != 2 || list[0] != nil || list[1] == nil || list[1].ID != f.ID {
		t.Errorf("Facts = %v, %v; want [nil fact]", list, err)
	}

	t.Run("taken id", func(t *testing.T) {
		before := takeSnapshot(t, x.g)
		again := x.sponsored(x.ibm, x.waic2023, "")
		again.ID = f.ID
		_, err := x.g.AddFact(again)
		wantCode(t, err, errs.AlreadyExists, "id")
		assertUnchanged(t, x.g, before)
	})
	t.Run("tier defaults to SPONSOR", func(t *testing.T) {
		f := mustAdd(t, x.g, x.sponsored(x.ibm, x.waic2019, ""))
		if f.Tier != storage.TierSponsor {
			t.Errorf("Tier = %q, want SPONSOR", f.Tier)
		}
	})
}

func TestAddFactYear(t *testing.T) {
	x := newFixture(t)
	tests := []struct {
		name string
		fact *storage.Fact
		want int
	}{
		{"from date", &storage.Fact{Subject: x.waic2023.ID, Predicate: storage.PredHeldIn, Object: x.shanghai.ID, Date: date(t, "2022-10"), Evidence: x.ev(quoteShanghai)}, 2022},
		{"from start", &storage.Fact{Subject: x.waic2023.ID, Predicate: storage.PredHeldOn, Start: date(t, "2021-07-06"), End: date(t, "2023-07-08"), Evidence: x.ev(quoteDates)}, 2021},
		{"from the object event", x.sponsored(x.qualcomm, x.waic2019, ""), 2019},
		{"from the subject event", &storage.Fact{Subject: x.waic2023.ID, Predicate: storage.PredHeldIn, Object: x.shanghai.ID, Evidence: x.ev(quoteShanghai)}, 2023},
		{"unknown", x.country(x.qualcomm, "US"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustAdd(t, x.g, tt.fact)
			if f.Year != tt.want {
				t.Errorf("Year = %d, want %d", f.Year, tt.want)
			}
		})
	}
}

func TestAddFactValidation(t *testing.T) {
	x := newFixture(t)
	// A valid fact to break, one field at a time.
	base := func() *storage.Fact { return x.sponsored(x.qualcomm, x.waic2023, storage.TierElitePartner) }
	with := func(f *storage.Fact, change func(*storage.Fact)) *storage.Fact { change(f); return f }
	country := func(code string) *storage.Fact { return x.country(x.qualcomm, code) }
	measure := func(q *storage.Quantity) *storage.Fact {
		return &storage.Fact{Subject: x.waic2023.ID, Predicate: storage.PredMeasure, Measure: "elite-partners", Quantity: q, Evidence: x.ev(quoteQualcomm)}
	}
	heldOn := func(on, start, end string) *storage.Fact {
		f := &storage.Fact{Subject: x.waic2023.ID, Predicate: storage.PredHeldOn, Evidence: x.ev(quoteDates)}
		for _, d := range []struct {
			s   string
			dst **storage.Date
		}{{on, &f.Date}, {start, &f.Start}, {end, &f.End}} {
			if d.s != "" {
				*d.dst = date(t, d.s)
			}
		}
		return f
	}
	tests := []struct {
		name  string
		fact  *storage.Fact
		code  errs.Code
		field string
	}{
		{"unknown predicate", with(base(), func(f *storage.Fact) { f.Predicate = "LIKES" }), errs.InvalidArgument, "predicate"},
		{"empty predicate", with(base(), func(f *storage.Fact) { f.Predicate = "" }), errs.InvalidArgument, "predicate"},
		{"unknown subject", with(base(), func(f *storage.Fact) { f.Subject = uuid.New() }), errs.NotFound, "subject"},
		{"unknown object", with(base(), func(f *storage.Fact) { f.Object = uuid.New() }), errs.NotFound, "object"},
		{"wrong subject kind", with(base(), func(f *storage.Fact) { f.Subject = x.liuHe.ID }), errs.InvalidArgument, "subject"},
		{"wrong object kind", with(base(), func(f *storage.Fact) { f.Object = x.shanghai.ID }), errs.InvalidArgument, "object"},
		{"missing object", with(base(), func(f *storage.Fact) { f.Object = uuid.Nil }), errs.InvalidArgument, "object"},
		{"object on a literal predicate", with(country("US"), func(f *storage.Fact) { f.Object = x.us.ID }), errs.InvalidArgument, "object"},
		{"self link", &storage.Fact{Subject: x.qualcomm.ID, Predicate: storage.PredSubsidiaryOf, Object: x.qualcomm.ID, Evidence: x.ev(quoteQualcomm)}, errs.InvalidArgument, "object"},
		{"country USA", country("USA"), errs.InvalidCountry, "value"},
		{"country us", country("us"), errs.InvalidCountry, "value"},
		{"country ZZ", country("ZZ"), errs.InvalidCountry, "value"},
		{"country empty", country(""), errs.InvalidCountry, "value"},
		{"value on an entity predicate", with(base(), func(f *storage.Fact) { f.Value = "US" }), errs.InvalidArgument, "value"},
		{"measure without quantity", measure(nil), errs.InvalidArgument, "quantity"},
		{"quantity without measure", with(measure(&storage.Quantity{Amount: 22}), func(f *storage.Fact) { f.Measure = "" }), errs.InvalidArgument, "quantity"},
		{"range without upper", measure(&storage.Quantity{Amount: 20000, Bound: storage.BoundRange}), errs.InvalidArgument, "quantity.upper"},
		{"upper without range", measure(&storage.Quantity{Amount: 22, Upper: ptr(30.0)}), errs.InvalidArgument, "quantity.upper"},
		{"upper below amount", measure(&storage.Quantity{Amount: 30000, Bound: storage.BoundRange, Upper: ptr(20000.0)}), errs.InvalidArgument, "quantity.upper"},
		{"unknown bound", measure(&storage.Quantity{Amount: 22, Bound: "ROUGHLY"}), errs.InvalidArgument, "quantity.bound"},
		{"quantity on an entity predicate", with(base(), func(f *storage.Fact) { f.Measure, f.Quantity = "n", &storage.Quantity{Amount: 1} }), errs.InvalidArgument, "quantity"},
		{"unknown tier", with(base(), func(f *storage.Fact) { f.Tier = "GOLD" }), errs.InvalidArgument, "tier"},
		{"tier on a predicate without tiers", with(country("US"), func(f *storage.Fact) { f.Tier = storage.TierSponsor }), errs.InvalidArgument, "tier"},
		{"role on a predicate without roles", with(base(), func(f *storage.Fact) { f.Role = "CEO" }), errs.InvalidArgument, "role"},
		{"former on a predicate without roles", with(base(), func(f *storage.Fact) { f.Former = true }), errs.InvalidArgument, "role"},
		{"end before start", heldOn("", "2023-07-08", "2023-07-06"), errs.InvalidDate, "end"},
		{"end a year before start", heldOn("", "2023", "2022-12"), errs.InvalidDate, "end"},
		{"date and start together", heldOn("2023-07-06", "2023-07-06", ""), errs.InvalidDate, "date"},
		{"date and end together", heldOn("2023-07-06", "", "2023-07-08"), errs.InvalidDate, "date"},
		{"no evidence", with(base(), func(f *storage.Fact) { f.Evidence = nil }), errs.InvalidArgument, "evidence"},
		{"too much evidence", with(base(), func(f *storage.Fact) {
			for range storage.MaxEvidence {
				f.Evidence = append(f.Evidence, f.Evidence[0])
			}
		}), errs.InvalidArgument, "evidence"},
		{"empty quote", with(base(), func(f *storage.Fact) { f.Evidence[0].Quote = " " }), errs.InvalidArgument, "evidence[0].quote"},
		{"NUL in gloss", with(base(), func(f *storage.Fact) { f.Evidence[0].Gloss = "a\x00" }), errs.InvalidArgument, "evidence[0].gloss"},
		{"quote not in source", with(base(), func(f *storage.Fact) { f.Evidence[0].Quote = "Qualcomm is a strategic partner" }), errs.QuoteNotInSource, "evidence[0].quote"},
		{"quote with a space for a non-breaking space", with(base(), func(f *storage.Fact) {
			f.Evidence[0].Quote = strings.ReplaceAll(quoteDates, "\u00a0", " ")
		}), errs.QuoteNotInSource, "evidence[0].quote"},
		{"quote with straight quotation marks", with(base(), func(f *storage.Fact) { f.Evidence[0].Quote = `1 trong 22 "đối tác ưu tú"` }), errs.QuoteNotInSource, "evidence[0].quote"},
		{"quote with other curly quotation marks", with(base(), func(f *storage.Fact) { f.Evidence[0].Quote = "1 trong 22 ‘đối tác ưu tú’" }), errs.QuoteNotInSource, "evidence[0].quote"},
		{"quote in another case", with(base(), func(f *storage.Fact) { f.Evidence[0].Quote = strings.ToUpper(quoteQualcomm) }), errs.QuoteNotInSource, "evidence[0].quote"},
		{"quote from another source", with(base(), func(f *storage.Fact) { f.Evidence[0].Source = x.other.ID }), errs.QuoteNotInSource, "evidence[0].quote"},
		{"second quote not in source", with(base(), func(f *storage.Fact) {
			f.Evidence = append(f.Evidence, storage.Evidence{Source: x.src.ID, Quote: "nowhere"})
		}), errs.QuoteNotInSource, "evidence[1].quote"},
		{"evidence source not a SOURCE", with(base(), func(f *storage.Fact) { f.Evidence[0].Source = x.qualcomm.ID }), errs.InvalidArgument, "evidence[0].source"},
		{"evidence source unknown", with(base(), func(f *storage.Fact) { f.Evidence[0].Source = uuid.New() }), errs.NotFound, "evidence[0].source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, x.g)
			_, err := x.g.AddFact(tt.fact)
			wantCode(t, err, tt.code, tt.field)
			assertUnchanged(t, x.g, before)

			// PutFact validates alike and writes nothing either.
			_, err = x.g.PutFact(tt.fact)
			wantCode(t, err, tt.code, tt.field)
			assertUnchanged(t, x.g, before)
		})
	}
}

func TestAddFactAccepted(t *testing.T) {
	x := newFixture(t)
	tests := []struct {
		name string
		fact *storage.Fact
	}{
		{"quote with its non-breaking space", &storage.Fact{Subject: x.waic2023.ID, Predicate: storage.PredHeldOn,
			Start: date(t, "2023-07-06"), End: date(t, "2023-07-08"), Evidence: x.ev(quoteDates)}},
		{"quote with curly quotation marks", &storage.Fact{Subject: x.waic2023.ID, Predicate: storage.PredMeasure, Measure: "elite-partners",
			Quantity: &storage.Quantity{Amount: 22, Bound: storage.BoundExact, Unit: "partners"}, Evidence: x.ev("1 trong 22 “đối tác ưu tú”")}},
		{"range", &storage.Fact{Subject: x.waic2023.ID, Predicate: storage.PredMeasure, Measure: "talent",
			Quantity: &storage.Quantity{Amount: 20000, Bound: storage.BoundRange, Upper: ptr(30000.0)}, Evidence: x.ev(quoteDates)}},
		{"start and end of equal dates", &storage.Fact{Subject: x.waic2019.ID, Predicate: storage.PredHeldOn,
			Start: date(t, "2019"), End: date(t, "2019-08"), Evidence: x.ev(quoteIBM)}},
		{"negated", &storage.Fact{Subject: x.openai.ID, Predicate: storage.PredParticipatedIn, Object: x.waic2023.ID, Negated: true, Evidence: x.ev(quoteOpenAI)}},
		{"role", &storage.Fact{Subject: x.liuHe.ID, Predicate: storage.PredHoldsPosition, Object: x.shanghai.ID, Role: "Vice Premier", Former: true, Evidence: x.ev(quoteShanghai)}},
		{"two sources", &storage.Fact{Subject: x.ibm.ID, Predicate: storage.PredSponsored, Object: x.waic2019.ID, Tier: storage.TierStrategicPartner,
			Evidence: []storage.Evidence{{Source: x.src.ID, Quote: quoteIBM}, {Source: x.other.ID, Quote: "this sentence"}}}},
		{"any object for MENTIONS", &storage.Fact{Subject: x.src.ID, Predicate: storage.PredMentions, Object: x.liuHe.ID, Evidence: x.ev(quoteShanghai)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustAdd(t, x.g, tt.fact)
		})
	}
}

// AddFact clones its input shallowly: the Quantity pointer is shared, and
// validateFact (write.go) writes the default bound through it into the caller's value.
func TestAddFactLeavesInputAlone(t *testing.T) {
	x := newFixture(t)
	q := &storage.Quantity{Amount: 22}
	mustAdd(t, x.g, &storage.Fact{Subject: x.waic2023.ID, Predicate: storage.PredMeasure, Measure: "elite-partners", Quantity: q, Evidence: x.ev(quoteQualcomm)})
	if q.Bound != "" {
		t.Errorf("AddFact changed the caller's quantity bound to %q", q.Bound)
	}
}

// TestPutFact: the seed's write creates a missing fact and leaves a stored one
// alone, edited or retracted; it writes no fact about a retracted entity.
func TestPutFact(t *testing.T) {
	x := newFixture(t)
	f := x.sponsored(x.qualcomm, x.waic2023, storage.TierElitePartner)
	f.ID = uuid.NewSHA1(storage.Namespace, []byte("fact:"+storage.FactKey(f)))
	out, err := x.g.PutFact(f)
	if err != nil || out != storage.PutCreated {
		t.Fatalf("PutFact = %s, %v; want created", out, err)
	}
	first, err := x.g.Fact(f.ID)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("unchanged is a no-op", func(t *testing.T) {
		before := dump(t, x.g)
		out, err := x.g.PutFact(f)
		if err != nil || out != storage.PutUnchanged {
			t.Fatalf("PutFact = %s, %v; want unchanged", out, err)
		}
		if after := dump(t, x.g); after != before {
			t.Errorf("an unchanged PutFact wrote:\n%s\n%s", before, after)
		}
	})
	t.Run("a different fact with the ID is kept", func(t *testing.T) {
		moved := *f
		moved.Object = x.waic2019.ID
		before := dump(t, x.g)
		out, err := x.g.PutFact(&moved)
		if err != nil || out != storage.PutKept {
			t.Fatalf("PutFact = %s, %v; want kept", out, err)
		}
		if after := dump(t, x.g); after != before {
			t.Errorf("PutFact overwrote a stored fact")
		}
	})
	t.Run("a retracted fact stays retracted", func(t *testing.T) {
		if _, err := x.g.RetractFact(f.ID, "tester", "wrong edition"); err != nil {
			t.Fatal(err)
		}
		before := dump(t, x.g)
		out, err := x.g.PutFact(f)
		if err != nil || out != storage.PutKept {
			t.Fatalf("PutFact = %s, %v; want kept", out, err)
		}
		if after := dump(t, x.g); after != before {
			t.Errorf("PutFact changed a retracted fact")
		}
		got, _ := x.g.Fact(f.ID)
		if got.Retraction == nil || !got.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("PutFact resurrected the fact: %+v", got)
		}
	})
	t.Run("no new fact about a retracted entity", func(t *testing.T) {
		if _, err := x.g.RetractNode(x.ibm.ID, "tester", "not in this graph"); err != nil {
			t.Fatal(err)
		}
		g := x.sponsored(x.ibm, x.waic2019, storage.TierStrategicPartner)
		g.ID = uuid.NewSHA1(storage.Namespace, []byte("fact:"+storage.FactKey(g)))
		before := dump(t, x.g)
		out, err := x.g.PutFact(g)
		if err != nil || out != storage.PutSkipped {
			t.Fatalf("PutFact = %s, %v; want skipped", out, err)
		}
		if after := dump(t, x.g); after != before {
			t.Errorf("PutFact wrote a fact about a retracted entity")
		}
	})
}

func TestRetractFact(t *testing.T) { onEngines(t, testRetractFact) }

func testRetractFact(t *testing.T, open func(testing.TB) *storage.Graph) {
	x := newFixtureOn(t, open(t))
	g := x.g
	keep := mustAdd(t, g, x.country(x.openai, "US"))
	f := mustAdd(t, g, x.country(x.qualcomm, "US"))
	sp := mustAdd(t, g, x.sponsored(x.qualcomm, x.waic2023, storage.TierElitePartner))
	before, _ := g.Stats()

	r, err := g.RetractFact(f.ID, "alice", "the article says no such thing")
	if err != nil {
		t.Fatalf("RetractFact: %v", err)
	}
	if r.Retraction == nil || r.Retraction.By != "alice" || r.Retraction.Reason != "the article says no such thing" || r.Retraction.At.IsZero() {
		t.Fatalf("Retraction = %+v", r.Retraction)
	}
	got, err := g.Fact(f.ID)
	if err != nil {
		t.Fatalf("a retracted fact is gone: %v", err)
	}
	if got.Retraction == nil || got.Retraction.By != "alice" || !got.Retraction.At.Equal(r.Retraction.At) || got.Active() {
		t.Errorf("read back %+v", got)
	}
	if s, _ := g.Stats(); s.Facts != before.Facts || s.ActiveFacts != before.ActiveFacts-1 {
		t.Errorf("Stats = %+v, before %+v: want the same facts and one fewer active", s, before)
	}
	if subj, _ := g.SubjectsByValue(storage.PredCountry, "US"); !equalIDs(subj, ids(x.openai)) {
		t.Errorf("SubjectsByValue(US) = %v, want only openai", subj)
	}
	if got, _ := g.FactIDsByPredicate(storage.PredCountry, nil, nil); !equalIDs(got, []uuid.UUID{keep.ID}) {
		t.Errorf("FactIDsByPredicate(COUNTRY) = %v, want only the kept fact", got)
	}
	adj, err := g.Adjacent([]storage.AdjQuery{
		{Node: x.qualcomm.ID, Dir: storage.Out},
		{Node: x.qualcomm.ID, Dir: storage.Out, Retracted: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !equalIDs(factIDs(adj[0]), []uuid.UUID{sp.ID}) {
		t.Errorf("default adjacency = %v, want only the sponsorship", factIDs(adj[0]))
	}
	if !sameSet(factIDs(adj[1]), []uuid.UUID{f.ID, sp.ID}) {
		t.Errorf("adjacency with retracted = %v, want both facts", factIDs(adj[1]))
	}

	t.Run("again", func(t *testing.T) {
		snap := takeSnapshot(t, g)
		_, err := g.RetractFact(f.ID, "bob", "twice")
		wantCode(t, err, errs.AlreadyRetracted, "id")
		assertUnchanged(t, g, snap)
	})
	t.Run("empty reason", func(t *testing.T) {
		snap := takeSnapshot(t, g)
		for _, reason := range []string{"", "  \n"} {
			_, err := g.RetractFact(sp.ID, "bob", reason)
			wantCode(t, err, errs.InvalidArgument, "reason")
		}
		_, err := g.RetractFact(sp.ID, "bob", "bad\x00reason")
		wantCode(t, err, errs.InvalidArgument, "reason")
		assertUnchanged(t, g, snap)
	})
	t.Run("year index", func(t *testing.T) {
		y := 2023
		if got, _ := g.FactIDsByPredicate(storage.PredSponsored, &y, &y); !equalIDs(got, []uuid.UUID{sp.ID}) {
			t.Fatalf("before retraction: %v", got)
		}
		if _, err := g.RetractFact(sp.ID, "bob", "wrong"); err != nil {
			t.Fatal(err)
		}
		if got, _ := g.FactIDsByPredicate(storage.PredSponsored, &y, &y); len(got) != 0 {
			t.Errorf("year index after retraction = %v", got)
		}
		adj, _ := g.Adjacent([]storage.AdjQuery{{Node: x.waic2023.ID, Dir: storage.In}, {Node: x.waic2023.ID, Dir: storage.In, Retracted: true}})
		if len(adj[0]) != 0 || len(adj[1]) != 1 {
			t.Errorf("in-adjacency after retraction = %v / %v", factIDs(adj[0]), factIDs(adj[1]))
		}
	})
}

func TestBatchAllOrNothing(t *testing.T) {
	x := newFixture(t)
	g := x.g
	good := func() *storage.Node {
		return &storage.Node{ID: storage.SlugID("batch-org"), Kind: storage.KindOrganization, Slug: "batch-org", Name: "Batch Org"}
	}
	goodFact := func() *storage.Fact {
		f := x.country(good(), "CN")
		f.ID = uuid.NewSHA1(storage.Namespace, []byte("fact:batch"))
		return f
	}
	stop := errors.New("stop here")
	tests := []struct {
		name string
		fn   func(w *storage.Writer) error
		want func(t *testing.T, err error)
	}{
		{"invalid node half-way", func(w *storage.Writer) error {
			if _, err := w.PutNode(good(), ""); err != nil {
				return err
			}
			if _, err := w.PutFact(goodFact()); err != nil {
				return err
			}
			_, err := w.PutNode(&storage.Node{ID: uuid.New(), Kind: "NOPE", Name: "x", Slug: "x"}, "")
			return err
		}, func(t *testing.T, err error) { wantCode(t, err, errs.InvalidArgument, "kind") }},
		{"invalid fact half-way", func(w *storage.Writer) error {
			if _, err := w.PutNode(good(), ""); err != nil {
				return err
			}
			f := goodFact()
			f.Evidence[0].Quote = "not in the article"
			_, err := w.PutFact(f)
			return err
		}, func(t *testing.T, err error) { wantCode(t, err, errs.QuoteNotInSource, "") }},
		{"caller error after writes", func(w *storage.Writer) error {
			if _, err := w.PutNode(good(), ""); err != nil {
				return err
			}
			if _, err := w.PutFact(goodFact()); err != nil {
				return err
			}
			return stop
		}, func(t *testing.T, err error) {
			if !errors.Is(err, stop) {
				t.Fatalf("Batch = %v, want the caller's error", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, g)
			tt.want(t, g.Batch(tt.fn))
			assertUnchanged(t, g, before)
		})
	}
	t.Run("success writes everything", func(t *testing.T) {
		var outs []storage.PutOutcome
		err := g.Batch(func(w *storage.Writer) error {
			for _, step := range []func() (storage.PutOutcome, error){
				func() (storage.PutOutcome, error) { return w.PutNode(good(), "") },
				func() (storage.PutOutcome, error) { return w.PutFact(goodFact()) },
				func() (storage.PutOutcome, error) { return w.PutNode(good(), "") },
				func() (storage.PutOutcome, error) { return w.PutFact(goodFact()) },
			} {
				o, err := step()
				if err != nil {
					return err
				}
				outs = append(outs, o)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Batch: %v", err)
		}
		if got, want := fmt.Sprint(outs), "[created created unchanged unchanged]"; got != want {
			t.Errorf("outcomes = %s, want %s", got, want)
		}
		if n, err := g.NodeBySlug("batch-org"); err != nil || n.Name != "Batch Org" {
			t.Errorf("NodeBySlug = %v, %v", n, err)
		}
		if subj, _ := g.SubjectsByValue(storage.PredCountry, "CN"); !equalIDs(subj, []uuid.UUID{storage.SlugID("batch-org")}) {
			t.Errorf("SubjectsByValue(CN) = %v", subj)
		}
	})
}
