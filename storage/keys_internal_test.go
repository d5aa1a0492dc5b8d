package storage

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/uuid"
)

var (
	keyNode = uuid.MustParse("00112233-4455-6677-8899-aabbccddeeff")
	keyFact = uuid.MustParse("ffeeddcc-bbaa-9988-7766-554433221100")
)

// oneOfEach is a key of every kind, and what ParseKey reads of it.
var oneOfEach = []struct {
	key  []byte
	want Key
}{
	{metaFormatKey, Key{Kind: prefixMeta, Text: "format"}},
	{nodeKey(keyNode), Key{Kind: prefixNode, ID: keyNode}},
	{textKey(keyNode), Key{Kind: prefixText, ID: keyNode}},
	{factKey(keyFact), Key{Kind: prefixFact, ID: keyFact}},
	{adjKey(Out, keyNode, PredSponsored, keyFact), Key{Kind: prefixOut, Node: keyNode, Predicate: PredSponsored, ID: keyFact}},
	{adjKey(In, keyNode, PredSponsored, keyFact), Key{Kind: prefixIn, Node: keyNode, Predicate: PredSponsored, ID: keyFact}},
	{kindKey(KindOrganization, "qualcomm", keyNode), Key{Kind: prefixKind, EntityKind: KindOrganization, Text: "qualcomm", ID: keyNode}},
	{slugKey("qualcomm"), Key{Kind: prefixSlug, Text: "qualcomm"}},
	{nameKey("thuong hai", true, keyNode), Key{Kind: prefixName, Text: "thuong hai", Whole: true, ID: keyNode}},
	{nameKey("hai", false, keyNode), Key{Kind: prefixName, Text: "hai", ID: keyNode}},
	{predKey(PredSponsored, keyFact), Key{Kind: prefixPred, Predicate: PredSponsored, ID: keyFact}},
	{valueKey(PredCountry, "US", keyFact), Key{Kind: prefixValue, Predicate: PredCountry, Text: "US", ID: keyFact}},
	{yearKey(PredSponsored, 2023, keyFact), Key{Kind: prefixYear, Predicate: PredSponsored, Year: 2023, ID: keyFact}},
	{nodeYearKey(KindEvent, 2023, keyNode), Key{Kind: prefixNodeYear, EntityKind: KindEvent, Year: 2023, ID: keyNode}},
	{savedKey("sponsors-by-year"), Key{Kind: prefixSaved, Text: "sponsors-by-year"}},
	{guardKey(keyNode), Key{Kind: prefixGuard, ID: keyNode}},
	{revisionKey(keyNode, 2), Key{Kind: prefixRevision, Node: keyNode, Seq: 2}},
	{logKey(7), Key{Kind: prefixLog, Version: 7}},
}

func TestParseKey(t *testing.T) {
	kinds := map[KeyKind]bool{}
	for _, tt := range oneOfEach {
		t.Run(tt.want.Kind.String(), func(t *testing.T) {
			got, err := ParseKey(tt.key)
			if err != nil {
				t.Fatalf("ParseKey(%x): %v", tt.key, err)
			}
			if got != tt.want {
				t.Errorf("ParseKey(%x) = %+v, want %+v", tt.key, got, tt.want)
			}
			if b := got.Bytes(); !bytes.Equal(b, tt.key) {
				t.Errorf("Bytes() = %x, want %x", b, tt.key)
			}
			var laid []byte
			for _, p := range got.parts() {
				laid = append(laid, p.bytes...)
			}
			if !bytes.Equal(laid, tt.key) {
				t.Errorf("the layout's parts make %x, want %x", laid, tt.key)
			}
			if got.ID != uuid.Nil && keyID(tt.key) != got.ID {
				t.Errorf("keyID = %s, want %s", keyID(tt.key), got.ID)
			}
			if got.Year != 0 && keyYear(tt.key) != got.Year {
				t.Errorf("keyYear = %d, want %d", keyYear(tt.key), got.Year)
			}
		})
		kinds[tt.want.Kind] = true
	}
	for k := range keyKinds {
		if !kinds[k] {
			t.Errorf("no key of kind %s in oneOfEach", k)
		}
	}
	valid := adjKey(Out, keyNode, PredSponsored, keyFact)
	for _, tt := range []struct {
		name string
		key  []byte
	}{
		{"empty", nil},
		{"unknown kind", []byte("Zzz")},
		{"meta without a name", []byte{prefixMeta}},
		{"node key one byte long", append(nodeKey(keyNode), 0)},
		{"fact key one byte short", factKey(keyFact)[:16]},
		{"adjacency prefix only", []byte{prefixOut}},
		{"adjacency without predicate", adjKey(Out, keyNode, "", keyFact)},
		{"adjacency one byte short", valid[:len(valid)-1]},
		{"adjacency without terminator", append(append([]byte{prefixOut}, keyNode[:]...), append([]byte("SPONSOREDX"), keyFact[:]...)...)},
		{"kind entry without its name", append(strKey(prefixKind, "EVENT"), keyNode[:]...)},
		{"name entry without an ID", strKey(prefixName, "hai")},
		{"predicate entry with a long ID", append(predKey(PredSponsored, keyFact), 1)},
		{"value entry without its value", append(strKey(prefixValue, "COUNTRY"), keyFact[:]...)},
		{"year entry without its year", append(strKey(prefixYear, "SPONSORED"), keyFact[:]...)},
		{"node year entry too long", append(nodeYearKey(KindEvent, 2023, keyNode), 0)},
	} {
		t.Run("bad "+tt.name, func(t *testing.T) {
			if k, err := ParseKey(tt.key); err == nil {
				t.Errorf("ParseKey(%x) = %+v, want an error", tt.key, k)
			}
		})
	}
}

// FuzzKeys checks every kind of key both ways: a key built from parts reads
// back as those parts (ParseKey inverts the builders), and any bytes ParseKey
// accepts are rebuilt byte for byte (it accepts only what a builder makes).
// It checks too that a key starts with the prefixes its scans use, that years
// sort as numbers, and that no kind, predicate or value is a prefix of
// another's entries.
func FuzzKeys(f *testing.F) {
	for _, tt := range oneOfEach {
		kind, node, s1, s2, year, id, whole := fuzzParts(tt.want)
		f.Add(kind, node, s1, s2, year, id, whole)
	}
	f.Add(byte(prefixKind), []byte{}, "EVENT", "EVENT_SERIES", 65535, []byte{0}, false)
	f.Fuzz(func(t *testing.T, kind byte, nodeB []byte, s1, s2 string, year int, idB []byte, whole bool) {
		var node, id uuid.UUID
		copy(node[:], nodeB)
		copy(id[:], idB)
		year &= 0xffff
		nul := strings.IndexByte(s1, 0) >= 0 || strings.IndexByte(s2, 0) >= 0
		if k, ok := keyOf(KeyKind(kind), node, s1, s2, year, id, whole); ok && !nul {
			b := k.Bytes()
			got, err := ParseKey(b)
			if err != nil {
				t.Fatalf("ParseKey(%+v.Bytes() = %x): %v", k, b, err)
			}
			if got != k {
				t.Fatalf("ParseKey(%x) = %+v, built from %+v", b, got, k)
			}
			checkPrefixes(t, k, b, s2)
		}
		raw := append(append(append(append([]byte{kind}, nodeB...), s1...), s2...), idB...)
		if k, err := ParseKey(raw); err == nil {
			if again := k.Bytes(); !bytes.Equal(again, raw) {
				t.Fatalf("ParseKey(%x) = %+v, which builds %x", raw, k, again)
			}
		}
	})
}

// fuzzParts are FuzzKeys's arguments that make k (keyOf inverts it): s1 is
// the key's first string, its predicate or entity kind, or its text when it
// has neither; s2 its text after a predicate or kind.
func fuzzParts(k Key) (kind byte, node []byte, s1, s2 string, year int, id []byte, whole bool) {
	s1, s2 = string(k.Predicate)+string(k.EntityKind), k.Text
	if s1 == "" {
		s1, s2 = k.Text, ""
	}
	return byte(k.Kind), k.Node[:], s1, s2, k.Year + k.Seq + int(k.Version), k.ID[:], k.Whole
}

// TestFuzzKeysCoversEveryKind: FuzzKeys builds a key of every kind of the
// registry (keyKinds) from its seeds, so its round trip covers each kind.
func TestFuzzKeysCoversEveryKind(t *testing.T) {
	built := map[KeyKind]bool{}
	for _, tt := range oneOfEach {
		kind, nodeB, s1, s2, year, idB, whole := fuzzParts(tt.want)
		var node, id uuid.UUID
		copy(node[:], nodeB)
		copy(id[:], idB)
		k, ok := keyOf(KeyKind(kind), node, s1, s2, year, id, whole)
		if !ok || k != tt.want {
			t.Errorf("keyOf(seed of %s) = %+v, %v; want %+v", tt.want.Kind, k, ok, tt.want)
			continue
		}
		built[k.Kind] = true
	}
	for k := range keyKinds {
		if !built[k] {
			t.Errorf("FuzzKeys builds no key of kind %s", k)
		}
	}
}

// keyOf is the key of kind made of the parts, when they make one.
func keyOf(kind KeyKind, node uuid.UUID, s1, s2 string, year int, id uuid.UUID, whole bool) (Key, bool) {
	k := Key{Kind: kind}
	switch kind {
	case prefixMeta, prefixSlug, prefixSaved:
		k.Text = s1
		return k, kind != prefixMeta || s1 != ""
	case prefixNode, prefixText, prefixFact, prefixGuard:
		k.ID = id
	case prefixOut, prefixIn:
		k.Node, k.Predicate, k.ID = node, Predicate(s1), id
		return k, s1 != ""
	case prefixKind:
		k.EntityKind, k.Text, k.ID = Kind(s1), s2, id
	case prefixName:
		k.Text, k.Whole, k.ID = s1, whole, id
		return k, whole || !strings.HasPrefix(s1, string(wholeName))
	case prefixPred:
		k.Predicate, k.ID = Predicate(s1), id
	case prefixValue:
		k.Predicate, k.Text, k.ID = Predicate(s1), s2, id
	case prefixYear:
		k.Predicate, k.Year, k.ID = Predicate(s1), year, id
	case prefixNodeYear:
		k.EntityKind, k.Year, k.ID = Kind(s1), year, id
	case prefixRevision:
		k.Node, k.Seq = node, year // the fuzzer's year is a revision's number here
	case prefixLog:
		k.Version = uint64(year) // and a change's version here
	default:
		return k, false
	}
	return k, true
}

// checkPrefixes checks that the key b of k starts with the prefixes that scan
// it, and with no prefix of a different kind, predicate or value other.
func checkPrefixes(t *testing.T, k Key, b []byte, other string) {
	t.Helper()
	has := func(p []byte, what string) {
		if !bytes.HasPrefix(b, p) {
			t.Fatalf("%+v: key %x does not start with its %s %x", k, b, what, p)
		}
	}
	hasNot := func(p []byte, what string) {
		if bytes.HasPrefix(b, p) {
			t.Fatalf("%+v: key %x starts with the %s %x of %q", k, b, what, p, other)
		}
	}
	has(kindPrefix(k.Kind), "kind prefix")
	switch k.Kind {
	case prefixOut, prefixIn:
		has(adjPrefix(k.Dir(), k.Node, ""), "adjacency prefix")
		has(adjPrefix(k.Dir(), k.Node, k.Predicate), "predicate's adjacency prefix")
		if other != "" && other != string(k.Predicate) {
			hasNot(adjPrefix(k.Dir(), k.Node, Predicate(other)), "adjacency prefix")
		}
	case prefixKind:
		has(kindIndexPrefix(k.EntityKind), "kind index prefix")
		if other != string(k.EntityKind) {
			hasNot(kindIndexPrefix(Kind(other)), "kind index prefix")
		}
	case prefixName:
		has(namePrefix(k.Text, k.Whole), "name prefix")
		has(namePrefix(k.Text[:len(k.Text)/2], k.Whole), "name prefix of its first half")
	case prefixPred:
		has(predPrefix(k.Predicate), "predicate index prefix")
		if other != string(k.Predicate) {
			hasNot(predPrefix(Predicate(other)), "predicate index prefix")
		}
	case prefixValue:
		has(valuePrefix(k.Predicate, k.Text), "value index prefix")
		if other+"x" != k.Text {
			hasNot(valuePrefix(k.Predicate, other+"x"), "value index prefix")
		}
	case prefixYear, prefixNodeYear:
		prefix, from := yearPrefix(k.Predicate), yearFrom(k.Predicate, k.Year)
		later := yearFrom(k.Predicate, k.Year+1)
		if k.Kind == prefixNodeYear {
			prefix, from, later = nodeYearPrefix(k.EntityKind), nodeYearFrom(k.EntityKind, k.Year), nodeYearFrom(k.EntityKind, k.Year+1)
		}
		has(prefix, "year prefix")
		has(from, "year start")
		if k.Year < 0xffff && bytes.Compare(b, later) >= 0 {
			t.Fatalf("%+v: key %x does not sort before year %d's start %x", k, b, k.Year+1, later)
		}
	}
}

func TestKeyOrder(t *testing.T) {
	id := uuid.New()
	for _, years := range [][2]int{{1, 2}, {255, 256}, {2019, 2023}, {999, 1000}, {9998, 9999}} {
		a, b := yearKey(PredSponsored, years[0], id), yearKey(PredSponsored, years[1], id)
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("yearKey(%d) does not sort before yearKey(%d)", years[0], years[1])
		}
	}
	// A kind is no prefix of another kind's keys: EVENT and EVENT_SERIES stay apart.
	if bytes.HasPrefix(kindKey(KindEventSeries, "waic", id), kindIndexPrefix(KindEvent)) {
		t.Error("EVENT_SERIES kind keys start with the EVENT kind prefix")
	}
	// Whole names and words are apart: a word (folded) never starts with the
	// whole-name mark, so a scan of words never meets a whole name.
	if Fold(string(wholeName)+"waic") != "waic" {
		t.Errorf("the whole-name mark %q survives folding", wholeName)
	}
}
