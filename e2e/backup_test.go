package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/app"
	"policygraph/internal/testenv"
)

// curator writes through the API as an analyst would: an organization, a fact
// about it, a rename, and now and then a retraction of the fact. It records
// what the server acknowledged, in order.
type curator struct {
	mu      sync.Mutex
	entries []ack
}

// ack is one acknowledged write.
type ack struct {
	entity, fact uuid.UUID
	name         string // the entity's name after the write
	retracted    bool   // the fact is retracted
}

func (c *curator) record(a ack) {
	c.mu.Lock()
	c.entries = append(c.entries, a)
	c.mu.Unlock()
}

// acked returns the writes acknowledged so far.
func (c *curator) acked() []ack {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ack(nil), c.entries...)
}

func (c *curator) run(ctx context.Context, url, client string) {
	post := func(q string, vars map[string]any) json.RawMessage {
		r, err := (&testenv.Client{URL: url, HTTP: httpClient}).Do(ctx, testenv.Token, q, vars)
		if err != nil || !r.Acked() {
			return nil
		}
		for _, v := range r.Data {
			b, _ := json.Marshal(v)
			return b
		}
		return nil
	}
	var out struct{ ID uuid.UUID }
	for i := 0; ctx.Err() == nil; i++ {
		// Paced: the store, which every backup restores and checks whole,
		// grows by about a thousand writes a second, not as fast as it can.
		time.Sleep(20 * time.Millisecond)
		name := fmt.Sprintf("Curated %s %d", client, i)
		if json.Unmarshal(post(createEntityMutation, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": name}}), &out) != nil {
			continue
		}
		a := ack{entity: out.ID, name: name}
		c.record(a)
		if json.Unmarshal(post(addSponsorshipMutation, map[string]any{"in": map[string]any{"subject": a.entity.String(), "predicate": "COUNTRY", "value": "VN",
			"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": testenv.ArticleQuote}}}}), &out) != nil {
			continue
		}
		a.fact = out.ID
		c.record(a)
		renamed := name + " renamed"
		if post(`mutation($in: UpdateEntityInput!) { updateEntity(input: $in) { id } }`, map[string]any{"in": map[string]any{"entity": a.entity.String(), "name": renamed, "aliases": []string{name}}}) == nil {
			continue
		}
		a.name = renamed
		c.record(a)
		if i%3 == 0 && post(`mutation($id: ID!) { retractFact(input: {id: $id, reason: "curation"}) { id } }`, map[string]any{"id": a.fact.String()}) != nil {
			a.retracted = true
			c.record(a)
		}
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// Backups taken while writers create, update and retract through the API are
// each one snapshot: every one restores into a store that check finds clean,
// holding every write acknowledged before the backup began; and once the
// writers stop, the restored store answers every query as the source does.
func TestBackupsUnderConcurrentWritersRestoreClean(t *testing.T) {
	iterations := 20
	if testing.Short() {
		iterations = 5
	}
	dir := t.TempDir()
	// The seed in a table, not only in the memtable: a store of some size,
	// whose key range a backup may split (Badger's DB.Backup read each part
	// in a transaction of its own).
	first := testenv.Start(t, "-data", filepath.Join(dir, "live"))
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	s := testenv.Start(t, "-data", filepath.Join(dir, "live"), "-max-complexity", "0") // the writers grow the graph: its scans cost more
	var c curator
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { c.run(ctx, s.URL, fmt.Sprintf("w%d", i)) })
	}
	getenv := testenv.NoEnv
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	restoreOne := func(i int) string {
		t.Helper()
		backup := filepath.Join(dir, fmt.Sprintf("backup-%d", i))
		if err := app.Run(context.Background(), []string{"backup", "-url", s.URL, "-token", testenv.Token, "-out", backup}, getenv, nil, io.Discard, io.Discard); err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		restored := filepath.Join(dir, fmt.Sprintf("restored-%d", i))
		if err := app.Run(context.Background(), []string{"restore", "-data", restored, "-in", backup}, getenv, nil, io.Discard, io.Discard); err != nil {
			t.Fatalf("restore of backup %d: %v", i, err)
		}
		var out bytes.Buffer
		if err := app.Run(context.Background(), []string{"check", "-data", restored}, getenv, nil, &out, io.Discard); err != nil {
			t.Errorf("check of restored backup %d (taken under writes): %v\n%s", i, err, testenv.Clip(out.String()))
		}
		return restored
	}
	// Bounded in time too: each restore and check takes longer as the
	// writers grow the store, the more so on a loaded machine.
	deadline := time.Now().Add(45 * time.Second)
	for i := range iterations {
		if i >= 5 && time.Now().After(deadline) {
			t.Logf("stopped after %d backups: past the time bound", i)
			iterations = i
			break
		}
		time.Sleep(time.Duration(20+rng.IntN(80)) * time.Millisecond)
		before := c.acked()
		restored := restoreOne(i)
		verifyAcked(t, restored, before)
		if t.Failed() {
			break
		}
	}
	cancel()
	wg.Wait()
	quiesce(t, s.URL)
	all := c.acked()
	if len(all) < iterations {
		t.Fatalf("the writers were acknowledged %d writes: the test tested little", len(all))
	}
	// Quiet now: the last backup restores into a store that answers as the source.
	restored := restoreOne(iterations)
	verifyAcked(t, restored, all)
	r := testenv.Start(t, "-data", restored, "-seed=false", "-max-complexity", "0") // the writers grew the graph: its scans cost more
	for _, q := range append(queriesToCompare, `{ entities(first: 200, filter: {country: "VN"}) { totalCount nodes { id name aliases } } }`) {
		a, b := testenv.At(s.URL).Must(t, "", q, nil), testenv.At(r.URL).Must(t, "", q, nil)
		if a.Raw != b.Raw {
			t.Errorf("%s\nsource:   %s\nrestored: %s", testenv.FirstLine(q), testenv.Clip(a.Raw), testenv.Clip(b.Raw))
		}
	}
	if !t.Failed() {
		t.Logf("%d backups under 8 writers, each restored and checked clean; %d writes acknowledged", iterations, len(all))
	}
}

// quiesce waits until the server's version stops moving: the writes whose
// clients gave up may still be committing.
func quiesce(t *testing.T, url string) {
	t.Helper()
	version := func() string {
		res, err := http.Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	for v := version(); ; {
		time.Sleep(200 * time.Millisecond)
		if w := version(); w == v {
			return
		} else {
			v = w
		}
	}
}

// verifyAcked checks that the store in dir holds every write in acked (the
// latest state of each entity and fact), or the write after it (one its
// client sent but gave up on may have committed).
func verifyAcked(t *testing.T, dir string, acked []ack) {
	t.Helper()
	g := testenv.OpenDir(t, dir)
	defer g.Close()
	last := map[uuid.UUID]ack{}
	for _, a := range acked {
		last[a.entity] = a
	}
	for id, a := range last {
		n, err := g.Node(id)
		if err != nil {
			t.Errorf("acknowledged entity %s (%s): %v", id, a.name, err)
			continue
		}
		if n.Name != a.name && n.Name != a.name+" renamed" {
			t.Errorf("entity %s is named %q, acknowledged %q", id, n.Name, a.name)
		}
		if a.fact == uuid.Nil {
			continue
		}
		f, err := g.Fact(a.fact)
		if err != nil {
			t.Errorf("acknowledged fact %s: %v", a.fact, err)
			continue
		}
		if a.retracted && f.Retraction == nil {
			t.Errorf("fact %s: its acknowledged retraction is missing", a.fact)
		}
	}
}

// restore refuses an empty, cut, random or damaged backup with a clear error,
// and leaves nothing behind; a whole one restores.
func TestRestoreRefusesBadBackups(t *testing.T) {
	dir := t.TempDir()
	s := testenv.Start(t, "-data", filepath.Join(dir, "live"))
	w := newWriter()
	w.streamFor(s.URL, "r", 200*time.Millisecond)
	getenv := testenv.NoEnv
	good := filepath.Join(dir, "good.backup")
	if err := app.Run(context.Background(), []string{"backup", "-url", s.URL, "-token", testenv.Token, "-out", good}, getenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(b)
	flipped[len(b)/2] ^= 0x20
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rand.Uint32())
	}
	tests := []struct {
		name  string
		input []byte
		want  string
	}{
		{"empty", nil, "empty"},
		{"random bytes", random, "not a policygraph backup"},
		{"cut at a third", b[:len(b)/3], "cut short"},
		{"cut at two thirds", b[:2*len(b)/3], "cut short"},
		{"cut one byte short", b[:len(b)-1], "cut short"},
		{"a flipped byte", flipped, "damaged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			in := filepath.Join(parent, "in")
			if err := os.WriteFile(in, tt.input, 0o644); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(parent, "restored")
			var out bytes.Buffer
			err := app.Run(context.Background(), []string{"restore", "-data", target, "-in", in}, getenv, nil, &out, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("restore = %v (%s), want an error containing %q", err, out.String(), tt.want)
			}
			entries, _ := os.ReadDir(parent)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("a failed restore left %q behind", names)
			}
		})
	}
	target := filepath.Join(dir, "restored")
	var out bytes.Buffer
	if err := app.Run(context.Background(), []string{"restore", "-data", target, "-in", good}, getenv, nil, &out, io.Discard); err != nil {
		t.Fatalf("restore of the good backup: %v", err)
	}
	if !strings.Contains(out.String(), "the restored store is store ") {
		t.Errorf("restore said: %s", out.String())
	}
	if err := app.Run(context.Background(), []string{"check", "-data", target}, getenv, nil, io.Discard, io.Discard); err != nil {
		t.Errorf("check of the restored store: %v", err)
	}
}
