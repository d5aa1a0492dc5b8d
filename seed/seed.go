// Package seed holds the article the graph starts from and the curated facts drawn
// from it (facts.yaml), both embedded, and loads them into a storage.Graph.
package seed

import (
	_ "embed"
	"fmt"

	"github.com/google/uuid"

	"policygraph/bundle"
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

// File is the shape of facts.yaml: a source bundle (see package bundle)
// whose text is the embedded Article.
type File = bundle.Bundle

// SourceMeta describes the article.
type SourceMeta = bundle.Source

// Entity is one entity of facts.yaml.
type Entity = bundle.Entity

// Fact is one fact of facts.yaml; subject and object are slugs.
type Fact = bundle.Fact

// EvidenceQuote is a quote from the article with its English gloss.
type EvidenceQuote = bundle.Quote

// Parse reads a facts file strictly (unknown keys are errors), as a bundle.
func Parse(b []byte) (*File, error) {
	f, err := bundle.Parse(b, bundle.YAML, "seed/facts.yaml")
	if err != nil {
		return nil, fmt.Errorf("parse facts: %w", err)
	}
	return f, nil
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

// note counts a record the load wrote, kept or skipped (and why).
func (r *Report) note(out storage.PutOutcome, what, whySkipped string) {
	switch out {
	case storage.PutCreated:
		r.Written++
	case storage.PutKept:
		r.Kept = append(r.Kept, what)
	case storage.PutSkipped:
		r.Skipped = append(r.Skipped, what+" ("+whySkipped+")")
	}
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
	nodes, err := f.Nodes("seed")
	if err != nil {
		return r, err
	}
	facts, err := f.StorageFacts("seed", storage.SlugID)
	if err != nil {
		return r, err
	}
	// The file must agree with its text, whatever the store holds (a stored
	// fact or source is left alone, and so not checked against it).
	if err := f.Check(text); err != nil {
		return r, err
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
			if out == storage.PutSkipped {
				skipped[n.ID] = true
			}
			r.note(out, "entity "+n.Slug, "its slug names another entity")
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
			r.note(out, what, "about a retracted entity")
		}
		return nil
	})
	return r, err
}
