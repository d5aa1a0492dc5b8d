// Package seed holds the article the graph starts from and the curated facts drawn
// from it (facts.yaml), both embedded, and loads them into a storage.Graph.
package seed

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// Article is the source text: a Vietnamese news article on WAIC 2023.
//
//go:embed waic-2023-article.vi.txt
var Article string

// FactsYAML is the curated data file of every fact the article states.
//
//go:embed facts.yaml
var FactsYAML []byte

// File is the shape of facts.yaml.
type File struct {
	Source   SourceMeta `yaml:"source"`
	Entities []Entity   `yaml:"entities"`
	Facts    []Fact     `yaml:"facts"`
}

// SourceMeta describes the article.
type SourceMeta struct {
	Slug          string `yaml:"slug"`
	Title         string `yaml:"title"`
	TitleEn       string `yaml:"titleEn"`
	Author        string `yaml:"author"`
	Publisher     string `yaml:"publisher"`
	PublisherNote string `yaml:"publisherNote"`
	PublishedAt   string `yaml:"publishedAt"`
	Language      string `yaml:"language"`
}

// Entity is one entity of facts.yaml.
type Entity struct {
	Slug        string   `yaml:"slug"`
	Kind        string   `yaml:"kind"`
	Name        string   `yaml:"name"`
	Vi          string   `yaml:"vi"`
	Aliases     []string `yaml:"aliases"`
	Description string   `yaml:"description"`
	Attrs       struct {
		Year        int    `yaml:"year"`
		OrgType     string `yaml:"orgType"`
		PlaceType   string `yaml:"placeType"`
		Code        string `yaml:"code"`
		ProductType string `yaml:"productType"`
		Status      string `yaml:"status"`
		Programme   string `yaml:"programme"`
	} `yaml:"attrs"`
}

// Fact is one fact of facts.yaml; subject and object are slugs.
type Fact struct {
	Subject   string            `yaml:"subject"`
	Predicate string            `yaml:"predicate"`
	Object    string            `yaml:"object"`
	Value     string            `yaml:"value"`
	Measure   string            `yaml:"measure"`
	Quantity  *storage.Quantity `yaml:"quantity"`
	Tier      string            `yaml:"tier"`
	Role      string            `yaml:"role"`
	Former    bool              `yaml:"former"`
	Negated   bool              `yaml:"negated"`
	Date      string            `yaml:"date"`
	Start     string            `yaml:"start"`
	End       string            `yaml:"end"`
	Evidence  []EvidenceQuote   `yaml:"evidence"`
	// Inference marks a fact the quotes imply rather than state: a rule of
	// the inference policy (docs/inference.md) and the reasoning.
	Inference *storage.Inference `yaml:"inference"`
}

// EvidenceQuote is a quote from the article with its English gloss.
type EvidenceQuote struct {
	Quote string `yaml:"quote"`
	Gloss string `yaml:"gloss"`
	Note  string `yaml:"note"`
}

// Parse reads a facts file strictly: unknown keys are errors.
func Parse(b []byte) (*File, error) {
	var f File
	if err := yaml.NewDecoder(bytes.NewReader(b), yaml.DisallowUnknownField()).Decode(&f); err != nil {
		return nil, fmt.Errorf("parse facts: %w", err)
	}
	return &f, nil
}

// Report says what a Load wrote and what it left alone.
type Report struct {
	Entities, Facts int // in the file
	// Written counts the entities and facts the store lacked and now holds;
	// 0 on a reload.
	Written int
	// Kept lists the records the store holds in a form that differs from the
	// file (renamed, retracted, otherwise curated), left as they are.
	Kept []string
	// Skipped lists the records the store lacked but that were not written
	// because they would undo curation: facts about a retracted entity, an
	// entity whose slug another entity has taken, and that entity's facts.
	Skipped []string
}

// Load writes what the store lacks of the article and its facts into g, in one
// transaction: all or nothing. IDs are name-based, so loading twice changes
// nothing. It never overwrites or resurrects: a record the store holds is left
// as it is, however it differs from the file (see Report).
func Load(g *storage.Graph) (Report, error) {
	f, err := Parse(FactsYAML)
	if err != nil {
		return Report{}, err
	}
	return LoadFile(g, f, Article)
}

// LoadFile is Load for a given file and source text.
func LoadFile(g *storage.Graph, f *File, text string) (Report, error) {
	r := Report{Entities: len(f.Entities) + 1, Facts: len(f.Facts)}
	nodes, err := f.nodes()
	if err != nil {
		return r, err
	}
	facts, err := f.facts()
	if err != nil {
		return r, err
	}
	// The file must agree with its text, whatever the store holds (a stored
	// fact or source is left alone, and so not checked against it).
	for i, x := range f.Facts {
		for j, e := range x.Evidence {
			if !strings.Contains(text, e.Quote) {
				return r, errs.Errorf(errs.QuoteNotInSource, fmt.Sprintf("evidence[%d].quote", j),
					"fact %d (%s %s): the quote is not verbatim in the article: %q", i, x.Subject, x.Predicate, e.Quote)
			}
		}
	}
	err = g.Batch(func(w *storage.Writer) error {
		r.Written, r.Kept, r.Skipped = 0, nil, nil // a retried transaction starts over
		skipped := map[uuid.UUID]bool{}
		for i, n := range nodes {
			t := ""
			if i == 0 {
				t = text
			}
			out, err := w.PutNode(n, t)
			if err != nil {
				return fmt.Errorf("entity %s: %w", n.Slug, err)
			}
			what := "entity " + n.Slug
			switch out {
			case storage.PutCreated:
				r.Written++
			case storage.PutKept:
				r.Kept = append(r.Kept, what)
			case storage.PutSkipped:
				skipped[n.ID] = true
				r.Skipped = append(r.Skipped, what+" (its slug names another entity)")
			}
		}
		for i, fact := range facts {
			x := f.Facts[i]
			what := fmt.Sprintf("fact %s %s", x.Subject, x.Predicate)
			if x.Object != "" {
				what += " " + x.Object
			} else if x.Value != "" {
				what += " " + x.Value
			}
			if skipped[fact.Subject] || skipped[fact.Object] {
				r.Skipped = append(r.Skipped, what+" (about a skipped entity)")
				continue
			}
			out, err := w.PutFact(fact)
			if err != nil {
				return fmt.Errorf("fact %d (%s %s): %w", i, x.Subject, x.Predicate, err)
			}
			switch out {
			case storage.PutCreated:
				r.Written++
			case storage.PutKept:
				r.Kept = append(r.Kept, what)
			case storage.PutSkipped:
				r.Skipped = append(r.Skipped, what+" (about a retracted entity)")
			}
		}
		return nil
	})
	return r, err
}

// SourceID is the ID of the article's SOURCE node.
func (f *File) SourceID() uuid.UUID { return storage.SlugID(f.Source.Slug) }

func (f *File) nodes() ([]*storage.Node, error) {
	s := f.Source
	src := &storage.Node{ID: f.SourceID(), Kind: storage.KindSource, Slug: s.Slug, Name: s.TitleEn,
		Labels: []storage.Label{{Lang: s.Language, Text: s.Title}}, Title: s.Title, TitleEn: s.TitleEn,
		Author: s.Author, Publisher: s.Publisher, PublisherNote: s.PublisherNote, Language: s.Language,
		CreatedBy: "seed"}
	if s.PublishedAt != "" {
		t, err := time.Parse(time.RFC3339, s.PublishedAt)
		if err != nil {
			return nil, fmt.Errorf("source publishedAt: %w", err)
		}
		src.PublishedAt = &t
	}
	out := []*storage.Node{src}
	seen := map[string]bool{s.Slug: true}
	for _, e := range f.Entities {
		if seen[e.Slug] {
			return nil, fmt.Errorf("entity slug %q appears twice", e.Slug)
		}
		seen[e.Slug] = true
		n := &storage.Node{ID: storage.SlugID(e.Slug), Kind: storage.Kind(e.Kind), Slug: e.Slug, Name: e.Name,
			Aliases: e.Aliases, Description: e.Description, Year: e.Attrs.Year, OrgType: e.Attrs.OrgType,
			PlaceType: e.Attrs.PlaceType, Code: e.Attrs.Code, ProductType: e.Attrs.ProductType,
			Status: e.Attrs.Status, Programme: e.Attrs.Programme, CreatedBy: "seed"}
		n.Labels = []storage.Label{{Lang: "en", Text: e.Name}}
		if e.Vi != "" {
			n.Labels = append(n.Labels, storage.Label{Lang: "vi", Text: e.Vi})
		}
		out = append(out, n)
	}
	return out, nil
}

func (f *File) facts() ([]*storage.Fact, error) {
	out := make([]*storage.Fact, 0, len(f.Facts))
	ids := map[uuid.UUID]int{}
	for i, x := range f.Facts {
		fact := &storage.Fact{Subject: storage.SlugID(x.Subject), Predicate: storage.Predicate(x.Predicate),
			Value: x.Value, Measure: x.Measure, Quantity: x.Quantity, Tier: storage.Tier(x.Tier),
			Role: x.Role, Former: x.Former, Negated: x.Negated, Inference: x.Inference, CreatedBy: "seed"}
		if x.Object != "" {
			fact.Object = storage.SlugID(x.Object)
		}
		for _, d := range []struct {
			in  string
			out **storage.Date
		}{{x.Date, &fact.Date}, {x.Start, &fact.Start}, {x.End, &fact.End}} {
			if d.in == "" {
				continue
			}
			v, err := storage.ParseDate(d.in)
			if err != nil {
				return nil, fmt.Errorf("fact %d: %w", i, err)
			}
			*d.out = &v
		}
		for _, e := range x.Evidence {
			fact.Evidence = append(fact.Evidence, storage.Evidence{Source: f.SourceID(), Quote: e.Quote, Gloss: e.Gloss, Note: e.Note})
		}
		key := storage.FactKey(fact)
		if x.Predicate == string(storage.PredQuotedIn) && len(x.Evidence) > 0 {
			// Several statements share subject and predicate; the quote tells them apart.
			key += "|" + x.Evidence[0].Quote
		}
		fact.ID = uuid.NewSHA1(storage.Namespace, []byte("fact:"+key))
		if j, dup := ids[fact.ID]; dup {
			return nil, fmt.Errorf("facts %d and %d state the same thing", j, i)
		}
		ids[fact.ID] = i
		out = append(out, fact)
	}
	return out, nil
}
