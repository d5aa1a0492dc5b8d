package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Cold start from a saved model (issue 11). Building the read model from a
// full scan of the store costs about 17 s of CPU at a million entities; a
// ModelCache keeps the model in a file (memgraph.Files) so that a start reads
// the file, at version F, and applies the change log's entries after F, up to
// the head: what a restart needs is then a read of the file and a replay of
// what changed since.
//
// A file is used only when it is this store's (store ID), at a version F at
// most the head, the log's entry of version F still says what the file says
// it did (its commit time: a store that lost writes in a crash without -sync,
// then committed others under the same versions, has another), and the log
// keeps every entry after F with no reset among them (an import or restore
// replaced the graph). Otherwise, or when the file does not read whole, the
// model is built from the store, as without a cache, and a file is written
// soon after.
//
// When files are written (never on the commit path):
//   - in the background soon after a start that built the model from the
//     store (the next start then reads it);
//   - in the background after a compaction (a fresh base, a small overlay)
//     or ModelSaveChanges changes, at most once every Options.ModelSaveEvery;
//   - at Close, once the committer stopped, when the model moved since the
//     last file.

// ModelCache saves a read model's snapshots to files and reads them back.
type ModelCache interface {
	// Load returns the newest saved model of the store at a version at
	// most head that reads back whole, with the commit time of that
	// version's change the file recorded (zero when none); nil when there
	// is none. Files that do not read are skipped (and reported), not
	// returned as errors.
	Load(storeID uuid.UUID, head uint64) (m ReadModel, at time.Time, err error)
	// Save writes a snapshot of the model (the model's Snapshot) at its
	// version, whose change committed at at (zero when none).
	Save(storeID uuid.UUID, s Snapshot, at time.Time) error
}

// DefaultModelSaveEvery bounds how often the model is saved while it runs.
const DefaultModelSaveEvery = 10 * time.Minute

// ModelSaveChanges is how many changes since the last file lead to a save
// without a compaction (at most once every ModelSaveEvery): they bound the
// log a start after a crash replays, at about 60 us a change.
const ModelSaveChanges = 10_000

// modelSaveCheck is how often the saver looks for a compaction.
const modelSaveCheck = 30 * time.Second

// errNoReplay is a saved model the log cannot bring to the head.
var errNoReplay = errors.New("the change log cannot bring the saved model to the head")

// loadSaved loads the cache's model of the store and applies the log's
// entries after its version, from, up to the head; nil when there is none
// usable (reported).
func (l *changeLog) loadSaved(storeID uuid.UUID) (m ReadModel, head, from uint64) {
	if err := l.kv.View(func(tx Txn) error {
		var err error
		head, _, err = readHead(tx)
		return err
	}); err != nil {
		l.log.Warn("read model file not used: the head does not read", "err", err)
		return nil, 0, 0
	}
	start := time.Now()
	m, at, err := l.cache.Load(storeID, head)
	if err != nil {
		l.log.Warn("read model file not used; building the model from the store", "err", err)
		return nil, 0, 0
	}
	if m == nil {
		return nil, 0, 0
	}
	loaded := time.Since(start)
	from = m.Snapshot().Version()
	var replayed int
	err = l.kv.View(func(tx Txn) (err error) {
		defer func() {
			// A file that read whole but that a change does not apply to
			// (a bug, not damage: the checksum held) must not stop the
			// start: the model is built from the store instead.
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: replay panicked: %v", errNoReplay, p)
			}
		}()
		h, _, err := readHead(tx)
		if err != nil {
			return err
		}
		head = h
		c, ok, err := logEntry(tx, from)
		if err != nil {
			return err
		}
		switch {
		case ok && !c.At.Equal(at):
			return fmt.Errorf("%w: the log's change %d committed at %s, the file's at %s (the store lost writes?)", errNoReplay, from, c.At, at)
		case !ok && from != head:
			return fmt.Errorf("%w: the log no longer holds version %d", errNoReplay, from)
		}
		return scanLog(tx, from, head, func(c *Change) error {
			if c.Reset {
				return fmt.Errorf("%w: the graph was replaced at version %d", errNoReplay, c.Version)
			}
			if err := m.Apply(*c); err != nil {
				return fmt.Errorf("%w: %v", errNoReplay, err)
			}
			replayed++
			l.remember(c)
			return nil
		})
	})
	if err == nil && m.Snapshot().Version() != head {
		err = fmt.Errorf("%w: replay ended at %d, the head is %d (a gap in the log)", errNoReplay, m.Snapshot().Version(), head)
	}
	if err != nil {
		m.Close()
		l.recentMu.Lock()
		l.recent = nil
		l.recentMu.Unlock()
		l.log.Warn("read model file not used; building the model from the store", "version", from, "head", head, "err", err)
		return nil, 0, 0
	}
	l.log.Info("read model loaded from its file", "version", from, "head", head, "replayed", replayed,
		"read_in", loaded.String(), "took", time.Since(start).String())
	return m, head, from
}

// saver is the background writer of model files.
type saver struct {
	l       *changeLog
	storeID uuid.UUID
	every   time.Duration

	mu        sync.Mutex // one save at a time
	saved     uint64     // the version of the last file (written or read)
	savedAt   time.Time
	haveSaved bool
	model     ReadModel // the model the compaction count is of
	compacted int

	stop func()
	done chan struct{}
}

func newSaver(l *changeLog, storeID uuid.UUID, every time.Duration) *saver {
	if every <= 0 {
		every = DefaultModelSaveEvery
	}
	return &saver{l: l, storeID: storeID, every: every, done: make(chan struct{})}
}

// run saves soon (when now is set: the model was built from the store), then
// after each compaction at most once every s.every, until stopped.
func (s *saver) run(now bool) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() {
		defer close(s.done)
		if now {
			s.save("built from the store")
		}
		t := time.NewTicker(min(modelSaveCheck, s.every))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			m := s.l.readModel()
			st := m.Stats()
			s.mu.Lock()
			due := time.Since(s.savedAt) >= s.every && (!s.haveSaved || st.Version != s.saved) &&
				(m != s.model || st.Compactions != s.compacted || st.Version-s.saved >= ModelSaveChanges)
			s.mu.Unlock()
			if due {
				s.save("compacted")
			}
		}
	}()
}

// loaded records the file a start read: of version v, which the model may
// have moved past (the log's entries after it, replayed).
func (s *saver) loaded(m ReadModel, v uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saved, s.haveSaved, s.savedAt, s.model, s.compacted = v, true, time.Now(), m, m.Stats().Compactions
}

// save writes the latest snapshot, unless the last file is of its version.
func (s *saver) save(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.l.readModel()
	if m == nil {
		return
	}
	st := m.Stats()
	snap := m.Snapshot()
	v := snap.Version()
	if s.haveSaved && s.saved == v {
		s.model, s.compacted = m, st.Compactions
		return
	}
	var at time.Time
	err := s.l.kv.View(func(tx Txn) error {
		c, ok, err := logEntry(tx, v)
		if ok {
			at = c.At
		}
		return err
	})
	start := time.Now()
	if err == nil {
		err = s.l.cache.Save(s.storeID, snap, at)
	}
	if err != nil {
		s.l.log.Error("read model file not written; the next start builds the model from the store", "version", v, "err", err)
		return
	}
	s.saved, s.haveSaved, s.savedAt, s.model, s.compacted = v, true, time.Now(), m, st.Compactions
	s.l.log.Info("read model file written", "version", v, "why", why, "took", time.Since(start).String())
}

// close stops the background saves and writes the model once more if it
// moved (the committer has stopped: nothing moves it after).
func (s *saver) close() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	s.save("shutdown")
}
