package storage

import (
	"bytes"
	"errors"
	"fmt"
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
func (g *Graph) Check() (*CheckReport, error) {
	rep := &CheckReport{}
	err := g.view(func(tx Txn) error {
		rep.Problems = rep.Problems[:0]
		rep.Nodes, rep.Facts, rep.Keys = 0, 0, 0
		return checkTx(tx, rep)
	})
	return rep, err
}

func keyName(k []byte) string {
	if len(k) == 0 {
		return "(empty key)"
	}
	return fmt.Sprintf("%c:%x", k[0], k[1:])
}

func checkTx(tx Txn, rep *CheckReport) error {
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

	err := tx.Scan([]byte{prefixNode}, false, func(k, v []byte) error {
		rep.Nodes++
		if len(k) != 17 {
			problem(k, "node key is %d bytes, want 17", len(k))
			return nil
		}
		np, err := decodeNode(v)
		if err != nil {
			problem(k, "node record does not decode: %v", err)
			return nil
		}
		n := *np
		if !bytes.Equal(n.ID[:], k[1:]) {
			problem(k, "node record has id %s", n.ID)
		}
		if err := validateNode(&n); err != nil {
			problem(k, "node %s is invalid: %v", n.Slug, err)
		}
		nodes[n.ID] = &n
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
	err = tx.Scan([]byte{prefixText}, false, func(k, v []byte) error {
		if len(k) != 17 {
			problem(k, "text key is %d bytes, want 17", len(k))
			return nil
		}
		id, _ := uuid.FromBytes(k[1:])
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

	err = tx.Scan([]byte{prefixFact}, false, func(k, v []byte) error {
		rep.Facts++
		if len(k) != 17 {
			problem(k, "fact key is %d bytes, want 17", len(k))
			return nil
		}
		fp, err := decodeFact(v)
		if err != nil {
			problem(k, "fact record does not decode: %v", err)
			return nil
		}
		f := *fp
		if !bytes.Equal(f.ID[:], k[1:]) {
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

	if err := checkRetractedNodes(tx, nodes, problem); err != nil {
		return err
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
	for _, p := range []byte{prefixOut, prefixIn, prefixKind, prefixSlug, prefixName, prefixPred, prefixValue, prefixYear, prefixNodeYear} {
		err := tx.Scan([]byte{p}, true, func(k, _ []byte) error {
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
	// Nothing else lives in the store.
	known := map[byte]bool{prefixMeta: true, prefixNode: true, prefixText: true, prefixFact: true, prefixOut: true, prefixIn: true,
		prefixKind: true, prefixSlug: true, prefixName: true, prefixPred: true, prefixValue: true, prefixYear: true, prefixNodeYear: true,
		prefixSaved: true}
	return tx.Scan(nil, true, func(k, _ []byte) error {
		if len(k) == 0 || !known[k[0]] {
			problem(k, "key of no known kind")
		}
		return nil
	})
}

func describeKey(k []byte) string {
	switch k[0] {
	case prefixOut:
		return "forward adjacency entry"
	case prefixIn:
		return "reverse adjacency entry"
	case prefixKind:
		return "kind index entry"
	case prefixSlug:
		return "slug entry"
	case prefixName:
		return "name index entry"
	case prefixPred:
		return "predicate index entry"
	case prefixValue:
		return "value index entry"
	case prefixYear:
		return "fact year index entry"
	case prefixNodeYear:
		return "node year index entry"
	}
	return "key"
}

// checkRetractedNodes verifies what RetractNode promises: a retracted entity
// has no active or negated fact as subject or object (every fact that names a
// retracted entity is retracted too). It reads the adjacency entries, whose
// flags the rest of the check holds to their facts.
func checkRetractedNodes(tx Txn, nodes map[uuid.UUID]*Node, problem func(k []byte, format string, args ...any)) error {
	for _, p := range []byte{prefixOut, prefixIn} {
		err := tx.Scan([]byte{p}, false, func(k, v []byte) error {
			_, id, _, fact, err := parseAdjKey(k)
			if err != nil || len(v) == 0 || v[0] == flagRetracted {
				return nil // malformed entries are reported as orphans or bad values
			}
			if n := nodes[id]; n != nil && n.Retraction != nil {
				role := "subject"
				if p == prefixIn {
					role = "object"
				}
				problem(factKey(fact), "fact is not retracted, but its %s %s was retracted", role, n.Slug)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
