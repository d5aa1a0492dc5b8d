package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/google/uuid"
)

// Key layout: every key of the store, built and read back here and nowhere
// else. One prefix byte per key kind; IDs are 16 raw UUID bytes; names,
// kinds, predicates and values are ASCII or folded UTF-8 with no 0x00, ended by
// 0x00; years are 2 bytes big-endian so that byte order is numeric order.
//
//	meta      'M' | name                              -> see the meta keys below
//	node      'n' | id(16)                            -> Node (codec.go)
//	text      'x' | id(16)                            -> a source's full text
//	fact      'f' | id(16)                            -> Fact (codec.go)
//	out       'o' | subject(16) | pred 0x00 | fact(16) -> flag(1) | object(16)  (uuid.Nil for a literal)
//	in        'i' | object(16)  | pred 0x00 | fact(16) -> flag(1) | subject(16)
//	kind      'k' | kind 0x00 | folded name 0x00 | id(16) -> ""  (ordered by name)
//	slug      's' | slug                              -> id(16)
//	name      'w' | folded term 0x00 | id(16)          -> ""  (a word of a name, from its start)
//	          'w' | '^' folded name 0x00 | id(16)      -> ""  (a whole name: anchored)
//	pred      'p' | pred 0x00 | fact(16)               -> ""            (active facts only)
//	value     'v' | pred 0x00 | value 0x00 | fact(16)  -> subject(16)   (active facts only)
//	year      'y' | pred 0x00 | year(2) | fact(16)     -> ""            (active facts only)
//	nodeyear  'a' | kind 0x00 | year(2) | id(16)       -> ""
//	revision  'r' | node(16) | seq(4)                 -> Revision (codec.go): the node before its seq-th update
//	saved     'Q' | name                              -> SavedQuery (JSON)
//	log       'L' | version(8)                        -> Change (changelog.go): the write that made the version
//	guard     'g' | id(16)                            -> never present (see guardKey)
//
// The meta keys: 'M' "format" -> uint32 format version (FormatVersion);
// 'M' "store" -> store ID(16), made with the store; 'M' "restored" ->
// Provenance (JSON), the backup a restore loaded; 'M' "head" -> uint64, the
// graph's version: the last change the log holds (changelog.go).
//
// The flag byte of adjacency values is flagActive, flagNegated or
// flagRetracted, so a scan can skip inactive facts without loading them.
// ParseKey reads any key back; ExampleParseKey prints one of each kind.
const (
	prefixMeta     = 'M'
	prefixNode     = 'n'
	prefixText     = 'x'
	prefixFact     = 'f'
	prefixOut      = 'o'
	prefixIn       = 'i'
	prefixKind     = 'k'
	prefixSlug     = 's'
	prefixName     = 'w'
	prefixPred     = 'p'
	prefixValue    = 'v'
	prefixYear     = 'y'
	prefixNodeYear = 'a'
	prefixSaved    = 'Q'
	prefixGuard    = 'g'
	prefixRevision = 'r'
	prefixLog      = 'L'
)

// wholeName marks the name-index term of a whole name (after the prefix).
const wholeName = '^'

// FormatVersion is the on-disk layout version, checked on open. Version 3 keeps
// the change log ('L' entries and the head meta key, changelog.go); version 2
// stored records in the compact codec (codec.go); version 1 stored JSON, which
// later versions still read. Open upgrades versions 1 and 2 in place: it
// rewrites this number and starts the log at the store's engine version.
const FormatVersion uint32 = 3

const (
	flagActive    byte = 'A'
	flagNegated   byte = 'N'
	flagRetracted byte = 'R'
)

// KeyKind is the kind of a key: its first byte.
type KeyKind byte

// keyKinds describes every kind of key: its name, what check calls one, and
// whether records own it (index, adjacency and slug entries: check wants
// each to belong to a live record).
var keyKinds = map[KeyKind]struct {
	name, entry string
	owned       bool
}{
	prefixMeta:     {"meta", "meta key", false},
	prefixNode:     {"node", "node record", false},
	prefixText:     {"text", "source text", false},
	prefixFact:     {"fact", "fact record", false},
	prefixOut:      {"out", "forward adjacency entry", true},
	prefixIn:       {"in", "reverse adjacency entry", true},
	prefixKind:     {"kind", "kind index entry", true},
	prefixSlug:     {"slug", "slug entry", true},
	prefixName:     {"name", "name index entry", true},
	prefixPred:     {"pred", "predicate index entry", true},
	prefixValue:    {"value", "value index entry", true},
	prefixYear:     {"year", "fact year index entry", true},
	prefixNodeYear: {"nodeyear", "node year index entry", true},
	prefixSaved:    {"saved", "saved query", false},
	prefixGuard:    {"guard", "guard key", false},
	prefixRevision: {"revision", "entity revision", false},
	prefixLog:      {"log", "change log entry", false},
}

// ownedKinds are the kinds of key records own, in prefix order.
var ownedKinds = []KeyKind{prefixNodeYear, prefixIn, prefixKind, prefixOut, prefixPred, prefixSlug, prefixValue, prefixName, prefixYear}

func (k KeyKind) String() string {
	if d, ok := keyKinds[k]; ok {
		return d.name
	}
	return fmt.Sprintf("unknown(%q)", byte(k))
}

// entry is what check calls a key of the kind.
func (k KeyKind) entry() string {
	if d, ok := keyKinds[k]; ok {
		return d.entry
	}
	return "key"
}

// Key is a key of the store read back by ParseKey: its kind and its parts. A
// part the kind does not have is zero.
type Key struct {
	Kind KeyKind
	// ID is the record a record key names (node, text, fact, guard), or the
	// record an index entry belongs to: its trailing fact or node ID.
	ID uuid.UUID
	// Node is the entity an adjacency entry is filed under (its subject for
	// out, its object for in).
	Node       uuid.UUID
	Predicate  Predicate
	EntityKind Kind
	// Text is the key's string: a meta key's name, the folded name of a kind
	// entry, the term of a name entry, a slug, the value of a value entry, a
	// saved query's name.
	Text string
	// Whole marks a name entry of a whole name, not of a word.
	Whole bool
	Year  int
	// Seq is a revision's number among its node's (Node), from 1.
	Seq int
	// Version is the version a change log entry made.
	Version uint64
}

// ParseKey reads a key back into its parts; it inverts every key builder of
// this file. It fails for a key of no known kind or not of its kind's shape.
func ParseKey(k []byte) (Key, error) {
	bad := func(why string) (Key, error) {
		return Key{}, fmt.Errorf("bad %s key %x: %s", KeyKind(first(k)), k, why)
	}
	if len(k) == 0 {
		return Key{}, fmt.Errorf("empty key")
	}
	key := Key{Kind: KeyKind(k[0])}
	rest := k[1:]
	switch key.Kind {
	case prefixMeta, prefixSlug, prefixSaved:
		key.Text = string(rest)
		if key.Kind == prefixMeta && len(rest) == 0 {
			return bad("no name")
		}
		return key, nil
	case prefixNode, prefixText, prefixFact, prefixGuard:
		if len(rest) != 16 {
			return bad(fmt.Sprintf("%d bytes, want 17", len(k)))
		}
		copy(key.ID[:], rest)
		return key, nil
	case prefixOut, prefixIn:
		if len(rest) < 16+1+1+16 {
			return bad("too short")
		}
		copy(key.Node[:], rest)
		pred, tail, ok := cutZero(rest[16:])
		if !ok || pred == "" || len(tail) != 16 {
			return bad("not node | pred 0x00 | fact")
		}
		key.Predicate = Predicate(pred)
		copy(key.ID[:], tail)
		return key, nil
	case prefixKind:
		kind, tail, ok1 := cutZero(rest)
		name, tail, ok2 := cutZero(tail)
		if !ok1 || !ok2 || len(tail) != 16 {
			return bad("not kind 0x00 | name 0x00 | id")
		}
		key.EntityKind, key.Text = Kind(kind), name
		copy(key.ID[:], tail)
		return key, nil
	case prefixName:
		term, tail, ok := cutZero(rest)
		if !ok || len(tail) != 16 {
			return bad("not term 0x00 | id")
		}
		if len(term) > 0 && term[0] == wholeName {
			key.Whole, term = true, term[1:]
		}
		key.Text = term
		copy(key.ID[:], tail)
		return key, nil
	case prefixPred:
		pred, tail, ok := cutZero(rest)
		if !ok || len(tail) != 16 {
			return bad("not pred 0x00 | fact")
		}
		key.Predicate = Predicate(pred)
		copy(key.ID[:], tail)
		return key, nil
	case prefixValue:
		pred, tail, ok1 := cutZero(rest)
		value, tail, ok2 := cutZero(tail)
		if !ok1 || !ok2 || len(tail) != 16 {
			return bad("not pred 0x00 | value 0x00 | fact")
		}
		key.Predicate, key.Text = Predicate(pred), value
		copy(key.ID[:], tail)
		return key, nil
	case prefixRevision:
		if len(rest) != 16+4 {
			return bad(fmt.Sprintf("%d bytes, want 21", len(k)))
		}
		copy(key.Node[:], rest)
		key.Seq = int(binary.BigEndian.Uint32(rest[16:]))
		return key, nil
	case prefixLog:
		if len(rest) != 8 {
			return bad(fmt.Sprintf("%d bytes, want 9", len(k)))
		}
		key.Version = binary.BigEndian.Uint64(rest)
		return key, nil
	case prefixYear, prefixNodeYear:
		s, tail, ok := cutZero(rest)
		if !ok || len(tail) != 2+16 {
			return bad("not name 0x00 | year | id")
		}
		if key.Kind == prefixYear {
			key.Predicate = Predicate(s)
		} else {
			key.EntityKind = Kind(s)
		}
		key.Year = int(binary.BigEndian.Uint16(tail))
		copy(key.ID[:], tail[2:])
		return key, nil
	}
	return Key{}, fmt.Errorf("key %x of no known kind", k)
}

func first(k []byte) byte {
	if len(k) == 0 {
		return 0
	}
	return k[0]
}

// cutZero splits b at its first 0x00: the string before it and the bytes after.
func cutZero(b []byte) (string, []byte, bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", nil, false
	}
	return string(b[:i]), b[i+1:], true
}

// Bytes builds the key k describes: ParseKey(k.Bytes()) is k for any key
// ParseKey returns, and Bytes of the Key ParseKey reads from a key is that key.
func (k Key) Bytes() []byte {
	switch k.Kind {
	case prefixMeta:
		return metaKey(k.Text)
	case prefixNode, prefixText, prefixFact, prefixGuard:
		return idKey(byte(k.Kind), k.ID)
	case prefixOut, prefixIn:
		return adjKey(k.Dir(), k.Node, k.Predicate, k.ID)
	case prefixKind:
		return kindKey(k.EntityKind, k.Text, k.ID)
	case prefixSlug:
		return slugKey(k.Text)
	case prefixName:
		return nameKey(k.Text, k.Whole, k.ID)
	case prefixPred:
		return predKey(k.Predicate, k.ID)
	case prefixValue:
		return valueKey(k.Predicate, k.Text, k.ID)
	case prefixYear:
		return yearKey(k.Predicate, k.Year, k.ID)
	case prefixNodeYear:
		return nodeYearKey(k.EntityKind, k.Year, k.ID)
	case prefixSaved:
		return savedKey(k.Text)
	case prefixRevision:
		return revisionKey(k.Node, k.Seq)
	case prefixLog:
		return logKey(k.Version)
	}
	return nil
}

// Dir is the direction of an adjacency key: Out for 'o', In for 'i'.
func (k Key) Dir() Direction { return k.Kind == prefixOut }

// String describes the key by its parts.
func (k Key) String() string {
	switch k.Kind {
	case prefixMeta:
		return fmt.Sprintf("meta %s", k.Text)
	case prefixNode, prefixText, prefixFact, prefixGuard:
		return fmt.Sprintf("%s %s", k.Kind, k.ID)
	case prefixOut, prefixIn:
		return fmt.Sprintf("%s %s %s fact %s", k.Kind, k.Node, k.Predicate, k.ID)
	case prefixKind:
		return fmt.Sprintf("kind %s %q %s", k.EntityKind, k.Text, k.ID)
	case prefixSlug:
		return fmt.Sprintf("slug %q", k.Text)
	case prefixName:
		if k.Whole {
			return fmt.Sprintf("name whole %q %s", k.Text, k.ID)
		}
		return fmt.Sprintf("name word %q %s", k.Text, k.ID)
	case prefixPred:
		return fmt.Sprintf("pred %s fact %s", k.Predicate, k.ID)
	case prefixValue:
		return fmt.Sprintf("value %s %q fact %s", k.Predicate, k.Text, k.ID)
	case prefixYear:
		return fmt.Sprintf("year %s %d fact %s", k.Predicate, k.Year, k.ID)
	case prefixNodeYear:
		return fmt.Sprintf("nodeyear %s %d %s", k.EntityKind, k.Year, k.ID)
	case prefixSaved:
		return fmt.Sprintf("saved %q", k.Text)
	case prefixRevision:
		return fmt.Sprintf("revision %s %d", k.Node, k.Seq)
	case prefixLog:
		return fmt.Sprintf("log %d", k.Version)
	}
	return k.Kind.String()
}

// keyPart is one part of a key's layout: what it is and its bytes, and
// whether they are text (with its 0x00 terminator when ended) or binary.
type keyPart struct {
	name  string
	bytes []byte
	text  bool
}

// parts lays the key out part by part, as the table at the top of this file
// draws it; the parts' bytes, end to end, are Bytes (TestParseKey checks it).
func (k Key) parts() []keyPart {
	id := func(name string, id uuid.UUID) keyPart { return keyPart{name, id[:], false} }
	str := func(name, s string) keyPart { return keyPart{name, append([]byte(s), 0), true} }
	year := keyPart{"year", yearBytes(k.Year), false}
	out := []keyPart{{"prefix", []byte{byte(k.Kind)}, true}}
	switch k.Kind {
	case prefixMeta, prefixSlug, prefixSaved:
		return append(out, keyPart{"name", []byte(k.Text), true})
	case prefixNode, prefixText, prefixFact, prefixGuard:
		return append(out, id("id", k.ID))
	case prefixOut:
		return append(out, id("subject", k.Node), str("pred", string(k.Predicate)), id("fact", k.ID))
	case prefixIn:
		return append(out, id("object", k.Node), str("pred", string(k.Predicate)), id("fact", k.ID))
	case prefixKind:
		return append(out, str("kind", string(k.EntityKind)), str("folded name", k.Text), id("id", k.ID))
	case prefixName:
		return append(out, str("folded term", nameTerm(k.Text, k.Whole)), id("id", k.ID))
	case prefixPred:
		return append(out, str("pred", string(k.Predicate)), id("fact", k.ID))
	case prefixValue:
		return append(out, str("pred", string(k.Predicate)), str("value", k.Text), id("fact", k.ID))
	case prefixYear:
		return append(out, str("pred", string(k.Predicate)), year, id("fact", k.ID))
	case prefixNodeYear:
		return append(out, str("kind", string(k.EntityKind)), year, id("id", k.ID))
	case prefixRevision:
		return append(out, id("node", k.Node), keyPart{"seq", seqBytes(k.Seq), false})
	case prefixLog:
		return append(out, keyPart{"version", binary.BigEndian.AppendUint64(nil, k.Version), false})
	}
	return out
}

// Layout renders the key part by part, in the notation of the table at the
// top of this file: text quoted (its 0x00 terminator written out), IDs and
// years in hex with their length.
func (k Key) Layout() string {
	var b bytes.Buffer
	for i, p := range k.parts() {
		if i > 0 {
			b.WriteString(" | ")
		}
		switch {
		case i == 0:
			fmt.Fprintf(&b, "'%c'", p.bytes[0])
		case p.text && bytes.HasSuffix(p.bytes, []byte{0}):
			fmt.Fprintf(&b, "%s %q 0x00", p.name, p.bytes[:len(p.bytes)-1])
		case p.text:
			fmt.Fprintf(&b, "%q", p.bytes)
		default:
			fmt.Fprintf(&b, "%s(%d) %x", p.name, len(p.bytes), p.bytes)
		}
	}
	return b.String()
}

// keyName renders a key for a check report: its prefix byte, then the rest
// in hex (a damaged key need not parse).
func keyName(k []byte) string {
	if len(k) == 0 {
		return "(empty key)"
	}
	return fmt.Sprintf("%c:%x", k[0], k[1:])
}

// describeKey is what check calls the key: "forward adjacency entry"...
func describeKey(k []byte) string { return KeyKind(first(k)).entry() }

// ---- builders ----

var (
	metaFormatKey   = metaKey("format")
	metaStoreIDKey  = metaKey("store")
	metaRestoredKey = metaKey("restored")
	metaHeadKey     = metaKey("head")
)

func metaKey(name string) []byte { return append([]byte{prefixMeta}, name...) }

// kindPrefix is the prefix of every key of a kind (a scan of all of them).
func kindPrefix(kind KeyKind) []byte { return []byte{byte(kind)} }

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

func dirPrefix(dir Direction) byte {
	if dir == Out {
		return prefixOut
	}
	return prefixIn
}

// adjPrefix is the prefix of the adjacency of node in dir, narrowed to pred
// when pred is not empty.
func adjPrefix(dir Direction, node uuid.UUID, pred Predicate) []byte {
	k := make([]byte, 0, 17+len(pred)+1)
	k = append(k, dirPrefix(dir))
	k = append(k, node[:]...)
	if pred != "" {
		k = append(k, pred...)
		k = append(k, 0)
	}
	return k
}

func adjKey(dir Direction, node uuid.UUID, pred Predicate, fact uuid.UUID) []byte {
	return append(adjPrefix(dir, node, pred), fact[:]...)
}

// adjValue is the value of an adjacency entry: the fact's flag and the
// entity at the other end (uuid.Nil for a literal fact).
func adjValue(flag byte, other uuid.UUID) []byte { return append([]byte{flag}, other[:]...) }

// parseAdjValue inverts adjValue. A value of the flag alone (as an older
// writer left for a literal fact) has uuid.Nil at the other end.
func parseAdjValue(v []byte) (flag byte, other uuid.UUID, err error) {
	if len(v) == 0 {
		return 0, uuid.Nil, fmt.Errorf("empty adjacency value")
	}
	if len(v) >= 17 {
		copy(other[:], v[1:17])
	}
	return v[0], other, nil
}

// strKey is prefix followed by each part and a 0x00.
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

// kindIndexPrefix is the prefix of the kind index entries of kind.
func kindIndexPrefix(kind Kind) []byte { return strKey(prefixKind, string(kind)) }

func kindKey(kind Kind, folded string, id uuid.UUID) []byte {
	return append(strKey(prefixKind, string(kind), folded), id[:]...)
}

func slugKey(slug string) []byte { return append([]byte{prefixSlug}, slug...) }

// nameTerm is a name-index term as stored: a whole name is marked.
func nameTerm(term string, whole bool) string {
	if whole {
		return string(wholeName) + term
	}
	return term
}

func nameKey(term string, whole bool, id uuid.UUID) []byte {
	return append(strKey(prefixName, nameTerm(term, whole)), id[:]...)
}

// namePrefix is the prefix of the name entries whose term starts with prefix
// (whole names, or words).
func namePrefix(prefix string, whole bool) []byte {
	return append([]byte{prefixName}, nameTerm(prefix, whole)...)
}

// predPrefix is the prefix of the predicate index entries of pred.
func predPrefix(pred Predicate) []byte { return strKey(prefixPred, string(pred)) }

func predKey(pred Predicate, fact uuid.UUID) []byte { return append(predPrefix(pred), fact[:]...) }

// valuePrefix is the prefix of the value index entries of pred = value.
func valuePrefix(pred Predicate, value string) []byte {
	return strKey(prefixValue, string(pred), value)
}

func valueKey(pred Predicate, value string, fact uuid.UUID) []byte {
	return append(valuePrefix(pred, value), fact[:]...)
}

func yearBytes(year int) []byte {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(year))
	return b[:]
}

// yearPrefix is the prefix of the year index entries of pred, and yearFrom
// the first key of year (or after it) among them.
func yearPrefix(pred Predicate) []byte { return strKey(prefixYear, string(pred)) }
func yearFrom(pred Predicate, year int) []byte {
	return append(yearPrefix(pred), yearBytes(max(year, 0))...)
}

func yearKey(pred Predicate, year int, fact uuid.UUID) []byte {
	return append(yearFrom(pred, year), fact[:]...)
}

// nodeYearPrefix and nodeYearFrom are yearPrefix and yearFrom of the node year index.
func nodeYearPrefix(kind Kind) []byte { return strKey(prefixNodeYear, string(kind)) }
func nodeYearFrom(kind Kind, year int) []byte {
	return append(nodeYearPrefix(kind), yearBytes(max(year, 0))...)
}

func nodeYearKey(kind Kind, year int, id uuid.UUID) []byte {
	return append(nodeYearFrom(kind, year), id[:]...)
}

// revisionPrefix is the prefix of node's revision keys (of every node's,
// for uuid.Nil); revisionKey is the key of its seq-th, seq from 1, so that
// key order is oldest first.
func revisionPrefix(node uuid.UUID) []byte {
	if node == uuid.Nil {
		return []byte{prefixRevision}
	}
	return idKey(prefixRevision, node)
}

func seqBytes(seq int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(seq))
	return b[:]
}

func revisionKey(node uuid.UUID, seq int) []byte {
	return append(idKey(prefixRevision, node), seqBytes(seq)...)
}

// logKey is where the change that made a version is kept (changelog.go).
func logKey(version uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixLog}, version)
}

// savedKey is where a saved query lives, beside the graph, outside its indexes.
func savedKey(name string) []byte { return append([]byte{prefixSaved}, name...) }

// keyID is the ID a record or index key ends with (ParseKey's Key.ID), read
// without the rest of the key: what a scan of an index reads of each entry.
func keyID(k []byte) uuid.UUID {
	var id uuid.UUID
	if len(k) >= 16 {
		copy(id[:], k[len(k)-16:])
	}
	return id
}

// keyYear is the year of a year or nodeyear key (ParseKey's Key.Year), read
// without the rest of the key.
func keyYear(k []byte) int {
	if len(k) < 18 {
		return 0
	}
	return int(binary.BigEndian.Uint16(k[len(k)-18:]))
}

// ---- counted groups (counts.go) ----

// countGroup is the group a key is counted in (counts.go); the zero group
// for a key not counted.
type countGroup struct {
	kind      KeyKind // prefixFact, prefixKind, prefixPred, prefixValue or prefixYear; 0 when not counted
	entity    Kind
	predicate Predicate
	value     string
	year      int
}

// countedKinds are the kinds of key counts.go counts.
var countedKinds = []KeyKind{prefixFact, prefixKind, prefixPred, prefixValue, prefixYear}

// groupOf is the group k is counted in: fact records all in one; kind
// entries by kind; predicate entries by predicate; value entries by
// predicate and value; year entries by predicate and year. Other keys, and
// keys that do not parse, are not counted.
func groupOf(k []byte) countGroup {
	switch first(k) {
	case prefixFact:
		return countGroup{kind: prefixFact}
	case prefixKind:
		if kind, _, ok := cutZero(k[1:]); ok {
			return countGroup{kind: prefixKind, entity: Kind(kind)}
		}
	case prefixPred:
		if pred, _, ok := cutZero(k[1:]); ok {
			return countGroup{kind: prefixPred, predicate: Predicate(pred)}
		}
	case prefixValue:
		pred, rest, ok1 := cutZero(k[1:])
		value, _, ok2 := cutZero(rest)
		if ok1 && ok2 {
			return countGroup{kind: prefixValue, predicate: Predicate(pred), value: value}
		}
	case prefixYear:
		if pred, rest, ok := cutZero(k[1:]); ok && len(rest) == 18 {
			return countGroup{kind: prefixYear, predicate: Predicate(pred), year: keyYear(k)}
		}
	}
	return countGroup{}
}

// isText reports whether k is a source text's key (counts.go watches their length).
func isText(k []byte) bool { return first(k) == prefixText }
