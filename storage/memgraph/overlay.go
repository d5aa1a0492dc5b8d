package memgraph

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"github.com/google/uuid"
	"github.com/tidwall/btree"

	"policygraph/storage"
)

// The overlay: what changed since the base, as one copy-on-write B-tree of
// keys (tidwall/btree: Copy is O(1), and a write copies only the path it
// changes). Each entry is a key in a layout like the store's (one prefix
// byte per kind of key, then fixed-width or 0x00-ended parts, so byte order
// is the index's order), a value, and del: the key is gone (an index entry
// of the base, or of an earlier change, that no longer holds). An entry
// overrides the base entry with the same key. Internal IDs are 4 bytes
// big-endian, other IDs the 16 UUID bytes, years 2 bytes big-endian.
//
//	'n' | node iid(4)                       -> node uuid(16) | node record
//	'u' | node uuid(16)                     -> node iid(4)          (entities new since the base)
//	'f' | fact iid(4)                       -> fact uuid(16) | fact record
//	'g' | fact uuid(16)                     -> fact iid(4)          (facts new since the base)
//	'o' | node iid(4) | pred(1) | fact uuid(16) -> fact iid(4) | other iid(4) | state(1)
//	'i' | node iid(4) | pred(1) | fact uuid(16) -> fact iid(4) | other iid(4) | state(1)
//	'k' | kind(1) | folded name 0x00 | node uuid(16) -> node iid(4)
//	'a' | kind(1) | year(2) | node uuid(16)  -> node iid(4)
//	'w' | term 0x00 | node uuid(16)          -> node iid(4)
//	's' | slug                               -> node iid(4)
//	'p' | pred(1) | fact uuid(16)            -> fact iid(4)
//	'y' | pred(1) | year(2) | fact uuid(16)  -> fact iid(4)
//	'v' | pred(1) | value 0x00 | fact uuid(16) -> fact iid(4) | subject iid(4)
//	'x' | node iid(4)                        -> blob(4)             (a source's text)
//	'Q' | name                               -> saved query (JSON)
const (
	keyNode     = 'n'
	keyNodeID   = 'u'
	keyFact     = 'f'
	keyFactID   = 'g'
	keyOut      = 'o'
	keyIn       = 'i'
	keyKind     = 'k'
	keyNodeYear = 'a'
	keyName     = 'w'
	keySlug     = 's'
	keyPred     = 'p'
	keyYear     = 'y'
	keyValue    = 'v'
	keyText     = 'x'
	keySaved    = 'Q'
)

type entry struct {
	key, val string
	del      bool
}

func newOverlay() *btree.BTreeG[entry] {
	return btree.NewBTreeGOptions(func(a, b entry) bool { return a.key < b.key }, btree.Options{NoLocks: true, Degree: 16})
}

// keyOf builds a key from its parts: bytes, strings (0x00-ended when
// ended), uint32 (4 bytes), uint16 (2 bytes), uuid (16 bytes).
type keyb []byte

func (k keyb) b(c byte) keyb        { return append(k, c) }
func (k keyb) u32(v uint32) keyb    { return binary.BigEndian.AppendUint32(k, v) }
func (k keyb) u16(v uint16) keyb    { return binary.BigEndian.AppendUint16(k, v) }
func (k keyb) id(id uuid.UUID) keyb { return append(k, id[:]...) }
func (k keyb) str(s string) keyb    { return append(k, s...) }
func (k keyb) cstr(s string) keyb   { return append(append(k, s...), 0) }
func (k keyb) s() string            { return string(k) }
func u32(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}
func lastID(s string) (id uuid.UUID) { copy(id[:], s[len(s)-16:]); return id }

// textKeyNode is the node iid of an 'x' key (the table above).
func textKeyNode(k string) uint32     { return u32(k[1:]) }
func hasPrefix(s, prefix string) bool { return strings.HasPrefix(s, prefix) }
func newKey(prefix byte, n int) keyb  { return append(make(keyb, 0, n+1), prefix) }
func adjPrefixByte(out bool) byte {
	if out {
		return keyOut
	}
	return keyIn
}

// adjVal is an adjacency entry's value.
func adjVal(fact, other uint32, st storage.FactState) string {
	return string(keyb(make([]byte, 0, 9)).u32(fact).u32(other).b(byte(st)))
}

// unsafeBytes views an overlay string as bytes, to read it: the overlay's
// strings are never modified.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
