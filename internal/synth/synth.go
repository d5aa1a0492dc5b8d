// Package synth generates synthetic graphs shaped like the domain, for the scale
// benchmark and for tests that need a graph larger than the seed.
package synth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"

	"policygraph/storage"
)

// Synthetic graphs shaped like the domain, for the scale benchmark. For n nodes
// Generate writes, as an export that storage.Graph.Import reads:
//
//   - n/2000 SOURCE nodes (at least 1), each with a generated 50-sentence text;
//     every fact's evidence quotes one sentence of one of them verbatim;
//   - 20 countries, n/500 cities (LOCATED_IN a country);
//   - n/250 event series (at least 2), each with 8 yearly editions 2016-2023
//     (EDITION_OF, HELD_IN a city, four MEASURE facts: sponsors per tier), and
//     20 SPONSORED facts per edition (2 strategic, 4 elite, 2 government
//     co-sponsors, 12 sponsors) from distinct organizations;
//   - n/500 government bodies; n/200 sanctions and n/200 export controls, each
//     IMPOSED_BY one and TARGETS four organizations;
//   - the rest organizations, each with a COUNTRY (US for 15%), HEADQUARTERED_IN
//     a city, and for 30% SUBSIDIARY_OF an earlier organization.
//
// That is about 2.9 facts per node and 4.9 edges (adjacency entries) per node.
// Slugs start with "syn-", so the seed can be loaded on top: the seed's own
// queries then give the same answer at every size. The output depends only on n.
func Generate(w io.Writer, n int) (nodes, facts int, err error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	emit := func(r storage.Record) {
		if err == nil {
			err = enc.Encode(r)
		}
	}
	node := func(kind storage.Kind, slug, name string) *storage.Node {
		nodes++
		return &storage.Node{ID: storage.SlugID(slug), Kind: kind, Slug: slug, Name: name, CreatedAt: created, UpdatedAt: created, CreatedBy: "synth"}
	}

	nSources := max(1, n/2000)
	countries := []string{"US", "CN", "DE", "FR", "GB", "JP", "KR", "VN", "IN", "SG", "NL", "CA", "AU", "IT", "ES", "SE", "CH", "IL", "BR", "MX"}
	nCities := max(5, n/500)
	nSeries := max(2, n/250)
	const editions, firstYear = 8, 2016
	nGov := max(2, n/500)
	nSanctions, nControls := max(1, n/200), max(1, n/200)
	nOrgs := n - nSources - len(countries) - nCities - nSeries*(1+editions) - nGov - nSanctions - nControls
	if nOrgs < 40 {
		return 0, 0, fmt.Errorf("synth: %d nodes is too few (at least 1000)", n)
	}

	id := func(prefix string, i int) uuid.UUID { return storage.SlugID(fmt.Sprintf("syn-%s-%d", prefix, i)) }
	sentence := func(src, j int) string {
		return fmt.Sprintf("Đoạn %d.%d: các doanh nghiệp tại Thượng Hải công bố hợp tác trí tuệ nhân tạo số %d.", src, j, j*7+src)
	}

	// Nodes.
	for i := range nSources {
		s := node(storage.KindSource, fmt.Sprintf("syn-source-%d", i), fmt.Sprintf("Synthetic report %d", i))
		s.Title, s.Language = fmt.Sprintf("Báo cáo tổng hợp %d", i), "vi"
		s.Labels = []storage.Label{{Lang: "vi", Text: s.Title}}
		emit(storage.Record{Node: s})
	}
	for i, c := range countries {
		p := node(storage.KindPlace, fmt.Sprintf("syn-country-%d", i), "Country "+c)
		p.PlaceType, p.Code = "COUNTRY", c
		emit(storage.Record{Node: p})
	}
	for i := range nCities {
		p := node(storage.KindPlace, fmt.Sprintf("syn-city-%d", i), name(rng)+" City")
		p.PlaceType = "CITY"
		emit(storage.Record{Node: p})
	}
	for i := range nSeries {
		emit(storage.Record{Node: node(storage.KindEventSeries, fmt.Sprintf("syn-series-%d", i), fmt.Sprintf("%s AI Conference %d", name(rng), i))})
		for y := range editions {
			e := node(storage.KindEvent, fmt.Sprintf("syn-series-%d-%d", i, firstYear+y), fmt.Sprintf("Conference %d %d", i, firstYear+y))
			e.Year = firstYear + y
			emit(storage.Record{Node: e})
		}
	}
	for i := range nGov {
		o := node(storage.KindOrganization, fmt.Sprintf("syn-gov-%d", i), name(rng)+" Ministry")
		o.OrgType = "GOVERNMENT_BODY"
		emit(storage.Record{Node: o})
	}
	for i := range nSanctions {
		s := node(storage.KindSanction, fmt.Sprintf("syn-sanction-%d", i), fmt.Sprintf("Sanction %d", i))
		s.Programme = "SYNTH"
		emit(storage.Record{Node: s})
	}
	for i := range nControls {
		c := node(storage.KindExportControl, fmt.Sprintf("syn-control-%d", i), fmt.Sprintf("Export control %d", i))
		c.Status = "RULE_IN_FORCE"
		emit(storage.Record{Node: c})
	}
	for i := range nOrgs {
		o := node(storage.KindOrganization, fmt.Sprintf("syn-org-%d", i), fmt.Sprintf("%s %s %d", name(rng), suffixes[rng.IntN(len(suffixes))], i))
		o.OrgType = "COMPANY"
		emit(storage.Record{Node: o})
	}
	for i := range nSources {
		var b strings.Builder
		for j := range 50 {
			b.WriteString(sentence(i, j))
			b.WriteString(" ")
		}
		emit(storage.Record{Text: &storage.SourceText{ID: id("source", i), Text: b.String()}})
	}

	// Facts.
	fact := func(subject uuid.UUID, p storage.Predicate, object uuid.UUID, year int) *storage.Fact {
		var fid uuid.UUID
		for i := range 2 {
			v := rng.Uint64()
			for j := range 8 {
				fid[i*8+j] = byte(v >> (8 * j))
			}
		}
		fid[6], fid[8] = fid[6]&0x0f|0x40, fid[8]&0x3f|0x80
		src, j := rng.IntN(nSources), rng.IntN(50)
		facts++
		return &storage.Fact{ID: fid, Subject: subject, Predicate: p, Object: object, Year: year, CreatedAt: created, CreatedBy: "synth",
			Evidence: []storage.Evidence{{Source: id("source", src), Quote: sentence(src, j), Gloss: "synthetic evidence"}}}
	}
	for i := range nCities {
		emit(storage.Record{Fact: fact(id("city", i), storage.PredLocatedIn, id("country", i%len(countries)), 0)})
	}
	tiers := []struct {
		tier  storage.Tier
		count int
	}{{storage.TierStrategicPartner, 2}, {storage.TierElitePartner, 4}, {storage.TierGovernmentCoSponsor, 2}, {storage.TierSponsor, 12}}
	for i := range nSeries {
		for y := range editions {
			year := firstYear + y
			ev := storage.SlugID(fmt.Sprintf("syn-series-%d-%d", i, year))
			emit(storage.Record{Fact: fact(ev, storage.PredEditionOf, id("series", i), year)})
			emit(storage.Record{Fact: fact(ev, storage.PredHeldIn, id("city", rng.IntN(nCities)), year)})
			seen := map[int]bool{}
			for _, t := range tiers {
				m := fact(ev, storage.PredMeasure, uuid.Nil, year)
				m.Measure, m.Quantity = t.tier.TierMeasure(), &storage.Quantity{Amount: float64(t.count), Bound: storage.BoundExact}
				emit(storage.Record{Fact: m})
				for range t.count {
					o := rng.IntN(nOrgs)
					for seen[o] {
						o = rng.IntN(nOrgs)
					}
					seen[o] = true
					s := fact(id("org", o), storage.PredSponsored, ev, year)
					s.Tier = t.tier
					emit(storage.Record{Fact: s})
				}
			}
		}
	}
	for i := range nGov {
		c := fact(id("gov", i), storage.PredCountry, uuid.Nil, 0)
		c.Value = countries[i%len(countries)]
		emit(storage.Record{Fact: c})
	}
	for k, m := range []struct {
		prefix string
		count  int
	}{{"sanction", nSanctions}, {"control", nControls}} {
		for i := range m.count {
			emit(storage.Record{Fact: fact(id(m.prefix, i), storage.PredImposedBy, id("gov", (i+k)%nGov), 0)})
			targets := map[int]bool{}
			for range 4 {
				o := rng.IntN(nOrgs)
				if !targets[o] {
					targets[o] = true
					emit(storage.Record{Fact: fact(id(m.prefix, i), storage.PredTargets, id("org", o), 0)})
				}
			}
		}
	}
	for i := range nOrgs {
		c := fact(id("org", i), storage.PredCountry, uuid.Nil, 0)
		c.Value = "US"
		if rng.Float64() >= 0.15 {
			c.Value = countries[1+rng.IntN(len(countries)-1)]
		}
		emit(storage.Record{Fact: c})
		emit(storage.Record{Fact: fact(id("org", i), storage.PredHeadquarteredIn, id("city", rng.IntN(nCities)), 0)})
		if i > 0 && rng.Float64() < 0.3 {
			emit(storage.Record{Fact: fact(id("org", i), storage.PredSubsidiaryOf, id("org", rng.IntN(i)), 0)})
		}
	}
	if err != nil {
		return nodes, facts, err
	}
	return nodes, facts, bw.Flush()
}

var syllables = []string{"An", "Bình", "Cường", "Đại", "Hải", "Hòa", "Long", "Minh", "Nam", "Phong", "Quang", "Sơn",
	"Tân", "Thành", "Thượng", "Việt", "Xuân", "Nova", "Terra", "Astra", "Quantum", "Vector", "Helix", "Orion"}

var suffixes = []string{"Technology", "Robotics", "Semiconductor", "Cloud", "Holdings", "AI Lab", "Systems", "Capital"}

func name(rng *rand.Rand) string {
	return syllables[rng.IntN(len(syllables))] + " " + syllables[rng.IntN(len(syllables))]
}
