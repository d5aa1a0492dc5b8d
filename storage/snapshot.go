package storage

import "github.com/google/uuid"

// Snapshot is one consistent, read-only version of the graph. Every question
// storage answers (query.go, aggregate.go, Search, export, backup) reads
// through it and nothing else, with primitive reads: a record by ID, an
// adjacency, an index in its order. Today's implementation is kvSnapshot, one
// read transaction of the KV with the decoded-record cache; an in-memory read
// model can be another.
//
// Records returned are shared: callers must not change them. A Snapshot is
// valid only while the call that handed it out runs (Graph.Read). Callbacks
// stop a scan early, and the scan then returns nil, by returning ErrStop; any
// other error ends the scan and is returned.
type Snapshot interface {
	// Version is a version of the graph the snapshot holds every write of:
	// each write acknowledged before the snapshot was taken is in it.
	Version() uint64

	// Node returns the node with the ID, or an *errs.Error NOT_FOUND.
	Node(id uuid.UUID) (*Node, error)
	// Fact returns the fact with the ID, or an *errs.Error NOT_FOUND.
	Fact(id uuid.UUID) (*Fact, error)
	// SlugID returns the ID of the node with the slug, or an *errs.Error NOT_FOUND.
	SlugID(slug string) (uuid.UUID, error)
	// SourceText returns the full text of a source; "" when it has none.
	SourceText(id uuid.UUID) (string, error)

	// Adjacent calls fn for each fact at node in dir (narrowed to pred when
	// not ""), in (predicate, fact ID) order, with the entity at its other
	// end and its state, read from the adjacency alone: no fact is loaded.
	Adjacent(node uuid.UUID, dir Direction, pred Predicate, fn func(AdjEntry) error) error
	// HasValue reports whether subject has an active literal fact pred = value.
	HasValue(subject uuid.UUID, pred Predicate, value string) (bool, error)

	// NodesByKind calls fn for each node of the kind that is not retracted,
	// in folded-name order.
	NodesByKind(kind Kind, fn func(id uuid.UUID) error) error
	// NodesByYear calls fn for each node of the kind, not retracted, whose
	// year is within [from, to], in year order.
	NodesByYear(kind Kind, from, to int, fn func(id uuid.UUID) error) error
	// FactsByPredicate calls fn for each active fact with pred, in ID order.
	FactsByPredicate(pred Predicate, fn func(id uuid.UUID) error) error
	// FactsByYear calls fn for each active fact with pred whose year is
	// within [from, to], in year order.
	FactsByYear(pred Predicate, from, to int, fn func(id uuid.UUID) error) error
	// SubjectsByValue calls fn for each active literal fact pred = value
	// (COUNTRY = "US"), in fact ID order, with its subject.
	SubjectsByValue(pred Predicate, value string, fn func(subject, fact uuid.UUID) error) error
	// NameTerms calls fn for each term of the name index that starts with
	// prefix, in term order, with the node it names. whole picks the terms of
	// whole names (a node's English name); otherwise those of words, from the
	// second word of each of its names on (see searchTerms).
	NameTerms(prefix string, whole bool, fn func(term string, id uuid.UUID) error) error

	// Nodes, Facts and SourceTexts call fn for every record of their kind, in
	// ID order, retracted ones included; FactIDs is Facts without loading them.
	Nodes(fn func(*Node) error) error
	Facts(fn func(*Fact) error) error
	FactIDs(fn func(id uuid.UUID) error) error
	SourceTexts(fn func(id uuid.UUID, text string) error) error

	// Revisions calls fn for each revision of node (Graph.UpdateNode keeps
	// one per update), oldest first; for uuid.Nil, every node's, by node ID.
	Revisions(node uuid.UUID, fn func(*Revision) error) error

	// SavedQuery returns the saved query with the name, or an *errs.Error
	// NOT_FOUND; SavedQueries calls fn for each one, by name.
	SavedQuery(name string) (*SavedQuery, error)
	SavedQueries(fn func(*SavedQuery) error) error
}

// FactState is what an adjacency entry says of its fact.
type FactState byte

// The states of a fact.
const (
	// Active: neither negated nor retracted.
	Active FactState = iota
	// Negated: the source says it did not happen.
	Negated
	// Retracted: withdrawn by a curator (negated or not).
	Retracted
)

// AdjEntry is one fact at a node, as its adjacency holds it: the fact, the
// entity at its other end (uuid.Nil for a literal fact) and its state.
type AdjEntry struct {
	Fact, Other uuid.UUID
	State       FactState
}

// Read runs fn on one consistent snapshot of the graph, valid while fn runs:
// several questions asked of it see one version.
func (g *Graph) Read(fn func(Snapshot) error) error { return g.view(fn) }
