package storage

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"policygraph/errs"
)

// kvSnapshot is the Snapshot of one KV transaction: a read-only one (view),
// with the decoded-record cache when its version is known (recordcache.go),
// or a write's own, which sees what the write has changed so far (update).
type kvSnapshot struct {
	tx Txn
	// cache, when not nil, serves and keeps the records read, tagged with
	// cv, the engine's version (KV.Version) the snapshot reads.
	cache *recordCache
	cv    uint64
	// v is the graph's version (the change log's head) the snapshot holds.
	v    uint64
	hits int
}

var _ Snapshot = (*kvSnapshot)(nil)

// Version implements Snapshot.
func (s *kvSnapshot) Version() uint64 { return s.v }

// hit counts a record served from the cache, and every scanCheckEvery hits
// looks at the transaction's context, as a scan does: a loop over cached
// records reads no key, yet must stop when the request's time is up.
func (s *kvSnapshot) hit() error {
	if s.hits++; s.hits%scanCheckEvery != 0 {
		return nil
	}
	if c, ok := s.tx.(*ctxTxn); ok {
		return c.err()
	}
	return nil
}

// Node implements Snapshot.
func (s *kvSnapshot) Node(id uuid.UUID) (*Node, error) {
	if s.cache != nil {
		if e, ok := s.cache.nodes.Get(id); ok && e.v == s.cv {
			return e.n, s.hit()
		}
	}
	b, err := s.tx.Get(nodeKey(id))
	if errors.Is(err, ErrKeyMissing) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "id", Message: fmt.Sprintf("no entity with id %s", id)}
	}
	if err != nil {
		return nil, err
	}
	n, err := decodeNode(b)
	if err != nil {
		return nil, fmt.Errorf("decode node %s: %w", id, err)
	}
	if s.cache != nil {
		s.cache.nodes.Add(id, cachedNode{v: s.cv, n: n}, nodeWeight(n))
	}
	return n, nil
}

// Fact implements Snapshot.
func (s *kvSnapshot) Fact(id uuid.UUID) (*Fact, error) {
	if s.cache != nil {
		if e, ok := s.cache.facts.Get(id); ok && e.v == s.cv {
			return e.f, s.hit()
		}
	}
	b, err := s.tx.Get(factKey(id))
	if errors.Is(err, ErrKeyMissing) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "id", Message: fmt.Sprintf("no fact with id %s", id)}
	}
	if err != nil {
		return nil, err
	}
	f, err := decodeFact(b)
	if err != nil {
		return nil, fmt.Errorf("decode fact %s: %w", id, err)
	}
	if s.cache != nil {
		s.cache.facts.Add(id, cachedFact{v: s.cv, f: f}, factWeight(f))
	}
	return f, nil
}

// SlugID implements Snapshot.
func (s *kvSnapshot) SlugID(slug string) (uuid.UUID, error) {
	b, err := s.tx.Get(slugKey(slug))
	if errors.Is(err, ErrKeyMissing) {
		return uuid.Nil, &errs.Error{Code: errs.NotFound, Field: "slug", Message: fmt.Sprintf("no entity with slug %q", slug)}
	}
	if err != nil {
		return uuid.Nil, err
	}
	return uuid.FromBytes(b)
}

// SourceText implements Snapshot.
func (s *kvSnapshot) SourceText(id uuid.UUID) (string, error) {
	b, err := s.tx.Get(textKey(id))
	if errors.Is(err, ErrKeyMissing) {
		return "", nil
	}
	return string(b), err
}

// Adjacent implements Snapshot.
func (s *kvSnapshot) Adjacent(node uuid.UUID, dir Direction, pred Predicate, fn func(AdjEntry) error) error {
	return stopped(s.tx.Scan(adjPrefix(dir, node, pred), false, func(k, v []byte) error {
		flag, other, err := parseAdjValue(v)
		if err != nil {
			return fmt.Errorf("at %x: %w", k, err)
		}
		e := AdjEntry{Fact: keyID(k), Other: other}
		switch flag {
		case flagNegated:
			e.State = Negated
		case flagRetracted:
			e.State = Retracted
		}
		return fn(e)
	}))
}

// HasValue implements Snapshot. It reads index keys only: the subject's
// adjacency for pred, then the value index entry of each active fact.
func (s *kvSnapshot) HasValue(subject uuid.UUID, pred Predicate, value string) (bool, error) {
	found := false
	err := s.tx.Scan(adjPrefix(Out, subject, pred), false, func(k, v []byte) error {
		if flag, _, err := parseAdjValue(v); err != nil || flag != flagActive {
			return err
		}
		_, err := s.tx.Get(valueKey(pred, value, keyID(k)))
		if errors.Is(err, ErrKeyMissing) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return ErrStop
	})
	return found, err
}

// ids scans the index entries of prefix from start, calling fn with each
// one's ID until last says to stop (nil: the whole prefix).
func (s *kvSnapshot) ids(prefix, start []byte, last func(k []byte) bool, fn func(uuid.UUID) error) error {
	return stopped(s.tx.ScanFrom(prefix, start, true, func(k, _ []byte) error {
		if last != nil && last(k) {
			return ErrStop
		}
		return fn(keyID(k))
	}))
}

// pastYear stops a year scan at the first entry after year to.
func pastYear(to int) func(k []byte) bool { return func(k []byte) bool { return keyYear(k) > to } }

// NodesByKind implements Snapshot.
func (s *kvSnapshot) NodesByKind(kind Kind, fn func(uuid.UUID) error) error {
	p := kindIndexPrefix(kind)
	return s.ids(p, p, nil, fn)
}

// NodesByYear implements Snapshot.
func (s *kvSnapshot) NodesByYear(kind Kind, from, to int, fn func(uuid.UUID) error) error {
	return s.ids(nodeYearPrefix(kind), nodeYearFrom(kind, from), pastYear(to), fn)
}

// FactsByPredicate implements Snapshot.
func (s *kvSnapshot) FactsByPredicate(pred Predicate, fn func(uuid.UUID) error) error {
	p := predPrefix(pred)
	return s.ids(p, p, nil, fn)
}

// FactsByYear implements Snapshot.
func (s *kvSnapshot) FactsByYear(pred Predicate, from, to int, fn func(uuid.UUID) error) error {
	return s.ids(yearPrefix(pred), yearFrom(pred, from), pastYear(to), fn)
}

// SubjectsByValue implements Snapshot.
func (s *kvSnapshot) SubjectsByValue(pred Predicate, value string, fn func(subject, fact uuid.UUID) error) error {
	return stopped(s.tx.Scan(valuePrefix(pred, value), false, func(k, v []byte) error {
		subject, err := uuid.FromBytes(v)
		if err != nil {
			return err
		}
		return fn(subject, keyID(k))
	}))
}

// NameTerms implements Snapshot.
func (s *kvSnapshot) NameTerms(prefix string, whole bool, fn func(term string, id uuid.UUID) error) error {
	return stopped(s.tx.Scan(namePrefix(prefix, whole), true, func(k, _ []byte) error {
		key, err := ParseKey(k)
		if err != nil {
			return err
		}
		return fn(key.Text, key.ID)
	}))
}

// Nodes implements Snapshot.
func (s *kvSnapshot) Nodes(fn func(*Node) error) error {
	return stopped(s.tx.Scan(kindPrefix(prefixNode), false, func(k, v []byte) error {
		n, err := decodeNode(v)
		if err != nil {
			return fmt.Errorf("node %s: %w", keyID(k), err)
		}
		return fn(n)
	}))
}

// Facts implements Snapshot.
func (s *kvSnapshot) Facts(fn func(*Fact) error) error {
	return stopped(s.tx.Scan(kindPrefix(prefixFact), false, func(k, v []byte) error {
		f, err := decodeFact(v)
		if err != nil {
			return fmt.Errorf("fact %s: %w", keyID(k), err)
		}
		return fn(f)
	}))
}

// FactIDs implements Snapshot.
func (s *kvSnapshot) FactIDs(fn func(uuid.UUID) error) error {
	p := kindPrefix(prefixFact)
	return s.ids(p, p, nil, fn)
}

// SourceTexts implements Snapshot.
func (s *kvSnapshot) SourceTexts(fn func(uuid.UUID, string) error) error {
	return stopped(s.tx.Scan(kindPrefix(prefixText), false, func(k, v []byte) error {
		return fn(keyID(k), string(v))
	}))
}

// Revisions implements Snapshot.
func (s *kvSnapshot) Revisions(node uuid.UUID, fn func(*Revision) error) error {
	return stopped(s.tx.Scan(revisionPrefix(node), false, func(k, v []byte) error {
		r, err := decodeRevision(v)
		if err != nil {
			return fmt.Errorf("revision %s: %w", keyName(k), err)
		}
		return fn(r)
	}))
}

// SavedQuery implements Snapshot.
func (s *kvSnapshot) SavedQuery(name string) (*SavedQuery, error) {
	b, err := s.tx.Get(savedKey(name))
	if errors.Is(err, ErrKeyMissing) {
		return nil, errs.Errorf(errs.NotFound, "name", "no saved query named %q", name)
	}
	if err != nil {
		return nil, err
	}
	var q SavedQuery
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, fmt.Errorf("decode saved query %q: %w", name, err)
	}
	return &q, nil
}

// SavedQueries implements Snapshot.
func (s *kvSnapshot) SavedQueries(fn func(*SavedQuery) error) error {
	return stopped(s.tx.Scan(kindPrefix(prefixSaved), false, func(k, v []byte) error {
		var q SavedQuery
		if err := json.Unmarshal(v, &q); err != nil {
			key, _ := ParseKey(k)
			return fmt.Errorf("decode saved query %q: %w", key.Text, err)
		}
		return fn(&q)
	}))
}

// stopped is err, but nil for ErrStop: a Txn's scan already stops on it,
// and reports nil; this makes that so whatever the Txn.
func stopped(err error) error {
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}
