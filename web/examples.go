package web

import (
	"strings"
)

// Example is one question that README answers, with the query that answers
// it. The IDE lists the examples in its "Examples" panel; one click opens an
// example's Document in a new editor tab.
type Example struct {
	// Question is the question in an analyst's words, as README asks it.
	Question string
	// Operation names the query in the editor; GraphiQL shows it as the
	// tab's title. It is a GraphQL name: letters, digits and underscores.
	Operation string
	// Query is the query exactly as README shows it: an anonymous operation,
	// "{ ... }". The tests check that it still is README's, and that it
	// answers without errors on the seeded graph.
	Query string
}

// Document is what the IDE opens for e: the question as a comment, then the
// query as the operation named e.Operation.
func (e Example) Document() string {
	return "# " + e.Question + "\nquery " + e.Operation + " " + strings.TrimLeft(e.Query, " \n")
}

// Examples are README's questions, the headline first, in README's order.
// When README (or a page of docs/ it moves to) changes a query, change it
// here too: TestExamplesAreREADMEs fails until they agree.
var Examples = []Example{
	{
		Question:  "Which US firms sponsored WAIC, by year?",
		Operation: "USSponsorsOfWAICByYear",
		Query: `{
  sponsorshipsByYear(series: "waic", sponsorCountry: "US") {
    year
    sponsorships {
      tier
      tierSize { amount }
      subject { name }
      evidence { quote gloss }
    }
  }
}
`,
	},
	{
		Question:  "Which US firms took part in WAIC 2023 without sponsoring it, and who stayed away?",
		Operation: "WAIC2023AttendedWithoutSponsoring",
		Query: `{
  event(slug: "waic-2023") {
    attendedWithoutSponsoring { predicate subject { name } evidence { gloss } }
    didNotAttend { predicate negated subject { name } evidence { gloss } }
  }
}
`,
	},
	{
		Question:  "When and where was WAIC 2023, and how big was it?",
		Operation: "WAIC2023WhenWhereHowBig",
		Query: `{
  event(slug: "waic-2023") {
    name(lang: "vi")
    start { value precision }
    end { value precision }
    places { name name_vi: name(lang: "vi") }
    measures { measure quantity { amount bound unit } }
  }
}
`,
	},
	{
		Question:  "The 2023 strategic partners, and which of them the US sanctions",
		Operation: "StrategicPartnersAndSanctions",
		Query: `{
  event(slug: "waic-2023") {
    sponsorships(tier: STRATEGIC_PARTNER) {
      subject { name ... on Organization { sanctions { name } } }
    }
  }
}
`,
	},
	{
		Question:  "The eight government co-sponsors, in Vietnamese as the article names them",
		Operation: "GovernmentCoSponsorsInVietnamese",
		Query: `{
  event(slug: "waic-2023") {
    sponsorships(tier: GOVERNMENT_CO_SPONSOR) { tierSize { amount } subject { name vi: name(lang: "vi") } }
  }
}
`,
	},
	{
		Question:  "The US export controls on AI chips, with their dates at the precision the article gives",
		Operation: "USExportControlsOnAIChips",
		Query: `{
  entities(filter: { kinds: [EXPORT_CONTROL] }) {
    nodes {
      ... on ExportControl {
        name status
        date { value precision }
        products { name }
        tightens { name }
        targetCountries { code }
      }
    }
  }
}
`,
	},
	{
		Question:  "Which chips are export-controlled, and by whom they are made",
		Operation: "ExportControlledChipsAndMakers",
		Query: `{
  entities(filter: { kinds: [PRODUCT], controlledBy: "us-government" }) {
    totalCount
    nodes { name ... on Product { makers { name } controls { status } } }
  }
}
`,
	},
	{
		Question:  "Who opened the first WAIC, and who was its famous speaker in 2019",
		Operation: "FirstWAICOpenerAnd2019Speaker",
		Query: `{
  first: event(slug: "waic-2018") { openedBy { name positions { role former object { name } } } }
  y2019: event(slug: "waic-2019") { speakers { name positions { role object { name } } } }
}
`,
	},
	{
		Question:  "Shanghai's AI plan: when, by whom, its targets for 2025 and who backs it",
		Operation: "ShanghaiAIPlan",
		Query: `{
  plan(slug: "shanghai-ai-plan-2022") {
    date { value precision }
    issuedBy { name }
    targets { measure quantity { amount upper bound unit } date { value } }
    endorsedBy { name }
    announcedAt { name start { value precision } }
  }
}
`,
	},
	{
		Question:  "What the officials said, in their words, with who they are",
		Operation: "OfficialsInTheirWords",
		Query: `{
  entities(filter: { kinds: [PERSON] }) {
    nodes {
      name
      ... on Person {
        positions { role object { name } }
        quotes { evidence { gloss } }
      }
    }
  }
}
`,
	},
	{
		Question:  "Search without diacritics: \"thuong hai\" finds Thượng Hải (and the bodies named after it)",
		Operation: "SearchWithoutDiacritics",
		Query: `{
  search(text: "thuong hai", first: 3) { score entity { kind name vi: name(lang: "vi") } }
}
`,
	},
	{
		Question:  "One organization's neighbourhood: its parent, its sponsorships, and the quote behind the parent link",
		Operation: "OrganizationNeighbourhood",
		Query: `{
  organization(slug: "ant-group") {
    name
    parent { name }
    sponsorships { tier object { name } }
    facts(predicates: [SUBSIDIARY_OF]) { evidence { quote gloss } }
  }
}
`,
	},
	{
		Question:  "The facts negated by the source",
		Operation: "NegatedFacts",
		Query: `{
  facts(filter: { negated: true }) {
    totalCount
    nodes { subject { name } predicate tier object { name } }
  }
}
`,
	},
	{
		Question:  "Pages with cursors (Relay connections)",
		Operation: "PagesWithCursors",
		Query: `{
  entities(filter: { kinds: [ORGANIZATION], country: "CN" }, first: 3) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { name }
  }
}
`,
	},
	{
		Question:  "What the graph holds",
		Operation: "WhatTheGraphHolds",
		Query: `{
  stats { entities facts activeFacts byKind { kind count } }
}
`,
	},
	{
		Question:  "Sponsors per year, by the sponsor's country",
		Operation: "SponsorsPerYearByCountry",
		Query: `{
  factCounts(filter: {predicates: [SPONSORED]}, groupBy: [YEAR, SUBJECT_COUNTRY]) {
    year subjectCountry count subjects
  }
}
`,
	},
	{
		Question:  "What was issued per year, 2020 to 2023: export controls and plans as two series of one chart",
		Operation: "IssuedPerYearTwoSeries",
		Query: `{
  timeSeries(
    filter: {predicates: [ISSUED], yearFrom: 2020, yearTo: 2023}
    seriesBy: OBJECT_KIND
  ) {
    key { objectKind }
    total
    points { year count }
  }
}
`,
	},
}
