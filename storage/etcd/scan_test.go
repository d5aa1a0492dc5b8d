package etcd

import (
	"context"
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"policygraph/storage"
)

// TestScanPagesGrow: a long scan's pages grow while they hold little (etcd
// counts every key left in the range to answer each page, so fixed small
// pages make a scan quadratic: 160k keys listed at 38k keys/s in 512-key
// pages, 198k/s with growing ones); a scan still sees every key once, in
// order, with values of every size.
func TestScanPagesGrow(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	kv := openKV(t, c, p, nil)
	cli := c.Client(t)
	put := func(from, to int, size int) {
		for i := from; i < to; {
			ops := make([]clientv3.Op, 0, 100)
			for ; i < to && len(ops) < 100 && len(ops)*size < 1<<20; i++ {
				ops = append(ops, clientv3.OpPut(fmt.Sprintf("%sk/S%08d", p, i), string(append([]byte{0}, make([]byte, size)...))))
			}
			if _, err := cli.Txn(context.Background()).Then(ops...).Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	scan := func() (keys int, pages uint64) {
		before := kv.Stats().ScanPages
		last := ""
		err := kv.View(func(tx storage.Txn) error {
			return tx.Scan([]byte("S"), false, func(k, _ []byte) error {
				if string(k) <= last {
					t.Fatalf("key %q after %q", k, last)
				}
				last = string(k)
				keys++
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys, kv.Stats().ScanPages - before
	}
	const small = 20000
	put(0, small, 100)
	keys, pages := scan()
	if keys != small {
		t.Fatalf("scanned %d keys, want %d", keys, small)
	}
	// 512, 1024, ..., 8192 keys: 5 pages hold 15,872, the sixth the rest.
	if pages > 8 {
		t.Errorf("a scan of %d small values took %d pages; in fixed pages of %d it takes %d", small, pages, scanPage, small/scanPage+1)
	}
	// Values of 64 KiB after the small ones: still every key once, in order.
	put(small, small+1100, 64<<10)
	keys, pages = scan()
	if keys != small+1100 {
		t.Fatalf("scanned %d keys, want %d", keys, small+1100)
	}
	t.Logf("%d keys (%d of 64 KiB) in %d pages", keys, 1100, pages)
}
