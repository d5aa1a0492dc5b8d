package storage

import "time"

// The graph's read model (issue 11): every committed write is one Change,
// stored in the engine's change log under a dense version; a ReadModel
// (storage/memgraph) holds every record and index of one version in memory
// and is advanced by applying the log's changes in order. Reads are answered
// from its immutable snapshots; writes are validated against a Draft of the
// latest one. The interfaces live here so that storage does not import the
// model's package (which imports storage for the record types).

// Change is one committed write: the records it put, whole, in the order it
// put them, and the version it committed at. Entities, facts, texts and
// revisions never leave the graph (retraction keeps them); saved queries may
// be deleted.
type Change struct {
	Version uint64
	// At is when the change committed.
	At time.Time
	// Reset marks a change that replaced the whole graph (an import into
	// an empty store): it carries no records, and a consumer of the change
	// log reads the graph again instead (a model is rebuilt).
	Reset       bool
	Nodes       []*Node
	Texts       []SourceText
	Facts       []*Fact
	Revisions   []*Revision
	Saved       []*SavedQuery
	DeleteSaved []string
}

// Empty reports whether the change puts nothing.
func (c *Change) Empty() bool {
	return len(c.Nodes)+len(c.Texts)+len(c.Facts)+len(c.Revisions)+len(c.Saved)+len(c.DeleteSaved) == 0
}

// ReadModel is the versioned graph in memory. Snapshot never blocks; Apply
// and Draft are called by one goroutine at a time (the graph's committer).
type ReadModel interface {
	// Snapshot returns the latest version. It implements Sizer.
	Snapshot() Snapshot
	// Apply applies a change whose Version is the model's plus one. Its
	// records must not be modified afterwards. On an error the model is as
	// it was.
	Apply(c Change) error
	// Draft starts a private continuation of the latest snapshot, for a
	// write to read and put records into; nothing else sees it.
	Draft() Draft
	// Stats reports the model's figures for metrics.
	Stats() ModelStats
	// Close waits for background work (a compaction) to end.
	Close()
}

// Draft is a snapshot a write is being built on: its reads see every record
// put into it. Its Version is the version it started from.
type Draft interface {
	Snapshot
	// Put applies records, as Apply does, but without a version and
	// without publishing them; on an error the draft is as it was.
	Put(c Change) error
	// Fork returns a copy of the draft to put further records into; the
	// copy is cheap (copy-on-write) and the receiver does not change.
	Fork() Draft
}

// KindCounter is a Snapshot that counts its entities of a kind (not
// retracted) at once, for the query planner.
type KindCounter interface {
	KindCount(Kind) int
}

// Sizer is a Snapshot that counts what it holds (what Graph.Sizes returns).
type Sizer interface {
	Sizes() Sizes
}

// ModelStats is what a ReadModel reports.
type ModelStats struct {
	// Version is the latest snapshot's; BaseVersion that of the base its
	// overlay is on (memgraph's compaction folds the overlay into a new base).
	Version, BaseVersion uint64
	OverlayEntries       int
	Compactions          int
	CompactionErrors     int
}

// ModelLoader builds a read model of every record of a graph at version v.
// records calls its argument's funcs with every record (nodes first, then
// source texts, then facts; revisions and saved queries at any point).
type ModelLoader func(v uint64, records func(RecordSink) error) (ReadModel, error)

// RecordSink takes the records a ModelLoader builds from.
type RecordSink interface {
	Node(n *Node) error
	Text(t SourceText) error
	Fact(f *Fact) error
	Revision(r *Revision) error
	Saved(q *SavedQuery) error
}
