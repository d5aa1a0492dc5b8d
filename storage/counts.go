package storage

import (
	"slices"
	"sync"
)

// The graph's size, kept in process: what Stats answers and what the cost
// model of the GraphQL layer prices scans by. A count key in the store that
// every write updated would make every two writers conflict; instead the keys
// are counted once, by a key-only scan on first use (serve does it at start),
// and from then on each write this process commits adds what it changed,
// before the store's Version moves past it (see CommitNotifier). So Stats costs
// no read, and is exact for a store that this process alone writes (Badger's
// directory lock makes it so). An import, which writes around transactions,
// makes the next use count again.
//
// What is counted is the keys of a few prefixes, grouped:
//
//	'f' fact records (retracted ones too),
//	'k' kind index entries by kind (one per entity not retracted),
//	'p' predicate index entries by predicate (one per active fact),
//	'v' value index entries by predicate and value (active literal facts: COUNTRY = US),
//	'y' year index entries by predicate and year (active facts of known year),
//
// and the length of the longest source text ('x'), which the cost model
// charges for Source.text.
type counter struct {
	// writes is held (shared) by every write from before its transaction to
	// after its changes are applied, and exclusively by the count: a write is
	// either wholly before the count's snapshot or applied after it.
	writes  sync.RWMutex
	mu      sync.Mutex
	counted bool
	groups  map[countGroup]int
	maxText int
}

// countDelta is what one write transaction changes.
type countDelta struct {
	groups  map[countGroup]int
	maxText int
}

// countingTxn records in d the counted keys a write transaction adds and
// removes. A key set that was absent, in the store or earlier in the same
// transaction, is one more; a key deleted that was present, one less.
type countingTxn struct {
	Txn
	d *countDelta
}

func (t *countingTxn) Set(key, value []byte) error {
	if isText(key) {
		t.d.maxText = max(t.d.maxText, len(value))
	}
	if g := groupOf(key); g.kind != 0 {
		if _, err := t.Txn.Get(key); err == ErrKeyMissing {
			t.d.groups[g]++
		} else if err != nil {
			return err
		}
	}
	return t.Txn.Set(key, value)
}

func (t *countingTxn) Delete(key []byte) error {
	if g := groupOf(key); g.kind != 0 {
		if _, err := t.Txn.Get(key); err == nil {
			t.d.groups[g]--
		} else if err != ErrKeyMissing {
			return err
		}
	}
	return t.Txn.Delete(key)
}

// apply adds a committed write's changes; counts not yet made stay unmade.
func (c *counter) apply(d *countDelta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.counted {
		return
	}
	for g, n := range d.groups {
		c.groups[g] += n
	}
	c.maxText = max(c.maxText, d.maxText)
}

// reset makes the next use count again.
func (c *counter) reset() {
	c.mu.Lock()
	c.counted = false
	c.mu.Unlock()
}

// readCounts runs fn on the counts, counting the keys first if needed; the
// count reads through g, so it stops with g's context.
func (g *Graph) readCounts(fn func(groups map[countGroup]int, maxText int)) error {
	c := g.counts
	c.mu.Lock()
	counted := c.counted
	c.mu.Unlock()
	if !counted {
		if err := g.count(); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c.groups, c.maxText)
	return nil
}

// count counts the keys, with writes held off.
func (g *Graph) count() error {
	c := g.counts
	c.writes.Lock()
	defer c.writes.Unlock()
	c.mu.Lock()
	counted := c.counted
	c.mu.Unlock()
	if !counted {
		groups, maxText := map[countGroup]int{}, 0
		err := g.kv.View(func(tx Txn) error {
			for _, kind := range countedKinds {
				if err := tx.Scan(kindPrefix(kind), true, func(k, _ []byte) error {
					groups[groupOf(k)]++
					return nil
				}); err != nil {
					return err
				}
			}
			return tx.Scan(kindPrefix(prefixText), false, func(_, v []byte) error {
				maxText = max(maxText, len(v))
				return nil
			})
		})
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.groups, c.maxText, c.counted = groups, maxText, true
		c.mu.Unlock()
	}
	return nil
}

// Sizes is the graph's size, as the cost model reads it.
type Sizes struct {
	// Nodes counts the entities not retracted, Facts every fact (retracted
	// ones too), ActiveFacts the facts neither negated nor retracted.
	Nodes, Facts, ActiveFacts int
	ByKind                    map[Kind]int
	// ActiveByPredicate counts the active facts of each predicate.
	ActiveByPredicate map[Predicate]int
	// ActiveByYear counts the active facts of each predicate by year, of
	// the facts of known year (the year index); year 0 is never a key.
	ActiveByYear map[Predicate]map[int]int
	// CountryHolders is how many active COUNTRY facts give each country code.
	CountryHolders map[string]int
	// MaxSourceText is the length in bytes of the longest source text.
	MaxSourceText int
}

// Sizes returns the graph's size from the counts kept in process (counting
// the keys on first use). Returns an *errs.Error TIMEOUT once g's context is done.
func (g *Graph) Sizes() (s Sizes, err error) {
	if err := g.ctxErr(); err != nil {
		return s, err
	}
	if m := g.cl.readModel(); m != nil {
		// The read model counts as it applies changes: the snapshot's the
		// request reads (pinned), or the latest.
		s := m.Snapshot()
		if g.pin != nil {
			s = g.pin.get(m)
		}
		if sz, ok := s.(Sizer); ok {
			return sz.Sizes(), nil
		}
	}
	s.ByKind, s.ActiveByPredicate, s.CountryHolders = map[Kind]int{}, map[Predicate]int{}, map[string]int{}
	s.ActiveByYear = map[Predicate]map[int]int{}
	err = g.readCounts(func(groups map[countGroup]int, maxText int) {
		s.MaxSourceText = maxText
		for k, n := range groups {
			switch k.kind {
			case prefixFact:
				s.Facts = n
			case prefixKind:
				s.ByKind[k.entity] = n
				s.Nodes += n
			case prefixPred:
				s.ActiveByPredicate[k.predicate] = n
				s.ActiveFacts += n
			case prefixValue:
				if k.predicate == PredCountry {
					s.CountryHolders[k.value] = n
				}
			case prefixYear:
				if n == 0 {
					continue
				}
				if s.ActiveByYear[k.predicate] == nil {
					s.ActiveByYear[k.predicate] = map[int]int{}
				}
				s.ActiveByYear[k.predicate][k.year] = n
			}
		}
	})
	return s, err
}

// PredicateYear is how many active facts of a known year one predicate has
// in one year.
type PredicateYear struct {
	Predicate   Predicate
	Year, Count int
}

// FactYears returns the year index's counts (Sizes.ActiveByYear) of preds,
// every predicate when preds is empty: by predicate in schema order, then
// year, only the years that have facts. It reads no record. Returns an
// *errs.Error TIMEOUT once g's context is done.
func (g *Graph) FactYears(preds []Predicate) ([]PredicateYear, error) {
	s, err := g.Sizes()
	if err != nil {
		return nil, err
	}
	var out []PredicateYear
	for _, p := range predicateOrder {
		if len(preds) > 0 && !slices.Contains(preds, p) {
			continue
		}
		first := len(out)
		for y, n := range s.ActiveByYear[p] {
			out = append(out, PredicateYear{Predicate: p, Year: y, Count: n})
		}
		slices.SortFunc(out[first:], func(a, b PredicateYear) int { return a.Year - b.Year })
	}
	return out, nil
}
