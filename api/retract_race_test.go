package api_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"policygraph/internal/testenv"
)

// TestRetractEntityRacingAddFactOverHTTP: addFact about an entity while
// retractEntity runs, through the handler. Each acknowledged fact is retracted
// with the entity, or was refused; Check finds the store sound.
func TestRetractEntityRacingAddFactOverHTTP(t *testing.T) {
	g := seeded(t)
	a := newAPI(t, g, nil)
	const trials, writers = 150, 4
	bad := 0
	for trial := range trials {
		var created struct{ ID, Slug string }
		r := a.do(`mutation($n: String!) { createEntity(input: {kind: ORGANIZATION, name: $n}) { id slug } }`,
			map[string]any{"n": fmt.Sprintf("Racer %d", trial)}, true).OK(t)
		r.Decode("createEntity", &created)
		var mu sync.Mutex
		var added []uuid.UUID
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				<-start
				in := with(sponsorship(), "subject", created.Slug)
				if w%2 == 1 { // the entity as object: waic-2019 ORGANIZED_BY it
					in = map[string]any{"subject": "waic-2019", "predicate": "ORGANIZED_BY", "object": created.Slug,
						"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": testenv.ArticleQuote}}}
				}
				r := a.do(addFactMutation, map[string]any{"in": in}, true)
				switch r.Code() {
				case "":
					var f struct{ ID uuid.UUID }
					r.Decode("addFact", &f)
					mu.Lock()
					added = append(added, f.ID)
					mu.Unlock()
				case "INVALID_ARGUMENT", "CONFLICT": // retracted first, or gave up
				default:
					t.Errorf("addFact: %s", r.Raw)
				}
			})
		}
		wg.Go(func() {
			<-start
			a.do(`mutation($id: ID!) { retractEntity(input: {id: $id, reason: "race"}) { id } }`, map[string]any{"id": created.ID}, true).OK(t)
		})
		close(start)
		wg.Wait()
		facts, err := g.Facts(added)
		if err != nil {
			t.Fatal(err)
		}
		active := 0
		for _, f := range facts {
			if f == nil || f.Retraction == nil {
				active++
			}
		}
		if active > 0 {
			if bad++; bad <= 3 {
				t.Errorf("trial %d: %s is retracted but %d of its %d acknowledged facts are not", trial, created.Slug, active, len(added))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d trials left a retracted entity with live facts", bad, trials)
	}
	rep, err := g.Check()
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("Check found %d problems, first %v", len(rep.Problems), rep.Problems[0])
	}
}
