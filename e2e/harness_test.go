package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"policygraph/internal/testenv"
)

// TestMain removes the binary testenv built for these tests.
func TestMain(m *testing.M) { testenv.Main(m) }

const createEntityMutation = `mutation($in: CreateEntityInput!) { createEntity(input: $in) { id slug } }`
const addSponsorshipMutation = `mutation($in: AddFactInput!) { addFact(input: $in) { id } }`

// writer streams writes to a server and records the ones it acknowledged.
type writer struct {
	mu       sync.Mutex
	entities map[string]string // id -> name
	facts    []string
	errors   int
	// verified counts the entities and facts verify has already found.
	verifiedEntities map[string]bool
	verifiedFacts    int
	// pause is how long stream waits after a refused write before the
	// next (0: none), so that a server refusing every write fast (a store
	// out of reach) is not flooded.
	pause time.Duration
}

func newWriter() *writer {
	return &writer{entities: map[string]string{}, verifiedEntities: map[string]bool{}}
}

// stream writes (an organization, then a fact about it) until ctx is done or the
// server stops answering.
func (w *writer) stream(ctx context.Context, url, client string) {
	// 30 s: a write over etcd may wait for a killed server's claim to
	// expire (its lease, 10 s, plus twice -etcd-timeout).
	c := &http.Client{Timeout: 30 * time.Second}
	for i := 0; ctx.Err() == nil; i++ {
		name := fmt.Sprintf("Org %s %d %d", client, i, time.Now().UnixNano())
		r, err := (&testenv.Client{URL: url, HTTP: c}).Do(ctx, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": name}})
		if err != nil {
			return
		}
		if !r.Acked() {
			w.mu.Lock()
			w.errors++
			w.mu.Unlock()
			time.Sleep(w.pause)
			continue
		}
		var e struct{ ID string }
		r.Decode("createEntity", &e)
		w.mu.Lock()
		w.entities[e.ID] = name
		w.mu.Unlock()
		r, err = (&testenv.Client{URL: url, HTTP: c}).Do(ctx, testenv.Token, addSponsorshipMutation, map[string]any{"in": map[string]any{
			"subject": e.ID, "predicate": "SPONSORED", "object": "waic-2019", "tier": "SPONSOR",
			"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": testenv.ArticleQuote}}}})
		if err != nil {
			return
		}
		if r.Acked() {
			var f struct{ ID string }
			r.Decode("addFact", &f)
			w.mu.Lock()
			w.facts = append(w.facts, f.ID)
			w.mu.Unlock()
		}
	}
}

// streamFor streams writes for d.
func (w *writer) streamFor(url, client string, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	w.stream(ctx, url, client)
}

// verify checks that every acknowledged write is on the server.
func (w *writer) verify(t testing.TB, url string) { w.check(t, url, true) }

// verifyNew checks the acknowledged writes verify has not found before.
func (w *writer) verifyNew(t testing.TB, url string) { w.check(t, url, false) }

func (w *writer) check(t testing.TB, url string, all bool) {
	t.Helper()
	w.mu.Lock()
	ids := make([]string, 0, len(w.entities)+len(w.facts))
	for id := range w.entities {
		if all || !w.verifiedEntities[id] {
			ids = append(ids, id)
			w.verifiedEntities[id] = true
		}
	}
	if all {
		ids = append(ids, w.facts...)
	} else {
		ids = append(ids, w.facts[w.verifiedFacts:]...)
	}
	w.verifiedFacts = len(w.facts)
	w.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), 100)
		batch := ids[:n]
		ids = ids[n:]
		r := testenv.At(url).Must(t, "", `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Organization { name } ... on Fact { predicate retraction { at } } } }`,
			map[string]any{"ids": batch})
		var got []*struct {
			ID         string
			Name       string
			Predicate  string
			Retraction any
		}
		r.Decode("nodes", &got)
		for i, n := range got {
			switch {
			case n == nil:
				t.Errorf("acknowledged write %s is missing", batch[i])
			case n.Predicate == "" && n.Name != w.entities[n.ID]:
				t.Errorf("entity %s is named %q, want %q", n.ID, n.Name, w.entities[n.ID])
			case n.Predicate != "" && (n.Predicate != "SPONSORED" || n.Retraction != nil):
				t.Errorf("fact %s is %s retracted %v", n.ID, n.Predicate, n.Retraction)
			}
		}
	}
}

func (w *writer) counts() (entities, facts int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.entities), len(w.facts)
}
