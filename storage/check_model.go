package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// CheckModel checks a read model against the store, in one read of it: it
// builds a model of the store's records with loader and compares every
// answer of the model with the store's own indexes (DiffSnapshots); and it
// checks the change log: its entries decode, their versions follow one
// another (a reset entry may skip), and the last is the head. It returns up
// to max problems (none: they agree). It is `check -model`.
//
// On an IndexFree KV, which has no indexes to compare with, the model built
// from the records is compared with the graph's running model instead, at
// the same version (CheckModel catches the running model up to the store's
// head first, with writes held off).
func (g *Graph) CheckModel(loader ModelLoader, max int) (problems []string, err error) {
	if !g.cl.indexFree || g.cl.readModel() == nil {
		return CheckModelKV(g.kv, loader, max)
	}
	g.cl.mu.Lock()
	defer g.cl.mu.Unlock()
	for try := 0; ; try++ {
		if err := g.cl.catchUp(); err != nil {
			return nil, err
		}
		var moved bool
		problems, err = checkModelTx(g.kv, loader, max, func(tx Txn, head uint64) Snapshot {
			// Another server may have written since the catch-up: bring
			// the running model to this read's head from the log entries
			// the same read holds (the committer's lock keeps every other
			// change of the model off), so a check never chases a head
			// that keeps moving.
			model := g.cl.readModel()
			if v := model.Snapshot().Version(); head > v {
				if err := g.cl.applyLog(tx, model, v, head); err != nil {
					moved = true // a reset or a gap: catch up (reload), again
					return nil
				}
				g.cl.moved(head)
			}
			running := model.Snapshot()
			if head != running.Version() {
				moved = true
				return nil
			}
			return running
		})
		if !moved || err != nil || try == commitRetries {
			if moved && err == nil {
				err = errors.New("check the model: the store's head kept moving")
			}
			return problems, err
		}
	}
}

// CheckModelKV is Graph.CheckModel on a store opened read-only (check's
// private copy), where no Graph can be opened. On an IndexFree KV it builds
// the model (every record decodes and applies) and checks the change log,
// with nothing to compare the model with.
func CheckModelKV(kv KV, loader ModelLoader, max int) (problems []string, err error) {
	return checkModelTx(kv, loader, max, func(Txn, uint64) Snapshot { return nil })
}

// checkModelTx is CheckModel in one View of kv: the model of the records
// is compared with against(head) when it returns a snapshot, else with the
// store's own indexes, unless kv is IndexFree (nothing to compare with).
func checkModelTx(kv KV, loader ModelLoader, max int, against func(tx Txn, head uint64) Snapshot) (problems []string, err error) {
	err = kv.View(func(tx Txn) error {
		head, _, err := readHead(tx)
		if err != nil {
			return err
		}
		m, err := loader(head, func(sink RecordSink) error { return scanRecords(tx, sink) })
		if err != nil {
			return fmt.Errorf("build the model: %w", err)
		}
		defer m.Close()
		other := against(tx, head)
		if other == nil && !IsIndexFree(kv) {
			other = &kvSnapshot{tx: tx, v: head}
		}
		if other != nil {
			if problems, err = DiffSnapshots(other, m.Snapshot(), max); err != nil {
				return err
			}
		}
		more, err := checkLog(tx, head, max-len(problems))
		problems = append(problems, more...)
		return err
	})
	return problems, err
}

// checkLog checks the change log: its entries decode, their versions follow
// one another (a reset entry may skip), and the last is the head. It
// returns up to max problems.
func checkLog(tx Txn, head uint64, max int) (problems []string, err error) {
	var prev uint64
	entries := 0
	err = tx.Scan(kindPrefix(prefixLog), false, func(k, v []byte) error {
		if len(problems) >= max {
			return ErrStop
		}
		version := binary.BigEndian.Uint64(k[1:])
		c, err := decodeChange(v)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("change log entry %d: %v", version, err))
		case c.Version != version:
			problems = append(problems, fmt.Sprintf("change log entry %d says version %d", version, c.Version))
		case prev != 0 && version != prev+1 && !c.Reset:
			problems = append(problems, fmt.Sprintf("change log: versions %d to %d are missing", prev+1, version-1))
		}
		prev = version
		entries++
		return nil
	})
	if err != nil {
		return problems, err
	}
	if entries > 0 && prev != head && len(problems) < max {
		problems = append(problems, fmt.Sprintf("change log: the last entry is %d, the head %d", prev, head))
	}
	return problems, nil
}

// ReadStore runs fn on a snapshot of the store's own transaction, with its
// indexes, whether or not the graph has a read model: what tests and check
// compare a model with.
func (g *Graph) ReadStore(fn func(Snapshot) error) error {
	return g.kv.View(func(tx Txn) error {
		head, _, err := readHead(tx)
		if err != nil {
			return err
		}
		return fn(&kvSnapshot{tx: tx, v: head})
	})
}
