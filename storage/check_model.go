package storage

import (
	"encoding/binary"
	"fmt"
)

// CheckModel checks a read model against the store, in one read of it: it
// builds a model of the store's records with loader and compares every
// answer of the model with the store's own indexes (DiffSnapshots); and it
// checks the change log: its entries decode, their versions follow one
// another (a reset entry may skip), and the last is the head. It returns up
// to max problems (none: they agree). It is `check -model`.
func (g *Graph) CheckModel(loader ModelLoader, max int) (problems []string, err error) {
	return CheckModelKV(g.kv, loader, max)
}

// CheckModelKV is Graph.CheckModel on a store opened read-only (check's
// private copy), where no Graph can be opened.
func CheckModelKV(kv KV, loader ModelLoader, max int) (problems []string, err error) {
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
		problems, err = DiffSnapshots(&kvSnapshot{tx: tx, v: head}, m.Snapshot(), max)
		if err != nil {
			return err
		}
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
			return err
		}
		if entries > 0 && prev != head {
			problems = append(problems, fmt.Sprintf("change log: the last entry is %d, the head %d", prev, head))
		}
		return nil
	})
	return problems, err
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
