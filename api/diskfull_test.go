package api_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"policygraph/errs"
	"policygraph/storage"
)

// fullKV is a store whose disk is full while full is set (a fault injected
// where Badger's watermark would report it; the real one is tested on a tmpfs
// in the main package).
type fullKV struct {
	storage.KV
	full atomic.Bool
}

func (f *fullKV) Writable() error {
	if f.full.Load() {
		return errs.Errorf(errs.DiskFull, "", "writes are refused while the disk is nearly full")
	}
	return f.KV.Writable()
}

// TestDiskFullRefusesMutations: a mutation on a full disk is refused before it
// runs, 507 DISK_FULL under application/graphql-response+json; reads go on.
func TestDiskFullRefusesMutations(t *testing.T) {
	base := seeded(t)
	kv := &fullKV{KV: base.KV()}
	g, err := storage.Open(kv)
	if err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, g, nil)
	create := map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": "Full Disk Inc"}}
	kv.full.Store(true)
	a.do(createEntityMutation, create, true).WantError(t, http.StatusInsufficientStorage, "DISK_FULL")
	a.do(`{ entity(slug: "qualcomm") { name } }`, nil, false).OK(t)
	if _, err := g.NodeBySlug("full-disk-inc"); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("a refused write was stored: %v", err)
	}
	kv.full.Store(false)
	a.do(createEntityMutation, create, true).OK(t)
}
