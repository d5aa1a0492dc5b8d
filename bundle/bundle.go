// Package bundle reads source bundles: one file holding a source's metadata
// and full text, the entities it mentions and the facts it states with
// verbatim quotes (docs/bundles.md). The article seed (seed/facts.yaml) is
// the first bundle; policygraph ingest and the ingestSource mutation take
// others, and Ingest writes one into a graph.
package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	yaml "go.yaml.in/yaml/v3"

	"policygraph/errs"
	"policygraph/storage"
)

// Format is how a bundle is written.
type Format string

// The formats.
const (
	YAML Format = "YAML"
	JSON Format = "JSON"
)

// Bundle is one source with its entities and facts.
type Bundle struct {
	Source   Source   `yaml:"source" json:"source"`
	Entities []Entity `yaml:"entities" json:"entities,omitempty"`
	Facts    []Fact   `yaml:"facts" json:"facts,omitempty"`

	name  string // the file's name, for errors
	lines lines
}

// Source describes the source and holds its text: inline (text) or in a
// file beside the bundle (textFile).
type Source struct {
	Slug          string `yaml:"slug" json:"slug"`
	Title         string `yaml:"title" json:"title"`
	TitleEn       string `yaml:"titleEn" json:"titleEn,omitempty"`
	Author        string `yaml:"author" json:"author,omitempty"`
	Publisher     string `yaml:"publisher" json:"publisher,omitempty"`
	PublisherNote string `yaml:"publisherNote" json:"publisherNote,omitempty"`
	PublishedAt   string `yaml:"publishedAt" json:"publishedAt,omitempty"`
	Language      string `yaml:"language" json:"language"`
	URL           string `yaml:"url" json:"url,omitempty"`
	Text          string `yaml:"text" json:"text,omitempty"`
	TextFile      string `yaml:"textFile" json:"textFile,omitempty"`
}

// Entity is an entity the source mentions. It is matched to a stored entity
// by sameAs (a slug or ID: the match is pinned), else by id, slug, or one
// name (name, vi, an alias) that folds alike (see storage.Fold).
type Entity struct {
	Slug        string   `yaml:"slug" json:"slug"`
	ID          string   `yaml:"id" json:"id,omitempty"`
	SameAs      string   `yaml:"sameAs" json:"sameAs,omitempty"`
	Kind        string   `yaml:"kind" json:"kind"`
	Name        string   `yaml:"name" json:"name"`
	Vi          string   `yaml:"vi" json:"vi,omitempty"`
	Aliases     []string `yaml:"aliases" json:"aliases,omitempty"`
	Description string   `yaml:"description" json:"description,omitempty"`
	Attrs       Attrs    `yaml:"attrs" json:"attrs"`
}

// Attrs is an entity's classification, by kind.
type Attrs struct {
	Year        int    `yaml:"year" json:"year,omitempty"`
	OrgType     string `yaml:"orgType" json:"orgType,omitempty"`
	PlaceType   string `yaml:"placeType" json:"placeType,omitempty"`
	Code        string `yaml:"code" json:"code,omitempty"`
	ProductType string `yaml:"productType" json:"productType,omitempty"`
	Status      string `yaml:"status" json:"status,omitempty"`
	Programme   string `yaml:"programme" json:"programme,omitempty"`
}

// Fact is one fact the source states; subject and object are slugs of the
// bundle's entities (or the slug or ID of a stored entity).
type Fact struct {
	Subject   string            `yaml:"subject" json:"subject"`
	Predicate string            `yaml:"predicate" json:"predicate"`
	Object    string            `yaml:"object" json:"object,omitempty"`
	Value     string            `yaml:"value" json:"value,omitempty"`
	Measure   string            `yaml:"measure" json:"measure,omitempty"`
	Quantity  *storage.Quantity `yaml:"quantity" json:"quantity,omitempty"`
	Tier      string            `yaml:"tier" json:"tier,omitempty"`
	Role      string            `yaml:"role" json:"role,omitempty"`
	Former    bool              `yaml:"former" json:"former,omitempty"`
	Negated   bool              `yaml:"negated" json:"negated,omitempty"`
	Date      string            `yaml:"date" json:"date,omitempty"`
	Start     string            `yaml:"start" json:"start,omitempty"`
	End       string            `yaml:"end" json:"end,omitempty"`
	Evidence  []Quote           `yaml:"evidence" json:"evidence"`
	// Inference marks a fact the quotes imply rather than state: a rule of
	// the inference policy (docs/inference.md) and the reasoning.
	Inference *storage.Inference `yaml:"inference" json:"inference,omitempty"`
}

// Quote is a verbatim quote from the source, with its English gloss and,
// for an inference, a note on how it supports the fact.
type Quote struct {
	Quote string `yaml:"quote" json:"quote"`
	Gloss string `yaml:"gloss" json:"gloss,omitempty"`
	Note  string `yaml:"note" json:"note,omitempty"`
}

// lines holds where each part of the bundle starts in its file (1-based;
// 0 when unknown: a bundle built or changed in code).
type lines struct {
	source, text int
	entities     []int
	facts        []int
	quotes       [][]int
	fields       map[string]int // "facts[3].subject" -> line
}

// Parse reads a bundle strictly (unknown keys are errors) from b, named name
// in errors. It does not read a textFile (see Read) nor check the bundle
// (see Check). Returns an *errs.Error BUNDLE_INVALID with the line of the
// fault for a file that does not parse or has the wrong shape.
func Parse(b []byte, format Format, name string) (*Bundle, error) {
	var bd Bundle
	switch format {
	case JSON:
		if !json.Valid(b) {
			var v any
			err := json.Unmarshal(b, &v)
			return nil, errs.Errorf(errs.BundleInvalid, "bundle", "%s: not JSON: %v", name, err)
		}
	case YAML, "":
	default:
		return nil, errs.Errorf(errs.BundleInvalid, "format", "unknown bundle format %q (YAML or JSON)", format)
	}
	// YAML 1.2 reads JSON too, with the same line numbers.
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&bd); err != nil {
		return nil, errs.Errorf(errs.BundleInvalid, "bundle", "%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, errs.Errorf(errs.BundleInvalid, "bundle", "%s: %v", name, err)
	}
	bd.name = name
	bd.lines = positions(&root)
	return &bd, nil
}

// positions finds where the source, each entity, fact and quote start.
func positions(root *yaml.Node) lines {
	l := lines{fields: map[string]int{}}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return l
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "source":
			l.source = k.Line
			mapLines(v, "source", l.fields)
			l.text = l.fields["source.text"]
		case "entities":
			for j, e := range v.Content {
				l.entities = append(l.entities, e.Line)
				mapLines(e, fmt.Sprintf("entities[%d]", j), l.fields)
			}
		case "facts":
			for j, f := range v.Content {
				l.facts = append(l.facts, f.Line)
				mapLines(f, fmt.Sprintf("facts[%d]", j), l.fields)
				var qs []int
				for p := 0; p+1 < len(f.Content); p += 2 {
					if f.Content[p].Value == "evidence" {
						for _, q := range f.Content[p+1].Content {
							qs = append(qs, q.Line)
						}
					}
				}
				l.quotes = append(l.quotes, qs)
			}
		}
	}
	return l
}

func mapLines(m *yaml.Node, prefix string, into map[string]int) {
	if m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		into[prefix+"."+m.Content[i].Value] = m.Content[i].Line
	}
}

// Read reads the bundle file at path, its format from its extension (.json
// is JSON, anything else YAML), and a textFile relative to the bundle's
// directory.
func Read(path string) (*Bundle, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	format := YAML
	if strings.EqualFold(filepath.Ext(path), ".json") {
		format = JSON
	}
	bd, err := Parse(b, format, path)
	if err != nil {
		return nil, err
	}
	if f := bd.Source.TextFile; f != "" {
		if bd.Source.Text != "" {
			return nil, bd.errorf(errs.BundleInvalid, "source.textFile", bd.lines.fields["source.textFile"], "give text or textFile, not both")
		}
		if !filepath.IsLocal(f) {
			return nil, bd.errorf(errs.BundleInvalid, "source.textFile", bd.lines.fields["source.textFile"], "textFile %q is not a path inside the bundle's directory", f)
		}
		t, err := os.ReadFile(filepath.Join(filepath.Dir(path), f))
		if err != nil {
			return nil, bd.errorf(errs.BundleInvalid, "source.textFile", bd.lines.fields["source.textFile"], "read textFile: %v", err)
		}
		bd.Source.Text, bd.Source.TextFile = string(t), ""
		bd.lines.text = bd.lines.fields["source.textFile"]
	}
	return bd, nil
}

// Name is the name the bundle was read under.
func (b *Bundle) Name() string { return b.name }

// errorf is an *errs.Error whose message starts with the bundle's name and
// the line of the fault (when known).
func (b *Bundle) errorf(code errs.Code, field string, line int, format string, args ...any) error {
	where := b.name
	if where == "" {
		where = "bundle"
	}
	if line > 0 {
		where = fmt.Sprintf("%s:%d", where, line)
	}
	return errs.Errorf(code, field, "%s: %s", where, fmt.Sprintf(format, args...))
}

func at(l []int, i int) int {
	if i < len(l) {
		return l[i]
	}
	return 0
}

// factLine is the line of fact i's field (or of the fact when the field
// is not written).
func (b *Bundle) factLine(i int, field string) int {
	if l := b.lines.fields[fmt.Sprintf("facts[%d].%s", i, field)]; l > 0 && i < len(b.lines.facts) {
		return l
	}
	return at(b.lines.facts, i)
}

func (b *Bundle) entityLine(i int, field string) int {
	if l := b.lines.fields[fmt.Sprintf("entities[%d].%s", i, field)]; l > 0 && i < len(b.lines.entities) {
		return l
	}
	return at(b.lines.entities, i)
}

func (b *Bundle) quoteLine(i, j int) int {
	if i < len(b.lines.quotes) && j < len(b.lines.quotes[i]) {
		return b.lines.quotes[i][j]
	}
	return b.factLine(i, "evidence")
}

// Describe names fact i for messages: "fact 3 (qualcomm SPONSORED waic-2023)".
func (b *Bundle) Describe(i int) string {
	x := b.Facts[i]
	s := fmt.Sprintf("fact %d (%s %s", i, x.Subject, x.Predicate)
	if x.Object != "" {
		s += " " + x.Object
	} else if x.Value != "" {
		s += " " + x.Value
	}
	return s + ")"
}

// Check reports the first fault of the bundle that needs no store to see,
// with its line: a missing slug, kind or name, an entity listed twice, an
// unknown predicate, a bad date, a fact without evidence, a quote that is
// not verbatim in text (the source's text: Source.Text unless given).
// Returns an *errs.Error: BUNDLE_INVALID, INVALID_DATE or QUOTE_NOT_IN_SOURCE.
func (b *Bundle) Check(text string) error {
	s := b.Source
	if s.Slug == "" {
		return b.errorf(errs.BundleInvalid, "source.slug", b.lines.source, "the source needs a slug")
	}
	if strings.TrimSpace(text) == "" {
		return b.errorf(errs.BundleInvalid, "source.text", b.lines.source, "the source needs its text (text, or textFile beside the bundle)")
	}
	seen := map[string]int{s.Slug: -1}
	for i, e := range b.Entities {
		if e.Slug == "" {
			return b.errorf(errs.BundleInvalid, fmt.Sprintf("entities[%d].slug", i), b.entityLine(i, "slug"), "entity %d needs a slug", i)
		}
		if j, dup := seen[e.Slug]; dup {
			return b.errorf(errs.BundleInvalid, fmt.Sprintf("entities[%d].slug", i), b.entityLine(i, "slug"),
				"entity slug %q appears twice (entities %d and %d)", e.Slug, j, i)
		}
		seen[e.Slug] = i
		if !storage.Kind(e.Kind).Valid() || e.Kind == string(storage.KindSource) {
			return b.errorf(errs.BundleInvalid, fmt.Sprintf("entities[%d].kind", i), b.entityLine(i, "kind"),
				"entity %s: kind %q is not one of %v but SOURCE", e.Slug, e.Kind, storage.Kinds)
		}
		if e.ID != "" {
			if _, err := uuid.Parse(e.ID); err != nil {
				return b.errorf(errs.BundleInvalid, fmt.Sprintf("entities[%d].id", i), b.entityLine(i, "id"), "entity %s: id %q is not a UUID", e.Slug, e.ID)
			}
		}
	}
	for i, x := range b.Facts {
		field := func(f string) string { return fmt.Sprintf("facts[%d].%s", i, f) }
		if x.Subject == "" {
			return b.errorf(errs.BundleInvalid, field("subject"), b.factLine(i, "subject"), "%s needs a subject", b.Describe(i))
		}
		if storage.Predicate(x.Predicate).Spec() == nil {
			return b.errorf(errs.BundleInvalid, field("predicate"), b.factLine(i, "predicate"), "%s: unknown predicate %q", b.Describe(i), x.Predicate)
		}
		for _, d := range []struct{ name, v string }{{"date", x.Date}, {"start", x.Start}, {"end", x.End}} {
			if d.v == "" {
				continue
			}
			if _, err := storage.ParseDate(d.v); err != nil {
				return b.errorf(errs.InvalidDate, field(d.name), b.factLine(i, d.name), "%s: %v", b.Describe(i), err)
			}
		}
		if len(x.Evidence) == 0 {
			return b.errorf(errs.BundleInvalid, field("evidence"), b.factLine(i, "evidence"), "%s needs evidence: a verbatim quote", b.Describe(i))
		}
		for j, e := range x.Evidence {
			if !strings.Contains(text, e.Quote) || strings.TrimSpace(e.Quote) == "" {
				return b.errorf(errs.QuoteNotInSource, fmt.Sprintf("facts[%d].evidence[%d].quote", i, j), b.quoteLine(i, j),
					"%s: the quote is not verbatim in the source (check spacing, non-breaking spaces and quotation marks): %q", b.Describe(i), e.Quote)
			}
		}
	}
	return nil
}

// SourceID is the ID of the bundle's SOURCE node.
func (b *Bundle) SourceID() uuid.UUID { return storage.SlugID(b.Source.Slug) }

// SourceNode is the bundle's SOURCE node, written by by.
func (b *Bundle) SourceNode(by string) (*storage.Node, error) {
	s := b.Source
	src := &storage.Node{ID: b.SourceID(), Kind: storage.KindSource, Slug: s.Slug, Name: s.TitleEn,
		Labels: []storage.Label{{Lang: s.Language, Text: s.Title}}, Title: s.Title, TitleEn: s.TitleEn,
		Author: s.Author, Publisher: s.Publisher, PublisherNote: s.PublisherNote, Language: s.Language,
		URL: s.URL, CreatedBy: by}
	if src.Name == "" {
		src.Name = s.Title
	}
	if s.PublishedAt != "" {
		t, err := time.Parse(time.RFC3339, s.PublishedAt)
		if err != nil {
			return nil, b.errorf(errs.BundleInvalid, "source.publishedAt", b.lines.fields["source.publishedAt"], "source publishedAt: %v", err)
		}
		src.PublishedAt = &t
	}
	return src, nil
}

// EntityNode is entity i as a node of its own, with its name-based ID,
// written by by.
func (b *Bundle) EntityNode(i int, by string) *storage.Node {
	e := b.Entities[i]
	n := &storage.Node{ID: storage.SlugID(e.Slug), Kind: storage.Kind(e.Kind), Slug: e.Slug, Name: e.Name,
		Aliases: e.Aliases, Description: e.Description, Year: e.Attrs.Year, OrgType: e.Attrs.OrgType,
		PlaceType: e.Attrs.PlaceType, Code: e.Attrs.Code, ProductType: e.Attrs.ProductType,
		Status: e.Attrs.Status, Programme: e.Attrs.Programme, CreatedBy: by}
	if e.ID != "" {
		n.ID = uuid.MustParse(e.ID) // Check parsed it
	}
	n.Labels = []storage.Label{{Lang: "en", Text: e.Name}}
	if e.Vi != "" {
		n.Labels = append(n.Labels, storage.Label{Lang: "vi", Text: e.Vi})
	}
	return n
}

// Nodes is the source and each entity as nodes of their own (see EntityNode).
func (b *Bundle) Nodes(by string) ([]*storage.Node, error) {
	src, err := b.SourceNode(by)
	if err != nil {
		return nil, err
	}
	out := []*storage.Node{src}
	seen := map[string]bool{b.Source.Slug: true}
	for i, e := range b.Entities {
		if seen[e.Slug] {
			return nil, b.errorf(errs.BundleInvalid, fmt.Sprintf("entities[%d].slug", i), b.entityLine(i, "slug"), "entity slug %q appears twice", e.Slug)
		}
		seen[e.Slug] = true
		out = append(out, b.EntityNode(i, by))
	}
	return out, nil
}

// Facts is each fact with its name-based ID, written by by; ref gives the
// ID an entity reference (a slug of the bundle, or of a stored entity)
// stands for. Two facts stating the same thing are an error.
func (b *Bundle) StorageFacts(by string, ref func(string) uuid.UUID) ([]*storage.Fact, error) {
	out := make([]*storage.Fact, 0, len(b.Facts))
	ids := map[uuid.UUID]int{}
	for i, x := range b.Facts {
		fact := &storage.Fact{Subject: ref(x.Subject), Predicate: storage.Predicate(x.Predicate),
			Value: x.Value, Measure: x.Measure, Quantity: x.Quantity, Tier: storage.Tier(x.Tier),
			Role: x.Role, Former: x.Former, Negated: x.Negated, Inference: x.Inference, CreatedBy: by}
		if x.Object != "" {
			fact.Object = ref(x.Object)
		}
		for _, d := range []struct {
			name, in string
			out      **storage.Date
		}{{"date", x.Date, &fact.Date}, {"start", x.Start, &fact.Start}, {"end", x.End, &fact.End}} {
			if d.in == "" {
				continue
			}
			v, err := storage.ParseDate(d.in)
			if err != nil {
				return nil, b.errorf(errs.InvalidDate, fmt.Sprintf("facts[%d].%s", i, d.name), b.factLine(i, d.name), "fact %d: %v", i, err)
			}
			*d.out = &v
		}
		for _, e := range x.Evidence {
			fact.Evidence = append(fact.Evidence, storage.Evidence{Source: b.SourceID(), Quote: e.Quote, Gloss: e.Gloss, Note: e.Note})
		}
		key := storage.FactKey(fact)
		if x.Predicate == string(storage.PredQuotedIn) && len(x.Evidence) > 0 {
			// Several statements share subject and predicate; the quote tells them apart.
			key += "|" + x.Evidence[0].Quote
		}
		fact.ID = uuid.NewSHA1(storage.Namespace, []byte("fact:"+key))
		if j, dup := ids[fact.ID]; dup {
			return nil, b.errorf(errs.BundleInvalid, fmt.Sprintf("facts[%d]", i), at(b.lines.facts, i), "facts %d and %d state the same thing", j, i)
		}
		ids[fact.ID] = i
		out = append(out, fact)
	}
	return out, nil
}

// JSON is the bundle as JSON with its text inline (what the ingestSource
// mutation takes from the command line).
func (b *Bundle) JSON() ([]byte, error) { return json.Marshal(b) }

// InlineOnly refuses a bundle whose text is in a file: what a server takes
// from a client must hold its text (a server reads no file a client names).
func (b *Bundle) InlineOnly() error {
	if b.Source.TextFile != "" {
		return b.errorf(errs.BundleInvalid, "source.textFile", b.lines.fields["source.textFile"],
			"a bundle sent to the server holds its text inline (source.text); policygraph ingest inlines a textFile")
	}
	return nil
}

// Line is the line of the bundle's file where the part an error's field
// names ("facts[3].evidence[0].quote", "entities[2].name", "source.slug")
// is written; 0 when unknown.
func (b *Bundle) Line(field string) int {
	var i, j int
	var rest string
	if n, _ := fmt.Sscanf(field, "facts[%d].evidence[%d]", &i, &j); n == 2 {
		return b.quoteLine(i, j)
	}
	if n, _ := fmt.Sscanf(field, "facts[%d]", &i); n == 1 {
		_, rest, _ = strings.Cut(field, ".")
		return b.factLine(i, strings.SplitN(rest, ".", 2)[0])
	}
	if n, _ := fmt.Sscanf(field, "entities[%d]", &i); n == 1 {
		_, rest, _ = strings.Cut(field, ".")
		return b.entityLine(i, rest)
	}
	if l := b.lines.fields[field]; l > 0 {
		return l
	}
	if strings.HasPrefix(field, "source") {
		return b.lines.source
	}
	return 0
}
