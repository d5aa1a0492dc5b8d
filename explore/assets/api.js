// The explorer's client of policygraph's public GraphQL API: the queries it
// sends and one function that sends them. Nothing here knows about the page.

export class APIError extends Error {}

// gql posts a query to the endpoint and returns its data, or throws an
// APIError with the server's messages.
export async function gql(endpoint, query, variables = {}) {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await res.json();
  } catch {
    throw new APIError(`${endpoint} answered ${res.status} with no JSON`);
  }
  if (body.errors && body.errors.length) {
    throw new APIError(body.errors.map((e) => e.message).join("; "));
  }
  if (!res.ok) throw new APIError(`${endpoint} answered ${res.status}`);
  return body.data;
}

const DATE = "{ value precision }";

// FACT_CORE is what the graph needs of a fact to draw and filter it.
const FACT_CORE = `
  id predicate value measure tier role former negated year
  subject { id } object { id }
  date ${DATE} start ${DATE} end ${DATE}
  tierSize { amount }
  quantity { amount bound upper unit }`;

// FACT_FULL adds what the evidence panel shows.
const FACT_FULL = `${FACT_CORE}
  subject { id kind name } object { id kind name }
  evidence { quote gloss note source { id title titleEn author publisher publishedAt url } }`;

export const ENTITIES = `
query ExplorerEntities($after: String) {
  entities(first: 200, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id kind slug name description
      ... on Organization { country }
      ... on Place { code }
      ... on Event { year start ${DATE} end ${DATE} }
      ... on ExportControl { status date ${DATE} }
      ... on Plan { date ${DATE} }
    }
  }
}`;

// MARKED asks the API (not the page) which organizations are sanctioned and
// which products are under export control.
export const MARKED = `
query ExplorerMarked {
  sanctioned: entities(filter: {sanctionedBy: "*"}, first: 200) { nodes { id } }
  controlled: entities(filter: {controlledBy: "*", kinds: [PRODUCT]}, first: 200) { nodes { id } }
}`;

export const FACTS = `
query ExplorerFacts($after: String) {
  facts(first: 200, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { ${FACT_CORE} }
  }
}`;

export const ENTITY_FACTS = `
query ExplorerEntityFacts($id: ID!) {
  entity(id: $id) {
    id kind name description
    facts(direction: BOTH) { ${FACT_FULL} }
  }
}`;

export const FACT = `
query ExplorerFact($id: ID!) {
  fact(id: $id) { ${FACT_FULL} }
}`;

export const SEARCH = `
query ExplorerSearch($text: String!) {
  search(text: $text, first: 10) { score entity { id kind name } }
}`;

// WAIC_US_BY_YEAR is the headline question: which US firms sponsored WAIC,
// in which year, at which tier, on what evidence.
export const WAIC_US_BY_YEAR = `
query ExplorerWaicUSSponsors {
  sponsorshipsByYear(series: "waic", sponsorCountry: "US") {
    year
    events { id name }
    sponsorships { id tier tierSize { amount } subject { id name } evidence { quote gloss } }
  }
}`;

// all pages through a connection query and returns every node.
export async function all(endpoint, query, field) {
  const out = [];
  let after = null;
  for (;;) {
    const data = await gql(endpoint, query, { after });
    const conn = data[field];
    out.push(...conn.nodes);
    if (!conn.pageInfo.hasNextPage) return out;
    after = conn.pageInfo.endCursor;
  }
}
