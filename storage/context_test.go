package storage_test

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// TestEveryReadHonoursTheContext: every exported method of Graph that reads
// the store, called on a graph bound to a cancelled context, stops with
// TIMEOUT, from a cold record cache and from a warm one (records served from
// memory must stop too). The list is checked against Graph's methods, so a
// new method must be added to it, as a read or as one of the exceptions.
func TestEveryReadHonoursTheContext(t *testing.T) {
	x := newFixture(t)
	fact := mustAdd(t, x.g, x.sponsored(x.qualcomm, x.waic2023, storage.TierElitePartner))
	mustAdd(t, x.g, x.country(x.qualcomm, "US"))
	if _, err := x.g.PutSavedQuery(storage.SavedQuery{Name: "q", Query: "{ stats { facts } }"}); err != nil {
		t.Fatal(err)
	}
	desc := "revised"
	if _, err := x.g.UpdateNode(x.qualcomm.ID, storage.NodePatch{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	many := make([]uuid.UUID, 200) // more records than a context check is apart
	for i := range many {
		many[i] = x.qualcomm.ID
	}
	y := 2023
	reads := map[string]func(g *storage.Graph) error{
		"Node":       func(g *storage.Graph) error { _, err := g.Node(x.qualcomm.ID); return err },
		"Nodes":      func(g *storage.Graph) error { _, err := g.Nodes(many); return err },
		"NodeBySlug": func(g *storage.Graph) error { _, err := g.NodeBySlug(x.qualcomm.Slug); return err },
		"Fact":       func(g *storage.Graph) error { _, err := g.Fact(fact.ID); return err },
		"Facts":      func(g *storage.Graph) error { _, err := g.Facts([]uuid.UUID{fact.ID}); return err },
		"SourceText": func(g *storage.Graph) error { _, err := g.SourceText(x.src.ID); return err },
		"Adjacent": func(g *storage.Graph) error {
			_, err := g.Adjacent([]storage.AdjQuery{{Node: x.waic2023.ID}})
			return err
		},
		"NodeIDsByKind": func(g *storage.Graph) error { _, err := g.NodeIDsByKind(storage.KindOrganization); return err },
		"NodeIDsByYear": func(g *storage.Graph) error { _, err := g.NodeIDsByYear(storage.KindEvent, 2000, 2030); return err },
		"FactIDsByPredicate": func(g *storage.Graph) error {
			_, err := g.FactIDsByPredicate(storage.PredSponsored, &y, &y)
			return err
		},
		"SubjectsByValue": func(g *storage.Graph) error { _, err := g.SubjectsByValue(storage.PredCountry, "US"); return err },
		"Search":          func(g *storage.Graph) error { _, err := g.Search("qual", 10); return err },
		"Empty":           func(g *storage.Graph) error { _, err := g.Empty(); return err },
		"Stats":           func(g *storage.Graph) error { _, err := g.Stats(); return err },
		"ScanStats":       func(g *storage.Graph) error { _, err := g.ScanStats(); return err },
		"Sizes":           func(g *storage.Graph) error { _, err := g.Sizes(); return err },
		"FactYears":       func(g *storage.Graph) error { _, err := g.FactYears(nil); return err },
		"Ref":             func(g *storage.Graph) error { _, err := g.Ref(x.qualcomm.Slug); return err },
		"Sponsorships": func(g *storage.Graph) error {
			_, err := g.Sponsorships(storage.SponsorshipQuery{Event: x.waic2023.ID})
			return err
		},
		"Entities":     func(g *storage.Graph) error { _, err := g.Entities(storage.EntityQuery{}); return err },
		"FindFacts":    func(g *storage.Graph) error { _, err := g.FindFacts(storage.FactQuery{}); return err },
		"CountFacts":   func(g *storage.Graph) error { _, err := g.CountFacts(storage.FactQuery{}, nil); return err },
		"TimeSeries":   func(g *storage.Graph) error { _, err := g.TimeSeries(storage.FactQuery{}, nil); return err },
		"SavedQuery":   func(g *storage.Graph) error { _, err := g.SavedQuery("q"); return err },
		"SavedQueries": func(g *storage.Graph) error { _, err := g.SavedQueries(); return err },
		"Check":        func(g *storage.Graph) error { _, err := g.Check(); return err },
		"ExportJSONL":  func(g *storage.Graph) error { return g.ExportJSONL(io.Discard) },
		"ExportNQuads": func(g *storage.Graph) error { return g.ExportNQuads(io.Discard) },
		"Absentees":    func(g *storage.Graph) error { _, err := g.Absentees([]uuid.UUID{x.waic2023.ID}); return err },
		"Attendance":   func(g *storage.Graph) error { _, err := g.Attendance([]uuid.UUID{x.waic2023.ID}); return err },
		"TierSizes": func(g *storage.Graph) error {
			_, err := g.TierSizes([]storage.TierQuery{{Event: x.waic2023.ID, Tier: storage.TierElitePartner}})
			return err
		},
		"SearchEntities": func(g *storage.Graph) error { _, err := g.SearchEntities("qual", nil, 10); return err },
		"FilterFacts": func(g *storage.Graph) error {
			_, err := g.FilterFacts([]*storage.Fact{fact}, storage.FactQuery{SubjectCountry: "US"})
			return err
		},
		"FilterFactLists": func(g *storage.Graph) error {
			_, err := g.FilterFactLists([]storage.FactList{{Facts: []*storage.Fact{fact}}})
			return err
		},
		"FilterEntityLists": func(g *storage.Graph) error {
			_, err := g.FilterEntityLists([]storage.EntityList{{IDs: []uuid.UUID{x.qualcomm.ID}}})
			return err
		},
		"FilterEntities": func(g *storage.Graph) error {
			_, err := g.FilterEntities([]uuid.UUID{x.qualcomm.ID}, storage.EntityQuery{Country: "US"})
			return err
		},
		"Revisions": func(g *storage.Graph) error { _, err := g.Revisions(x.qualcomm.ID); return err },
		"CountryInferred": func(g *storage.Graph) error {
			_, err := g.CountryInferred(many, "US")
			return err
		},
		"Read": func(g *storage.Graph) error {
			return g.Read(func(s storage.Snapshot) error { _, err := s.Node(x.qualcomm.ID); return err })
		},
	}
	// Not reads under a request's deadline: writes (a cancelled write commits
	// nothing; the write tests cover them), whole-store operations of the
	// command line, and accessors that read no key.
	exempt := map[string]string{
		"CreateNode": "write", "PutNode": "write", "UpdateNode": "write", "AddFact": "write", "PutFact": "write",
		"RetractFact": "write", "RetractNode": "write", "Batch": "write", "PutSavedQuery": "write", "DeleteSavedQuery": "write",
		"Import": "command line", "Backup": "command line and /admin/backup, which streams the whole store",
		"WithContext": "no read", "KV": "no read", "Version": "no read", "ReadModel": "no read", "LogStats": "no read", "ReadStore": "tests and check", "PinnedVersion": "no read", "CheckModel": "command line", "Changes": "the change log, not the graph: its own tests", "Close": "no read", "SetClock": "no read",
		"Follow": "no read (the follower's state)", "WaitVersion": "no read (waits for the version)", "TransferForTest": "write (tests)",
		"SetRecordCache": "no read", "SetRecordCacheBytes": "no read", "Writable": "no read (the disk watermark)", "StoreID": "no read",
		"FactScan": "estimate from the counts", "EntityScan": "estimate from the counts",
		"SponsorshipScan": "estimate from the counts", "MaxSourceText": "estimate from the counts",
		"FactListScan": "estimate from the counts", "EntityListScan": "estimate from the counts",
	}
	var unlisted []string
	gt := reflect.TypeOf(x.g)
	for i := range gt.NumMethod() {
		name := gt.Method(i).Name
		if _, ok := reads[name]; !ok && exempt[name] == "" {
			unlisted = append(unlisted, name)
		}
	}
	sort.Strings(unlisted)
	if len(unlisted) > 0 {
		t.Errorf("Graph methods neither tested here nor exempt: %s", strings.Join(unlisted, ", "))
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, warm := range []bool{false, true} {
		if warm {
			for name, read := range reads { // fill the record cache and the counts
				if err := read(x.g); err != nil {
					t.Fatalf("%s on a live context: %v", name, err)
				}
			}
		} else {
			x.g.SetRecordCache(false)
			x.g.SetRecordCache(true)
		}
		for name, read := range reads {
			err := read(x.g.WithContext(cancelled))
			if errs.CodeOf(err) != errs.Timeout {
				t.Errorf("%s (warm %v) on a cancelled context: %v, want TIMEOUT", name, warm, err)
			}
		}
	}
	var b bytes.Buffer
	if err := x.g.ExportJSONL(&b); err != nil || b.Len() == 0 {
		t.Fatalf("the graph is unusable after: %v", err)
	}
}

// countdown is a context that ends after its Err has been asked n times: the
// deadline passes while a read is under way.
type countdown struct {
	context.Context
	left atomic.Int64
	done chan struct{}
}

func (c *countdown) Done() <-chan struct{} { return c.done }
func (c *countdown) Err() error {
	if c.left.Add(-1) < 0 {
		return context.DeadlineExceeded
	}
	return nil
}

// TestReadsStopMidway: a read whose deadline passes while it runs stops with
// TIMEOUT, also when it reads records the cache holds (no key is read then).
func TestReadsStopMidway(t *testing.T) {
	x := newFixture(t)
	many := make([]uuid.UUID, 1000)
	for i := range many {
		many[i] = x.qualcomm.ID
	}
	if _, err := x.g.Nodes(many); err != nil { // now cached
		t.Fatal(err)
	}
	ctx := &countdown{Context: context.Background(), done: make(chan struct{})}
	ctx.left.Store(3) // the deadline passes after the read began
	_, err := x.g.WithContext(ctx).Nodes(many)
	if errs.CodeOf(err) != errs.Timeout {
		t.Errorf("1,000 cached records read past the deadline: %v", err)
	}
}
