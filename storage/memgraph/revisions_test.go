package memgraph

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/storage"
)

// TestRevisionsAsTheStoreGivesThem checks that a revision reads back as the
// store gives it back, not as the writer handed it over: its time through
// the store's time codec (MarshalBinary: no monotonic reading, a zone
// kept as its offset) and its entity through the store's record codec.
// Ordered oldest first by Seq, every entity's by entity ID for uuid.Nil.
func TestRevisionsAsTheStoreGivesThem(t *testing.T) {
	w := newWorld(11, 20, 20)
	m := w.build(t)
	zone := time.FixedZone("ICT", 7*3600)
	now := time.Now() // with a monotonic reading
	var c storage.Change
	c.Version = w.version + 1
	ids := []uuid.UUID{w.nodeIDs[3], w.nodeIDs[1], w.nodeIDs[2]}
	for _, id := range ids {
		for _, seq := range []int{2, 1, 3} { // out of order
			prev := cloneNode(w.nodes[id])
			prev.CreatedAt, prev.UpdatedAt = now.In(zone), now
			c.Revisions = append(c.Revisions, &storage.Revision{Node: id, Seq: seq, At: now.In(zone).Add(time.Duration(seq)), By: "editor", Previous: prev})
		}
	}
	if err := m.Apply(c); err != nil {
		t.Fatal(err)
	}
	stored := func(r *storage.Revision) *storage.Revision {
		b, err := r.At.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		x := *r
		x.At = time.Time{}
		if err := x.At.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		nb, err := storage.EncodeNode(r.Previous)
		if err != nil {
			t.Fatal(err)
		}
		if x.Previous, err = storage.DecodeNode(nb); err != nil {
			t.Fatal(err)
		}
		return &x
	}
	want := map[uuid.UUID][]*storage.Revision{}
	for _, r := range c.Revisions {
		want[r.Node] = append(want[r.Node], stored(r))
	}
	var all []*storage.Revision
	for _, id := range sortedIDs(ids) {
		for _, seq := range []int{1, 2, 3} {
			for _, r := range want[id] {
				if r.Seq == seq {
					all = append(all, r)
				}
			}
		}
	}
	s := m.Latest()
	var got []*storage.Revision
	if err := s.Revisions(uuid.Nil, func(r *storage.Revision) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, all) {
		t.Fatalf("Revisions(uuid.Nil):\n got %s\nwant %s", js(got), js(all))
	}
	got = nil
	if err := s.Revisions(ids[0], func(r *storage.Revision) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Node != ids[0] || got[0].Seq != 1 || got[2].Seq != 3 {
		t.Fatalf("Revisions of one entity: %s", js(got))
	}
}

func sortedIDs(ids []uuid.UUID) []uuid.UUID {
	out := append([]uuid.UUID(nil), ids...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if compareID(out[j], out[i]) < 0 {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
