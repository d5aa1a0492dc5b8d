package bytecache

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

func TestEvictsLeastRecentlyUsedByBytes(t *testing.T) {
	// Room for three entries of 100 bytes (plus overhead each).
	c := New[string, int](3*(100+EntryOverhead), 0, 0)
	for i, k := range []string{"a", "b", "c"} {
		if !c.Add(k, i, 100) {
			t.Fatalf("Add(%s) refused", k)
		}
	}
	c.Get("a") // a is now the most recent; b the least
	c.Add("d", 3, 100)
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := c.Get(k); ok != want {
			t.Errorf("Get(%s) present = %v, want %v", k, ok, want)
		}
	}
	// One heavy entry pushes out as many as it needs.
	c.Add("big", 9, 2*100+EntryOverhead)
	if c.Bytes() > c.MaxBytes() {
		t.Errorf("Bytes %d over the bound %d", c.Bytes(), c.MaxBytes())
	}
	if _, ok := c.Get("big"); !ok {
		t.Errorf("the entry just added was evicted")
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d after a double-weight entry, want 2", c.Len())
	}
}

func TestRefusesEntriesOverTheEntryBound(t *testing.T) {
	c := New[string, string](1<<20, 1000, 0)
	if !c.Add("k", "small", 10) {
		t.Fatal("a small entry was refused")
	}
	if c.Add("k", "huge", 1000) { // 1000 + overhead > 1000
		t.Fatal("an entry over the per-entry bound was cached")
	}
	if v, ok := c.Get("k"); ok {
		t.Fatalf("a refused Add left the older value %q served", v)
	}
	if c.Bytes() != 0 || c.Len() != 0 {
		t.Errorf("Bytes %d, Len %d after the refusal, want 0, 0", c.Bytes(), c.Len())
	}
	// A cache of no bytes holds nothing.
	z := New[string, int](0, 0, 0)
	if z.Add("k", 1, 0) {
		t.Error("a zero-byte cache took an entry")
	}
}

func TestReplacingAnEntryReweighsIt(t *testing.T) {
	c := New[int, int](10_000, 0, 0)
	c.Add(1, 1, 500)
	c.Add(1, 2, 100)
	if got, want := c.Bytes(), int64(100+EntryOverhead); got != want {
		t.Errorf("Bytes = %d after replacing, want %d", got, want)
	}
	if v, _ := c.Get(1); v != 2 {
		t.Errorf("Get = %d, want the new value 2", v)
	}
}

func TestRemoveFunc(t *testing.T) {
	c := New[int, int](1<<20, 0, 0)
	for i := range 10 {
		c.Add(i, i, 10)
	}
	if n := c.RemoveFunc(func(_, v int) bool { return v%2 == 0 }); n != 5 {
		t.Errorf("RemoveFunc dropped %d, want 5", n)
	}
	for i := range 10 {
		if _, ok := c.Get(i); ok != (i%2 == 1) {
			t.Errorf("Get(%d) present = %v after removing the even ones", i, ok)
		}
	}
	if got, want := c.Bytes(), int64(5*(10+EntryOverhead)); got != want {
		t.Errorf("Bytes = %d, want %d", got, want)
	}
}

// TestModel runs random operations against the cache and a plain model of
// it, and checks after each that both agree and the bound holds.
func TestModel(t *testing.T) {
	const maxBytes, maxEntry = 4000, 1500
	c := New[int, int](maxBytes, maxEntry, 0)
	type item struct{ val, weight int }
	var order []int // least recent first
	model := map[int]item{}
	touch := func(k int) {
		for i, x := range order {
			if x == k {
				order = append(order[:i], order[i+1:]...)
				break
			}
		}
		order = append(order, k)
	}
	used := func() int {
		n := 0
		for _, it := range model {
			n += it.weight
		}
		return n
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 20000 {
		k := rng.IntN(40)
		switch rng.IntN(3) {
		case 0, 1:
			w := rng.IntN(1600)
			ok := c.Add(k, step, int64(w))
			delete(model, k)
			for i, x := range order {
				if x == k {
					order = append(order[:i], order[i+1:]...)
					break
				}
			}
			if want := w+EntryOverhead <= maxEntry; ok != want {
				t.Fatalf("step %d: Add weight %d = %v, want %v", step, w, ok, want)
			}
			if ok {
				model[k] = item{step, w + EntryOverhead}
				order = append(order, k)
				for used() > maxBytes {
					delete(model, order[0])
					order = order[1:]
				}
			}
		case 2:
			v, ok := c.Get(k)
			it, want := model[k]
			if ok != want || (ok && v != it.val) {
				t.Fatalf("step %d: Get(%d) = %d, %v; model %d, %v", step, k, v, ok, it.val, want)
			}
			if ok {
				touch(k)
			}
		}
		if c.Bytes() != int64(used()) || c.Len() != len(model) || c.Bytes() > maxBytes {
			t.Fatalf("step %d: cache %d bytes in %d entries, model %d in %d (bound %d)", step, c.Bytes(), c.Len(), used(), len(model), maxBytes)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New[string, []byte](64<<10, 8<<10, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint((g*31 + i) % 300)
				if v, ok := c.Get(k); ok && len(v) == 0 {
					t.Error("empty value")
				}
				c.Add(k, make([]byte, 1+i%9000), int64(1+i%9000))
				if i%500 == 0 {
					c.RemoveFunc(func(_ string, v []byte) bool { return len(v) > 4000 })
				}
			}
		})
	}
	wg.Wait()
	if c.Bytes() > c.MaxBytes() {
		t.Errorf("Bytes %d over the bound %d", c.Bytes(), c.MaxBytes())
	}
}

func TestItemBound(t *testing.T) {
	c := New[int, int](1<<20, 0, 3)
	for i := range 5 {
		c.Add(i, i, 1)
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want the item bound 3", c.Len())
	}
	if _, ok := c.Get(1); ok {
		t.Error("the least recent entry survived the item bound")
	}
}
