package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// Options are how Ingest writes.
type Options struct {
	// By is who the written records are recorded as written by.
	By string
	// DryRun reports what the ingest would do and writes nothing.
	DryRun bool
}

// Changes lists the entities (by slug) and facts (by ID) of one outcome.
type Changes struct {
	Entities []string
	Facts    []uuid.UUID
}

// Count is how many entities and facts the changes hold.
func (c Changes) Count() int { return len(c.Entities) + len(c.Facts) }

// Report says what Ingest did, or would do on a dry run.
type Report struct {
	DryRun bool
	// Source is the slug of the bundle's source.
	Source string
	// Created: new entities (the source among them) and facts.
	Created Changes
	// Merged: bundle entities resolved to a stored entity under another
	// slug (by name or sameAs), which is left as stored (reported again on
	// every ingest of the bundle: a resolution, not a write); facts the
	// store held the claim of, to which the bundle's evidence was added.
	Merged Changes
	// Refined: merged facts whose date the bundle told more precisely.
	Refined Changes
	// Disputed: new facts that contradict stored ones, linked with them.
	Disputed Changes
	// Unchanged: entities the store holds under the bundle's ID or slug
	// (left as stored), and facts it held as the bundle has them.
	Unchanged Changes
}

var errDryRun = errors.New("dry run")

// Ingest writes the bundle into g in one transaction: all of it or, on any
// error or a dry run, nothing. Each entity is matched to a stored one
// (sameAs pins the match; else its ID, its slug, or one name folding alike
// among the entities of its kind) or created; each fact merges into a
// stored fact stating the same claim or is created, disputing the stored
// facts it contradicts (see storage.Writer.MergeFact). Ingesting a bundle
// again changes nothing. Returns an *errs.Error: BUNDLE_INVALID,
// QUOTE_NOT_IN_SOURCE, INVALID_DATE, NOT_FOUND (a sameAs or fact reference
// naming nothing), AMBIGUOUS_ENTITY (a name matching several entities,
// named in the message), WRONG_KIND (a match of another kind), or the
// errors of addFact for a fact that does not fit its predicate.
func Ingest(g *storage.Graph, b *Bundle, opt Options) (Report, error) {
	rep := Report{DryRun: opt.DryRun, Source: b.Source.Slug}
	text := b.Source.Text
	if err := b.Check(text); err != nil {
		return rep, err
	}
	src, err := b.SourceNode(opt.By)
	if err != nil {
		return rep, err
	}
	err = g.Batch(func(w *storage.Writer) error {
		rep = Report{DryRun: opt.DryRun, Source: b.Source.Slug} // a retried transaction starts over
		s := w.Snapshot()
		// Match every entity before writing any: the bundle's own entities
		// are never candidates for each other.
		refs := map[string]uuid.UUID{}
		type pending struct {
			i int
			n *storage.Node
		}
		var create []pending
		for i, e := range b.Entities {
			n := b.EntityNode(i, opt.By)
			id, how, err := b.match(w, i, n)
			if err != nil {
				return err
			}
			if id == uuid.Nil {
				create = append(create, pending{i, n})
				refs[e.Slug] = n.ID
				continue
			}
			refs[e.Slug] = id
			old, err := s.Node(id)
			if err != nil {
				return err
			}
			// A matched entity is never written: its stored record stands.
			if how == "id" || how == "slug" {
				rep.Unchanged.Entities = append(rep.Unchanged.Entities, old.Slug)
			} else {
				rep.Merged.Entities = append(rep.Merged.Entities, old.Slug)
			}
		}
		refs[b.Source.Slug] = src.ID
		// References to stored entities that the bundle does not declare.
		for i, x := range b.Facts {
			for _, r := range []struct{ field, ref string }{{"subject", x.Subject}, {"object", x.Object}} {
				if _, ok := refs[r.ref]; ok || r.ref == "" {
					continue
				}
				id, err := storageRef(s, r.ref)
				if err != nil {
					return b.errorf(errs.CodeOf(err), fmt.Sprintf("facts[%d].%s", i, r.field), b.factLine(i, r.field), "%s: %v", b.Describe(i), err)
				}
				refs[r.ref] = id
			}
		}
		facts, err := b.StorageFacts(opt.By, func(r string) uuid.UUID { return refs[r] })
		if err != nil {
			return err
		}
		// The stored facts each claim is compared with, read before any write.
		type slot struct {
			subject uuid.UUID
			pred    storage.Predicate
		}
		candidates := map[slot][]uuid.UUID{}
		for _, f := range facts {
			k := slot{f.Subject, f.Predicate}
			if _, ok := candidates[k]; ok {
				continue
			}
			if candidates[k], err = w.Candidates(f.Subject, f.Predicate); err != nil {
				return err
			}
		}
		// The source: new, or held as the bundle has it.
		if old, err := s.Node(src.ID); err == nil {
			cur, err := s.SourceText(src.ID)
			if err != nil {
				return err
			}
			if !sameEntity(old, src) || cur != text {
				return b.errorf(errs.AlreadyExists, "source.slug", b.lines.source,
					"source %s: the store holds another source (or another text) under this slug", src.Slug)
			}
			rep.Unchanged.Entities = append(rep.Unchanged.Entities, src.Slug)
		} else if errs.CodeOf(err) != errs.NotFound {
			return err
		} else if out, err := w.PutNode(src, text); err != nil {
			return b.errorf(errs.CodeOf(err), "source", b.lines.source, "source %s: %v", src.Slug, err)
		} else if out != storage.PutCreated {
			return b.errorf(errs.AlreadyExists, "source.slug", b.lines.source, "source %s: another entity has the slug", src.Slug)
		} else {
			rep.Created.Entities = append(rep.Created.Entities, src.Slug)
		}
		for _, p := range create {
			if _, err := w.PutNode(p.n, ""); err != nil {
				return b.errorf(errs.CodeOf(err), fmt.Sprintf("entities[%d]", p.i), b.entityLine(p.i, "slug"), "entity %s: %v", p.n.Slug, err)
			}
			rep.Created.Entities = append(rep.Created.Entities, p.n.Slug)
		}
		// Facts of this bundle are never candidates for each other: the
		// candidates were read before any was written.
		for i, f := range facts {
			res, err := w.MergeFact(f, candidates[slot{f.Subject, f.Predicate}])
			if err != nil {
				return b.factError(i, err)
			}
			switch res.Outcome {
			case storage.MergeCreated:
				rep.Created.Facts = append(rep.Created.Facts, res.Fact)
			case storage.MergeUnchanged:
				rep.Unchanged.Facts = append(rep.Unchanged.Facts, res.Fact)
			case storage.MergeMerged:
				rep.Merged.Facts = append(rep.Merged.Facts, res.Fact)
			case storage.MergeRefined:
				rep.Refined.Facts = append(rep.Refined.Facts, res.Fact)
			case storage.MergeDisputed:
				rep.Disputed.Facts = append(rep.Disputed.Facts, res.Fact)
			}
		}
		if opt.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if errors.Is(err, storage.ErrTxnTooBig) {
		err = b.errorf(errs.BundleInvalid, "facts", 0, "the bundle (%d entities, %d facts) is too large to write in one transaction: split it into several bundles (about 10,000 facts each)", len(b.Entities), len(b.Facts))
	}
	return rep, err
}

// factError places a write's error on fact i's line, keeping its code.
func (b *Bundle) factError(i int, err error) error {
	var e *errs.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%s: %w", b.Describe(i), err)
	}
	line := at(b.lines.facts, i)
	field := fmt.Sprintf("facts[%d]", i)
	if e.Field != "" {
		f := e.Field
		if strings.HasPrefix(f, "evidence[") {
			f = strings.TrimSuffix(f, ".quote")
		}
		field += "." + e.Field
		line = b.factLine(i, strings.SplitN(f, "[", 2)[0])
	}
	return b.errorf(e.Code, field, line, "%s: %s", b.Describe(i), e.Message)
}

// storageRef is the stored entity a fact names by slug or ID.
func storageRef(s storage.Snapshot, r string) (uuid.UUID, error) {
	if id, err := uuid.Parse(r); err == nil {
		if _, err := s.Node(id); err != nil {
			return uuid.Nil, err
		}
		return id, nil
	}
	id, err := s.SlugID(r)
	if err != nil {
		return uuid.Nil, errs.Errorf(errs.NotFound, "", "%q is neither an entity of the bundle nor a stored entity's slug or ID", r)
	}
	return id, nil
}

// match finds the stored entity bundle entity i (as node n) stands for:
// uuid.Nil when none, else its ID and how it was matched ("sameAs", "id",
// "slug", "name").
func (b *Bundle) match(w *storage.Writer, i int, n *storage.Node) (uuid.UUID, string, error) {
	s := w.Snapshot()
	e := b.Entities[i]
	field := func(f string) string { return fmt.Sprintf("entities[%d].%s", i, f) }
	check := func(id uuid.UUID, how string) (uuid.UUID, string, error) {
		old, err := s.Node(id)
		if err != nil {
			return uuid.Nil, "", err
		}
		if old.Kind != n.Kind {
			return uuid.Nil, "", b.errorf(errs.WrongKind, field(how), b.entityLine(i, how),
				"entity %s: matched %s by %s, which is a %s, not a %s", e.Slug, old.Slug, how, old.Kind, n.Kind)
		}
		if old.Retraction != nil {
			return uuid.Nil, "", b.errorf(errs.AlreadyRetracted, field(how), b.entityLine(i, how),
				"entity %s: matched %s by %s, which was retracted (%s)", e.Slug, old.Slug, how, old.Retraction.Reason)
		}
		return id, how, nil
	}
	if e.SameAs != "" {
		id, err := storageRef(s, e.SameAs)
		if err != nil {
			return uuid.Nil, "", b.errorf(errs.NotFound, field("sameAs"), b.entityLine(i, "sameAs"),
				"entity %s: sameAs %q names no stored entity", e.Slug, e.SameAs)
		}
		return check(id, "sameAs")
	}
	if _, err := s.Node(n.ID); err == nil {
		return check(n.ID, "id")
	} else if errs.CodeOf(err) != errs.NotFound {
		return uuid.Nil, "", err
	}
	if id, err := s.SlugID(e.Slug); err == nil {
		return check(id, "slug")
	} else if errs.CodeOf(err) != errs.NotFound {
		return uuid.Nil, "", err
	}
	var found []uuid.UUID
	for _, name := range n.Names() {
		ids, err := w.NamesKind(n.Kind, name)
		if err != nil {
			return uuid.Nil, "", err
		}
		for _, id := range ids {
			if !slices.Contains(found, id) {
				found = append(found, id)
			}
		}
	}
	switch len(found) {
	case 0:
		return uuid.Nil, "", nil
	case 1:
		return check(found[0], "name")
	}
	var names []string
	for _, id := range found {
		c, err := s.Node(id)
		if err != nil {
			return uuid.Nil, "", err
		}
		names = append(names, fmt.Sprintf("%s (%q)", c.Slug, c.Name))
	}
	return uuid.Nil, "", b.errorf(errs.AmbiguousEntity, field("name"), b.entityLine(i, "name"),
		"entity %s: its names match %d stored %s entities: %s; pin one with sameAs: <slug>",
		e.Slug, len(found), n.Kind, strings.Join(names, ", "))
}

// sameEntity reports whether the stored node holds what the bundle says.
func sameEntity(old, n *storage.Node) bool {
	x := *n
	x.CreatedAt, x.UpdatedAt, x.CreatedBy = old.CreatedAt, old.UpdatedAt, old.CreatedBy
	a, _ := json.Marshal(old)
	c, _ := json.Marshal(&x)
	return bytes.Equal(a, c)
}
