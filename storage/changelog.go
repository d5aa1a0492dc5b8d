package storage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"policygraph/errs"

	"github.com/google/uuid"
)

// The change log: every committed write is one Change, kept under logKey of
// its version in the same transaction as its records, and the meta key
// metaHeadKey holds the last version. Versions are dense (each commit takes
// the head's next), so a consumer that has applied version V needs exactly
// the entries after V, and a missing one is a lost write, not a gap.
//
// An entry is:
//
//	'C' | uvarint version | int64 commit time (Unix ns) | flags(1) | items...
//	item: tag(1) | uvarint length | bytes
//
// with flags bit 0 marking a reset (a whole-graph import), and the items, in
// the Change's order: 'n' a node (codec.go), 'x' a source text (id(16) |
// text), 'f' a fact, 'r' a revision, 'q' a saved query (JSON), 'd' the name
// of a deleted saved query.

const (
	entryChange = 'C'

	itemNode     = 'n'
	itemText     = 'x'
	itemFact     = 'f'
	itemRevision = 'r'
	itemSaved    = 'q'
	itemDelete   = 'd'

	flagReset = 1
)

// encodeChange encodes a log entry.
func encodeChange(c *Change) ([]byte, error) {
	b := []byte{entryChange}
	b = binary.AppendUvarint(b, c.Version)
	b = binary.BigEndian.AppendUint64(b, uint64(c.At.UnixNano()))
	var flags byte
	if c.Reset {
		flags |= flagReset
	}
	b = append(b, flags)
	item := func(tag byte, v []byte) {
		b = append(b, tag)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	for _, n := range c.Nodes {
		v, err := encodeNode(n)
		if err != nil {
			return nil, err
		}
		item(itemNode, v)
	}
	for _, t := range c.Texts {
		item(itemText, append(t.ID[:], t.Text...))
	}
	for _, f := range c.Facts {
		v, err := encodeFact(f)
		if err != nil {
			return nil, err
		}
		item(itemFact, v)
	}
	for _, r := range c.Revisions {
		v, err := encodeRevision(r)
		if err != nil {
			return nil, err
		}
		item(itemRevision, v)
	}
	for _, q := range c.Saved {
		v, err := json.Marshal(q)
		if err != nil {
			return nil, err
		}
		item(itemSaved, v)
	}
	for _, name := range c.DeleteSaved {
		item(itemDelete, []byte(name))
	}
	return b, nil
}

var errBadEntry = errors.New("damaged change log entry")

// decodeChangeHeader decodes a log entry's version, time and flags, and
// returns the Change without its records and the bytes of its items: what
// pruning reads, without decoding every record (a source's whole text).
func decodeChangeHeader(b []byte) (*Change, []byte, error) {
	if len(b) < 1 || b[0] != entryChange {
		return nil, nil, errBadEntry
	}
	b = b[1:]
	v, n := binary.Uvarint(b)
	if n <= 0 || len(b) < n+9 {
		return nil, nil, errBadEntry
	}
	b = b[n:]
	c := &Change{Version: v, At: time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC(), Reset: b[8]&flagReset != 0}
	return c, b[9:], nil
}

// decodeChange decodes a log entry.
func decodeChange(b []byte) (*Change, error) {
	c, b, err := decodeChangeHeader(b)
	if err != nil {
		return nil, err
	}
	for len(b) > 0 {
		tag := b[0]
		l, n := binary.Uvarint(b[1:])
		if n <= 0 || uint64(len(b)-1-n) < l {
			return nil, errBadEntry
		}
		val := b[1+n : 1+n+int(l)]
		b = b[1+n+int(l):]
		var err error
		switch tag {
		case itemNode:
			var nd *Node
			if nd, err = decodeNode(val); err == nil {
				c.Nodes = append(c.Nodes, nd)
			}
		case itemText:
			if len(val) < 16 {
				return nil, errBadEntry
			}
			c.Texts = append(c.Texts, SourceText{ID: uuid.UUID(val[:16]), Text: string(val[16:])})
		case itemFact:
			var f *Fact
			if f, err = decodeFact(val); err == nil {
				c.Facts = append(c.Facts, f)
			}
		case itemRevision:
			var r *Revision
			if r, err = decodeRevision(val); err == nil {
				c.Revisions = append(c.Revisions, r)
			}
		case itemSaved:
			q := new(SavedQuery)
			if err = json.Unmarshal(val, q); err == nil {
				c.Saved = append(c.Saved, q)
			}
		case itemDelete:
			c.DeleteSaved = append(c.DeleteSaved, string(val))
		default:
			return nil, fmt.Errorf("%w: item tag %q", errBadEntry, tag)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadEntry, err)
		}
	}
	return c, nil
}

// readHead reads the log's head: the graph's version. ok is false when the
// store has no head key yet (a new store, or one made before the log).
func readHead(tx Txn) (v uint64, ok bool, err error) {
	b, err := tx.Get(metaHeadKey)
	if errors.Is(err, ErrKeyMissing) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if len(b) != 8 {
		return 0, false, fmt.Errorf("head key holds %d bytes, want 8", len(b))
	}
	return binary.BigEndian.Uint64(b), true, nil
}

func setHead(tx Txn, v uint64) error {
	return tx.Set(metaHeadKey, binary.BigEndian.AppendUint64(nil, v))
}

// firstLogged is the version of the oldest entry the log keeps, or 0 when
// it keeps none.
func firstLogged(tx Txn) (v uint64, err error) {
	err = tx.Scan(kindPrefix(prefixLog), true, func(k, _ []byte) error {
		v = binary.BigEndian.Uint64(k[1:])
		return ErrStop
	})
	return v, err
}

// scanLog calls fn with each entry of the log after version after, in order,
// up to and including version to.
func scanLog(tx Txn, after, to uint64, fn func(*Change) error) error {
	if after >= to {
		return nil
	}
	return tx.ScanFrom(kindPrefix(prefixLog), logKey(after+1), false, func(k, val []byte) error {
		v := binary.BigEndian.Uint64(k[1:])
		if v > to {
			return ErrStop
		}
		c, err := decodeChange(val)
		if err != nil {
			return fmt.Errorf("log entry %d: %w", v, err)
		}
		if c.Version != v {
			return fmt.Errorf("log entry %d: %w: it says version %d", v, errBadEntry, c.Version)
		}
		return fn(c)
	})
}

// Changes calls fn with each change after version after, in version order:
// those the log keeps, then, with follow, each one as it commits, until ctx
// is done (Changes then returns nil) or fn returns an error (returned). A
// reset entry comes as a Change with Reset set and no records: the graph was
// loaded whole, and a consumer reads it again. after older than the log
// keeps is an *errs.Error VERSION_GONE; above the head, INVALID_ARGUMENT.
//
// The changes are shared with every other reader: fn must not modify them.
// The recent ones come from memory (recentChanges), older ones from the
// store, read in batches with no transaction open while fn runs, so a slow
// consumer holds nothing of the store's.
func (g *Graph) Changes(ctx context.Context, after uint64, follow bool, fn func(*Change) error) error {
	if head := g.cl.head.Load(); after > head {
		return errs.Errorf(errs.InvalidArgument, "since", "version %d is ahead of the graph's, %d", after, head)
	}
	for {
		head := g.cl.head.Load()
		next := g.cl.wait(head)
		for after < head {
			batch, err := g.cl.changesAfter(after, head)
			if err != nil {
				return err
			}
			for _, c := range batch {
				if err := fn(c); err != nil {
					return err
				}
				after = c.Version
			}
			if err := ctx.Err(); err != nil {
				return nil
			}
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-next:
		}
	}
}

// changesBatch bounds the entries read from the store at once.
const changesBatch = 256

// changesAfter returns the next changes after version after, up to to:
// from memory when it holds them, else a batch read from the store.
func (l *changeLog) changesAfter(after, to uint64) ([]*Change, error) {
	if cs := l.recentAfter(after, to); cs != nil {
		return cs, nil
	}
	var out []*Change
	err := l.kv.View(func(tx Txn) error {
		first := l.first.Load()
		if first == 0 || first > after+1 {
			// Not known, or past after: look (the key only: an entry can be
			// large, the seed's is).
			var err error
			if first, err = firstLogged(tx); err != nil {
				return err
			}
		}
		if first == 0 || first > after+1 {
			if c, ok, err := logEntry(tx, first); err != nil || !ok || !c.Reset {
				if err != nil {
					return err
				}
				return errs.Errorf(errs.VersionGone, "since", "the change log keeps versions from %d on; version %d is older: read the graph again and follow from its version", first, after)
			}
		}
		return scanLog(tx, after, to, func(c *Change) error {
			out = append(out, c)
			if len(out) == changesBatch {
				return ErrStop
			}
			return nil
		})
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("change log: no entry after version %d up to %d", after, to)
	}
	return out, err
}

// recentKept is how many of the latest changes the log keeps in memory for
// its readers (a thousand subscribers following the head read each change
// once from memory, not from the store each).
const recentKept = 4096

// remember keeps a committed change in memory for Changes.
func (l *changeLog) remember(c *Change) {
	l.recentMu.Lock()
	defer l.recentMu.Unlock()
	if n := len(l.recent); n > 0 && c.Version != l.recent[n-1].Version+1 && !c.Reset {
		// Not the next: memory must hold a run without gaps, so start again
		// (the store holds what came between).
		l.recent = l.recent[:0]
	}
	if len(l.recent) == recentKept {
		l.recent = append(l.recent[:0:0], l.recent[recentKept/2:]...)
	}
	l.recent = append(l.recent, c)
}

// recentAfter returns the changes after version after, up to to, when
// memory holds them all from after+1 on; nil otherwise.
func (l *changeLog) recentAfter(after, to uint64) []*Change {
	if f := l.first.Load(); f > after+1 {
		return nil // pruned from the store: the reader is told so there
	}
	l.recentMu.RLock()
	defer l.recentMu.RUnlock()
	r := l.recent
	if len(r) == 0 || r[0].Version > after+1 {
		return nil
	}
	i := sort.Search(len(r), func(i int) bool { return r[i].Version > after })
	j := sort.Search(len(r), func(i int) bool { return r[i].Version > to })
	if i >= j {
		return nil
	}
	return slices.Clone(r[i:j])
}

// logEntry reads the entry of version v: its version, time and flags, not
// its records (decodeChangeHeader).
func logEntry(tx Txn, v uint64) (*Change, bool, error) {
	if v == 0 {
		return nil, false, nil
	}
	b, err := tx.Get(logKey(v))
	if errors.Is(err, ErrKeyMissing) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	c, _, err := decodeChangeHeader(b)
	return c, err == nil, err
}

// LogStats is the change log's state, for metrics.
type LogStats struct {
	// Head is the last committed version; First the oldest the log keeps
	// (0: none yet known).
	Head, First uint64
	// Commits counts the writes committed since start, Batches the store
	// transactions that committed them (with a read model).
	Commits, Batches uint64
	// Model is the read model's version (0 without one); Head - Model is
	// the lag, 0 but while a batch is being applied.
	Model uint64
}

// LogStats reports the change log's state.
func (g *Graph) LogStats() LogStats {
	st := LogStats{Head: g.cl.head.Load(), First: g.cl.first.Load(), Commits: g.cl.commits.Load(), Batches: g.cl.batches.Load()}
	if m := g.cl.readModel(); m != nil {
		st.Model = m.Snapshot().Version()
	}
	return st
}
