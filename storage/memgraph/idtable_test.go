package memgraph

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// TestIDTableFind holds an ID table's lookup (its bucket, then a search
// from where the ID's next bytes place it) to a binary search of the sorted
// IDs: random IDs of sizes from empty to many per bucket, and IDs that are
// not random (sharing their first bytes, in runs, all in one bucket), each
// looked up, and IDs that are not there: between two neighbours, before
// the first, after the last.
func TestIDTableFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	random := func() uuid.UUID {
		var id uuid.UUID
		binary.BigEndian.PutUint64(id[:8], rng.Uint64())
		binary.BigEndian.PutUint64(id[8:], rng.Uint64())
		return id
	}
	sets := map[string]func(n int) []uuid.UUID{
		"random": func(n int) []uuid.UUID {
			ids := make([]uuid.UUID, n)
			for i := range ids {
				ids[i] = random()
			}
			return ids
		},
		"one bucket": func(n int) []uuid.UUID {
			ids := make([]uuid.UUID, n)
			for i := range ids {
				ids[i] = random()
				ids[i][0], ids[i][1] = 7, 9
			}
			return ids
		},
		"one bucket, one place": func(n int) []uuid.UUID {
			ids := make([]uuid.UUID, n)
			for i := range ids {
				ids[i] = random()
				copy(ids[i][:4], []byte{7, 9, 0xff, 0xff})
				if i%3 == 0 {
					ids[i][2], ids[i][3] = 0, 0
				}
			}
			return ids
		},
		"runs": func(n int) []uuid.UUID {
			ids := make([]uuid.UUID, n)
			base := random()
			for i := range ids {
				ids[i] = base
				binary.BigEndian.PutUint32(ids[i][12:], uint32(i*rng.IntN(3)+i))
				if i%50 == 0 {
					base = random()
				}
			}
			return ids
		},
	}
	for name, gen := range sets {
		for _, n := range []int{0, 1, 5, 6, 100, 70000, 300000} {
			ids := gen(n)
			slices.SortFunc(ids, compareID)
			ids = slices.Compact(ids)
			tab := idTable{ids: ids, bucket: makeBuckets(ids)}
			probe := func(id uuid.UUID) {
				i, found := slices.BinarySearchFunc(ids, id, compareID)
				got, ok := tab.find(id)
				if ok != found || ok && int(got) != i {
					t.Fatalf("%s, %d IDs: find(%s) = %d, %v; want %d, %v", name, len(ids), id, got, ok, i, found)
				}
			}
			for i, id := range ids {
				if i%7 == 0 || len(ids) < 1000 {
					probe(id)
					// Just below and just above: not there (or a neighbour).
					lower, upper := id, id
					lower[15]--
					upper[15]++
					probe(lower)
					probe(upper)
				}
			}
			for range 3000 {
				probe(random())
			}
			probe(uuid.Nil)
			probe(uuid.Max)
		}
	}
}
