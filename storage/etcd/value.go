package etcd

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The tag byte every value under k/ starts with.
const (
	tagDirect   = 0x00 // the value follows
	tagIndirect = 0x01 // uvarint length, then the sha256 of each chunk under b/
)

// chunkKey is the key of the content-addressed chunk with hash h.
func (k *KV) chunkKey(h []byte) string { return k.prefix + "b/" + hex.EncodeToString(h) }

// encode returns the stored form of value: direct when it is at most
// ChunkBytes long; else its chunks are put under b/ (idempotent: a chunk's
// key is its hash, so a retry or another value with the same chunk writes
// the same bytes again) and the stored form names them. A chunk no value
// names any more stays (see the package doc). put holds the chunks this
// Update already put, so a run of fn again after a conflict does not send
// them again.
func (k *KV) encode(value []byte, put map[[sha256.Size]byte]bool) ([]byte, error) {
	if len(value) <= k.cfg.ChunkBytes {
		out := make([]byte, 1+len(value))
		out[0] = tagDirect
		copy(out[1:], value)
		return out, nil
	}
	out := binary.AppendUvarint([]byte{tagIndirect}, uint64(len(value)))
	for off := 0; off < len(value); off += k.cfg.ChunkBytes {
		chunk := value[off:min(off+k.cfg.ChunkBytes, len(value))]
		h := sha256.Sum256(chunk)
		out = append(out, h[:]...)
		if put[h] {
			continue
		}
		ctx, cancel := k.opCtx()
		resp, err := k.cli.Put(ctx, k.chunkKey(h[:]), string(chunk))
		cancel()
		if err != nil {
			return nil, k.fail("put a value chunk", err)
		}
		k.ok(resp.Header.Revision)
		put[h] = true
	}
	k.stats.chunked.Add(1)
	return out, nil
}

// decode returns the value a stored form holds, reading its chunks (which
// never change: any revision serves) and checking their hashes.
func (k *KV) decode(key string, stored []byte) ([]byte, error) {
	if len(stored) == 0 {
		return nil, fmt.Errorf("etcd: %q holds no tag byte", key)
	}
	switch stored[0] {
	case tagDirect:
		return bytes.Clone(stored[1:]), nil
	case tagIndirect:
	default:
		return nil, fmt.Errorf("etcd: %q has an unknown tag %#x", key, stored[0])
	}
	n, w := binary.Uvarint(stored[1:])
	hashes := stored[1+max(w, 0):]
	if w <= 0 || len(hashes)%sha256.Size != 0 || n > uint64(len(hashes)/sha256.Size)*uint64(k.cfg.ChunkBytes)*4 {
		return nil, fmt.Errorf("etcd: %q: a damaged indirect value", key)
	}
	value := make([]byte, 0, n)
	for len(hashes) > 0 {
		h := hashes[:sha256.Size]
		hashes = hashes[sha256.Size:]
		ctx, cancel := k.opCtx()
		resp, err := k.cli.Get(ctx, k.chunkKey(h), clientv3.WithSerializable())
		if err == nil && len(resp.Kvs) == 0 {
			// A serializable read of a member behind: ask the leader.
			resp, err = k.cli.Get(ctx, k.chunkKey(h))
		}
		cancel()
		if err != nil {
			return nil, k.fail("get a value chunk", err)
		}
		if len(resp.Kvs) == 0 {
			return nil, fmt.Errorf("etcd: %q: chunk %x is missing", key, h)
		}
		if got := sha256.Sum256(resp.Kvs[0].Value); !bytes.Equal(got[:], h) {
			return nil, fmt.Errorf("etcd: %q: chunk %x is damaged", key, h)
		}
		value = append(value, resp.Kvs[0].Value...)
	}
	if uint64(len(value)) != n {
		return nil, fmt.Errorf("etcd: %q: chunks hold %d bytes, want %d", key, len(value), n)
	}
	return value, nil
}
