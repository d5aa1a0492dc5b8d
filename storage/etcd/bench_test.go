package etcd

import (
	"bytes"
	"fmt"
	"testing"

	"policygraph/storage"
	"policygraph/storage/badger"
)

// BenchmarkUpdate measures one Update of n keys of 64 bytes: on the etcd KV
// (a 3-member cluster on loopback: one Txn up to 127 keys, a staged commit
// past that) and, as the baseline of the same run, on Badger with synced
// writes (the embedded default).
//
//	go test ./storage/etcd -run '^$' -bench Update -benchtime 20x
func BenchmarkUpdate(b *testing.B) {
	c := cluster.Cluster(b)
	engines := []struct {
		name string
		open func(b *testing.B) storage.KV
	}{
		{"badger-sync", func(b *testing.B) storage.KV {
			kv, err := badger.Open(badger.Options{Dir: b.TempDir(), SyncWrites: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { kv.Close() })
			return kv
		}},
		{"etcd", func(b *testing.B) storage.KV { return openKV(b, c, c.Prefix(b), nil) }},
	}
	value := bytes.Repeat([]byte{'v'}, 64)
	for _, n := range []int{1, 100, 5000} {
		for _, e := range engines {
			b.Run(fmt.Sprintf("keys=%d/%s", n, e.name), func(b *testing.B) {
				kv := e.open(b)
				round := 0
				for b.Loop() {
					round++
					if err := kv.Update(func(tx storage.Txn) error {
						for i := range n {
							if err := tx.Set(fmt.Appendf(nil, "k/%05d", i), append(value, byte(round))); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
