package badger

import (
	"errors"
	"testing"

	"policygraph/errs"
	"policygraph/storage"

	badgerdb "github.com/dgraph-io/badger/v4"
)

func TestUpdateGivesUpWithConflict(t *testing.T) {
	kv, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	key := []byte("contended")
	attempts := 0
	// Every attempt reads the key, then a separate transaction commits a write to
	// it before the attempt commits: KV reports a conflict every time.
	err = kv.Update(func(tx storage.Txn) error {
		attempts++
		if _, err := tx.Get(key); err != nil && !errors.Is(err, storage.ErrKeyMissing) {
			return err
		}
		if err := kv.DB.Update(func(other *badgerdb.Txn) error { return other.Set(key, []byte{byte(attempts)}) }); err != nil {
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

// raceKV is a KV whose next Update behaves as if it lost a race: it runs fn
// once and throws the result away, lets a competing write commit, then runs fn
// again, which is exactly what KV.Update does after badgerdb.ErrConflict.
type raceKV struct {
	*KV
	compete func()
}

func (r *raceKV) Update(fn func(storage.Txn) error) error {
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
	return r.KV.Update(fn)
}

// TestCreateNodeRetryAfterSlugRace shows two CreateNode calls for the same name
// racing: the loser's retry must pick the next free slug.
func TestCreateNodeRetryAfterSlugRace(t *testing.T) {
	b, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kv := &raceKV{KV: b}
	g, err := storage.Open(kv)
	if err != nil {
		t.Fatal(err)
	}
	other, err := storage.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	kv.compete = func() {
		if _, err := other.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Acme"}, ""); err != nil {
			t.Errorf("competing CreateNode: %v", err)
		}
	}
	n, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Acme"}, "")
	if err != nil {
		t.Fatalf("CreateNode after losing the race: %v", err)
	}
	if n.Slug != "acme-2" {
		t.Errorf("slug = %q, want acme-2", n.Slug)
	}
}
