package memgraph

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/google/uuid"

	"policygraph/internal/synth"
	"policygraph/storage"
)

// The measurements compare the model with a pointer-per-record one: the
// decoded structs in maps by ID, adjacency as slices per node, and each
// index as sorted slices or maps of them. What a straightforward in-memory
// graph looks like, and what issue 11 measured at 2.6 KiB a node.

type pointerAdj struct {
	fact, other uuid.UUID
	pred        storage.Predicate
	state       storage.FactState
}

type pointerModel struct {
	nodes   map[uuid.UUID]*storage.Node
	facts   map[uuid.UUID]*storage.Fact
	texts   map[uuid.UUID]string
	slugs   map[string]uuid.UUID
	out, in map[uuid.UUID][]pointerAdj
	kinds   map[storage.Kind][]uuid.UUID
	preds   map[storage.Predicate][]uuid.UUID
	values  map[string][][2]uuid.UUID // pred 0x00 value -> (subject, fact)
	terms   []pointerTerm
}

type pointerTerm struct {
	term string
	id   uuid.UUID
}

func newPointerModel() *pointerModel {
	return &pointerModel{nodes: map[uuid.UUID]*storage.Node{}, facts: map[uuid.UUID]*storage.Fact{}, texts: map[uuid.UUID]string{},
		slugs: map[string]uuid.UUID{}, out: map[uuid.UUID][]pointerAdj{}, in: map[uuid.UUID][]pointerAdj{},
		kinds: map[storage.Kind][]uuid.UUID{}, preds: map[storage.Predicate][]uuid.UUID{}, values: map[string][][2]uuid.UUID{}}
}

func (p *pointerModel) addNode(n *storage.Node) {
	p.nodes[n.ID] = n
	p.slugs[n.Slug] = n.ID
	if n.Retraction == nil {
		p.kinds[n.Kind] = append(p.kinds[n.Kind], n.ID)
		for _, t := range nameTerms(n) {
			p.terms = append(p.terms, pointerTerm{term: t, id: n.ID})
		}
	}
}

func (p *pointerModel) addFact(f *storage.Fact) {
	p.facts[f.ID] = f
	st := storage.Active
	if f.Retraction != nil {
		st = storage.Retracted
	} else if f.Negated {
		st = storage.Negated
	}
	p.out[f.Subject] = append(p.out[f.Subject], pointerAdj{fact: f.ID, other: f.Object, pred: f.Predicate, state: st})
	if f.Object != uuid.Nil {
		p.in[f.Object] = append(p.in[f.Object], pointerAdj{fact: f.ID, other: f.Subject, pred: f.Predicate, state: st})
	}
	if st == storage.Active {
		p.preds[f.Predicate] = append(p.preds[f.Predicate], f.ID)
		if f.Value != "" {
			k := string(f.Predicate) + "\x00" + f.Value
			p.values[k] = append(p.values[k], [2]uuid.UUID{f.Subject, f.ID})
		}
	}
}

// finish sorts the indexes, as the store orders its keys.
func (p *pointerModel) finish() {
	for _, adj := range []map[uuid.UUID][]pointerAdj{p.out, p.in} {
		for _, es := range adj {
			slices.SortFunc(es, func(a, b pointerAdj) int {
				return cmp.Or(strings.Compare(string(a.pred), string(b.pred)), compareID(a.fact, b.fact))
			})
		}
	}
	for k, ids := range p.kinds {
		names := make(map[uuid.UUID]string, len(ids))
		for _, id := range ids {
			names[id] = storage.Fold(p.nodes[id].Name)
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return cmp.Or(strings.Compare(names[a], names[b]), compareID(a, b)) })
		p.kinds[k] = ids
	}
	for _, ids := range p.preds {
		slices.SortFunc(ids, compareID)
	}
	for _, vs := range p.values {
		slices.SortFunc(vs, func(a, b [2]uuid.UUID) int { return compareID(a[1], b[1]) })
	}
	slices.SortFunc(p.terms, func(a, b pointerTerm) int { return cmp.Or(strings.Compare(a.term, b.term), compareID(a.id, b.id)) })
}

// reader is the part of a model's reads the workloads use.
type reader interface {
	node(id uuid.UUID) (*storage.Node, error)
	fact(id uuid.UUID) (*storage.Fact, error)
	adjacent(node uuid.UUID, dir storage.Direction, pred storage.Predicate, fn func(storage.AdjEntry) error) error
	nodesByKind(kind storage.Kind, fn func(uuid.UUID) error) error
	subjectsByValue(pred storage.Predicate, value string, fn func(subject, fact uuid.UUID) error) error
	nameTerms(prefix string, fn func(term string, id uuid.UUID) error) error
}

type snapshotReader struct{ s *Snapshot }

func (r snapshotReader) node(id uuid.UUID) (*storage.Node, error) { return r.s.Node(id) }
func (r snapshotReader) fact(id uuid.UUID) (*storage.Fact, error) { return r.s.Fact(id) }
func (r snapshotReader) adjacent(node uuid.UUID, dir storage.Direction, pred storage.Predicate, fn func(storage.AdjEntry) error) error {
	return r.s.Adjacent(node, dir, pred, fn)
}
func (r snapshotReader) nodesByKind(kind storage.Kind, fn func(uuid.UUID) error) error {
	return r.s.NodesByKind(kind, fn)
}
func (r snapshotReader) subjectsByValue(pred storage.Predicate, value string, fn func(subject, fact uuid.UUID) error) error {
	return r.s.SubjectsByValue(pred, value, fn)
}
func (r snapshotReader) nameTerms(prefix string, fn func(term string, id uuid.UUID) error) error {
	return r.s.NameTerms(prefix, false, fn)
}

func (p *pointerModel) node(id uuid.UUID) (*storage.Node, error) {
	if n, ok := p.nodes[id]; ok {
		return n, nil
	}
	return nil, notFound("id", "no entity with id %s", id)
}

func (p *pointerModel) fact(id uuid.UUID) (*storage.Fact, error) {
	if f, ok := p.facts[id]; ok {
		return f, nil
	}
	return nil, notFound("id", "no fact with id %s", id)
}

func (p *pointerModel) adjacent(node uuid.UUID, dir storage.Direction, pred storage.Predicate, fn func(storage.AdjEntry) error) error {
	es := p.in[node]
	if dir == storage.Out {
		es = p.out[node]
	}
	for _, e := range es {
		if pred != "" && e.pred != pred {
			continue
		}
		if err := fn(storage.AdjEntry{Fact: e.fact, Other: e.other, State: e.state}); err != nil {
			return stopped(err)
		}
	}
	return nil
}

func (p *pointerModel) nodesByKind(kind storage.Kind, fn func(uuid.UUID) error) error {
	for _, id := range p.kinds[kind] {
		if err := fn(id); err != nil {
			return stopped(err)
		}
	}
	return nil
}

func (p *pointerModel) subjectsByValue(pred storage.Predicate, value string, fn func(subject, fact uuid.UUID) error) error {
	for _, v := range p.values[string(pred)+"\x00"+value] {
		if err := fn(v[0], v[1]); err != nil {
			return stopped(err)
		}
	}
	return nil
}

func (p *pointerModel) nameTerms(prefix string, fn func(term string, id uuid.UUID) error) error {
	i, _ := slices.BinarySearchFunc(p.terms, prefix, func(t pointerTerm, s string) int { return strings.Compare(t.term, s) })
	for ; i < len(p.terms) && strings.HasPrefix(p.terms[i].term, prefix); i++ {
		if err := fn(p.terms[i].term, p.terms[i].id); err != nil {
			return stopped(err)
		}
	}
	return nil
}

// The workloads. Each returns a count, so that nothing is optimized away.

// headline is the headline query's reads: the sponsorships of a series'
// editions whose sponsor is from the country, each fact decoded.
func headline(r reader, series uuid.UUID, country string) (int, error) {
	n := 0
	err := r.adjacent(series, storage.In, storage.PredEditionOf, func(ed storage.AdjEntry) error {
		return r.adjacent(ed.Other, storage.In, storage.PredSponsored, func(sp storage.AdjEntry) error {
			if sp.State != storage.Active {
				return nil
			}
			from := false
			err := r.adjacent(sp.Other, storage.Out, storage.PredCountry, func(c storage.AdjEntry) error {
				if c.State != storage.Active {
					return nil
				}
				f, err := r.fact(c.Fact)
				if err != nil {
					return err
				}
				from = from || f.Value == country
				return nil
			})
			if err != nil || !from {
				return err
			}
			f, err := r.fact(sp.Fact)
			if err == nil && f.Tier != "" {
				n++
			}
			return err
		})
	})
	return n, err
}

func firstOfKind(r reader, kind storage.Kind, limit int) (int, error) {
	n := 0
	err := r.nodesByKind(kind, func(id uuid.UUID) error {
		if _, err := r.node(id); err != nil {
			return err
		}
		if n++; n == limit {
			return storage.ErrStop
		}
		return nil
	})
	return n, err
}

func countryHolders(r reader, country string) (int, error) {
	n := 0
	err := r.subjectsByValue(storage.PredCountry, country, func(_, _ uuid.UUID) error { n++; return nil })
	return n, err
}

func searchTerm(r reader, q string) (int, error) {
	n := 0
	err := r.nameTerms(q, func(_ string, _ uuid.UUID) error { n++; return nil })
	return n, err
}

// scaleInput is a synthetic graph of n entities as a store scan would hand
// it over: each record in the store's codec, framed as a tag byte ('n'
// entity, 'x' text, 'f' fact), a uvarint length and the bytes (a text is
// its source's ID, then the text). It is made once per size, in a file.
func scaleInput(dir string, n int) (string, error) {
	path := fmt.Sprintf("%s/memgraph-synth-%d.rec", dir, n)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	pr, pw := io.Pipe()
	go func() {
		_, _, err := synth.Generate(pw, n)
		pw.CloseWithError(err)
	}()
	file, err := os.Create(path + ".tmp")
	if err != nil {
		return "", err
	}
	defer file.Close()
	out := bufio.NewWriterSize(file, 1<<20)
	frame := func(tag byte, b []byte) {
		out.WriteByte(tag)
		var l [binary.MaxVarintLen64]byte
		out.Write(l[:binary.PutUvarint(l[:], uint64(len(b)))])
		out.Write(b)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(pr, 1<<20))
	for {
		var r storage.Record
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			return "", err
		}
		switch {
		case r.Node != nil:
			b, err := storage.EncodeNode(r.Node)
			if err != nil {
				return "", err
			}
			frame('n', b)
		case r.Text != nil:
			frame('x', append(r.Text.ID[:], r.Text.Text...))
		case r.Fact != nil:
			b, err := storage.EncodeFact(r.Fact)
			if err != nil {
				return "", err
			}
			frame('f', b)
		}
	}
	if err := out.Flush(); err != nil {
		return "", err
	}
	if err := file.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(path+".tmp", path)
}

// readInput calls the functions with each record of a scale input, decoded
// by the store's codec, in the file's order (entities, texts, facts).
func readInput(path string, node func(*storage.Node) error, text func(uuid.UUID, string) error, fact func(*storage.Fact) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	in := bufio.NewReaderSize(f, 1<<20)
	var buf []byte
	for {
		tag, err := in.ReadByte()
		if err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		n, err := binary.ReadUvarint(in)
		if err != nil {
			return err
		}
		buf = slices.Grow(buf[:0], int(n))[:n]
		if _, err := io.ReadFull(in, buf); err != nil {
			return err
		}
		switch tag {
		case 'n':
			n, err := storage.DecodeNode(buf)
			if err == nil {
				err = node(n)
			}
			if err != nil {
				return err
			}
		case 'x':
			if err := text(uuid.UUID(buf[:16]), string(buf[16:])); err != nil {
				return err
			}
		case 'f':
			f, err := storage.DecodeFact(buf)
			if err == nil {
				err = fact(f)
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("bad record tag %q", tag)
		}
	}
}

// loadModel builds the model from a scale input.
func loadModel(path string) (*Model, error) {
	b := NewBuilder(1)
	if err := readInput(path, b.Node, func(id uuid.UUID, t string) error { return b.Text(storage.SourceText{ID: id, Text: t}) }, b.Fact); err != nil {
		return nil, err
	}
	return b.Build()
}

// loadPointer builds the pointer-per-record model from a scale input.
func loadPointer(path string) (*pointerModel, error) {
	p := newPointerModel()
	err := readInput(path, func(n *storage.Node) error { p.addNode(n); return nil },
		func(id uuid.UUID, t string) error { p.texts[id] = t; return nil },
		func(f *storage.Fact) error { p.addFact(f); return nil })
	p.finish()
	return p, err
}
