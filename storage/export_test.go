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
