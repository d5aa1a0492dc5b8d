// The explorer's client of policygraph's public GraphQL API: the queries it
// sends and one function that sends them. Nothing here knows about the page.
//
// Every query is bounded: a page size on every list of entities or facts
// (never "all facts"), so the explorer costs the same number of requests on
// the seed's 79 entities as on a graph of 100,000. Page sizes are chosen to
// stay under the server's default limits (30 aliases, complexity 20,000).

export class APIError extends Error {}

// traffic counts what the page has asked of the API, for the status line and
// the tests: requests sent, bytes of response received, and the operations
// asked, in order.
export const traffic = { requests: 0, bytes: 0, operations: [] };

const encoder = new TextEncoder();

// gql posts a query to the endpoint and returns its data, or throws an
// APIError with the server's messages.
export async function gql(endpoint, query, variables = {}) {
  traffic.requests++;
  traffic.operations.push((/^\s*query\s+(\w+)/.exec(query) || [])[1] || "anonymous");
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  traffic.bytes += encoder.encode(text).length;
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new APIError(`${endpoint} answered ${res.status} with no JSON`);
  }
  if (body.errors && body.errors.length) {
    throw new APIError(body.errors.map((e) => e.message).join("; "));
  }
  if (!res.ok) throw new APIError(`${endpoint} answered ${res.status}`);
  return body.data;
}

// Every kind of entity: a fact whose object has one of them is a fact that
// links two entities (an edge), not a literal (a country code, a number).
export const KINDS = ["EVENT_SERIES", "EVENT", "ORGANIZATION", "PERSON", "PLACE", "PRODUCT", "SANCTION",
  "EXPORT_CONTROL", "PLAN", "TOPIC", "LAWSUIT", "SOURCE"];

// The predicates of literal facts (no object): the evidence panel lists them,
// the graph has no edge for them.
export const LITERAL_PREDICATES = ["HELD_ON", "MEASURE", "TARGET", "COUNTRY"];

// TIMELINE_PREDICATES are the facts the timeline shows: those that date
// something (an event's dates, a measure issued, a product launched, a
// number as of a year, a plan's target year) and who imposed a sanction or
// an export control, which the article may leave undated.
export const TIMELINE_PREDICATES = ["HELD_ON", "HELD_IN", "ISSUED", "IMPOSED_BY", "LAUNCHED", "OPERATES", "MEASURE", "TARGET"];

// NEIGHBOURS_PAGE is how many facts of each direction one request fetches
// around an entity; the same for a click and for a restored link, so both
// draw the same neighbours.
export const NEIGHBOURS_PAGE = 25;

// NEIGHBOURS_BATCH is how many entities one request fetches neighbours for:
// two aliased fields each, under the server's 30 aliases and its complexity
// limit (with the scan the cost model charges each page: 12 of 25 facts fit).
export const NEIGHBOURS_BATCH = 12;

const DATE = "{ value precision }";

// ENTITY is what the graph needs of an entity to draw it.
const ENTITY = `fragment ExplorerEntity on Entity {
  id kind name
  ... on Organization { country }
  ... on Place { code }
  ... on Event { year }
}`;

// EDGE_OUT and EDGE_IN are what the graph needs of a fact to draw it as an
// edge and filter it, when its subject (EDGE_OUT) or object (EDGE_IN) is the
// entity asked about: that end needs only its ID.
const EDGE_OUT = `fragment ExplorerEdgeOut on Fact {
  id predicate tier role former negated year tierSize { amount }
  subject { id } object { ...ExplorerEntity }
}`;
const EDGE_IN = `fragment ExplorerEdgeIn on Fact {
  id predicate tier role former negated year tierSize { amount }
  subject { ...ExplorerEntity } object { id }
}`;

// FULL_FACT adds what the evidence panel and the timeline show.
const FULL_FACT = `fragment ExplorerFact on Fact {
  id predicate value measure tier role former negated year
  date ${DATE} start ${DATE} end ${DATE}
  tierSize { amount }
  quantity { amount bound upper unit }
  subject { ...ExplorerEntity } object { ...ExplorerEntity }
  evidence { quote gloss note source { id title titleEn author publisher publishedAt url } }
}`;

// TIMELINE_FACT is FULL_FACT without the evidence, which a click fetches.
const TIMELINE_FACT = `fragment ExplorerTimelineFact on Fact {
  id predicate value measure tier role former negated year
  date ${DATE} start ${DATE} end ${DATE}
  tierSize { amount }
  quantity { amount bound upper unit }
  subject { ...ExplorerEntity } object { ...ExplorerEntity }
}`;

const PAGE = "totalCount pageInfo { hasNextPage endCursor }";

// OVERVIEW_CORE asks for the policy core of the graph, a page of each kind:
// the latest events, the series, sanctions, export controls and plans.
export const OVERVIEW_CORE = `
query ExplorerOverviewCore($n: Int!) {
  events: entities(filter: {kinds: [EVENT]}, orderBy: YEAR, order: DESC, first: $n) { totalCount nodes { ...ExplorerEntity } }
  series: entities(filter: {kinds: [EVENT_SERIES]}, first: $n) { totalCount nodes { ...ExplorerEntity } }
  sanctions: entities(filter: {kinds: [SANCTION]}, first: $n) { totalCount nodes { ...ExplorerEntity } }
  controls: entities(filter: {kinds: [EXPORT_CONTROL]}, first: $n) { totalCount nodes { ...ExplorerEntity } }
  plans: entities(filter: {kinds: [PLAN]}, first: $n) { totalCount nodes { ...ExplorerEntity } }
}
${ENTITY}`;

// The pages of an entity's facts (neighboursQuery, ENTITY_DETAIL, WHOLE) ask
// for negated facts too (includeNegated: true: the API leaves them out
// unless asked), so that the graph draws "Qualcomm was not a strategic
// partner" as a dashed edge; the browser test checks the evidence panel
// shows that fact.

// neighboursQuery asks for the facts linking each entity of reqs to others,
// a page of each direction: reqs is [{id, outAfter, inAfter}], at most
// NEIGHBOURS_BATCH of them. The answer has o0, i0, o1, i1… in that order.
export function neighboursQuery(reqs) {
  const vars = { kinds: KINDS, n: NEIGHBOURS_PAGE };
  const params = ["$kinds: [EntityKind!]", "$n: Int!"];
  const fields = [];
  reqs.forEach((r, i) => {
    params.push(`$id${i}: String!`, `$oa${i}: String`, `$ia${i}: String`);
    Object.assign(vars, { [`id${i}`]: r.id, [`oa${i}`]: r.outAfter || null, [`ia${i}`]: r.inAfter || null });
    fields.push(`o${i}: facts(filter: {subject: $id${i}, objectKinds: $kinds, includeNegated: true}, first: $n, after: $oa${i}) { ${PAGE} nodes { ...ExplorerEdgeOut } }`);
    fields.push(`i${i}: facts(filter: {object: $id${i}, includeNegated: true}, first: $n, after: $ia${i}) { ${PAGE} nodes { ...ExplorerEdgeIn } }`);
  });
  const query = `query ExplorerNeighbours(${params.join(", ")}) {\n  ${fields.join("\n  ")}\n}\n${EDGE_OUT}\n${EDGE_IN}\n${ENTITY}`;
  return { query, vars };
}

// ENTITY_DETAIL asks for one entity, the facts linking it to others (the
// same pages as neighboursQuery) and its literal facts, each with its
// evidence: what a click on a node needs.
export const ENTITY_DETAIL = `
query ExplorerEntityDetail($id: ID!, $ref: String!, $kinds: [EntityKind!], $literal: [Predicate!], $n: Int!, $oa: String, $ia: String, $la: String) {
  entity(id: $id) {
    ...ExplorerEntity description
    ... on ExportControl { status date ${DATE} }
    ... on Plan { date ${DATE} }
  }
  out: facts(filter: {subject: $ref, objectKinds: $kinds, includeNegated: true}, first: $n, after: $oa) { ${PAGE} nodes { ...ExplorerFact } }
  in: facts(filter: {object: $ref, includeNegated: true}, first: $n, after: $ia) { ${PAGE} nodes { ...ExplorerFact } }
  literal: facts(filter: {subject: $ref, predicates: $literal, includeNegated: true}, first: $n, after: $la) { ${PAGE} nodes { ...ExplorerFact } }
}
${FULL_FACT}
${ENTITY}`;

// MARKS asks which of the given organizations are sanctioned and which
// products are under export control (the API's answer, not the page's
// guess), and how big the graph is.
export const MARKS = `
query ExplorerMarks($ids: [ID!]!) {
  nodes(ids: $ids) {
    id
    ... on Organization { sanctions { id } }
    ... on Product { controls { id } }
  }
}`;

// MARKS_BATCH bounds the IDs of one MARKS request.
export const MARKS_BATCH = 200;

// STATS asks for the graph's size, and how many dated facts each predicate
// has each year, by which the timeline is paged in windows of years (both
// counted by the server without reading the store).
export const STATS = `
query ExplorerStats {
  stats { entities facts factYears { predicate year count } }
}`;

export const FACT = `
query ExplorerFact($id: ID!) {
  fact(id: $id) { ...ExplorerFact }
}
${FULL_FACT}
${ENTITY}`;

export const SEARCH = `
query ExplorerSearch($text: String!) {
  search(text: $text, first: 10) { score entity { ...ExplorerEntity } }
}
${ENTITY}`;

// WAIC_US_BY_YEAR is the headline question: which US firms sponsored WAIC,
// in which year, at which tier, on what evidence.
export const WAIC_US_BY_YEAR = `
query ExplorerWaicUSSponsors {
  sponsorshipsByYear(series: "waic", sponsorCountry: "US") {
    year
    events { ...ExplorerEntity }
    sponsorships {
      id predicate tier role former negated year tierSize { amount }
      subject { ...ExplorerEntity } object { ...ExplorerEntity }
      evidence { quote gloss }
    }
  }
}
${ENTITY}`;

// WHOLE_LIMIT is the largest graph the "Whole graph" view draws.
export const WHOLE_LIMIT = { entities: 400, facts: 1200 };

// WHOLE asks for a page of every entity and of every fact linking two, for
// graphs within WHOLE_LIMIT.
export const WHOLE = `
query ExplorerWhole($kinds: [EntityKind!], $ea: String, $fa: String, $entities: Boolean!, $facts: Boolean!) {
  entities(first: 200, after: $ea) @include(if: $entities) { ${PAGE} nodes { ...ExplorerEntity } }
  facts(filter: {objectKinds: $kinds, includeNegated: true}, first: 200, after: $fa) @include(if: $facts) {
    ${PAGE}
    nodes { id predicate tier role former negated year tierSize { amount } subject { id } object { id } }
  }
}
${ENTITY}`;

// TIMELINE asks for a page of dated facts (year from..to, of the given
// predicates, by subjects of a country) and, unless a year is chosen, who
// imposed a sanction or an export control: facts come by year, undated first,
// so the page's undated ones are the undated facts.
export const TIMELINE = `
query ExplorerTimeline($preds: [Predicate!], $from: Int!, $to: Int, $country: String, $first: Int!, $after: String, $undated: Boolean!) {
  dated: facts(filter: {predicates: $preds, negated: false, yearFrom: $from, yearTo: $to, subjectCountry: $country}, first: $first, after: $after) {
    ${PAGE} nodes { ...ExplorerTimelineFact }
  }
  undated: facts(filter: {predicates: [IMPOSED_BY], negated: false, subjectCountry: $country}, first: 20) @include(if: $undated) {
    ${PAGE} nodes { ...ExplorerTimelineFact }
  }
}
${TIMELINE_FACT}
${ENTITY}`;

// TIMELINE_PAGE is how many dated facts one timeline request fetches.
export const TIMELINE_PAGE = 40;

// TIMELINE_WINDOW bounds the dated facts one timeline request reads when no
// year is chosen: the timeline is asked a window of years at a time, as many
// years from the earliest on as hold at most this many facts (at least one
// year), since the API prices a request by the facts of the years it asks
// (2 per fact, under a limit of 20,000 by default).
export const TIMELINE_WINDOW = 1000;

// timelineWindows splits the years of factYears (stats.factYears) of the
// predicates preds into windows [{from, to}] of at most TIMELINE_WINDOW
// facts each (a year of more is a window alone), earliest first, and counts
// their facts. The first window starts at year 1 and the last is open (to:
// null), so that facts dated after the counts were made are not lost.
export function timelineWindows(factYears, preds) {
  const byYear = new Map();
  for (const c of factYears) {
    if (preds.includes(c.predicate)) byYear.set(c.year, (byYear.get(c.year) || 0) + c.count);
  }
  const years = [...byYear.keys()].sort((a, b) => a - b);
  const windows = [];
  let total = 0;
  for (const y of years) {
    const n = byYear.get(y);
    total += n;
    const last = windows[windows.length - 1];
    if (last && last.facts + n <= TIMELINE_WINDOW) {
      last.to = y;
      last.facts += n;
    } else {
      windows.push({ from: y, to: y, facts: n });
    }
  }
  if (!windows.length) windows.push({ from: 1, to: null, facts: 0 });
  windows[0].from = 1;
  windows[windows.length - 1].to = null;
  return { windows, total };
}

// EVIDENCE asks for the evidence of the given facts, for the CSV export.
export const EVIDENCE = `
query ExplorerEvidence($ids: [ID!]!) {
  nodes(ids: $ids) {
    id
    ... on Fact { evidence { quote gloss source { title titleEn author publisher publishedAt url } } }
  }
}`;

// EVIDENCE_BATCH bounds the IDs of one EVIDENCE request (its complexity).
export const EVIDENCE_BATCH = 100;

// LIVE_FACTS follows the facts written after since (a version) as they
// commit: a subscription over server-sent events (see subscribe).
export const LIVE_FACTS = `
subscription ExplorerLive($since: String) {
  factChanged(since: $since) { version change fact { ...ExplorerTimelineFact } }
}
${TIMELINE_FACT}
${ENTITY}`;

// subscribe posts a subscription asking for server-sent events (the
// graphql-sse protocol's distinct connections mode) and calls onData with
// each event's data, until the stream ends (it resolves) or fails (it
// throws). A plain fetch: no library, same origin.
export async function subscribe(endpoint, query, variables, onData, signal) {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  if (!res.ok || !res.body) throw new APIError(`${endpoint} answered ${res.status} to a subscription`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replaceAll("\r\n", "\n");
    for (let i; (i = buf.indexOf("\n\n")) >= 0;) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trimStart();
      }
      if (event === "complete") return;
      if (event !== "next" || !data) continue;
      const body = JSON.parse(data);
      if (body.errors && body.errors.length) throw new APIError(body.errors.map((e) => e.message).join("; "));
      onData(body.data);
    }
  }
}
