package floor

import (
	"encoding/json"
	"fmt"
)

// The floor's object types. gqlgen binds them (autobind in gqlgen.yml) and
// reads their fields directly, as it reads the real API's plain fields; they
// are filled by decoding a recorded response of the real API, so they carry
// the JSON names of the schema's fields.

// Entity is the schema's Entity interface: one of Organization, Event,
// Sanction or Place (every other kind).
type Entity interface{ IsEntity() }

// Organization is an organization as the scenarios select it.
type Organization struct {
	ID           string          `json:"id"`
	Kind         string          `json:"kind"`
	Slug         string          `json:"slug"`
	Name         string          `json:"name"`
	OrgType      *string         `json:"orgType"`
	Country      *string         `json:"country"`
	Parent       *Organization   `json:"parent"`
	Subsidiaries []*Organization `json:"subsidiaries"`
	Sanctions    []*Sanction     `json:"sanctions"`
}

// Event is an event as the scenarios select it.
type Event struct {
	ID           string  `json:"id"`
	Kind         string  `json:"kind"`
	Slug         string  `json:"slug"`
	Name         string  `json:"name"`
	Year         *int    `json:"year"`
	Sponsorships []*Fact `json:"sponsorships"`
}

// Sanction is a sanction as the scenarios select it.
type Sanction struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Slug      string          `json:"slug"`
	Name      string          `json:"name"`
	Programme *string         `json:"programme"`
	ImposedBy []*Organization `json:"imposedBy"`
	Targets   []*Organization `json:"targets"`
}

// Place stands for every other kind of entity, of which the scenarios select
// only the fields common to all entities.
type Place struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func (Organization) IsEntity() {}
func (Event) IsEntity()        {}
func (Sanction) IsEntity()     {}
func (Place) IsEntity()        {}

// SponsorshipYear is one year of sponsorshipsByYear.
type SponsorshipYear struct {
	Year         int      `json:"year"`
	Events       []*Event `json:"events"`
	Sponsorships []*Fact  `json:"sponsorships"`
}

// Quantity is a number with its unit.
type Quantity struct {
	Amount float64 `json:"amount"`
	Unit   *string `json:"unit"`
}

// Evidence is a quote of a source.
type Evidence struct {
	Quote string  `json:"quote"`
	Gloss *string `json:"gloss"`
}

// Fact is a fact as the scenarios select it.
type Fact struct {
	ID        string      `json:"id"`
	Predicate string      `json:"predicate"`
	Subject   Entity      `json:"subject"`
	Object    Entity      `json:"object"`
	Value     *string     `json:"value"`
	Tier      *string     `json:"tier"`
	TierSize  *Quantity   `json:"tierSize"`
	Negated   bool        `json:"negated"`
	Year      *int        `json:"year"`
	Evidence  []*Evidence `json:"evidence"`
}

// SearchHit is one hit of search.
type SearchHit struct {
	Entity Entity `json:"entity"`
	Score  int    `json:"score"`
}

// PageInfo is a connection's page information.
type PageInfo struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
}

// FactEdge is one edge of a FactConnection.
type FactEdge struct {
	Cursor string `json:"cursor"`
	Node   *Fact  `json:"node"`
}

// FactConnection is a page of facts.
type FactConnection struct {
	TotalCount int         `json:"totalCount"`
	PageInfo   *PageInfo   `json:"pageInfo"`
	Edges      []*FactEdge `json:"edges"`
	Nodes      []*Fact     `json:"nodes"`
}

// EntityEdge is one edge of an EntityConnection.
type EntityEdge struct {
	Cursor string `json:"cursor"`
	Node   Entity `json:"node"`
}

// EntityConnection is a page of entities.
type EntityConnection struct {
	TotalCount int           `json:"totalCount"`
	PageInfo   *PageInfo     `json:"pageInfo"`
	Edges      []*EntityEdge `json:"edges"`
	Nodes      []Entity      `json:"nodes"`
}

// decodeEntity decodes an Entity of a recorded response. The response names
// no type unless the query asked for __typename, so the type is chosen by
// __typename, else by kind, else by the fields only one type has (those a
// query selects in an inline fragment); an entity with none of them is a
// Place, on which such a fragment selects nothing, as on the real answer's
// entity of another type.
func decodeEntity(raw json.RawMessage) (Entity, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("decode an entity: %w", err)
	}
	var typeName, kind string
	json.Unmarshal(fields["__typename"], &typeName)
	json.Unmarshal(fields["kind"], &kind)
	has := func(names ...string) bool {
		for _, n := range names {
			if _, ok := fields[n]; ok {
				return true
			}
		}
		return false
	}
	var e Entity
	switch {
	case typeName == "Organization" || kind == "ORGANIZATION" || typeName == "" && kind == "" && has("orgType", "country", "parent", "subsidiaries", "sanctions"):
		e = &Organization{}
	case typeName == "Event" || kind == "EVENT" || typeName == "" && kind == "" && has("year", "sponsorships"):
		e = &Event{}
	case typeName == "Sanction" || kind == "SANCTION" || typeName == "" && kind == "" && has("programme", "imposedBy", "targets"):
		e = &Sanction{}
	default:
		e = &Place{}
	}
	if err := json.Unmarshal(raw, e); err != nil {
		return nil, fmt.Errorf("decode an entity: %w", err)
	}
	return e, nil
}

// UnmarshalJSON decodes a fact, with its subject and object entities.
func (f *Fact) UnmarshalJSON(b []byte) error {
	type plain Fact
	v := struct {
		*plain
		Subject json.RawMessage `json:"subject"`
		Object  json.RawMessage `json:"object"`
	}{plain: (*plain)(f)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	if f.Subject, err = decodeEntity(v.Subject); err != nil {
		return err
	}
	f.Object, err = decodeEntity(v.Object)
	return err
}

// UnmarshalJSON decodes a search hit, with its entity.
func (h *SearchHit) UnmarshalJSON(b []byte) error {
	type plain SearchHit
	v := struct {
		*plain
		Entity json.RawMessage `json:"entity"`
	}{plain: (*plain)(h)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	h.Entity, err = decodeEntity(v.Entity)
	return err
}

// UnmarshalJSON decodes an edge, with its entity.
func (e *EntityEdge) UnmarshalJSON(b []byte) error {
	type plain EntityEdge
	v := struct {
		*plain
		Node json.RawMessage `json:"node"`
	}{plain: (*plain)(e)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	e.Node, err = decodeEntity(v.Node)
	return err
}

// UnmarshalJSON decodes a page of entities.
func (c *EntityConnection) UnmarshalJSON(b []byte) error {
	type plain EntityConnection
	v := struct {
		*plain
		Nodes []json.RawMessage `json:"nodes"`
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	c.Nodes = nil
	if v.Nodes != nil {
		c.Nodes = make([]Entity, 0, len(v.Nodes))
	}
	for _, raw := range v.Nodes {
		e, err := decodeEntity(raw)
		if err != nil {
			return err
		}
		c.Nodes = append(c.Nodes, e)
	}
	return nil
}
