package storage

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/google/uuid"

	"policygraph/errs"
)

// DiffSnapshots compares two snapshots of a graph, answer by answer through
// the Snapshot interface: every record (by its encoding), every index in its
// order (kinds, years, predicates, values, name terms), every slug, every
// adjacency of every entity, every source text, revision and saved query. It
// returns up to max differences, each a line naming what differs (nil: they
// answer alike). It is how a read model is checked against its store (check
// -model) and against a model rebuilt from it (the drift tests).
func DiffSnapshots(a, b Snapshot, max int) ([]string, error) {
	d := &differ{a: a, b: b, max: max}
	for _, step := range []func() error{d.nodes, d.facts, d.texts, d.revisions, d.saved, d.kinds, d.predicates, d.names} {
		if err := step(); err != nil {
			if err == errEnough {
				break
			}
			return d.out, err
		}
	}
	return d.out, nil
}

type differ struct {
	a, b Snapshot
	max  int
	out  []string
	// literals are the active literal facts' (predicate, value) pairs, for
	// the value index; nodes every entity, for its slug and adjacency.
	literals map[[2]string]bool
	nodeIDs  []uuid.UUID
}

var errEnough = fmt.Errorf("enough differences")

func (d *differ) add(format string, args ...any) error {
	d.out = append(d.out, fmt.Sprintf(format, args...))
	if len(d.out) >= d.max {
		return errEnough
	}
	return nil
}

// same compares two lists one section gave.
func (d *differ) same(what string, x, y []string) error {
	if slices.Equal(x, y) {
		return nil
	}
	for i := range max(len(x), len(y)) {
		var p, q string
		if i < len(x) {
			p = x[i]
		}
		if i < len(y) {
			q = y[i]
		}
		if p != q {
			return d.add("%s: entry %d is %q in one, %q in the other (%d and %d entries)", what, i, p, q, len(x), len(y))
		}
	}
	return nil
}

func (d *differ) nodes() error {
	n := 0
	err := d.a.Nodes(func(x *Node) error {
		n++
		d.nodeIDs = append(d.nodeIDs, x.ID)
		y, err := d.b.Node(x.ID)
		if errs.CodeOf(err) == errs.NotFound {
			return d.add("entity %s (%s) is missing", x.ID, x.Slug)
		}
		if err != nil {
			return err
		}
		if p, q := mustEncode(encodeNode(x)), mustEncode(encodeNode(y)); !bytes.Equal(p, q) {
			return d.add("entity %s (%s) differs", x.ID, x.Slug)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m := 0
	if err := d.b.Nodes(func(*Node) error { m++; return nil }); err != nil {
		return err
	}
	if m != n {
		return d.add("%d entities in one, %d in the other", n, m)
	}
	return nil
}

func (d *differ) facts() error {
	d.literals = map[[2]string]bool{}
	err := d.a.Facts(func(x *Fact) error {
		if x.Value != "" && x.Retraction == nil && !x.Negated {
			d.literals[[2]string{string(x.Predicate), x.Value}] = true
		}
		y, err := d.b.Fact(x.ID)
		if errs.CodeOf(err) == errs.NotFound {
			return d.add("fact %s is missing", x.ID)
		}
		if err != nil {
			return err
		}
		if p, q := mustEncode(encodeFact(x)), mustEncode(encodeFact(y)); !bytes.Equal(p, q) {
			return d.add("fact %s differs", x.ID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return d.compare("fact IDs", ids(Snapshot.FactIDs)) // and those only b has
}

// compare lists what one question answers of each snapshot and compares
// the two lists.
func (d *differ) compare(what string, list func(Snapshot) ([]string, error)) error {
	x, err := list(d.a)
	if err != nil {
		return err
	}
	y, err := list(d.b)
	if err != nil {
		return err
	}
	return d.same(what, x, y)
}

// ids is the list of the IDs a scan of a snapshot gives, for compare.
func ids(scan func(s Snapshot, fn func(uuid.UUID) error) error) func(Snapshot) ([]string, error) {
	return func(s Snapshot) ([]string, error) {
		var out []string
		err := scan(s, func(id uuid.UUID) error { out = append(out, id.String()); return nil })
		return out, err
	}
}

func mustEncode(b []byte, err error) []byte {
	if err != nil {
		return []byte("unencodable: " + err.Error())
	}
	return b
}

func (d *differ) texts() error {
	err := d.compare("source texts", func(s Snapshot) (out []string, err error) {
		err = s.SourceTexts(func(id uuid.UUID, text string) error {
			out = append(out, fmt.Sprintf("%s %d", id, len(text))) // contents: below, per entity
			return nil
		})
		return out, err
	})
	if err != nil {
		return err
	}
	for _, id := range d.nodeIDs {
		p, err := d.a.SourceText(id)
		if err != nil {
			return err
		}
		q, err := d.b.SourceText(id)
		if err != nil {
			return err
		}
		if p != q {
			if err := d.add("source text of %s differs", id); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *differ) revisions() error {
	return d.compare("revisions", func(s Snapshot) (out []string, err error) {
		err = s.Revisions(uuid.Nil, func(r *Revision) error {
			out = append(out, fmt.Sprintf("%s %d %x", r.Node, r.Seq, mustEncode(encodeRevision(r))))
			return nil
		})
		return out, err
	})
}

func (d *differ) saved() error {
	return d.compare("saved queries", func(s Snapshot) (out []string, err error) {
		err = s.SavedQueries(func(q *SavedQuery) error {
			b, err := json.Marshal(q)
			out = append(out, string(b))
			return err
		})
		return out, err
	})
}

func (d *differ) kinds() error {
	for _, k := range Kinds {
		if err := d.compare("entities of kind "+string(k), ids(func(s Snapshot, fn func(uuid.UUID) error) error {
			return s.NodesByKind(k, fn)
		})); err != nil {
			return err
		}
		if err := d.compare("entities of kind "+string(k)+" by year", ids(func(s Snapshot, fn func(uuid.UUID) error) error {
			return s.NodesByYear(k, 0, math.MaxUint16, fn)
		})); err != nil {
			return err
		}
	}
	for _, id := range d.nodeIDs {
		n, err := d.a.Node(id)
		if err != nil {
			return err
		}
		for _, s := range []Snapshot{d.a, d.b} {
			got, err := s.SlugID(n.Slug)
			if err != nil || got != id {
				if err := d.add("slug %q: %s, %v; want %s", n.Slug, got, err, id); err != nil {
					return err
				}
			}
		}
		for _, dir := range []Direction{Out, In} {
			err := d.compare(fmt.Sprintf("adjacency of %s (%s, out %v)", id, n.Slug, dir), func(s Snapshot) (out []string, err error) {
				err = s.Adjacent(id, dir, "", func(e AdjEntry) error {
					out = append(out, fmt.Sprintf("%s %s %d", e.Fact, e.Other, e.State))
					return nil
				})
				return out, err
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *differ) predicates() error {
	for _, p := range Predicates {
		pred := p.Predicate
		if err := d.compare("active facts of "+string(pred), ids(func(s Snapshot, fn func(uuid.UUID) error) error {
			return s.FactsByPredicate(pred, fn)
		})); err != nil {
			return err
		}
		if err := d.compare("active facts of "+string(pred)+" by year", ids(func(s Snapshot, fn func(uuid.UUID) error) error {
			return s.FactsByYear(pred, 0, math.MaxUint16, fn)
		})); err != nil {
			return err
		}
	}
	for _, pv := range slices.SortedFunc(maps.Keys(d.literals), func(x, y [2]string) int {
		return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1]))
	}) {
		err := d.compare(fmt.Sprintf("value index %s = %q", pv[0], pv[1]), func(s Snapshot) (out []string, err error) {
			err = s.SubjectsByValue(Predicate(pv[0]), pv[1], func(subject, fact uuid.UUID) error {
				out = append(out, subject.String()+" "+fact.String())
				return nil
			})
			return out, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *differ) names() error {
	for _, whole := range []bool{true, false} {
		err := d.compare(fmt.Sprintf("name terms (whole %v)", whole), func(s Snapshot) (out []string, err error) {
			err = s.NameTerms("", whole, func(term string, id uuid.UUID) error {
				out = append(out, term+" "+id.String())
				return nil
			})
			return out, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
