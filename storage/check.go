package storage

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// Problem is one inconsistency Check found, or damage VerifyFiles found.
type Problem struct {
	// Key is the key at fault, hex-encoded after its prefix byte, when there is one.
	Key string
	// File is the store's file at fault (VerifyFiles), when there is one.
	File    string
	Message string
}

func (p Problem) String() string {
	switch {
	case p.File != "":
		return p.File + ": " + p.Message
	case p.Key != "":
		return p.Key + ": " + p.Message
	}
	return p.Message
}

// CheckReport is what Check found.
type CheckReport struct {
	Nodes, Facts, Keys int
	Problems           []Problem
	// Skipped says why the records were not checked, when they were not
	// (CheckDir on damaged tables).
	Skipped string
}

// OK reports whether the check found nothing wrong.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 && r.Skipped == "" }

// maxProblems bounds the report; past it the check stops listing.
const maxProblems = 1000

// Check verifies, in one snapshot, that the store agrees with itself: every record
// decodes; every node has its slug, kind, name and year entries and every fact its
// forward and reverse adjacency and its predicate, value and year entries, with the
// right values; every index and adjacency entry belongs to a live record that wants
// it; every fact's subject, object and evidence sources exist; a fact about a
// retracted entity is retracted; and each quote is verbatim in its source's text. It returns an error only when it cannot read.
//
// Check reads the KV itself, key by key, not a Snapshot: what it checks is
// the KV's encoding of the graph (records and the entries they own).
//
// On an IndexFree KV, which holds records and no entries, it checks the
// records as above (slugs unique among nodes, the retracted-entity rule
// from the facts themselves), that no index, adjacency or slug key is
// present, and that the change log is dense up to the head; CheckModel
// then compares the running read model with one built from the records.
func (g *Graph) Check() (*CheckReport, error) { return CheckKV(g.kv) }

// CheckKV is Check of the graph in kv, which it only reads: for a store
// opened read-only, where Open, which writes, cannot run (see CheckDir).
func CheckKV(kv KV) (*CheckReport, error) {
	rep := &CheckReport{}
	err := kv.View(func(tx Txn) error {
		rep.Problems = rep.Problems[:0]
		rep.Nodes, rep.Facts, rep.Keys = 0, 0, 0
		return checkTx(tx, rep, IsIndexFree(kv))
	})
	return rep, err
}

func checkTx(tx Txn, rep *CheckReport, indexFree bool) error {
	problem := func(k []byte, format string, args ...any) {
		if len(rep.Problems) < maxProblems {
			p := Problem{Message: fmt.Sprintf(format, args...)}
			if k != nil {
				p.Key = keyName(k)
			}
			rep.Problems = append(rep.Problems, p)
		}
	}
	// want maps each index, adjacency and slug key a live record owns to its value.
	want := map[string][]byte{}
	nodes := map[uuid.UUID]*Node{}
	slugs := map[string]uuid.UUID{} // index-free: the slug index's check

	if v, err := tx.Get(metaFormatKey); err != nil {
		problem(metaFormatKey, "format version key missing: %v", err)
	} else if len(v) != 4 {
		problem(metaFormatKey, "format version is %d bytes, want 4", len(v))
	}
	// A store made before store IDs has none until a server opens it.
	if v, err := tx.Get(metaStoreIDKey); err != nil && !errors.Is(err, ErrKeyMissing) {
		return err
	} else if err == nil && len(v) != 16 {
		problem(metaStoreIDKey, "store ID is %d bytes, want 16", len(v))
	}

	err := tx.Scan(kindPrefix(prefixNode), false, func(k, v []byte) error {
		rep.Nodes++
		key, err := ParseKey(k)
		if err != nil {
			problem(k, "%v", err)
			return nil
		}
		np, err := decodeNode(v)
		if err != nil {
			problem(k, "node record does not decode: %v", err)
			return nil
		}
		n := *np
		if n.ID != key.ID {
			problem(k, "node record has id %s", n.ID)
		}
		if err := validateNode(&n); err != nil {
			problem(k, "node %s is invalid: %v", n.Slug, err)
		}
		nodes[n.ID] = &n
		if indexFree {
			if other, dup := slugs[n.Slug]; dup {
				problem(k, "slug %q is also node %s's", n.Slug, other)
			}
			slugs[n.Slug] = n.ID
			return nil
		}
		want[string(slugKey(n.Slug))] = append([]byte(nil), n.ID[:]...)
		for _, ik := range nodeIndexKeys(&n) {
			want[string(ik)] = nil
		}
		return nil
	})
	if err != nil {
		return err
	}

	texts := map[uuid.UUID]string{}
	err = tx.Scan(kindPrefix(prefixText), false, func(k, v []byte) error {
		key, err := ParseKey(k)
		if err != nil {
			problem(k, "%v", err)
			return nil
		}
		id := key.ID
		n := nodes[id]
		switch {
		case n == nil:
			problem(k, "text of a missing node")
		case n.Kind != KindSource:
			problem(k, "text of %s, a %s not a SOURCE", n.Slug, n.Kind)
		}
		texts[id] = string(v)
		return nil
	})
	if err != nil {
		return err
	}

	disputes := map[uuid.UUID][]uuid.UUID{} // fact -> the facts it says dispute it
	err = tx.Scan(kindPrefix(prefixFact), false, func(k, v []byte) error {
		rep.Facts++
		key, err := ParseKey(k)
		if err != nil {
			problem(k, "%v", err)
			return nil
		}
		fp, err := decodeFact(v)
		if err != nil {
			problem(k, "fact record does not decode: %v", err)
			return nil
		}
		f := *fp
		if f.ID != key.ID {
			problem(k, "fact record has id %s", f.ID)
		}
		if f.Predicate.Spec() == nil {
			problem(k, "unknown predicate %q", f.Predicate)
		}
		if nodes[f.Subject] == nil {
			problem(k, "subject %s does not exist", f.Subject)
		}
		if f.Object != uuid.Nil && nodes[f.Object] == nil {
			problem(k, "object %s does not exist", f.Object)
		}
		if len(f.Evidence) == 0 {
			problem(k, "fact has no evidence")
		}
		for i, e := range f.Evidence {
			src := nodes[e.Source]
			switch {
			case src == nil:
				problem(k, "evidence[%d]: source %s does not exist", i, e.Source)
			case src.Kind != KindSource:
				problem(k, "evidence[%d]: %s is a %s, not a SOURCE", i, src.Slug, src.Kind)
			case !strings.Contains(texts[e.Source], e.Quote) || e.Quote == "":
				problem(k, "evidence[%d]: quote %q is not in the text of %s", i, clip(e.Quote, 60), src.Slug)
			}
		}
		disputes[f.ID] = f.DisputedBy
		if indexFree {
			checkRetractedEnds(&f, nodes, problem)
			return nil
		}
		for _, e := range factIndexKeys(&f) {
			if prev, dup := want[string(e.key)]; dup {
				problem(e.key, "wanted by fact %s and by another record (value %x)", f.ID, prev)
			}
			want[string(e.key)] = append([]byte(nil), e.val...)
		}
		return nil
	})
	if err != nil {
		return err
	}

	checkDisputes(disputes, problem)

	if !indexFree {
		if err := checkRetractedNodes(tx, nodes, problem); err != nil {
			return err
		}
	}

	// Revisions: each of an existing node, numbered 1, 2... in key order, and
	// holding a record of that node.
	lastSeq := map[uuid.UUID]int{}
	err = tx.Scan(kindPrefix(prefixRevision), false, func(k, v []byte) error {
		key, err := ParseKey(k)
		if err != nil {
			problem(k, "%v", err)
			return nil
		}
		r, err := decodeRevision(v)
		if err != nil {
			problem(k, "revision record does not decode: %v", err)
			return nil
		}
		switch {
		case nodes[key.Node] == nil:
			problem(k, "revision of a missing node %s", key.Node)
		case r.Node != key.Node || r.Previous.ID != key.Node:
			problem(k, "revision record is of node %s (previous record %s)", r.Node, r.Previous.ID)
		case r.Seq != key.Seq:
			problem(k, "revision record has number %d", r.Seq)
		case key.Seq != lastSeq[key.Node]+1:
			problem(k, "revision %d follows revision %d", key.Seq, lastSeq[key.Node])
		}
		lastSeq[key.Node] = key.Seq
		return nil
	})
	if err != nil {
		return err
	}

	if indexFree {
		return checkIndexFreeKeys(tx, rep, problem)
	}
	// Every owned key is present with its value...
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, err := tx.Get([]byte(k))
		if errors.Is(err, ErrKeyMissing) {
			problem([]byte(k), "missing %s", describeKey([]byte(k)))
			continue
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want[k]) {
			problem([]byte(k), "%s holds %x, want %x", describeKey([]byte(k)), got, want[k])
		}
	}
	// ...and every present index, adjacency and slug key is owned.
	for _, kind := range ownedKinds {
		err := tx.Scan(kindPrefix(kind), true, func(k, _ []byte) error {
			rep.Keys++
			if _, ok := want[string(k)]; !ok {
				problem(k, "orphan %s: no live record owns it", describeKey(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// Nothing else lives in the store: every key parses (the guard keys are
	// never present).
	return tx.Scan(nil, true, func(k, _ []byte) error {
		if key, err := ParseKey(k); err != nil || key.Kind == prefixGuard {
			problem(k, "key of no known kind")
		}
		return nil
	})
}

// checkIndexFreeKeys is the end of checkTx on an IndexFree KV: no key a
// record would own in an indexed store is present, every key parses, and
// the change log is dense up to the head.
func checkIndexFreeKeys(tx Txn, rep *CheckReport, problem func(k []byte, format string, args ...any)) error {
	for _, kind := range ownedKinds {
		err := tx.Scan(kindPrefix(kind), true, func(k, _ []byte) error {
			rep.Keys++
			problem(k, "%s in a store that keeps no indexes", describeKey(k))
			return nil
		})
		if err != nil {
			return err
		}
	}
	err := tx.Scan(nil, true, func(k, _ []byte) error {
		if key, err := ParseKey(k); err != nil || key.Kind == prefixGuard {
			problem(k, "key of no known kind")
		}
		return nil
	})
	if err != nil {
		return err
	}
	head, _, err := readHead(tx)
	if err != nil {
		return err
	}
	logProblems, err := checkLog(tx, head, maxProblems)
	for _, p := range logProblems {
		problem(metaHeadKey, "%s", p)
	}
	return err
}

// checkRetractedEnds is checkRetractedNodes for one fact, read from its
// record (an index-free store has no adjacency entries to read).
func checkRetractedEnds(f *Fact, nodes map[uuid.UUID]*Node, problem func(k []byte, format string, args ...any)) {
	if f.Retraction != nil {
		return
	}
	ends := []struct {
		role string
		id   uuid.UUID
	}{{"subject", f.Subject}, {"object", f.Object}}
	for _, e := range ends {
		if n := nodes[e.id]; n != nil && n.Retraction != nil {
			problem(factKey(f.ID), "fact is not retracted, but its %s %s was retracted", e.role, n.Slug)
		}
	}
}

// checkDisputes verifies the dispute links of facts (Fact.DisputedBy): each
// names another fact that exists and names it back, as ingest writes them.
func checkDisputes(disputes map[uuid.UUID][]uuid.UUID, problem func(k []byte, format string, args ...any)) {
	for id, others := range disputes {
		for _, o := range others {
			back, ok := disputes[o]
			switch {
			case o == id:
				problem(factKey(id), "fact disputes itself")
			case !ok:
				problem(factKey(id), "disputed by fact %s, which does not exist", o)
			case !slices.Contains(back, id):
				problem(factKey(id), "disputed by fact %s, which does not name it back", o)
			}
		}
	}
}

// checkRetractedNodes verifies what RetractNode promises: a retracted entity
// has no active or negated fact as subject or object (every fact that names a
// retracted entity is retracted too). It reads the adjacency entries, whose
// flags the rest of the check holds to their facts.
func checkRetractedNodes(tx Txn, nodes map[uuid.UUID]*Node, problem func(k []byte, format string, args ...any)) error {
	for _, kind := range []KeyKind{prefixOut, prefixIn} {
		err := tx.Scan(kindPrefix(kind), false, func(k, v []byte) error {
			key, err := ParseKey(k)
			if err != nil {
				return nil // malformed entries are reported as orphans
			}
			if flag, _, err := parseAdjValue(v); err != nil || flag == flagRetracted {
				return nil // and bad values as bad values
			}
			if n := nodes[key.Node]; n != nil && n.Retraction != nil {
				role := "subject"
				if key.Dir() == In {
					role = "object"
				}
				problem(factKey(key.ID), "fact is not retracted, but its %s %s was retracted", role, n.Slug)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
