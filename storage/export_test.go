package storage

import "testing"

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
