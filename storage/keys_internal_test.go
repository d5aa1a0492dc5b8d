package storage

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"policygraph/errs"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

func TestParseAdjKey(t *testing.T) {
	node := uuid.MustParse("00112233-4455-6677-8899-aabbccddeeff")
	fact := uuid.MustParse("ffeeddcc-bbaa-9988-7766-554433221100")
	good := []struct {
		prefix byte
		pred   Predicate
	}{
		{prefixOut, PredSponsored},
		{prefixIn, PredSponsored},
		{prefixOut, "X"},
		{prefixIn, Predicate(strings.Repeat("P", 300))},
	}
	for _, tt := range good {
		t.Run(string(tt.prefix)+string(tt.pred[:min(len(tt.pred), 20)]), func(t *testing.T) {
			k := adjKey(tt.prefix, node, tt.pred, fact)
			if !bytes.HasPrefix(k, adjPrefix(tt.prefix, node, tt.pred)) || !bytes.HasPrefix(k, adjPrefix(tt.prefix, node, "")) {
				t.Errorf("adjPrefix is not a prefix of adjKey")
			}
			p, n, pred, f, err := parseAdjKey(k)
			if err != nil {
				t.Fatalf("parseAdjKey(%x): %v", k, err)
			}
			if p != tt.prefix || n != node || pred != tt.pred || f != fact {
				t.Errorf("parseAdjKey = %c %s %s %s, want %c %s %s %s", p, n, pred, f, tt.prefix, node, tt.pred, fact)
			}
		})
	}
	valid := adjKey(prefixOut, node, PredSponsored, fact)
	bad := []struct {
		name string
		key  []byte
	}{
		{"empty", nil},
		{"prefix only", []byte{prefixOut}},
		{"no predicate", adjKey(prefixOut, node, "", fact)},
		{"wrong prefix", append([]byte{prefixFact}, valid[1:]...)},
		{"one byte short", valid[:len(valid)-1]},
		{"no terminator", append(append([]byte{prefixOut}, node[:]...), append([]byte("SPONSOREDX"), fact[:]...)...)},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.name, func(t *testing.T) {
			if _, _, _, _, err := parseAdjKey(tt.key); err == nil {
				t.Errorf("parseAdjKey(%x) succeeded", tt.key)
			}
		})
	}
}

// FuzzAdjKey checks that parseAdjKey inverts adjKey and, the other way round,
// that any key parseAdjKey accepts is rebuilt byte for byte by adjKey.
func FuzzAdjKey(f *testing.F) {
	f.Add(byte('o'), []byte("0123456789abcdef"), "SPONSORED", []byte("fedcba9876543210"))
	f.Add(byte('i'), []byte{}, "X", []byte{0xff})
	f.Fuzz(func(t *testing.T, prefix byte, nodeB []byte, pred string, factB []byte) {
		var node, fact uuid.UUID
		copy(node[:], nodeB)
		copy(fact[:], factB)
		if (prefix == prefixOut || prefix == prefixIn) && pred != "" {
			k := adjKey(prefix, node, Predicate(pred), fact)
			p, n, pr, fa, err := parseAdjKey(k)
			if err != nil {
				t.Fatalf("parseAdjKey(adjKey(%c, %s, %q, %s)): %v", prefix, node, pred, fact, err)
			}
			if p != prefix || n != node || string(pr) != pred || fa != fact {
				t.Fatalf("parseAdjKey(adjKey(%c, %s, %q, %s)) = %c %s %q %s", prefix, node, pred, fact, p, n, pr, fa)
			}
		}
		raw := append(append(append([]byte{prefix}, nodeB...), pred...), factB...)
		if p, n, pr, fa, err := parseAdjKey(raw); err == nil {
			if again := adjKey(p, n, pr, fa); !bytes.Equal(again, raw) {
				t.Fatalf("parseAdjKey(%x) = %c %s %q %s, which builds %x", raw, p, n, pr, fa, again)
			}
		}
	})
}

func TestKeyOrder(t *testing.T) {
	id := uuid.New()
	for _, years := range [][2]int{{1, 2}, {255, 256}, {2019, 2023}, {999, 1000}, {9998, 9999}} {
		a, b := yearKey(PredSponsored, years[0], id), yearKey(PredSponsored, years[1], id)
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("yearKey(%d) does not sort before yearKey(%d)", years[0], years[1])
		}
		if got := yearAt(a, len(strKey(prefixYear, string(PredSponsored)))); got != years[0] {
			t.Errorf("yearAt = %d, want %d", got, years[0])
		}
		if lastID(a) != id {
			t.Errorf("lastID(yearKey) = %s, want %s", lastID(a), id)
		}
	}
	// A kind is no prefix of another kind's keys: EVENT and EVENT_SERIES stay apart.
	ev := strKey(prefixKind, string(KindEvent))
	if bytes.HasPrefix(append(strKey(prefixKind, string(KindEventSeries)), id[:]...), ev) {
		t.Error("EVENT_SERIES kind keys start with the EVENT kind prefix")
	}
}

func TestUpdateGivesUpWithConflict(t *testing.T) {
	kv, err := OpenBadger(BadgerOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	key := []byte("contended")
	attempts := 0
	// Every attempt reads the key, then a separate transaction commits a write to
	// it before the attempt commits: Badger reports a conflict every time.
	err = kv.Update(func(tx Txn) error {
		attempts++
		if _, err := tx.Get(key); err != nil && !errors.Is(err, ErrKeyMissing) {
			return err
		}
		if err := kv.DB.Update(func(other *badger.Txn) error { return other.Set(key, []byte{byte(attempts)}) }); err != nil {
			return err
		}
		return tx.Set(key, []byte("mine"))
	})
	if errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("Update = %v, want code CONFLICT", err)
	}
	if attempts != maxConflictRetries+1 {
		t.Errorf("fn ran %d times, want %d", attempts, maxConflictRetries+1)
	}
}

// raceKV is a Badger whose next Update behaves as if it lost a race: it runs fn
// once and throws the result away, lets a competing write commit, then runs fn
// again, which is exactly what Badger.Update does after badger.ErrConflict.
type raceKV struct {
	*Badger
	compete func()
}

func (r *raceKV) Update(fn func(Txn) error) error {
	if c := r.compete; c != nil {
		r.compete = nil
		txn := r.DB.NewTransaction(true)
		err := fn(&badgerTxn{t: txn})
		txn.Discard()
		if err != nil {
			return err
		}
		c()
	}
	return r.Badger.Update(fn)
}

// TestCreateNodeRetryAfterSlugRace shows two CreateNode calls for the same name
// racing: the loser's retry must pick the next free slug.
func TestCreateNodeRetryAfterSlugRace(t *testing.T) {
	b, err := OpenBadger(BadgerOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kv := &raceKV{Badger: b}
	g, err := Open(kv)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(b)
	if err != nil {
		t.Fatal(err)
	}
	kv.compete = func() {
		if _, err := other.CreateNode(&Node{Kind: KindOrganization, Name: "Acme"}, ""); err != nil {
			t.Errorf("competing CreateNode: %v", err)
		}
	}
	n, err := g.CreateNode(&Node{Kind: KindOrganization, Name: "Acme"}, "")
	if err != nil {
		t.Fatalf("CreateNode after losing the race: %v", err)
	}
	if n.Slug != "acme-2" {
		t.Errorf("slug = %q, want acme-2", n.Slug)
	}
}
