package memgraph

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/storage"
)

// filler sets every field of a value to something random, through
// reflection, so that a field added to storage.Node or storage.Fact that
// this package's codec does not carry fails TestCodecMatchesStore.
type filler struct {
	rng *rand.Rand
	// zeroOdds is the chance that a field stays zero (or nil, or empty).
	zeroOdds float64
}

var zones = []*time.Location{time.UTC, time.Local, time.FixedZone("", 7*3600), time.FixedZone("X", -(3*3600 + 30*60)),
	time.FixedZone("", 5*3600+30*60+15)}

func (f *filler) str() string {
	words := []string{"Thượng Hải", "AI", "đổi mới", "Nvidia", "  ", "x-1", "Ω", "2023", "Hà Nội", "tech"}
	n := 1 + f.rng.IntN(4)
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[f.rng.IntN(len(words))])
	}
	return b.String()
}

func (f *filler) time() time.Time {
	t := time.Unix(f.rng.Int64N(2e9), 0)
	if f.rng.IntN(2) == 0 {
		t = t.Add(time.Duration(f.rng.IntN(1e9)))
	}
	if f.rng.IntN(10) == 0 {
		return time.Time{}
	}
	return t.In(zones[f.rng.IntN(len(zones))])
}

func (f *filler) fill(v reflect.Value) {
	if v.CanSet() && f.rng.Float64() < f.zeroOdds {
		v.SetZero()
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(f.str())
	case reflect.Int:
		v.SetInt(int64(f.rng.IntN(5000) - 100))
	case reflect.Bool:
		v.SetBool(f.rng.IntN(2) == 0)
	case reflect.Float64:
		x := []float64{float64(f.rng.IntN(1000)), f.rng.Float64() * 1e6, -3, math.Copysign(0, -1), 1e300}[f.rng.IntN(5)]
		v.SetFloat(x)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem())
		v.Set(p)
	case reflect.Slice:
		n := 1 + f.rng.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			f.fill(s.Index(i))
		}
		v.Set(s)
	case reflect.Array: // uuid.UUID
		for i := range v.Len() {
			v.Index(i).SetUint(uint64(f.rng.IntN(256)))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(f.time()))
			return
		}
		for i := range v.NumField() {
			f.fill(v.Field(i))
		}
	default:
		panic("filler: no rule for " + v.Type().String())
	}
}

// codecRefs is a model of a few entities, one a source with a text.
type codecRefs struct {
	ids   []uuid.UUID
	blobs []string
}

func (r *codecRefs) nodeIID(id uuid.UUID) (uint32, bool) {
	for i, x := range r.ids {
		if x == id {
			return uint32(i), true
		}
	}
	return 0, false
}

func (r *codecRefs) quoteSpan(source uint32, quote string) (uint32, uint32, bool) {
	if source != 0 {
		return 0, 0, false
	}
	i := strings.Index(r.blobs[0], quote)
	return 0, uint32(i), i >= 0
}

func (r *codecRefs) nodeUUID(iid uint32) uuid.UUID {
	if int(iid) < len(r.ids) {
		return r.ids[iid]
	}
	return uuid.Nil
}
func (r *codecRefs) blob(id uint32) (string, bool) {
	if int(id) < len(r.blobs) {
		return r.blobs[id], true
	}
	return "", false
}

// TestCodecMatchesStore holds the model's codec to the store's: for records
// with every field set (or not, at random), decoding what the model encoded
// gives exactly what the store's codec gives.
func TestCodecMatchesStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	refs := &codecRefs{ids: []uuid.UUID{uuid.New(), uuid.New(), uuid.New()},
		blobs: []string{"Đoạn văn: Thượng Hải AI 2023, đổi mới x-1 tech Ω Hà Nội Nvidia."}}
	d := newDict()
	for i := range 3000 {
		fl := &filler{rng: rng, zeroOdds: []float64{0, 0.3, 0.7}[i%3]}
		var n storage.Node
		fl.fill(reflect.ValueOf(&n).Elem())
		n.Kind = storage.Kinds[rng.IntN(len(storage.Kinds))]
		checkNode(t, &n, d)

		var f storage.Fact
		fl.fill(reflect.ValueOf(&f).Elem())
		f.Predicate = storage.Predicates[rng.IntN(len(storage.Predicates))].Predicate
		f.Subject = refs.ids[rng.IntN(3)]
		if f.Object != uuid.Nil {
			f.Object = refs.ids[rng.IntN(3)]
		}
		for j := range f.Evidence {
			ev := &f.Evidence[j]
			switch rng.IntN(3) {
			case 0: // quoted from the source's text: kept as a span
				ev.Source = refs.ids[0]
				text := refs.blobs[0]
				a := rng.IntN(len(text) - 10)
				ev.Quote = text[a : a+1+rng.IntN(10)]
			case 1: // a known source, but the quote is not in its text
				ev.Source = refs.ids[rng.IntN(3)]
			}
		}
		checkFact(t, &f, d, refs)
	}
}

func checkNode(t *testing.T, n *storage.Node, d *dict) {
	t.Helper()
	sb, err := storage.EncodeNode(n)
	if err != nil {
		t.Fatal(err)
	}
	want, err := storage.DecodeNode(sb)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeNode(nil, d, n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeNode(b, n.ID, d.strs)
	if err != nil {
		t.Fatalf("decodeNode: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("node round trip:\n got %s\nwant %s", js(got), js(want))
	}
}

func checkFact(t *testing.T, f *storage.Fact, d *dict, r *codecRefs) {
	t.Helper()
	sb, err := storage.EncodeFact(f)
	if err != nil {
		t.Fatal(err)
	}
	want, err := storage.DecodeFact(sb)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeFact(nil, d, r, f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeFact(b, f.ID, d.strs, r)
	if err != nil {
		t.Fatalf("decodeFact: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fact round trip:\n got %s\nwant %s", js(got), js(want))
	}
	fm, err := peekFact(b)
	if err != nil {
		t.Fatal(err)
	}
	wantState := storage.Active
	if f.Retraction != nil {
		wantState = storage.Retracted
	} else if f.Negated {
		wantState = storage.Negated
	}
	if predList[fm.pred] != f.Predicate || fm.year != f.Year || fm.state != wantState || d.strs[fm.value] != f.Value {
		t.Fatalf("peekFact = %+v for %s", fm, js(f))
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestDecodeRefusesDamage checks that a cut or garbled record is an error,
// never a panic.
func TestDecodeRefusesDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	refs := &codecRefs{ids: []uuid.UUID{uuid.New()}, blobs: []string{"a quoted text"}}
	d := newDict()
	fl := &filler{rng: rng}
	var n storage.Node
	fl.fill(reflect.ValueOf(&n).Elem())
	n.Kind = storage.KindSource
	nb, _ := encodeNode(nil, d, &n)
	var f storage.Fact
	fl.fill(reflect.ValueOf(&f).Elem())
	f.Predicate, f.Subject, f.Object = storage.PredMentions, refs.ids[0], refs.ids[0]
	fb, err := encodeFact(nil, d, refs, &f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(nb) {
		if _, err := decodeNode(nb[:i], n.ID, d.strs); err == nil {
			t.Errorf("node cut at %d of %d decoded", i, len(nb))
		}
	}
	for i := range len(fb) {
		if _, err := decodeFact(fb[:i], f.ID, d.strs, refs); err == nil {
			t.Errorf("fact cut at %d of %d decoded", i, len(fb))
		}
	}
	for range 2000 {
		b := append([]byte(nil), fb...)
		b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		decodeFact(b, f.ID, d.strs, refs) // must not panic
		peekFact(b)
	}
}

// TestFoldMatchesStorage holds the ASCII fast path of fold to storage.Fold.
func TestFoldMatchesStorage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(128))
		}
		if s := string(b); fold(s) != storage.Fold(s) {
			t.Fatalf("fold(%q) = %q, storage.Fold = %q", s, fold(s), storage.Fold(s))
		}
	}
}
