package model

import (
	"fmt"
	"slices"

	"github.com/google/uuid"

	"policygraph/storage"
)

// Reader is what a request's views read the graph through: the operation's
// loaders (package graph), bound to the request's context and so to its
// snapshot and deadline. A view carries it so that the fields a traversal
// asks of every object (a fact's subject, an organization's country,
// sanctions and parent) are methods without a context: gqlgen resolves such
// a field inline, in the goroutine marshalling its object, where a resolver
// or a method taking a context gets a goroutine of its own per field per
// object (codegen's Field.IsConcurrent), whose stack is then grown by
// copying. See BENCHMARKS.md, "Issue 11: fields resolved inline".
type Reader interface {
	// Node is the node id names, nil if none.
	Node(id uuid.UUID) (*storage.Node, error)
	// Nodes is the nodes ids name, in order, nil where one names none.
	Nodes(ids []uuid.UUID) ([]*storage.Node, error)
	// Active is the node's active facts with the predicate in the direction.
	Active(node uuid.UUID, dir storage.Direction, pred storage.Predicate) ([]*storage.Fact, error)
	// TierSize is the stated size of an event's sponsor tier, nil if none.
	TierSize(q storage.TierQuery) (*storage.Quantity, error)
}

// errNoReader is what a linked field answers on a view made without a
// reader: a bug in the code that made it, not in the request.
var errNoReader = fmt.Errorf("model: a view made without a reader cannot read what it links to")

// Subject is the entity the fact is about.
func (f Fact) Subject() (Entity, error) {
	if f.rd == nil {
		return nil, errNoReader
	}
	n, err := f.rd.Node(f.Fact.Subject)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, fmt.Errorf("fact %s: subject %s missing", f.Fact.ID, f.Fact.Subject)
	}
	return View(f.rd, n), nil
}

// Object is the entity the fact points to, null for a literal value.
func (f Fact) Object() (Entity, error) {
	if f.Fact.Object == uuid.Nil {
		return nil, nil
	}
	if f.rd == nil {
		return nil, errNoReader
	}
	n, err := f.rd.Node(f.Fact.Object)
	if err != nil || n == nil {
		return nil, err
	}
	return View(f.rd, n), nil
}

// TierSize is the stated size of a SPONSORED fact's tier at its event, null
// for other facts and unstated sizes.
func (f Fact) TierSize() (*Quantity, error) {
	if f.Fact.Predicate != storage.PredSponsored || f.Fact.Tier == "" {
		return nil, nil
	}
	if f.rd == nil {
		return nil, errNoReader
	}
	q, err := f.rd.TierSize(storage.TierQuery{Event: f.Fact.Object, Tier: f.Fact.Tier})
	return NewQuantity(q), err
}

// Country is the organization's country code, from its first active COUNTRY
// fact; null when it has none.
func (o Organization) Country() (*string, error) {
	if o.rd == nil {
		return nil, errNoReader
	}
	facts, err := o.rd.Active(o.Node.ID, storage.Out, storage.PredCountry)
	if err != nil || len(facts) == 0 {
		return nil, err
	}
	return &facts[0].Value, nil
}

// Parent is the organization's parent (SUBSIDIARY_OF), null when it has none.
func (o Organization) Parent() (*Organization, error) {
	return firstAs[Organization](o.entity, storage.Out, storage.PredSubsidiaryOf, storage.KindOrganization)
}

// Sanctions are the sanctions targeting the organization.
func (o Organization) Sanctions() ([]*Sanction, error) {
	return relatedAs[Sanction](o.entity, storage.In, storage.PredTargets, storage.KindSanction)
}

// ImposedBy are who imposed the sanction.
func (s Sanction) ImposedBy() ([]*Organization, error) {
	return relatedAs[Organization](s.entity, storage.Out, storage.PredImposedBy, storage.KindOrganization)
}

// Related is the distinct entities at the other end of the node's active
// facts with pred in direction dir, in the facts' order (nil entries
// dropped), read through rd.
func Related(rd Reader, n *storage.Node, dir storage.Direction, pred storage.Predicate) ([]*storage.Node, error) {
	if rd == nil {
		return nil, errNoReader
	}
	facts, err := rd.Active(n.ID, dir, pred)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, len(facts))
	for _, f := range facts {
		id := f.Object
		if dir == storage.In {
			id = f.Subject
		}
		if id != uuid.Nil {
			ids = append(ids, id)
		}
	}
	got, err := rd.Nodes(storage.Dedup(ids))
	if err != nil {
		return nil, err
	}
	return DropNil(got), nil
}

// DropNil drops the nil entries of nodes (IDs that named none), in place.
func DropNil(nodes []*storage.Node) []*storage.Node {
	return slices.DeleteFunc(nodes, func(n *storage.Node) bool { return n == nil })
}

// relatedAs is Related from e, keeping the nodes of kind k in their view T.
func relatedAs[T any](e entity, dir storage.Direction, pred storage.Predicate, k storage.Kind) ([]*T, error) {
	nodes, err := Related(e.rd, e.Node, dir, pred)
	if err != nil {
		return nil, err
	}
	return ViewsOf[T](e.rd, nodes, k), nil
}

// firstAs is the first of relatedAs, or nil.
func firstAs[T any](e entity, dir storage.Direction, pred storage.Predicate, k storage.Kind) (*T, error) {
	all, err := relatedAs[T](e, dir, pred, k)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return all[0], nil
}

// ViewsOf wraps the nodes of kind k in their typed view T.
func ViewsOf[T any](rd Reader, nodes []*storage.Node, k storage.Kind) []*T {
	out := make([]*T, 0, len(nodes))
	for _, n := range nodes {
		if n != nil && n.Kind == k {
			if v := ViewAs[T](rd, n); v != nil {
				out = append(out, v)
			}
		}
	}
	return out
}
