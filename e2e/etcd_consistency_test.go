package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"policygraph/internal/testenv"
)

// TestEtcdReadYourWrites: through two servers on one cluster, a read on B
// that sends the version A's write answered with (Policygraph-Min-Version)
// always sees the write, however far B's model is behind when it arrives.
// The same read without the header, sent at once, may not (counted).
func TestEtcdReadYourWrites(t *testing.T) {
	flags := testenv.EtcdFlags(t)
	a := testenv.Start(t, append(flags, "-data", t.TempDir())...)
	b := testenv.Start(t, append(flags, "-data", t.TempDir())...)
	const writes = 40
	stale := 0
	for i := range writes {
		name := fmt.Sprintf("Read Your Writes %d", i)
		r := a.Must(t, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "TOPIC", "name": name}})
		version := r.Header.Get("Policygraph-Version")
		var slug string
		if err := r.Decode("createEntity.slug", &slug); err != nil || version == "" {
			t.Fatalf("write %d: slug %q, Policygraph-Version %q: %v", i, slug, version, err)
		}
		query := fmt.Sprintf(`{"query":"{ entity(slug: \"%s\") { name } }"}`, slug)
		plain, err := http.NewRequest(http.MethodPost, b.URL+"/graphql", strings.NewReader(query))
		if err != nil {
			t.Fatal(err)
		}
		plain.Header.Set("Content-Type", "application/json")
		if r, err := b.Send(plain); err == nil && !strings.Contains(r.Raw, name) {
			stale++
		}
		req, err := http.NewRequest(http.MethodPost, b.URL+"/graphql", strings.NewReader(query))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Policygraph-Min-Version", version)
		got, err := b.Send(req)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Acked() || !strings.Contains(got.Raw, name) {
			t.Fatalf("write %d answered at %s on A; B read with Policygraph-Min-Version %s: %d %s", i, version, version, got.Status, testenv.Clip(got.Raw))
		}
		if pv := got.Header.Get("Policygraph-Version"); versionOf(t, pv) < versionOf(t, version) {
			t.Errorf("B answered at %s, before the version asked for, %s", pv, version)
		}
	}
	t.Logf("%d writes on A each read on B with the header; %d reads on B without it, sent at once, missed the write", writes, stale)
}

// versionOf is the version of a Policygraph-Version header, <store>:<version>.
func versionOf(t *testing.T, header string) uint64 {
	t.Helper()
	_, v, _ := strings.Cut(header, ":")
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("Policygraph-Version %q: %v", header, err)
	}
	return n
}

// TestEtcdTransfersKeepTheTotal is the bank-style invariant through two
// servers on one cluster, with the public API: tokens (SPONSORED facts of
// token events) held by accounts (organizations), moved by workers on both
// servers at once: a transfer retracts the holder's fact (whoever retracts
// it first wins; the others get ALREADY_RETRACTED, across servers) and the
// winner adds the same token to another account. In every read each token
// has at most one holder (a lost update across servers would make two);
// at the end each has exactly one, the one the ledger of acknowledged
// writes says, on both servers, and the cluster checks clean.
func TestEtcdTransfersKeepTheTotal(t *testing.T) {
	flags := testenv.EtcdFlags(t)
	servers := []*testenv.Process{
		testenv.Start(t, append(flags, "-data", t.TempDir())...),
		testenv.Start(t, append(flags, "-data", t.TempDir())...),
	}
	const accounts, tokens, workersPerServer, transfersEach = 4, 6, 2, 12
	a := servers[0]
	for i := range accounts {
		a.Must(t, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": fmt.Sprintf("Bank Account %d", i), "slug": fmt.Sprintf("bank-account-%d", i)}})
	}
	ledger := map[int]string{} // token -> the fact of its holder, per the acknowledged writes
	var mu sync.Mutex
	give := func(c *testenv.Client, token, account int) (*testenv.Response, error) {
		return c.Do(t.Context(), testenv.Token, addSponsorshipMutation, map[string]any{"in": map[string]any{
			"subject": fmt.Sprintf("bank-account-%d", account), "predicate": "SPONSORED", "object": fmt.Sprintf("token-event-%d", token), "tier": "SPONSOR",
			"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": testenv.ArticleQuote}}}})
	}
	for k := range tokens {
		a.Must(t, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "EVENT", "name": fmt.Sprintf("Token Event %d", k), "slug": fmt.Sprintf("token-event-%d", k), "year": 2020}})
		r, err := give(a.Client, k, k%accounts)
		if err != nil || !r.Acked() {
			t.Fatalf("token %d: %v %+v", k, err, r)
		}
		var id string
		r.Decode("addFact.id", &id)
		ledger[k] = id
	}
	var q strings.Builder
	q.WriteString("{")
	for k := range tokens {
		fmt.Fprintf(&q, ` t%d: event(slug: "token-event-%d") { sponsorships { id subject { slug } } }`, k, k)
	}
	q.WriteString(" }")
	// holders reads, in one snapshot of c, each token's active facts.
	type holding struct {
		ID      string
		Subject struct{ Slug string }
	}
	holders := func(c *testenv.Client) map[int][]holding {
		out := map[int][]holding{}
		r, err := c.Do(t.Context(), "", q.String(), nil)
		if err != nil || !r.Acked() {
			t.Errorf("read the holders: %v %+v", err, r)
			return out
		}
		for k := range tokens {
			var hs []holding
			if err := r.Decode(fmt.Sprintf("t%d.sponsorships", k), &hs); err != nil {
				t.Error(err)
			}
			out[k] = hs
			if len(hs) > 1 {
				t.Errorf("token %d has %d holders in one read: %+v", k, len(hs), hs)
			}
		}
		return out
	}
	sameVersion(t, servers[0].URL, servers[1].URL)

	var wg sync.WaitGroup
	var lost, moved int
	for s, srv := range servers {
		for w := range workersPerServer {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(s), uint64(w)))
				for done := 0; done < transfersEach && !t.Failed(); {
					k := rng.IntN(tokens)
					hs := holders(srv.Client)[k]
					if len(hs) != 1 {
						continue // in flight: retracted, not yet given
					}
					var from int
					fmt.Sscanf(hs[0].Subject.Slug, "bank-account-%d", &from)
					to := (from + 1 + rng.IntN(accounts-1)) % accounts
					r, err := srv.Do(t.Context(), testenv.Token, `mutation($id: ID!) { retractFact(input: {id: $id, reason: "transfer"}) { id } }`, map[string]any{"id": hs[0].ID})
					if err != nil {
						t.Errorf("retract: %v", err)
						return
					}
					if !r.Acked() {
						if c := r.Code(); c != "ALREADY_RETRACTED" && c != "CONFLICT" {
							t.Errorf("retract %s: %d %s", hs[0].ID, r.Status, testenv.Clip(r.Raw))
						}
						mu.Lock()
						lost++
						mu.Unlock()
						continue
					}
					// Won: give the token to another account.
					for {
						r, err = give(srv.Client, k, to)
						if err != nil || r.Acked() || r.Code() != "CONFLICT" {
							break
						}
					}
					if err != nil || !r.Acked() {
						t.Errorf("token %d retracted from account %d, not given to %d: %v %+v", k, from, to, err, r)
						return
					}
					var id string
					r.Decode("addFact.id", &id)
					mu.Lock()
					ledger[k] = id
					moved++
					mu.Unlock()
					done++
				}
			})
		}
	}
	wg.Wait()
	sameVersion(t, servers[0].URL, servers[1].URL)
	for _, srv := range servers {
		got := holders(srv.Client)
		for k := range tokens {
			if len(got[k]) != 1 || got[k][0].ID != ledger[k] {
				t.Errorf("token %d: holders %+v, the ledger says fact %s", k, got[k], ledger[k])
			}
		}
	}
	t.Logf("%d transfers on two servers, %d lost a race for a retraction", moved, lost)
	checkClean(t, flags)
}
