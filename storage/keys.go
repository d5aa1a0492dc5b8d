package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/google/uuid"
)

// Key layout. One prefix byte per key kind; IDs are 16 raw UUID bytes; names,
// kinds and predicates are ASCII or folded UTF-8 with no 0x00, ended by 0x00;
// years are 2 bytes big-endian so that byte order is numeric order.
//
//	meta      'M' "format"                          -> uint32 format version
//	meta      'M' "store"                           -> store ID (16): made with the store
//	meta      'M' "restored"                        -> Provenance (JSON): the backup a restore loaded
//	node      'n' | id(16)                          -> Node (codec.go)
//	text      'x' | id(16)                          -> a source's full text
//	fact      'f' | id(16)                          -> Fact (codec.go)
//	out       'o' | subject(16) | pred 0x00 | fact(16) -> flag(1) | object(16)?
//	in        'i' | object(16)  | pred 0x00 | fact(16) -> flag(1) | subject(16)
//	kind      'k' | kind 0x00 | folded name 0x00 | id(16) -> ""  (ordered by name)
//	slug      's' | slug                             -> id(16)
//	name      'w' | folded term 0x00 | id(16)        -> ""
//	pred      'p' | pred 0x00 | fact(16)             -> ""            (active facts only)
//	value     'v' | pred 0x00 | value 0x00 | fact(16) -> subject(16)  (active facts only)
//	year      'y' | pred 0x00 | year(2) | fact(16)   -> ""            (active facts only)
//	nodeyear  'a' | kind 0x00 | year(2) | id(16)     -> ""
//	saved     'Q' | name                             -> SavedQuery (JSON)
//	guard     'g' | id(16)                           -> never present (see guardKey)
//
// The flag byte of adjacency values is flagActive, flagNegated or flagRetracted,
// so a scan can skip inactive facts without loading them.
const (
	prefixMeta     byte = 'M'
	prefixNode     byte = 'n'
	prefixText     byte = 'x'
	prefixFact     byte = 'f'
	prefixOut      byte = 'o'
	prefixIn       byte = 'i'
	prefixKind     byte = 'k'
	prefixSlug     byte = 's'
	prefixName     byte = 'w'
	prefixPred     byte = 'p'
	prefixValue    byte = 'v'
	prefixYear     byte = 'y'
	prefixNodeYear byte = 'a'
	prefixGuard    byte = 'g'
)

// FormatVersion is the on-disk layout version, checked on open. Version 2 stores
// records in the compact codec (codec.go); version 1 stored JSON, which version 2
// still reads, so Open upgrades a version-1 store by rewriting this number.
const FormatVersion uint32 = 2

const (
	flagActive    byte = 'A'
	flagNegated   byte = 'N'
	flagRetracted byte = 'R'
)

var (
	metaFormatKey   = []byte{prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}
	metaStoreIDKey  = []byte{prefixMeta, 's', 't', 'o', 'r', 'e'}
	metaRestoredKey = []byte{prefixMeta, 'r', 'e', 's', 't', 'o', 'r', 'e', 'd'}
)

func idKey(prefix byte, id uuid.UUID) []byte {
	k := make([]byte, 17)
	k[0] = prefix
	copy(k[1:], id[:])
	return k
}

func nodeKey(id uuid.UUID) []byte { return idKey(prefixNode, id) }
func textKey(id uuid.UUID) []byte { return idKey(prefixText, id) }
func factKey(id uuid.UUID) []byte { return idKey(prefixFact, id) }

// guardKey is where a write that gives a node a new active or negated fact
// meets RetractNode, which retracts every such fact. Badger detects only
// read-write conflicts, per key: RetractNode's adjacency scan does not see a
// fact inserted into its range by a transaction that commits first, so without
// a common key both would commit and leave a retracted node with an active
// fact. Fact writes delete the node's guard key, blindly (a write for Badger's
// conflict detection, yet nothing is stored, and fact writes never conflict
// with each other over it), and RetractNode reads it, so the later of the two
// to commit conflicts and runs again. The other order is covered already: a
// fact write reads its subject's and object's node records, which RetractNode
// writes. A KV engine that does not count the delete of an absent key as a
// write must detect the insert into the scanned adjacency range instead.
func guardKey(id uuid.UUID) []byte { return idKey(prefixGuard, id) }

// adjPrefix is the prefix of the adjacency of node in direction prefix ('o' or 'i'),
// narrowed to pred when pred is not empty.
func adjPrefix(prefix byte, node uuid.UUID, pred Predicate) []byte {
	k := make([]byte, 0, 17+len(pred)+1)
	k = append(k, prefix)
	k = append(k, node[:]...)
	if pred != "" {
		k = append(k, pred...)
		k = append(k, 0)
	}
	return k
}

func adjKey(prefix byte, node uuid.UUID, pred Predicate, fact uuid.UUID) []byte {
	return append(adjPrefix(prefix, node, pred), fact[:]...)
}

// parseAdjKey inverts adjKey.
func parseAdjKey(k []byte) (prefix byte, node uuid.UUID, pred Predicate, fact uuid.UUID, err error) {
	if len(k) < 1+16+1+1+16 || (k[0] != prefixOut && k[0] != prefixIn) || k[len(k)-17] != 0 {
		return 0, uuid.Nil, "", uuid.Nil, fmt.Errorf("bad adjacency key %x", k)
	}
	prefix = k[0]
	copy(node[:], k[1:17])
	pred = Predicate(k[17 : len(k)-17])
	copy(fact[:], k[len(k)-16:])
	return prefix, node, pred, fact, nil
}

func strKey(prefix byte, parts ...string) []byte {
	n := 1
	for _, p := range parts {
		n += len(p) + 1
	}
	k := make([]byte, 0, n+16)
	k = append(k, prefix)
	for _, p := range parts {
		k = append(k, p...)
		k = append(k, 0)
	}
	return k
}

func slugKey(slug string) []byte { return append([]byte{prefixSlug}, slug...) }
func nameKey(term string, id uuid.UUID) []byte {
	return append(strKey(prefixName, term), id[:]...)
}
func predKey(pred Predicate, fact uuid.UUID) []byte {
	return append(strKey(prefixPred, string(pred)), fact[:]...)
}
func valueKey(pred Predicate, value string, fact uuid.UUID) []byte {
	return append(strKey(prefixValue, string(pred), value), fact[:]...)
}

func yearBytes(year int) []byte {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(year))
	return b[:]
}

func yearKey(pred Predicate, year int, fact uuid.UUID) []byte {
	k := append(strKey(prefixYear, string(pred)), yearBytes(year)...)
	return append(k, fact[:]...)
}

func nodeYearKey(kind Kind, year int, id uuid.UUID) []byte {
	k := append(strKey(prefixNodeYear, string(kind)), yearBytes(year)...)
	return append(k, id[:]...)
}

// lastID reads the trailing 16-byte ID of an index key.
func lastID(k []byte) uuid.UUID {
	var id uuid.UUID
	copy(id[:], k[len(k)-16:])
	return id
}

// yearOf reads the year of a 'y' or 'a' key whose fixed part has length n.
func yearAt(k []byte, n int) int { return int(binary.BigEndian.Uint16(k[n : n+2])) }
