package storage_test

import (
	"fmt"
	"log"

	"policygraph/errs"
	"policygraph/storage"
	"policygraph/storage/badger"
)

// Example opens a graph on an in-memory Badger engine, writes a source, two
// entities and a fact resting on a quote of the source, and reads them back:
// by slug through the Graph, then the fact's adjacency, the fact and its
// evidence in one Snapshot.
func Example() {
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	g, err := storage.Open(kv) // g.Close closes kv too
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()

	// A fact's evidence quotes a source, checked against the source's text.
	const text = "Qualcomm là 1 trong 22 đối tác ưu tú của WAIC 2023."
	src, err := g.CreateNode(&storage.Node{Kind: storage.KindSource, Slug: "article", Name: "The article"}, text)
	if err != nil {
		log.Fatal(err)
	}
	qualcomm, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Qualcomm"}, "")
	if err != nil {
		log.Fatal(err)
	}
	waic, err := g.CreateNode(&storage.Node{Kind: storage.KindEvent, Slug: "waic-2023", Name: "WAIC 2023", Year: 2023}, "")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := g.AddFact(&storage.Fact{
		Subject: qualcomm.ID, Predicate: storage.PredSponsored, Object: waic.ID, Tier: storage.TierElitePartner,
		Evidence: []storage.Evidence{{Source: src.ID, Quote: "1 trong 22 đối tác ưu tú", Gloss: "1 of 22 elite partners"}},
	}); err != nil {
		log.Fatal(err)
	}
	// A quote the source does not hold is refused, with a stable code.
	_, err = g.AddFact(&storage.Fact{Subject: qualcomm.ID, Predicate: storage.PredSponsored, Object: waic.ID,
		Evidence: []storage.Evidence{{Source: src.ID, Quote: "the main sponsor"}}})
	fmt.Println("unquoted:", errs.CodeOf(err))

	event, err := g.NodeBySlug("waic-2023")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(event.Kind, event.Name, event.Year)

	// One Snapshot answers several reads at one version.
	err = g.Read(func(s storage.Snapshot) error {
		return s.Adjacent(event.ID, storage.In, storage.PredSponsored, func(e storage.AdjEntry) error {
			sponsor, err := s.Node(e.Other)
			if err != nil {
				return err
			}
			f, err := s.Fact(e.Fact)
			if err != nil {
				return err
			}
			ev := f.Evidence[0]
			fmt.Printf("%s %s %s (%s): %q, %q\n", sponsor.Slug, f.Predicate, event.Slug, f.Tier, ev.Quote, ev.Gloss)
			return nil
		})
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// unquoted: QUOTE_NOT_IN_SOURCE
	// EVENT WAIC 2023 2023
	// qualcomm SPONSORED waic-2023 (ELITE_PARTNER): "1 trong 22 đối tác ưu tú", "1 of 22 elite partners"
}
