package storage

import (
	"testing"

	"github.com/google/uuid"
)

// NewTestKV opens a fresh in-memory KV, closed by the caller, for the tests
// of this package that need a real engine. The external tests set it (see
// helpers_test.go): they can import the Badger engine, which imports this
// package; these tests cannot.
var NewTestKV func(t testing.TB) KV

// newTestGraph opens a graph on NewTestKV, closed when the test ends.
func newTestGraph(t testing.TB) *Graph {
	t.Helper()
	if NewTestKV == nil {
		t.Fatal("no engine for the internal tests: storage.NewTestKV is unset")
	}
	g, err := Open(NewTestKV(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// ReplaceLogEntry stores c as the log's entry of its version, in place of
// the one there (a test of a log that is not what a model file recorded).
func ReplaceLogEntry(kv KV, c *Change) error {
	return kv.Update(func(tx Txn) error {
		b, err := encodeChange(c)
		if err != nil {
			return err
		}
		return tx.Set(logKey(c.Version), b)
	})
}

// TransferForTest moves amount from the quantity of the MEASURE fact from to
// that of the fact to, in one write through the graph's write path (the
// committer with a read model): the bank-style tests' transfer.
func (g *Graph) TransferForTest(from, to uuid.UUID, amount float64) error {
	return g.update(func(w writer) error {
		for _, m := range []struct {
			id uuid.UUID
			by float64
		}{{from, -amount}, {to, amount}} {
			f, err := w.Fact(m.id)
			if err != nil {
				return err
			}
			moved := cloneFact(f)
			moved.Quantity.Amount += m.by
			if err := w.setFact(f, moved); err != nil {
				return err
			}
		}
		return nil
	})
}
