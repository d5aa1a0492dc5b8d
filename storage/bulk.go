package storage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// This file moves whole graphs in and out: a streaming export as JSON lines (the
// format Import reads back) or as RDF N-Quads (for other graph stores), and a bulk
// import that bypasses transactions through the KV's batch writer.

// Record is one line of a JSON-lines export: exactly one of its fields is set.
// An export lists every node, then every source text, then every fact, each in
// ID order, then the entities' revisions, by node ID and number, so that
// exporting the same graph twice gives the same bytes (a graph without
// revisions exports as it did before they existed). A backup (backup.go)
// lists the saved queries after them, by name.
type Record struct {
	Node     *Node       `json:"node,omitempty"`
	Text     *SourceText `json:"text,omitempty"`
	Fact     *Fact       `json:"fact,omitempty"`
	Revision *Revision   `json:"revision,omitempty"`
	Saved    *SavedQuery `json:"saved,omitempty"`
}

// SourceText is the full text of a SOURCE node, kept apart from the node.
type SourceText struct {
	ID   uuid.UUID `json:"id"`
	Text string    `json:"text"`
}

// ExportJSONL writes the whole graph to w as JSON lines (see Record) from one
// snapshot, streaming: memory does not grow with the graph.
func (g *Graph) ExportJSONL(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err := g.view(func(s Snapshot) error {
		return exportScan(s, func(r Record) error { return enc.Encode(r) })
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return bw.Flush()
}

// exportScan calls fn for every record of the graph in export order.
func exportScan(s Snapshot, fn func(Record) error) error {
	if err := s.Nodes(func(n *Node) error { return fn(Record{Node: n}) }); err != nil {
		return err
	}
	err := s.SourceTexts(func(id uuid.UUID, text string) error {
		return fn(Record{Text: &SourceText{ID: id, Text: text}})
	})
	if err != nil {
		return err
	}
	if err := s.Facts(func(f *Fact) error { return fn(Record{Fact: f}) }); err != nil {
		return err
	}
	return s.Revisions(uuid.Nil, func(r *Revision) error { return fn(Record{Revision: r}) })
}

// Vocab is the IRI namespace of policygraph's RDF vocabulary: classes (Vocab +
// "Organization"), properties (Vocab + "slug") and predicates (Vocab + "SPONSORED").
const Vocab = "urn:policygraph:vocab:"

const (
	rdfType     = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
	rdfsLabel   = "http://www.w3.org/2000/01/rdf-schema#label"
	xsdInteger  = "http://www.w3.org/2001/XMLSchema#integer"
	xsdDecimal  = "http://www.w3.org/2001/XMLSchema#double"
	xsdBoolean  = "http://www.w3.org/2001/XMLSchema#boolean"
	xsdDateTime = "http://www.w3.org/2001/XMLSchema#dateTime"
)

// ExportNQuads writes the whole graph to w as RDF 1.1 N-Quads, in the same order
// as ExportJSONL. The mapping (BENCHMARKS.md documents it with an example):
//
//   - every node and fact is the IRI urn:uuid:<id>;
//   - a node has rdf:type Vocab+Class (Organization, Event...), its properties
//     as literals under Vocab (slug, name, year, orgType, code...), its labels as
//     rdfs:label language-tagged literals, and a SOURCE its full text as Vocab+"text";
//   - a fact is described in the default graph as a reified statement: rdf:type
//     Vocab+"Fact", Vocab+"subject", Vocab+"predicate" (the IRI Vocab+"SPONSORED"),
//     Vocab+"object" or Vocab+"value", its qualifiers (tier, role, measure,
//     quantity, dates, year, negated, retraction) and one blank node per piece of
//     evidence (Vocab+"source", Vocab+"quote", Vocab+"gloss", Vocab+"note");
//   - an active fact (neither negated nor retracted) is also asserted as the plain
//     triple subject Vocab+PREDICATE object-or-value, in the named graph
//     urn:uuid:<fact id>, so a store that ignores reification still sees the
//     graph's current edges, and each edge's graph name leads to its evidence.
func (g *Graph) ExportNQuads(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	q := &quadWriter{w: bw}
	err := g.view(func(s Snapshot) error {
		return exportScan(s, func(r Record) error {
			switch {
			case r.Node != nil:
				q.node(r.Node)
			case r.Text != nil:
				q.quad(iri(r.Text.ID), Vocab+"text", lit(r.Text.Text), "")
			case r.Fact != nil:
				q.fact(r.Fact)
			case r.Revision != nil:
				q.revision(r.Revision)
			}
			return q.err
		})
	})
	if err != nil {
		return fmt.Errorf("export n-quads: %w", err)
	}
	return bw.Flush()
}

type quadWriter struct {
	w   *bufio.Writer
	err error
}

func iri(id uuid.UUID) string { return "<urn:uuid:" + id.String() + ">" }

// lit renders a plain string literal, escaped as N-Quads requires.
func lit(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func typed(v any, dt string) string { return fmt.Sprintf(`"%v"^^<%s>`, v, dt) }

// quad writes one statement; s and o are already rendered, p is a bare IRI, and
// graph is a rendered IRI or "" for the default graph.
func (q *quadWriter) quad(s, p, o, graph string) {
	if q.err != nil {
		return
	}
	q.w.WriteString(s)
	q.w.WriteString(" <")
	q.w.WriteString(p)
	q.w.WriteString("> ")
	q.w.WriteString(o)
	if graph != "" {
		q.w.WriteByte(' ')
		q.w.WriteString(graph)
	}
	_, q.err = q.w.WriteString(" .\n")
}

func (q *quadWriter) str(s, p, v string) {
	if v != "" {
		q.quad(s, Vocab+p, lit(v), "")
	}
}

func (q *quadWriter) node(n *Node) {
	s := iri(n.ID)
	q.quad(s, rdfType, "<"+Vocab+n.Kind.Class()+">", "")
	q.str(s, "slug", n.Slug)
	q.str(s, "name", n.Name)
	for _, l := range n.Labels {
		q.quad(s, rdfsLabel, lit(l.Text)+"@"+l.Lang, "")
	}
	for _, a := range n.Aliases {
		q.str(s, "alias", a)
	}
	q.str(s, "description", n.Description)
	if n.Year != 0 {
		q.quad(s, Vocab+"year", typed(n.Year, xsdInteger), "")
	}
	for _, f := range []struct{ p, v string }{{"orgType", n.OrgType}, {"placeType", n.PlaceType}, {"code", n.Code},
		{"productType", n.ProductType}, {"status", n.Status}, {"programme", n.Programme}, {"title", n.Title},
		{"titleEn", n.TitleEn}, {"author", n.Author}, {"publisher", n.Publisher}, {"publisherNote", n.PublisherNote},
		{"language", n.Language}, {"url", n.URL}, {"createdBy", n.CreatedBy}} {
		q.str(s, f.p, f.v)
	}
	if n.PublishedAt != nil {
		q.quad(s, Vocab+"publishedAt", typed(n.PublishedAt.Format(time.RFC3339Nano), xsdDateTime), "")
	}
	q.quad(s, Vocab+"createdAt", typed(n.CreatedAt.Format(time.RFC3339Nano), xsdDateTime), "")
	q.quad(s, Vocab+"updatedAt", typed(n.UpdatedAt.Format(time.RFC3339Nano), xsdDateTime), "")
	q.retraction(s, n.ID, n.Retraction)
}

func (q *quadWriter) retraction(s string, id uuid.UUID, r *Retraction) {
	if r == nil {
		return
	}
	b := fmt.Sprintf("_:r%x", id[:])
	q.quad(s, Vocab+"retraction", b, "")
	q.str(b, "by", r.By)
	q.quad(b, Vocab+"at", typed(r.At.Format(time.RFC3339Nano), xsdDateTime), "")
	q.str(b, "reason", r.Reason)
}

func (q *quadWriter) fact(f *Fact) {
	s := iri(f.ID)
	q.quad(s, rdfType, "<"+Vocab+"Fact>", "")
	q.quad(s, Vocab+"subject", iri(f.Subject), "")
	q.quad(s, Vocab+"predicate", "<"+Vocab+string(f.Predicate)+">", "")
	object := ""
	if f.Object != uuid.Nil {
		object = iri(f.Object)
		q.quad(s, Vocab+"object", object, "")
	}
	if f.Value != "" {
		object = lit(f.Value)
		q.quad(s, Vocab+"value", object, "")
	}
	q.str(s, "measure", f.Measure)
	if qt := f.Quantity; qt != nil {
		q.quad(s, Vocab+"amount", typed(qt.Amount, xsdDecimal), "")
		q.str(s, "bound", string(qt.Bound))
		if qt.Upper != nil {
			q.quad(s, Vocab+"upper", typed(*qt.Upper, xsdDecimal), "")
		}
		q.str(s, "unit", qt.Unit)
	}
	q.str(s, "tier", string(f.Tier))
	q.str(s, "role", f.Role)
	if f.Former {
		q.quad(s, Vocab+"former", typed(true, xsdBoolean), "")
	}
	q.quad(s, Vocab+"negated", typed(f.Negated, xsdBoolean), "")
	for _, d := range []struct {
		p string
		d *Date
	}{{"date", f.Date}, {"start", f.Start}, {"end", f.End}} {
		if d.d != nil {
			q.str(s, d.p, d.d.String())
		}
	}
	if f.Year != 0 {
		q.quad(s, Vocab+"year", typed(f.Year, xsdInteger), "")
	}
	for i, e := range f.Evidence {
		b := fmt.Sprintf("_:e%x_%d", f.ID[:], i)
		q.quad(s, Vocab+"evidence", b, "")
		q.quad(b, Vocab+"source", iri(e.Source), "")
		q.str(b, "quote", e.Quote)
		q.str(b, "gloss", e.Gloss)
		q.str(b, "note", e.Note)
	}
	q.quad(s, Vocab+"createdAt", typed(f.CreatedAt.Format(time.RFC3339Nano), xsdDateTime), "")
	q.str(s, "createdBy", f.CreatedBy)
	q.retraction(s, f.ID, f.Retraction)
	if in := f.Inference; in != nil {
		b := fmt.Sprintf("_:i%x", f.ID[:])
		q.quad(s, Vocab+"inference", b, "")
		q.str(b, "rule", in.Rule)
		q.str(b, "reasoning", in.Reasoning)
	}
	if f.Active() && object != "" {
		q.quad(iri(f.Subject), Vocab+string(f.Predicate), object, s)
	}
}

// revision describes an entity's revision as a blank node of the entity:
// Vocab+"revision", with its number, time, author and the previous values
// that are set (name, description, labels, aliases, classification).
func (q *quadWriter) revision(r *Revision) {
	b := fmt.Sprintf("_:v%x_%d", r.Node[:], r.Seq)
	q.quad(iri(r.Node), Vocab+"revision", b, "")
	q.quad(b, Vocab+"seq", typed(r.Seq, xsdInteger), "")
	q.quad(b, Vocab+"at", typed(r.At.Format(time.RFC3339Nano), xsdDateTime), "")
	q.str(b, "by", r.By)
	n := r.Previous
	q.str(b, "name", n.Name)
	for _, l := range n.Labels {
		q.quad(b, rdfsLabel, lit(l.Text)+"@"+l.Lang, "")
	}
	for _, a := range n.Aliases {
		q.str(b, "alias", a)
	}
	q.str(b, "description", n.Description)
	if n.Year != 0 {
		q.quad(b, Vocab+"year", typed(n.Year, xsdInteger), "")
	}
	for _, f := range []struct{ p, v string }{{"orgType", n.OrgType}, {"placeType", n.PlaceType}, {"code", n.Code},
		{"productType", n.ProductType}, {"status", n.Status}, {"programme", n.Programme}} {
		q.str(b, f.p, f.v)
	}
}

// txnBulkWriter is the BulkWriter of a KV without a batch writer: it buffers
// pairs and commits them in transactions of a bounded size.
type txnBulkWriter struct {
	kv    KV
	pairs []kv
	size  int
}

func (w *txnBulkWriter) Set(key, value []byte) error {
	w.pairs = append(w.pairs, kv{bytes.Clone(key), bytes.Clone(value)})
	w.size += len(key) + len(value)
	if len(w.pairs) >= 5000 || w.size >= 4<<20 {
		return w.Flush()
	}
	return nil
}

func (w *txnBulkWriter) Flush() error {
	if len(w.pairs) == 0 {
		return nil
	}
	err := w.kv.Update(func(tx Txn) error {
		for _, p := range w.pairs {
			if err := tx.Set(p.key, p.val); err != nil {
				return err
			}
		}
		return nil
	})
	w.pairs, w.size = w.pairs[:0], 0
	return err
}

func (w *txnBulkWriter) Cancel() { w.pairs = nil }

// ImportReport says what Import loaded.
type ImportReport struct {
	Nodes, Texts, Facts, Revisions, Saved int
	// Edges counts adjacency entries written: two per fact that links two
	// entities, one per literal fact.
	Edges int
	// SortedRuns counts the sorted runs the import wrote to disk, and then
	// merged, because its pairs outgrew its memory budget (0: none).
	SortedRuns int
}

// Import loads a JSON-lines export (see ExportJSONL) into an empty graph with the
// KV's batch writer. Records must come in export order (nodes, texts, facts,
// revisions, then saved queries, which only a backup's records hold).
// Each node is validated as a write would; each fact's predicate, subject and
// object kinds and evidence quotes are checked against the records before it.
// It is not one transaction: on an error the store holds part of the data, so
// import into a fresh directory. Returns an error naming the offending line.
//
// The import ends with a reset entry in the change log (commit.go), at a
// version above every version the store has shown: readers of the log read
// the graph again from there, and a read model is rebuilt.
func (g *Graph) Import(r io.Reader) (rep ImportReport, err error) { return g.importAbove(r, 0) }

// importAbove is Import whose reset entry is numbered above version too (a
// restore's backup was taken at version: the restored store goes on above it).
func (g *Graph) importAbove(r io.Reader, version uint64) (rep ImportReport, err error) {
	g.cl.mu.Lock() // no commit meanwhile
	defer g.cl.mu.Unlock()
	empty := true
	if err := g.view(func(s Snapshot) error {
		if err := s.Nodes(func(*Node) error { empty = false; return ErrStop }); err != nil {
			return err
		}
		return s.FactIDs(func(uuid.UUID) error { empty = false; return ErrStop })
	}); err != nil {
		return rep, err
	}
	if !empty {
		return rep, errors.New("import: the store is not empty; import into a new data directory")
	}
	if err := g.kv.Writable(); err != nil {
		return rep, err
	}
	var w BulkWriter = &txnBulkWriter{kv: g.kv}
	if bl, ok := g.kv.(BulkLoader); ok {
		w = bl.NewBulkWriter()
	}
	defer func() {
		if err != nil {
			w.Cancel()
		}
	}()
	im := &importer{w: w, kinds: map[uuid.UUID]uint8{}, texts: map[uuid.UUID]string{}, slugs: newSlugSet(),
		quotes: map[quoteKey]bool{}, saved: map[string]bool{}, indexFree: g.cl.indexFree}
	im.lastRevision.seq = -1
	if err := im.run(r); err != nil {
		return im.rep, err
	}
	if r, ok := w.(interface{ SortedRuns() int }); ok {
		im.rep.SortedRuns = r.SortedRuns()
	}
	if err := w.Flush(); err != nil {
		return im.rep, fmt.Errorf("import: flush: %w", err)
	}
	g.counts.reset() // written around transactions: count again on next use
	if err := g.cl.reset(version); err != nil {
		return im.rep, fmt.Errorf("import: %w", err)
	}
	return im.rep, nil
}

type importer struct {
	w     BulkWriter
	rep   ImportReport
	stage int // 0 nodes, 1 texts, 2 facts, 3 revisions, 4 saved queries
	// lastRevision is the node and number of the revision before, which the
	// next must follow (the same node's next number, or a later node's 1).
	lastRevision struct {
		node uuid.UUID
		seq  int
	}
	// kinds and slugs are per node, so their size grows with the graph and
	// not with the import's budget: kinds holds an index into Kinds (plus
	// one), and slugs hashes rather than strings.
	kinds map[uuid.UUID]uint8
	texts map[uuid.UUID]string
	slugs slugSet
	saved map[string]bool // saved query names
	// quotes remembers the evidence quotes found verbatim in their source:
	// facts quote the same sentences over and over, and each check was a
	// search of the whole source text.
	quotes map[quoteKey]bool
	// indexFree: write records only (an IndexFree KV; see kvWriter).
	indexFree bool
}

func (im *importer) kindOf(id uuid.UUID) (Kind, bool) {
	i, ok := im.kinds[id]
	if !ok {
		return "", false
	}
	return Kinds[i-1], true
}

// setKind records a node's kind, which validateNode has checked is one of Kinds.
func (im *importer) setKind(id uuid.UUID, k Kind) {
	for i, x := range Kinds {
		if x == k {
			im.kinds[id] = uint8(i + 1)
			return
		}
	}
}

// slugSet remembers slugs by a 128-bit hash (two 64-bit maphashes with
// independent seeds): a chance of a false "appears twice" of about n²/2^129,
// nil in practice, at a third of the memory of the strings.
type slugSet struct {
	seeds [2]maphash.Seed
	seen  map[[2]uint64]struct{}
}

func newSlugSet() slugSet {
	return slugSet{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, seen: map[[2]uint64]struct{}{}}
}

// add adds slug and reports whether it was new.
func (s slugSet) add(slug string) bool {
	h := [2]uint64{maphash.String(s.seeds[0], slug), maphash.String(s.seeds[1], slug)}
	if _, dup := s.seen[h]; dup {
		return false
	}
	s.seen[h] = struct{}{}
	return true
}

type quoteKey struct {
	source uuid.UUID
	quote  string
}

// A line of the import, decoded and checked off the import's main goroutine:
// the JSON decoding, the checks that need no other record, the encoding of the
// record and of its index keys. What needs the records before it (kinds,
// duplicates, quotes) and the writes stay in line order on the main goroutine.
type importLine struct {
	n       int // line number
	blank   bool
	err     error // decoding: reported before anything else of the line
	invalid error // validation: reported after the order check, as before
	r       Record
	rec     []byte // the encoded node or fact
	nodeIdx [][]byte
	factIdx []kv
}

// importChunk is a run of consecutive lines, decoded by one worker.
type importChunk struct {
	lines []importLine
	raw   []byte // the lines' bytes, back to back
	ends  []int
	done  chan struct{}
}

const importChunkLines = 256

func decodeImportLine(l *importLine, b []byte) {
	if len(bytes.TrimSpace(b)) == 0 {
		l.blank = true
		return
	}
	if l.err = json.Unmarshal(b, &l.r); l.err != nil {
		return
	}
	switch {
	case l.r.Node != nil:
		if l.invalid = validateNode(l.r.Node); l.invalid != nil {
			return
		}
		l.rec, l.invalid = encodeNode(l.r.Node)
		l.nodeIdx = nodeIndexKeys(l.r.Node)
	case l.r.Fact != nil:
		if l.invalid = validateInference(l.r.Fact.Inference); l.invalid != nil {
			return
		}
		l.rec, l.invalid = encodeFact(l.r.Fact)
		l.factIdx = factIndexKeys(l.r.Fact)
	case l.r.Revision != nil:
		if l.r.Revision.Previous == nil {
			l.invalid = errors.New("a revision with no previous record")
			return
		}
		if l.invalid = validateNode(l.r.Revision.Previous); l.invalid != nil {
			return
		}
		l.rec, l.invalid = encodeRevision(l.r.Revision)
	case l.r.Saved != nil:
		if l.invalid = validateSavedQuery(l.r.Saved); l.invalid != nil {
			return
		}
		l.rec, l.invalid = json.Marshal(l.r.Saved)
	}
}

// run reads r's lines, has GOMAXPROCS workers decode them in chunks, and takes
// the decoded records in line order.
func (im *importer) run(r io.Reader) error {
	workers := max(runtime.GOMAXPROCS(0), 1)
	work := make(chan *importChunk, workers)
	order := make(chan *importChunk, 4*workers)
	quit := make(chan struct{})
	var scanErr error
	lastLine := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range work {
				start := 0
				for i, end := range c.ends {
					decodeImportLine(&c.lines[i], c.raw[start:end])
					start = end
				}
				close(c.done)
			}
		})
	}
	go func() {
		defer close(order)
		defer close(work)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		line := 0
		var c *importChunk
		send := func() bool {
			if c == nil {
				return true
			}
			select {
			case work <- c:
			case <-quit:
				return false
			}
			select {
			case order <- c:
			case <-quit:
				return false
			}
			c = nil
			return true
		}
		for sc.Scan() {
			line++
			if c == nil {
				c = &importChunk{lines: make([]importLine, 0, importChunkLines), done: make(chan struct{})}
			}
			c.raw = append(c.raw, sc.Bytes()...)
			c.ends = append(c.ends, len(c.raw))
			c.lines = append(c.lines, importLine{n: line})
			if len(c.lines) == importChunkLines && !send() {
				return
			}
		}
		if send() {
			scanErr, lastLine = sc.Err(), line
		}
	}()
	defer func() {
		// Stop the reader and wait for it and the workers (on an early return
		// they stop after the chunks in flight).
		close(quit)
		for range order {
		}
		wg.Wait()
	}()
	for c := range order {
		<-c.done
		for i := range c.lines {
			l := &c.lines[i]
			if l.blank {
				continue
			}
			if err := im.record(l); err != nil {
				return fmt.Errorf("import line %d: %w", l.n, err)
			}
		}
	}
	if scanErr != nil {
		return fmt.Errorf("import line %d: %w", lastLine+1, scanErr)
	}
	return nil
}

func (im *importer) set(k, v []byte) error { return im.w.Set(k, v) }

func (im *importer) advance(stage int, what string) error {
	if stage < im.stage {
		return fmt.Errorf("a %s record after later records: an export lists nodes, then texts, then facts, then revisions (then a backup's saved queries)", what)
	}
	im.stage = stage
	return nil
}

func (im *importer) record(l *importLine) error {
	if l.err != nil {
		return l.err
	}
	r := l.r
	switch {
	case r.Node != nil:
		if err := im.advance(0, "node"); err != nil {
			return err
		}
		return im.node(l)
	case r.Text != nil:
		if err := im.advance(1, "text"); err != nil {
			return err
		}
		if k, _ := im.kindOf(r.Text.ID); k != KindSource {
			return fmt.Errorf("text for %s, which is no SOURCE node above", r.Text.ID)
		}
		if err := CheckText("text", r.Text.Text, 16<<20); err != nil {
			return err
		}
		im.texts[r.Text.ID] = r.Text.Text
		im.rep.Texts++
		return im.set(textKey(r.Text.ID), []byte(r.Text.Text))
	case r.Fact != nil:
		if err := im.advance(2, "fact"); err != nil {
			return err
		}
		return im.fact(l)
	case r.Revision != nil:
		if err := im.advance(3, "revision"); err != nil {
			return err
		}
		return im.revision(l)
	case r.Saved != nil:
		if err := im.advance(4, "saved query"); err != nil {
			return err
		}
		if l.invalid != nil {
			return l.invalid
		}
		if im.saved[r.Saved.Name] {
			return fmt.Errorf("saved query %q appears twice", r.Saved.Name)
		}
		im.saved[r.Saved.Name] = true
		im.rep.Saved++
		return im.set(savedKey(r.Saved.Name), l.rec)
	}
	return errors.New("a record with no node, text, fact, revision or saved query")
}

func (im *importer) revision(l *importLine) error {
	r := l.r.Revision
	if l.invalid != nil {
		return l.invalid
	}
	if _, ok := im.kindOf(r.Node); !ok {
		return fmt.Errorf("revision %d of %s, which is no node above", r.Seq, r.Node)
	}
	if r.Previous.ID != r.Node {
		return fmt.Errorf("revision %d of %s holds a record of %s", r.Seq, r.Node, r.Previous.ID)
	}
	last := im.lastRevision
	want := 1
	if last.node == r.Node {
		want = last.seq + 1
	} else if last.seq >= 0 && bytes.Compare(r.Node[:], last.node[:]) < 0 {
		return fmt.Errorf("revisions of %s after those of %s: an export lists them by node ID", r.Node, last.node)
	}
	if r.Seq != want {
		return fmt.Errorf("revision %d of %s, want revision %d", r.Seq, r.Node, want)
	}
	im.lastRevision.node, im.lastRevision.seq = r.Node, r.Seq
	im.rep.Revisions++
	return im.set(revisionKey(r.Node, r.Seq), l.rec)
}

func (im *importer) node(l *importLine) error {
	n := l.r.Node
	if l.invalid != nil {
		return l.invalid
	}
	if _, dup := im.kindOf(n.ID); dup {
		return fmt.Errorf("node %s appears twice", n.ID)
	}
	if !im.slugs.add(n.Slug) {
		return fmt.Errorf("slug %q appears twice", n.Slug)
	}
	im.setKind(n.ID, n.Kind)
	if err := im.set(nodeKey(n.ID), l.rec); err != nil {
		return err
	}
	if im.indexFree {
		im.rep.Nodes++
		return nil
	}
	if err := im.set(slugKey(n.Slug), n.ID[:]); err != nil {
		return err
	}
	for _, k := range l.nodeIdx {
		if err := im.set(k, nil); err != nil {
			return err
		}
	}
	im.rep.Nodes++
	return nil
}

func (im *importer) fact(l *importLine) error {
	f := l.r.Fact
	spec := f.Predicate.Spec()
	if spec == nil {
		return fmt.Errorf("fact %s: unknown predicate %q", f.ID, f.Predicate)
	}
	sk, ok := im.kindOf(f.Subject)
	if !ok || !kindIn(sk, spec.Subjects) {
		return fmt.Errorf("fact %s: subject %s is no node above of a kind %s takes", f.ID, f.Subject, f.Predicate)
	}
	if f.Object != uuid.Nil {
		ok := false
		if spec.ObjectRequired {
			k, exists := im.kindOf(f.Object)
			ok = exists && kindIn(k, spec.Objects)
		}
		if !ok {
			return fmt.Errorf("fact %s: object %s is no node above of a kind %s takes", f.ID, f.Object, f.Predicate)
		}
	} else if spec.ObjectRequired {
		return fmt.Errorf("fact %s: %s needs an object", f.ID, f.Predicate)
	}
	if len(f.Evidence) == 0 {
		return fmt.Errorf("fact %s has no evidence", f.ID)
	}
	for i, e := range f.Evidence {
		text, ok := im.texts[e.Source]
		if !ok {
			return fmt.Errorf("fact %s evidence[%d]: no source text for %s above", f.ID, i, e.Source)
		}
		qk := quoteKey{e.Source, e.Quote}
		if !im.quotes[qk] {
			if !strings.Contains(text, e.Quote) {
				return fmt.Errorf("fact %s evidence[%d]: the quote is not verbatim in the source: %q", f.ID, i, clip(e.Quote, 80))
			}
			im.quotes[qk] = true
		}
	}
	if l.invalid != nil {
		return l.invalid
	}
	if err := im.set(factKey(f.ID), l.rec); err != nil {
		return err
	}
	for _, e := range l.factIdx {
		if im.indexFree {
			break
		}
		if err := im.set(e.key, e.val); err != nil {
			return err
		}
	}
	im.rep.Facts++
	im.rep.Edges++
	if f.Object != uuid.Nil {
		im.rep.Edges++
	}
	return nil
}
