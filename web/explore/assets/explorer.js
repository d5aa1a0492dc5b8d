// policygraph explorer: the graph view, the evidence panel and the timeline,
// drawn from the public GraphQL API only. Cytoscape.js (window.cytoscape) is
// loaded before this module by index.html.
//
// The explorer never loads the whole graph. It starts from a view: the
// policy overview (a page of each core kind, the latest events, sanctions,
// export controls, plans and series, and what they link to), the headline
// preset (the answer of sponsorshipsByYear), one entity and its neighbours,
// or, for a small graph, the whole graph. Clicking a node fetches its
// neighbours; "Show more" draws more of what the view found. Every request is
// a bounded page, so the first drawing costs a handful of requests on any
// graph. The URL's fragment holds the view, so a link reopens the same
// picture (see state.js).

import * as api from "./api.js";
import { edgesCSV, nodesCSV } from "./export.js";
import {
  edgeLabel, foldText, formatNumber, formatSpan, formatTimestamp, predicateLabel, sentence, sentenceParts, sortKey, tierLabel,
} from "./format.js";
import { drawnLabels, labelOverlaps, placeLabels } from "./labels.js";
import { DEFAULT_STATE, MAX_MORE, formatState, parseState } from "./state.js";

const config = JSON.parse(document.getElementById("pg-explore-config").textContent);
const endpoint = config.endpoint;
const $ = (id) => document.getElementById(id);

// Colours of the graph. Labels sit outside the nodes on a white background,
// so their text (#1b1b1b) meets WCAG AA whatever the fill.
const KIND_COLOURS = {
  EVENT_SERIES: "#6d28d9", EVENT: "#7c3aed",
  ORGANIZATION: "#0e7490", PLACE: "#15803d", PRODUCT: "#b45309",
  SANCTION: "#9f1239", EXPORT_CONTROL: "#9f1239",
};
const OTHER_COLOUR = "#64748b";
const KIND_SHAPES = {
  EVENT_SERIES: "round-rectangle", EVENT: "round-rectangle", ORGANIZATION: "ellipse",
  PLACE: "diamond", PRODUCT: "hexagon", SANCTION: "octagon", EXPORT_CONTROL: "octagon",
  PLAN: "round-tag", PERSON: "ellipse", TOPIC: "round-triangle", LAWSUIT: "rhomboid", SOURCE: "rectangle",
};
const COUNTRY_COLOURS = { US: "#1d4ed8", CN: "#ca8a04" };
const MARK_COLOUR = "#c1121f";

// How much a view draws: DRAW_CAP nodes at first, SHOW_MORE more for each
// press of "Show more"; the overview starts from CORE_MAX core entities.
const DRAW_CAP = 100;
const SHOW_MORE = 50;
const CORE_MAX = api.NEIGHBOURS_BATCH;
const CORE_PAGE = 24;

// Kinds in the order the overview prefers them, for its core and its
// neighbours.
const KIND_ORDER = ["EVENT_SERIES", "EVENT", "SANCTION", "EXPORT_CONTROL", "PLAN", "ORGANIZATION", "PRODUCT",
  "PLACE", "PERSON", "LAWSUIT", "TOPIC", "SOURCE"];

// The model: what the page knows of the graph.
const known = {
  entities: new Map(), // id -> {id, kind, name, country, code, year, marked}
  facts: new Map(), // id -> fact, with subjectId and objectId
  adj: new Map(), // id -> {out: [factId], in: [factId], outAfter, inAfter, outMore, inMore, outTotal, inTotal}
};
let stats = null; // {entities, facts} of the whole graph, once asked

// state is what the URL holds (see state.js); view is what the graph draws
// for it.
let state = { ...DEFAULT_STATE, expand: [] };
let view = newView("overview", "");
const filters = { year: "", country: "", relation: "" };

let cy;
let busy = 0;
const timings = { separateMs: 0, labelsMs: 0 };
const explorer = { ready: false, firstDraw: null, preset: null, traffic: api.traffic };

function newView(name, title) {
  return {
    name, title,
    nodes: new Set(), // the entities drawn
    facts: null, // when set (the preset), the only facts drawn
    candidates: [], // ranked entities the view found, drawn up to its cap
    core: [], // the overview's core entities, in order; coreNext: the ones not used yet
    coreNext: [],
    positions: null, // fixed positions (the preset)
    excludeKinds: new Set(),
  };
}

// --- model -------------------------------------------------------------------

function entityCountry(e) {
  return (e && (e.country || e.code)) || "";
}

function addEntity(e) {
  if (!e || !e.id) return null;
  const old = known.entities.get(e.id) || {};
  const merged = { ...old };
  for (const [k, v] of Object.entries(e)) if (v !== undefined && !(v === null && old[k] != null)) merged[k] = v;
  if (merged.marked === undefined && !["ORGANIZATION", "PRODUCT"].includes(merged.kind)) merged.marked = "";
  known.entities.set(e.id, merged);
  return merged;
}

// addFact records a fact as the API gave it; its ends are recorded as
// entities when the answer describes them.
function addFact(f) {
  if (f.subject && f.subject.kind) addEntity(f.subject);
  if (f.object && f.object.kind) addEntity(f.object);
  const fact = { ...(known.facts.get(f.id) || {}), ...f, subjectId: f.subject.id, objectId: f.object ? f.object.id : null };
  known.facts.set(f.id, fact);
  return fact;
}

// withEnds returns a fact with its subject and object as entities, for
// sentences and exports.
function withEnds(f) {
  const ent = (id) => (id ? known.entities.get(id) || { id, name: id, kind: "" } : null);
  return { ...f, subject: ent(f.subjectId), object: ent(f.objectId) };
}

// recordAdjacency stores a page of an entity's linking facts, in the order the
// API gives them, so that a click and a restored link draw the same
// neighbours.
function recordAdjacency(id, dir, page) {
  const a = known.adj.get(id) || { out: [], in: [], outAfter: null, inAfter: null, outMore: true, inMore: true, outTotal: 0, inTotal: 0 };
  for (const f of page.nodes) {
    addFact(f);
    if (!a[dir].includes(f.id)) a[dir].push(f.id);
  }
  a[dir + "After"] = page.pageInfo.endCursor;
  a[dir + "More"] = page.pageInfo.hasNextPage;
  a[dir + "Total"] = page.totalCount;
  known.adj.set(id, a);
  return a;
}

// neighbours returns the entities one fetched fact away from id, in order.
function neighbours(id) {
  const a = known.adj.get(id);
  if (!a) return [];
  const out = [];
  for (const fid of [...a.out, ...a.in]) {
    const f = known.facts.get(fid);
    const other = f.subjectId === id ? f.objectId : f.subjectId;
    if (other && other !== id && !out.includes(other)) out.push(other);
  }
  return out;
}

// fetchNeighbours fetches the next page of linking facts of each entity in
// ids that has not got one yet (more: a further page), in batches.
async function fetchNeighbours(ids, more = false) {
  const reqs = [];
  for (const id of ids) {
    const a = known.adj.get(id);
    if (!a) reqs.push({ id });
    else if (more && (a.outMore || a.inMore)) reqs.push({ id, outAfter: a.outMore ? a.outAfter : null, inAfter: a.inMore ? a.inAfter : null, skip: a });
  }
  for (let i = 0; i < reqs.length; i += api.NEIGHBOURS_BATCH) {
    const batch = reqs.slice(i, i + api.NEIGHBOURS_BATCH);
    const { query, vars } = api.neighboursQuery(batch);
    const data = await api.gql(endpoint, query, vars);
    batch.forEach((r, j) => {
      // A direction with no further page is not asked again.
      if (!r.skip || r.skip.outMore) recordAdjacency(r.id, "out", data[`o${j}`]);
      if (!r.skip || r.skip.inMore) recordAdjacency(r.id, "in", data[`i${j}`]);
    });
  }
}

// fetchMarks asks which drawn organizations are sanctioned and which products
// are under export control, for those not asked about yet.
async function fetchMarks(ids) {
  const todo = [...ids].filter((id) => known.entities.get(id)?.marked === undefined);
  for (let i = 0; i < todo.length; i += api.MARKS_BATCH) {
    const data = await api.gql(endpoint, api.MARKS, { ids: todo.slice(i, i + api.MARKS_BATCH) });
    for (const n of data.nodes) {
      if (!n) continue;
      const e = known.entities.get(n.id);
      if (e) e.marked = n.sanctions?.length ? "sanctioned" : n.controls?.length ? "controlled" : "";
    }
  }
}

let statsAsked = null; // the promise of stats, so that callers at once share one request

async function fetchStats() {
  statsAsked ||= api.gql(endpoint, api.STATS).then((d) => (stats = d.stats)).catch((err) => { statsAsked = null; throw err; });
  return statsAsked;
}

// --- elements ----------------------------------------------------------------

function nodeDisplay(e) {
  const country = entityCountry(e);
  let s = country && e.kind !== "PLACE" ? `${e.name} · ${country}` : e.name;
  if (e.marked === "sanctioned") s += "\nSANCTIONED";
  if (e.marked === "controlled") s += "\nEXPORT-CONTROLLED";
  return s;
}

function nodeData(e) {
  return {
    id: e.id, label: e.name, display: nodeDisplay(e), kind: e.kind,
    country: entityCountry(e), marked: e.marked || "",
    colour: KIND_COLOURS[e.kind] || OTHER_COLOUR, shape: KIND_SHAPES[e.kind] || "ellipse",
    ring: COUNTRY_COLOURS[entityCountry(e)] || "#4b5563",
  };
}

function nodeClasses(e) {
  return [e.marked ? "marked" : "", entityCountry(e) ? "has-country" : ""].filter(Boolean).join(" ");
}

function edgeElement(f) {
  return {
    group: "edges",
    data: { id: f.id, source: f.subjectId, target: f.objectId, label: edgeLabel(f), predicate: f.predicate },
    classes: f.negated ? "negated" : "",
  };
}

function cyStyle() {
  return [
    { selector: "node", style: {
      "background-color": "data(colour)", shape: "data(shape)", width: 26, height: 26,
      "border-width": 1.5, "border-color": "#374151",
      label: "data(display)", "font-size": 12, "font-family": "system-ui, sans-serif", color: "#1b1b1b",
      "text-valign": "bottom", "text-halign": "center", "text-margin-y": 4,
      "text-wrap": "wrap", "text-max-width": 130,
      "text-background-color": "#ffffff", "text-background-opacity": 0.9, "text-background-padding": 2,
      "text-background-shape": "round-rectangle",
      // Labels too small to read are left out until the graph is zoomed in.
      "min-zoomed-font-size": 5,
    } },
    // Hubs (events, the US government, export controls) get bigger labels,
    // which stay readable when the whole graph is zoomed out.
    { selector: "node[hub >= 4]", style: { "font-size": 14, "font-weight": "bold", width: 32, height: 32 } },
    { selector: "node[hub >= 10]", style: { "font-size": 17, width: 40, height: 40 } },
    { selector: "node.has-country", style: { "border-width": 4, "border-color": "data(ring)" } },
    { selector: "node.marked", style: {
      "outline-width": 4, "outline-color": MARK_COLOUR, "outline-offset": 2,
      color: "#ffffff", "text-background-color": MARK_COLOUR, "text-background-opacity": 1, "font-weight": "bold",
    } },
    { selector: "node:selected", style: { "underlay-color": "#1d4ed8", "underlay-padding": 8, "underlay-opacity": 0.3, "underlay-shape": "ellipse" } },
    { selector: "edge", style: {
      width: 1.5, "line-color": "#6b7280", "target-arrow-color": "#6b7280", "target-arrow-shape": "triangle",
      "curve-style": "bezier", label: "data(label)", "font-size": 9, color: "#374151",
      "text-rotation": "autorotate", "text-background-color": "#ffffff", "text-background-opacity": 0.9,
      "text-background-padding": 1, "min-zoomed-font-size": 7,
    } },
    { selector: "edge[predicate = 'SPONSORED']", style: { width: 3, "line-color": "#1d4ed8", "target-arrow-color": "#1d4ed8", color: "#1e3a8a", "font-size": 10, "font-weight": "bold" } },
    { selector: "edge.negated", style: { "line-style": "dashed", "line-color": "#9ca3af", "target-arrow-color": "#9ca3af" } },
    { selector: "edge.lit", style: { width: 3, "z-index": 10 } },
    { selector: "edge:selected", style: { width: 4, "line-color": "#111827", "target-arrow-color": "#111827" } },
    // A label that would overlap another is not drawn (see labels.js);
    // hovering or selecting its element shows it, above the others.
    { selector: ".label-off", style: { "text-opacity": 0, "text-background-opacity": 0 } },
    { selector: ".hover, :selected", style: { "text-opacity": 1, "text-background-opacity": 1, "z-index": 20, "min-zoomed-font-size": 0 } },
    { selector: ".filtered", style: { display: "none" } },
  ];
}

// --- drawing -----------------------------------------------------------------

// viewFacts: the known linking facts between drawn entities (for the preset,
// only its own).
function viewFacts() {
  const out = [];
  for (const f of known.facts.values()) {
    if (!f.objectId || !view.nodes.has(f.subjectId) || !view.nodes.has(f.objectId)) continue;
    if (view.facts && !view.facts.has(f.id)) continue;
    out.push(f);
  }
  return out;
}

// sync makes the graph draw view.nodes and their facts: it adds what is
// missing (new nodes at the given positions, else near a drawn neighbour)
// and removes the rest. It returns the added nodes.
function sync(place = new Map()) {
  let added = cy.collection();
  cy.batch(() => {
    cy.nodes().filter((n) => !view.nodes.has(n.id())).remove();
    for (const id of view.nodes) {
      const e = known.entities.get(id);
      if (!e) continue;
      const n = cy.getElementById(id);
      if (n.nonempty()) {
        n.data(nodeData(e));
        n.classes(nodeClasses(e) + (n.hasClass("filtered") ? " filtered" : ""));
        continue;
      }
      added = added.union(cy.add({ group: "nodes", data: nodeData(e), classes: nodeClasses(e), position: place.get(id) || { x: 0, y: 0 } }));
    }
    const facts = viewFacts();
    const keep = new Set(facts.map((f) => f.id));
    cy.edges().filter((e) => !keep.has(e.id())).remove();
    for (const f of facts) if (cy.getElementById(f.id).empty()) cy.add(edgeElement(f));
    cy.nodes().forEach((n) => n.data("hub", n.degree(false)));
  });
  return added;
}

// draw replaces the picture with the view, laid out afresh.
function draw() {
  cy.batch(() => cy.elements().remove());
  sync(view.positions || new Map());
  applyFilters(false);
  if (view.positions) {
    cy.fit(shown(), 60);
    if (cy.zoom() > 1.8) { cy.zoom(1.8); cy.center(shown()); }
  } else {
    layout();
  }
  afterDraw();
}

// grow adds the view's new nodes next to the drawn nodes they link to (the
// node centreId first, else the middle of what is drawn), without moving
// the others more than it takes to keep labels apart.
function grow(centreId) {
  const centre = cy.getElementById(centreId);
  const fresh = [...view.nodes].filter((id) => cy.getElementById(id).empty());
  const freshSet = new Set(fresh);
  // Each new node hangs off one drawn node: the centre if it links to it,
  // else the first drawn node it links to.
  const anchor = new Map();
  for (const f of known.facts.values()) {
    if (!f.objectId) continue;
    for (const [a, b] of [[f.subjectId, f.objectId], [f.objectId, f.subjectId]]) {
      if (!freshSet.has(a) || cy.getElementById(b).empty()) continue;
      if (!anchor.has(a) || b === centreId) anchor.set(a, b);
    }
  }
  const byAnchor = new Map();
  for (const id of fresh) {
    const a = anchor.get(id) || (centre.nonempty() ? centreId : "");
    if (!byAnchor.has(a)) byAnchor.set(a, []);
    byAnchor.get(a).push(id);
  }
  const place = new Map();
  for (const [a, ids] of byAnchor) {
    const n = a ? cy.getElementById(a) : cy.collection();
    const c = n.nonempty() ? n.position() : extentCentre();
    ids.forEach((id, i) => {
      const angle = (2 * Math.PI * i) / ids.length - Math.PI / 2;
      const r = 150 + 30 * (i % 3);
      place.set(id, { x: c.x + r * Math.cos(angle), y: c.y + r * Math.sin(angle) });
    });
  }
  sync(place);
  applyFilters(false);
  separateLabels(shown().nodes());
  afterDraw();
}

function extentCentre() {
  const ext = cy.extent();
  return { x: (ext.x1 + ext.x2) / 2, y: (ext.y1 + ext.y2) / 2 };
}

// afterDraw decides which labels are drawn, updates the controls and the URL,
// and notes the first drawing.
function afterDraw() {
  const t0 = performance.now();
  arrangeLabels();
  timings.labelsMs = Math.round(performance.now() - t0);
  renderControls();
  fillFilterOptions();
  saveState();
  showHint();
  if (!explorer.firstDraw && cy.nodes().nonempty()) {
    // The requests it took; the time once the browser has painted it.
    const first = { requests: api.traffic.requests, bytes: api.traffic.bytes, nodes: cy.nodes().length, ms: null };
    explorer.firstDraw = first;
    requestAnimationFrame(() => setTimeout(() => { first.ms = Math.round(performance.now()); }, 0));
  }
}

// labelRank orders elements for label placement: the selection and what it
// touches first, then sponsorships, positive facts, hubs, short labels.
function labelRank(a, b) {
  const score = (ele) => {
    let s = 0;
    if (ele.selected()) s += 1000;
    if (ele.hasClass("lit")) s += 500;
    if (ele.isEdge()) {
      if (ele.data("predicate") === "SPONSORED") s += 50;
      if (!ele.hasClass("negated")) s += 20;
    } else {
      s += Math.min(ele.degree(false), 40);
    }
    return s;
  };
  return score(b) - score(a) || String(a.data("label")).length - String(b.data("label")).length || (a.id() < b.id() ? -1 : 1);
}

function arrangeLabels() {
  placeLabels(cy, { rank: labelRank });
}

// shown: the elements the filters leave in view. (Cytoscape's ":visible"
// and visible() are cached and can lag behind a class change.)
function shown() {
  return cy.elements().not(".filtered");
}

// Rings of the seed layout, from the centre out: events, then the measures
// and plans, then organizations and people, then products, places, topics
// and the rest.
const KIND_RING = {
  EVENT_SERIES: 0, EVENT: 0,
  SANCTION: 1, EXPORT_CONTROL: 1, PLAN: 1, LAWSUIT: 1,
  ORGANIZATION: 2, PERSON: 2,
};
const OUTER_RING = 3;
const SEED_RING_GAP = 60, SEED_SPACING = 40;

// seedPositions places the nodes on concentric rings by kind, each ring
// ordered so that a node sits near the neighbours already placed (the mean
// of their angles), hubs first. It is deterministic, so the force layout that
// refines it draws the same picture every time.
function seedPositions(nodes) {
  const rings = [];
  nodes.forEach((n) => {
    const r = KIND_RING[n.data("kind")] ?? OUTER_RING;
    (rings[r] ||= []).push(n);
  });
  const angle = new Map();
  const positions = new Map();
  let radius = 0;
  for (const ring of rings.filter(Boolean)) {
    const keyed = ring.map((n) => {
      let x = 0, y = 0;
      n.neighborhood("node").forEach((m) => {
        const a = angle.get(m.id());
        if (a !== undefined) { x += Math.cos(a); y += Math.sin(a); }
      });
      const a = x || y ? Math.atan2(y, x) : 10; // unplaced neighbours: last
      return { n, a, degree: n.degree(false), label: n.data("label") };
    });
    keyed.sort((p, q) => p.a - q.a || q.degree - p.degree || p.label.localeCompare(q.label) || (p.n.id() < q.n.id() ? -1 : 1));
    // A compact start: the force layout spreads the nodes out.
    radius = Math.max(radius + SEED_RING_GAP, (ring.length * SEED_SPACING) / (2 * Math.PI));
    if (rings.indexOf(ring) === 0 && ring.length === 1) radius = 0;
    keyed.forEach(({ n }, i) => {
      const a = (2 * Math.PI * i) / ring.length - Math.PI / 2;
      angle.set(n.id(), a);
      positions.set(n.id(), { x: radius * Math.cos(a), y: radius * Math.sin(a) });
    });
  }
  return positions;
}

// layout draws the view with the force-directed cose layout, from the seed
// positions (so without randomness); leaves of a hub get edges of three
// lengths, so they pack as a disc around it rather than one wide ring. Then
// separateLabels moves apart the nodes whose labels would still collide.
function layout() {
  const nodes = shown().nodes();
  if (nodes.empty()) return;
  const seed = seedPositions(nodes);
  nodes.forEach((n) => n.position(seed.get(n.id())));
  const leafIndex = new Map();
  nodes.forEach((n) => {
    if (n.degree(false) <= 1) return;
    n.neighborhood("node").filter((m) => m.degree(false) === 1).forEach((m, i) => leafIndex.set(m.id(), i));
  });
  shown().layout({
    name: "cose", animate: false, randomize: false, fit: false,
    nodeRepulsion: () => 9000,
    idealEdgeLength: (e) => {
      const leaf = leafIndex.get(e.source().id()) ?? leafIndex.get(e.target().id());
      return leaf === undefined ? 90 : 50 + 40 * (leaf % 3);
    },
    nodeOverlap: 20, gravity: 1, componentSpacing: 60, numIter: 2500,
  }).run();
  const t1 = performance.now();
  stretchToCanvas(nodes);
  separateLabels(nodes);
  timings.separateMs = Math.round(performance.now() - t1);
  fitView();
}

// stretchToCanvas stretches the layout along the longer side of the canvas
// (force layouts come out round; canvases are wide on a laptop and tall on
// a phone), so that fitting it leaves less of the canvas empty.
function stretchToCanvas(nodes) {
  const bb = nodes.boundingBox({ includeLabels: false });
  if (bb.w < 1 || bb.h < 1) return;
  const want = cy.width() / cy.height(), have = bb.w / bb.h;
  const cx = (bb.x1 + bb.x2) / 2, cyy = (bb.y1 + bb.y2) / 2;
  const sx = want > have ? Math.min(want / have, 2.5) : 1;
  const sy = want < have ? Math.min(have / want, 2.5) : 1;
  cy.batch(() => nodes.forEach((n) => {
    const p = n.position();
    n.position({ x: cx + (p.x - cx) * sx, y: cyy + (p.y - cyy) * sy });
  }));
}

// separateLabels pushes apart, along the axis of least overlap, every two
// nodes whose boxes (label included) overlap, until none do. Deterministic.
function separateLabels(nodes, gap = 6) {
  const items = nodes.map((n) => {
    const p = n.position(), b = n.boundingBox({ includeLabels: true, includeOverlays: false });
    return { n, x: p.x, y: p.y, l: p.x - b.x1, r: b.x2 - p.x, t: p.y - b.y1, b: b.y2 - p.y };
  });
  for (let pass = 0; pass < 300; pass++) {
    let moved = false;
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const a = items[i], c = items[j];
        const ox = Math.min(a.x + a.r, c.x + c.r) - Math.max(a.x - a.l, c.x - c.l) + gap;
        const oy = Math.min(a.y + a.b, c.y + c.b) - Math.max(a.y - a.t, c.y - c.t) + gap;
        if (ox <= 0 || oy <= 0) continue;
        moved = true;
        if (ox < oy) {
          const s = a.x < c.x || (a.x === c.x && i < j) ? -1 : 1;
          a.x += (s * ox) / 2; c.x -= (s * ox) / 2;
        } else {
          const s = a.y < c.y || (a.y === c.y && i < j) ? -1 : 1;
          a.y += (s * oy) / 2; c.y -= (s * oy) / 2;
        }
      }
    }
    if (!moved) break;
  }
  cy.batch(() => items.forEach((it) => it.n.position({ x: it.x, y: it.y })));
}

// fitView fits what is shown, with room around it, but does not blow a small
// view up past a comfortable zoom.
function fitView() {
  cy.fit(shown(), cy.width() < 500 ? 12 : 24);
  if (cy.zoom() > 1.6) { cy.zoom(1.6); cy.center(shown()); }
}

// --- views -------------------------------------------------------------------

// rankCandidates orders the entities a view found: the core first, then by
// how many core entities each is linked to, the kind, and the order found.
function rankCandidates(core, found) {
  const links = new Map();
  for (const id of core) {
    for (const n of neighbours(id)) links.set(n, (links.get(n) || 0) + 1);
  }
  const order = new Map(found.map((id, i) => [id, i]));
  const rest = found.filter((id) => !core.includes(id));
  rest.sort((a, b) => (links.get(b) || 0) - (links.get(a) || 0)
    || KIND_ORDER.indexOf(known.entities.get(a)?.kind) - KIND_ORDER.indexOf(known.entities.get(b)?.kind)
    || order.get(a) - order.get(b));
  return [...core, ...rest];
}

// overviewCandidates: the core entities and everything one fetched fact away
// from them, but not sources (the article mentions everything).
function overviewCandidates() {
  const found = [];
  for (const id of view.core) {
    found.push(id);
    for (const n of neighbours(id)) found.push(n);
  }
  const uniq = [...new Set(found)].filter((id) => known.entities.has(id) && !view.excludeKinds.has(known.entities.get(id).kind));
  return rankCandidates(view.core, uniq);
}

function cap() {
  return DRAW_CAP + state.more * SHOW_MORE;
}

// fillFromCandidates draws the view's first cap() candidates, plus what was
// expanded since.
function fillFromCandidates() {
  const want = new Set(view.candidates.slice(0, cap()));
  for (const id of view.nodes) want.add(id);
  view.nodes = want;
}

// showOverview draws the policy core from a page of each core kind and the
// facts that link each to others, in three requests (the core, its facts,
// the marks) on any graph.
async function showOverview() {
  view = newView("overview", "Policy overview: events, sanctions, export controls and what they touch");
  view.excludeKinds.add("SOURCE");
  const data = await api.gql(endpoint, api.OVERVIEW_CORE, { n: CORE_PAGE });
  const lists = [data.events, data.controls, data.sanctions, data.plans, data.series].map((c) => c.nodes.map((e) => addEntity(e).id));
  // Round-robin over the kinds, latest events first.
  const order = [];
  for (let i = 0; order.length < lists.flat().length; i++) for (const l of lists) if (i < l.length) order.push(l[i]);
  view.core = order.slice(0, CORE_MAX);
  view.coreNext = order.slice(CORE_MAX);
  await fetchNeighbours(view.core);
  view.candidates = overviewCandidates();
  view.nodes = new Set();
  // "Show more" presses saved in a link are replayed.
  for (let i = 0; i < state.more; i++) await extendOverview(DRAW_CAP + (i + 1) * SHOW_MORE);
  fillFromCandidates();
  await fetchMarks(view.nodes);
}

// extendOverview makes sure the overview has at least want candidates, if
// the graph has them: further pages of the core's facts, then more core
// entities.
async function extendOverview(want) {
  if (view.candidates.length >= want) return;
  const more = view.core.filter((id) => { const a = known.adj.get(id); return a && (a.outMore || a.inMore); });
  if (more.length) {
    await fetchNeighbours(more.slice(0, api.NEIGHBOURS_BATCH), true);
  } else if (view.coreNext.length) {
    const next = view.coreNext.splice(0, CORE_MAX);
    view.core.push(...next);
    await fetchNeighbours(next);
  }
  view.candidates = overviewCandidates();
}

// showWaicUSSponsors draws the answer of sponsorshipsByYear(series: "waic",
// sponsorCountry: "US"): the editions, one column per year, and their US
// sponsors fanned out below them, linked by tier-labelled edges.
async function showWaicUSSponsors() {
  view = newView("waic-us", "US sponsors of WAIC by year");
  const data = await api.gql(endpoint, api.WAIC_US_BY_YEAR);
  const years = data.sponsorshipsByYear;
  view.facts = new Set();
  view.positions = new Map();
  const SPREAD = (24 * Math.PI) / 180, RADIUS = 320, STAGGER = 70, COLUMN = 520;
  years.forEach((y, col) => {
    const x = col * COLUMN;
    y.events.forEach((ev, i) => {
      addEntity(ev);
      view.nodes.add(ev.id);
      view.positions.set(ev.id, { x: x + i * 60, y: 0 });
    });
    const k = y.sponsorships.length;
    y.sponsorships.forEach((s, i) => {
      const f = addFact(s);
      view.nodes.add(f.subjectId);
      view.facts.add(f.id);
      if (view.positions.has(f.subjectId)) return;
      const ev = view.positions.get(f.objectId) || { x, y: 0 };
      const a = Math.PI / 2 + (i - (k - 1) / 2) * SPREAD, r = RADIUS + (i % 2) * STAGGER;
      view.positions.set(f.subjectId, { x: ev.x + r * Math.cos(a), y: ev.y + r * Math.sin(a) });
    });
  });
  const summary = years.map((y) => `${y.year}: ${y.sponsorships.map((s) => `${s.subject.name} (${tierLabel(s.tier, s.tierSize)})`).join(", ") || "none"}`).join(" · ");
  view.title = `US sponsors of WAIC by year — ${summary}`;
  view.candidates = [...view.nodes];
  explorer.preset = data;
  await fetchMarks(view.nodes);
}

// showAll draws every entity and fact, for a graph small enough to draw.
async function showAll() {
  view = newView("all", "Whole graph");
  const s = await fetchStats();
  if (s.entities > api.WHOLE_LIMIT.entities || s.facts > api.WHOLE_LIMIT.facts) {
    throw new api.APIError(`the graph holds ${formatNumber(s.entities)} entities and ${formatNumber(s.facts)} facts, too many to draw at once; start from the overview, a search or a node`);
  }
  let ea = null, fa = null, entities = true, facts = true;
  for (let page = 0; (entities || facts) && page < 10; page++) {
    const data = await api.gql(endpoint, api.WHOLE, { kinds: api.KINDS, ea, fa, entities, facts });
    if (entities) {
      for (const e of data.entities.nodes) view.nodes.add(addEntity(e).id);
      entities = data.entities.pageInfo.hasNextPage;
      ea = data.entities.pageInfo.endCursor;
    }
    if (facts) {
      for (const f of data.facts.nodes) addFact(f);
      facts = data.facts.pageInfo.hasNextPage;
      fa = data.facts.pageInfo.endCursor;
    }
  }
  view.candidates = [...view.nodes];
  await fetchMarks(view.nodes);
}

// showEntityView draws one entity and its neighbours.
async function showEntityView(id) {
  // The same pages as a click fetches, so the picture is the same.
  const detail = known.adj.has(id) && known.entities.has(id) ? true : await fetchDetail(id);
  if (!detail) {
    setStatus("load-status", "The entity the link names is not in the graph; showing the overview.");
    state.view = "overview";
    state.focus = "";
    return showOverview();
  }
  view = newView("entity", "");
  const e = known.entities.get(id);
  view.title = `Around ${e.name}: its facts and neighbours`;
  view.core = [id];
  view.candidates = rankCandidates([id], [id, ...neighbours(id)]);
  view.nodes = new Set();
  fillFromCandidates();
  await fetchMarks(view.nodes);
}

// openView draws the view a state names, then replays its expansions in the
// order they were made, each grown around its node as the click grew it.
async function openView() {
  switch (state.view) {
    case "waic-us": await showWaicUSSponsors(); break;
    case "all": await showAll(); break;
    case "entity": await showEntityView(state.focus); break;
    default: await showOverview();
  }
  const expand = state.expand.filter((id) => id !== state.focus);
  await fetchNeighbours(expand);
  const later = new Set();
  for (const id of expand) for (const n of [id, ...neighbours(id)]) later.add(n);
  await fetchMarks([...view.nodes, ...[...later].filter((id) => known.entities.has(id))]);
  const t0 = performance.now();
  draw();
  // How long drawing took, and its parts, for the scale test's log.
  explorer.lastDraw = { ...timings, layoutMs: Math.round(performance.now() - t0), nodes: cy.nodes().length, at: Math.round(t0) };
  for (const id of expand) {
    if (!known.entities.has(id)) continue;
    addNeighboursToView(id);
    grow(id);
  }
}

// addNeighboursToView adds an entity and its fetched neighbours to the view,
// and returns the entities it added. The preset draws only its own facts; an
// expansion adds the expanded entity's.
function addNeighboursToView(id) {
  const added = new Set();
  const add = (n) => {
    const e = known.entities.get(n);
    if (!e || view.nodes.has(n) || (view.excludeKinds.has(e.kind) && n !== id)) return;
    added.add(n);
    view.nodes.add(n);
  };
  add(id);
  for (const n of neighbours(id)) add(n);
  if (view.facts) {
    const a = known.adj.get(id);
    for (const fid of a ? [...a.out, ...a.in] : []) view.facts.add(fid);
  }
  return added;
}

// switchView opens a view chosen by the user: a fresh picture, no
// expansions, the filters kept.
async function switchView(name, focus = "") {
  const before = { ...state, expand: [...state.expand] }, drawn = view;
  Object.assign(state, { view: name, focus, more: 0, expand: [], sel: "" });
  try {
    await openView();
  } catch (err) {
    // The picture did not change: neither do the view and the URL.
    state = before;
    view = drawn;
    throw err;
  }
  cy.elements().unselect();
}

// showMore draws SHOW_MORE more of what the view found, fetching more when
// the overview has drawn all it has.
async function showMore() {
  state.more++;
  if (view.name === "overview") {
    await extendOverview(cap());
    fillFromCandidates();
  } else {
    fillFromCandidates();
  }
  await fetchMarks(view.nodes);
  grow(view.core[0] || "");
}

// --- filters -----------------------------------------------------------------

function factPasses(f) {
  if (!f) return true;
  if (filters.relation && f.predicate !== filters.relation) return false;
  if (filters.year && String(f.year ?? "") !== filters.year) return false;
  if (filters.country) {
    const s = known.entities.get(f.subjectId), o = known.entities.get(f.objectId);
    if (entityCountry(s) !== filters.country && entityCountry(o) !== filters.country) return false;
  }
  return true;
}

function nodePassesAlone(e) {
  if (!e) return false;
  if (filters.relation) return false;
  if (filters.country && entityCountry(e) !== filters.country) return false;
  if (filters.year && String(e.year ?? "") !== filters.year) return false;
  return true;
}

// applyFilters hides what the year, country and relation filters exclude:
// an edge shows when its fact passes; a node when an edge of it shows, or
// when it matches the filters itself.
function applyFilters(relabel = true) {
  const active = filters.year || filters.country || filters.relation;
  cy.batch(() => {
    if (!active) {
      cy.elements().removeClass("filtered");
      return;
    }
    const keep = new Set();
    cy.edges().forEach((edge) => {
      const ok = factPasses(known.facts.get(edge.id()));
      edge.toggleClass("filtered", !ok);
      if (ok) { keep.add(edge.source().id()); keep.add(edge.target().id()); }
    });
    cy.nodes().forEach((n) => {
      n.toggleClass("filtered", !(keep.has(n.id()) || nodePassesAlone(known.entities.get(n.id()))));
    });
  });
  if (relabel) arrangeLabels();
}

const FILTER_SELECTS = [["year", "filter-year"], ["country", "filter-country"], ["relation", "filter-relation"]];

// fillFilterOptions offers the years, countries and relations of what the
// page has loaded (the filters act on the drawing and the timeline), keeping
// the current choice.
function fillFilterOptions() {
  const years = new Set(), countries = new Set(), relations = new Set();
  for (const f of known.facts.values()) {
    if (f.year) years.add(String(f.year));
    if (f.objectId) relations.add(f.predicate);
  }
  for (const e of known.entities.values()) {
    if (e.year) years.add(String(e.year));
    if (entityCountry(e)) countries.add(entityCountry(e));
  }
  const fill = (id, values, text) => {
    const select = $(id);
    const current = select.value;
    if (current) values.add(current);
    const sorted = [...values].sort();
    const have = [...select.options].slice(1).map((o) => o.value);
    if (have.length === sorted.length && have.every((v, i) => v === sorted[i])) return;
    select.replaceChildren(select.options[0], ...sorted.map((v) => el("option", { value: v }, text(v))));
    select.value = current;
  };
  fill("filter-year", years, String);
  fill("filter-country", countries, (c) => c);
  fill("filter-relation", relations, predicateLabel);
}

function setFiltersFromState() {
  for (const [key, id] of FILTER_SELECTS) {
    filters[key] = state[key];
    const select = $(id);
    if (state[key] && ![...select.options].some((o) => o.value === state[key])) {
      select.append(el("option", { value: state[key] }, key === "relation" ? predicateLabel(state[key]) : state[key]));
    }
    select.value = state[key];
  }
}

function clearFilters() {
  for (const [key, id] of FILTER_SELECTS) {
    filters[key] = "";
    state[key] = "";
    $(id).value = "";
  }
  applyFilters();
}

// --- controls ----------------------------------------------------------------

const VIEW_BUTTONS = { "waic-us": "preset-waic-us", overview: "view-overview", all: "view-all" };

// renderControls shows which view is drawn (the pressed button and the
// caption name the same view, the one on the canvas), how much of it, and
// whether there is more.
function renderControls() {
  for (const [name, id] of Object.entries(VIEW_BUTTONS)) $(id).setAttribute("aria-pressed", String(view.name === name));
  $("graph-caption").textContent = view.title;
  $("cy").dataset.view = view.name;
  const drawn = cy.nodes().length;
  const found = new Set([...view.candidates, ...view.nodes]).size;
  const parts = [`${formatNumber(drawn)} entit${drawn === 1 ? "y" : "ies"} drawn`];
  if (found > drawn) parts.push(`of ${formatNumber(found)} found so far`);
  if (stats) parts.push(`the graph holds ${formatNumber(stats.entities)}`);
  $("graph-count").textContent = parts.join(", ") + ".";
  const more = $("show-more");
  const moreAvailable = found > drawn || (view.name === "overview" && (view.coreNext.length > 0 || view.core.some((id) => { const a = known.adj.get(id); return a && (a.outMore || a.inMore); })));
  // A link replays at most MAX_MORE presses; past them, search or click.
  more.hidden = !moreAvailable || state.more >= MAX_MORE;
  more.textContent = found > drawn ? `Show ${Math.min(SHOW_MORE, found - drawn)} more` : `Find ${SHOW_MORE} more`;
  if (stats) {
    const tooBig = stats.entities > api.WHOLE_LIMIT.entities || stats.facts > api.WHOLE_LIMIT.facts;
    $("view-all").disabled = tooBig;
    $("view-all").title = tooBig ? `The graph holds ${formatNumber(stats.entities)} entities: too many to draw at once` : "";
  }
}

function setStatus(id, text) {
  $(id).textContent = text;
}

function showHint() {
  const s = stats ? ` The graph holds ${formatNumber(stats.entities)} entities and ${formatNumber(stats.facts)} facts.` : "";
  setStatus("load-status", `${view.title.split(" — ")[0]}: ${cy.nodes().length} entities and ${cy.edges().length} facts drawn; ${api.traffic.requests} requests to ${endpoint} so far.${s}`);
}

// --- the URL -----------------------------------------------------------------

let writtenHash = "";

// saveState writes the state into the URL's fragment (replacing the history
// entry: the back button leaves the explorer rather than undoing clicks).
function saveState() {
  for (const [key] of FILTER_SELECTS) state[key] = filters[key];
  const sel = cy.$(":selected");
  state.sel = sel.length === 1 ? sel.id() : "";
  writtenHash = formatState(state);
  if (location.hash !== writtenHash) history.replaceState(null, "", writtenHash);
}

// --- evidence ----------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null && c !== "") e.append(c);
  return e;
}

function entityButton(ent) {
  if (!ent) return "";
  return el("button", { type: "button", class: "link", onclick: guard(() => focusNode(ent.id)) }, ent.name);
}

// sentenceNodes renders a fact's sentence with its entities as buttons.
function sentenceNodes(f) {
  return sentenceParts(f).map((p) => (typeof p === "string" ? p : entityButton(p.entity)));
}

function factItem(f) {
  const when = formatSpan(f.date, f.start, f.end);
  return el("li", { class: "fact" + (f.negated ? " negated" : ""), "data-fact": f.id },
    el("p", { class: "claim" }, sentenceNodes(f),
      when ? el("span", { class: "when" }, " · ", el("time", { datetime: (f.date || f.start || f.end).value }, when)) : ""),
    el("ul", { class: "evidence-list" }, (f.evidence || []).map((ev) => el("li", {},
      el("blockquote", { lang: "vi", class: "quote" }, ev.quote),
      ev.gloss ? el("p", { lang: "en", class: "gloss" }, ev.gloss) : "",
      ev.note ? el("p", { class: "note" }, "Note: ", ev.note) : "",
      sourceLine(ev.source),
    ))),
  );
}

function sourceLine(s) {
  if (!s) return "";
  return el("p", { class: "source" }, "Source: ",
    el("cite", { lang: "vi" }, s.title),
    s.titleEn ? el("span", { lang: "en" }, ` (“${s.titleEn}”)`) : "",
    s.author ? `, by ${s.author}` : "",
    s.publisher ? `, ${s.publisher}` : "",
    s.publishedAt ? [", published ", el("time", { datetime: s.publishedAt }, formatTimestamp(s.publishedAt))] : "",
  );
}

let evidenceToken = 0;

// detailVars are the variables of ENTITY_DETAIL for the next page of an
// entity's facts.
function detailVars(id, next) {
  return {
    id, ref: id, kinds: api.KINDS, literal: api.LITERAL_PREDICATES, n: api.NEIGHBOURS_PAGE,
    oa: next ? next.out : null, ia: next ? next.in : null, la: next ? next.literal : null,
  };
}

// fetchDetail fetches an entity, a page of its facts with their evidence,
// and records the linking ones as its neighbours (the same pages as
// fetchNeighbours).
async function fetchDetail(id, next = null) {
  const data = await api.gql(endpoint, api.ENTITY_DETAIL, detailVars(id, next));
  if (!data.entity) return null;
  addEntity(data.entity);
  // The first page of an entity's neighbours is recorded once (a later page
  // may have been fetched since); a next page, when there is one.
  const a = known.adj.get(id);
  if (!a || (next && a.outMore)) recordAdjacency(id, "out", data.out);
  if (!a || (next && a.inMore)) recordAdjacency(id, "in", data.in);
  const facts = [...data.out.nodes, ...data.in.nodes, ...data.literal.nodes].map((f) => addFact(f));
  return { entity: data.entity, facts, pages: { out: data.out, in: data.in, literal: data.literal } };
}

function sortFacts(facts) {
  return [...facts].sort((a, b) => (a.predicate === "SPONSORED" ? -1 : 0) - (b.predicate === "SPONSORED" ? -1 : 0) || (a.year ?? 0) - (b.year ?? 0));
}

// showEntity fills the evidence panel with an entity's facts (a page of each
// kind, "Show more facts" for the next) and adds its neighbours to the graph.
async function showEntity(id) {
  const token = ++evidenceToken;
  const ent = known.entities.get(id);
  $("evidence").replaceChildren(el("p", { class: "hint" }, `Loading the facts about ${ent ? ent.name : "the entity"}…`));
  const detail = await fetchDetail(id);
  if (!detail) return;
  await expandNode(id);
  if (token !== evidenceToken) return;
  renderEntity(id, detail);
}

function renderEntity(id, detail, list = null) {
  const ent = known.entities.get(id);
  const country = entityCountry(ent);
  const facts = list || el("ol", { class: "facts" });
  facts.append(...sortFacts(detail.facts).map((f) => factItem({ ...f, subject: f.subject, object: f.object })));
  const p = detail.pages;
  const total = p.out.totalCount + p.in.totalCount + p.literal.totalCount;
  const moreFacts = ["out", "in", "literal"].some((k) => p[k].pageInfo.hasNextPage);
  const next = { out: p.out.pageInfo.hasNextPage ? p.out.pageInfo.endCursor : null, in: p.in.pageInfo.hasNextPage ? p.in.pageInfo.endCursor : null, literal: p.literal.pageInfo.hasNextPage ? p.literal.pageInfo.endCursor : null };
  const moreButton = moreFacts ? el("button", { type: "button", class: "more-facts", onclick: guard(async (ev) => {
    ev.target.disabled = true;
    const d = await fetchNextDetail(id, next);
    ev.target.remove();
    if (d) renderEntity(id, d, facts);
  }) }, `Show more facts (${formatNumber(total - facts.children.length)} more)`) : "";
  if (list) { if (moreButton) list.after(moreButton); return; }
  $("evidence").replaceChildren(
    el("h3", { class: "entity-name" }, detail.entity.name),
    el("p", { class: "meta" }, predicateLabel(detail.entity.kind), country ? ` · ${country}` : "",
      ent?.marked ? el("span", { class: "badge" }, ent.marked === "sanctioned" ? "sanctioned" : "export-controlled") : ""),
    detail.entity.description ? el("p", { class: "description" }, detail.entity.description) : "",
    el("p", { class: "entity-actions" },
      el("button", { type: "button", onclick: guard(() => switchView("entity", id).then(() => selectNode(id))) }, `Draw only ${detail.entity.name} and its neighbours`)),
    el("h4", {}, `${formatNumber(total)} fact${total === 1 ? "" : "s"}`),
    facts,
    moreButton,
  );
}

// fetchNextDetail fetches the next page of an entity's facts and draws its
// new neighbours.
async function fetchNextDetail(id, next) {
  const d = await fetchDetail(id, next);
  if (!d) return null;
  addNeighboursToView(id);
  await fetchMarks(view.nodes);
  grow(id);
  return d;
}

async function showFact(id) {
  const token = ++evidenceToken;
  $("evidence").replaceChildren(el("p", { class: "hint" }, "Loading the fact…"));
  const data = await api.gql(endpoint, api.FACT, { id });
  if (token !== evidenceToken || !data.fact) return;
  addFact(data.fact);
  $("evidence").replaceChildren(el("h3", { class: "entity-name" }, "Fact"), el("ol", { class: "facts" }, factItem(data.fact)));
}

// expandNode draws the fetched neighbours of a node (a click) and records
// the expansion in the URL.
async function expandNode(id) {
  const added = addNeighboursToView(id);
  if (!state.expand.includes(id) && !(view.name === "entity" && state.focus === id)) state.expand.push(id);
  await fetchMarks(view.nodes);
  // Even with no new node, the view may have new facts (the preset's).
  grow(id);
}

function selectNode(id) {
  const node = cy.getElementById(id);
  if (node.empty()) return;
  cy.elements().unselect();
  node.select();
  centreOn(node);
}

// focusNode brings an entity into the view (if it is not there), selects and
// centres it, and shows its evidence; with factId, the fact's.
async function focusNode(id, factId) {
  let node = cy.getElementById(id);
  if (node.empty()) {
    await fetchNeighbours([id]);
    if (!known.entities.has(id)) return;
    addNeighboursToView(id);
    if (!state.expand.includes(id)) state.expand.push(id);
    await fetchMarks(view.nodes);
    grow(id);
    node = cy.getElementById(id);
  }
  if (node.hasClass("filtered")) clearFilters();
  selectNode(id);
  if (factId) {
    await showFact(factId);
  } else {
    await showEntity(id);
  }
  centreOn(cy.getElementById(id));
  saveState();
}

// centreOn pans so that the node itself (not the box around it and its
// label, which cy.center would use) is in the middle of the graph.
function centreOn(node) {
  if (node.empty()) return;
  if (cy.zoom() < 0.9) cy.zoom(0.9);
  const p = node.position(), z = cy.zoom();
  cy.pan({ x: cy.width() / 2 - p.x * z, y: cy.height() / 2 - p.y * z });
}

// --- search ------------------------------------------------------------------

async function search(text, focus = true) {
  const list = $("search-results");
  list.replaceChildren();
  state.q = text.trim();
  if (!state.q) { setStatus("search-status", ""); saveState(); return; }
  const data = await api.gql(endpoint, api.SEARCH, { text });
  const hits = data.search;
  if (!hits.length) { setStatus("search-status", `No entity matches “${text}”.`); saveState(); return; }
  setStatus("search-status", `${hits.length} match${hits.length === 1 ? "" : "es"}${focus ? `; showing ${hits[0].entity.name}` : ""}.`);
  for (const h of hits) {
    addEntity(h.entity);
    list.append(el("li", {}, el("button", { type: "button", class: "link", onclick: guard(() => focusNode(h.entity.id)) },
      h.entity.name, el("span", { class: "kind" }, ` ${predicateLabel(h.entity.kind)}`))));
  }
  if (focus) await focusNode(hits[0].entity.id);
  else saveState();
}

// --- timeline ----------------------------------------------------------------

// The timeline is a page of the API's dated facts (see api.TIMELINE), asked
// again when a filter changes; "Show more" asks for the next page. With no
// year chosen, the years are asked a window at a time (api.timelineWindows,
// from the counts of stats.factYears), so that each request reads a bounded
// number of facts however large the graph: "Show more" pages through a
// window, then moves to the next.
const timeline = { dated: [], undated: [], after: null, more: false, total: 0, token: 0, windows: [], window: 0, seen: 0 };

async function loadTimeline(next = false) {
  const token = ++timeline.token;
  const preds = filters.relation ? [filters.relation] : api.TIMELINE_PREDICATES;
  if (!next) {
    if (filters.year) {
      timeline.windows = [{ from: Number(filters.year), to: Number(filters.year) }];
    } else {
      const { windows, total } = api.timelineWindows((await fetchStats()).factYears, preds);
      if (token !== timeline.token) return;
      timeline.windows = windows;
      timeline.total = total;
    }
    timeline.window = 0;
    timeline.after = null;
    timeline.seen = 0;
  } else if (!timeline.more) {
    if (timeline.window >= timeline.windows.length - 1) return;
    timeline.window++;
    timeline.after = null;
  }
  let data, first = !next;
  for (;;) {
    const w = timeline.windows[timeline.window];
    data = await api.gql(endpoint, api.TIMELINE, {
      preds, from: w.from, to: w.to,
      country: filters.country || null,
      first: api.TIMELINE_PAGE,
      after: timeline.after,
      undated: first && !filters.year && (!filters.relation || filters.relation === "IMPOSED_BY"),
    });
    if (token !== timeline.token) return;
    if (first) {
      timeline.dated = [];
      timeline.undated = data.undated ? data.undated.nodes.filter((f) => f.year == null && !f.date && !f.start).map((f) => addFact(f)) : [];
      first = false;
    }
    // A window the filters leave empty is skipped, so that a page shows something.
    if (data.dated.nodes.length || timeline.window >= timeline.windows.length - 1) break;
    timeline.window++;
    timeline.after = null;
  }
  timeline.dated.push(...data.dated.nodes.map((f) => addFact(f)));
  timeline.after = data.dated.pageInfo.endCursor;
  timeline.more = data.dated.pageInfo.hasNextPage;
  if (!timeline.more) timeline.seen += data.dated.totalCount;
  const later = timeline.window < timeline.windows.length - 1;
  // The total: one request's count for a chosen year; else the counts of the
  // windows, which a country filter narrows to what the windows read so far.
  if (filters.year) timeline.total = data.dated.totalCount;
  else if (filters.country) timeline.total = timeline.seen + (timeline.more ? data.dated.totalCount : 0);
  timeline.later = later;
  renderTimeline();
}

const CARD_KINDS = {
  HELD_ON: "event", HELD_IN: "event", LAUNCHED: "launch", OPERATES: "facility", MEASURE: "figure", TARGET: "target",
};

// timelineItem turns a fact into a card: its date at its precision, what it
// is about, its sentence, and the node it selects.
function timelineItem(f) {
  const g = withEnds(f);
  const d = f.date || f.start || f.end;
  const when = formatSpan(f.date, f.start, f.end) || (f.year ? String(f.year) : "");
  const key = d ? sortKey(d) : f.year ? String(f.year) : "";
  // ISSUED, LAUNCHED and OPERATES are about their object (the plan, the
  // product, the facility); the others about their subject.
  const aboutObject = ["ISSUED", "LAUNCHED", "OPERATES"].includes(f.predicate) && f.objectId;
  const about = aboutObject ? g.object : g.subject;
  let kind = CARD_KINDS[f.predicate] || "fact";
  if (f.predicate === "ISSUED" || f.predicate === "IMPOSED_BY") kind = predicateLabel(about.kind);
  return { key, when, kind, text: sentence(g), node: about.id, fact: f.id, year: f.year };
}

function renderTimeline() {
  const list = $("timeline");
  const datedSubjects = new Set(timeline.dated.filter((f) => f.predicate === "ISSUED").map((f) => f.objectId));
  const items = [
    ...timeline.dated.map(timelineItem),
    // A measure dated by its ISSUED fact is not listed again as undated.
    ...timeline.undated.filter((f) => !datedSubjects.has(f.subjectId)).map(timelineItem),
  ];
  items.sort((a, b) => (a.key === "" ? 1 : 0) - (b.key === "" ? 1 : 0) || a.key.localeCompare(b.key) || a.text.localeCompare(b.text));
  list.replaceChildren(...items.map((it) => el("li", { class: `tl-item tl-${it.kind.replaceAll(" ", "-")}` },
    el("button", { type: "button", class: "tl-button", "data-node": it.node, "data-fact": it.fact, onclick: guard(() => focusNode(it.node, it.fact)) },
      el("span", { class: "tl-when" }, it.when ? el("time", { datetime: it.key }, it.when) : "undated"),
      el("span", { class: "tl-kind" }, it.kind),
      el("span", { class: "tl-title" }, it.text),
    ))));
  const shownDated = timeline.dated.length;
  const atLeast = filters.country && timeline.later ? "at least " : "";
  setStatus("timeline-status", timeline.total
    ? `${formatNumber(shownDated)} of ${atLeast}${formatNumber(timeline.total)} dated facts${filters.year || filters.country || filters.relation ? " matching the filters" : ""}, by date.`
    : timeline.later ? "No dated fact matches the filters in the years read so far." : "No dated fact matches the filters.");
  $("timeline-more").hidden = !timeline.more && !timeline.later;
}

// --- live --------------------------------------------------------------------

// live follows the facts written while the page is open (factChanged over
// server-sent events) and shows each without a reload: a fact that links an
// entity drawn to another is drawn with both its ends, a dated one joins the
// timeline, a retracted one leaves both. A dropped stream is opened again
// from the last version seen, so nothing is missed or shown twice.
const live = { version: null, events: 0, connected: false };

async function follow() {
  for (let wait = 1000; ; wait = Math.min(wait * 2, 30000)) {
    try {
      live.connected = true;
      await api.subscribe(endpoint, api.LIVE_FACTS, { since: live.version }, (data) => {
        wait = 1000;
        onFactEvent(data.factChanged);
      });
    } catch (err) {
      console.warn("explorer: live updates:", err.message);
    }
    live.connected = false;
    await new Promise((done) => setTimeout(done, wait));
  }
}

function onFactEvent(ev) {
  live.version = ev.version;
  live.events++;
  const f = addFact(ev.fact);
  if (ev.change === "RETRACTED") {
    known.facts.delete(f.id);
    cy.getElementById(f.id).remove();
    timeline.dated = timeline.dated.filter((x) => x.id !== f.id);
    timeline.undated = timeline.undated.filter((x) => x.id !== f.id);
    renderTimeline();
    return;
  }
  for (const [id, dir] of [[f.subjectId, "out"], [f.objectId, "in"]]) {
    const a = id && known.adj.get(id);
    if (a && !a[dir].includes(f.id)) { a[dir].push(f.id); a[dir + "Total"]++; }
  }
  const drawn = view.nodes.has(f.subjectId) ? f.subjectId : f.objectId && view.nodes.has(f.objectId) ? f.objectId : "";
  if (f.objectId && drawn && !f.negated) {
    view.nodes.add(f.subjectId);
    view.nodes.add(f.objectId);
    if (view.facts) view.facts.add(f.id);
    grow(drawn);
  }
  const listed = filters.relation ? f.predicate === filters.relation : api.TIMELINE_PREDICATES.includes(f.predicate);
  const inYear = !filters.year || String(f.year) === filters.year;
  if (listed && inYear && !f.negated && !timeline.dated.some((x) => x.id === f.id)) {
    if (f.year != null || f.date || f.start) timeline.dated.push(f);
    else if (f.predicate === "IMPOSED_BY") timeline.undated.push(f);
    renderTimeline();
  }
}

// --- exports -----------------------------------------------------------------

// drawnEntities and drawnFacts are the subgraph on the canvas (the filters
// applied).
function drawnEntities() {
  return shown().nodes().map((n) => known.entities.get(n.id())).filter(Boolean);
}

// exportCSV returns the drawn nodes, and the drawn edges with their
// evidence (asked of the API in bounded batches), as CSV texts.
async function exportCSV() {
  const facts = shown().edges().map((e) => known.facts.get(e.id())).filter(Boolean);
  const missing = facts.filter((f) => !f.evidence || !f.evidence.some((ev) => ev.source && "title" in ev.source)).map((f) => f.id);
  for (let i = 0; i < missing.length; i += api.EVIDENCE_BATCH) {
    const data = await api.gql(endpoint, api.EVIDENCE, { ids: missing.slice(i, i + api.EVIDENCE_BATCH) });
    for (const n of data.nodes) if (n) known.facts.get(n.id).evidence = n.evidence;
  }
  return {
    nodes: nodesCSV(drawnEntities()),
    edges: edgesCSV(facts.map((f) => withEnds(known.facts.get(f.id)))),
  };
}

// exportPNG returns the picture of the whole drawn graph.
function exportPNG() {
  return cy.png({ output: "blob", full: true, scale: 2, bg: "#ffffff", maxWidth: 8000, maxHeight: 8000 });
}

function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  setStatus("export-status", `Saved ${name} (${formatNumber(blob.size)} bytes).`);
}

function exportName(ext) {
  return `policygraph-${view.name}.${ext}`;
}

// --- start -------------------------------------------------------------------

// guard runs an action, keeping count of the work in flight (ready is true
// when there is none) and reporting a failure in the status line.
function guard(fn) {
  return (...args) => {
    busy++;
    explorer.ready = false;
    // fn's synchronous part runs now (a filter applies at once); what it
    // awaits, later.
    let run;
    try {
      run = Promise.resolve(fn(...args));
    } catch (err) {
      run = Promise.reject(err);
    }
    return run
      .catch((err) => {
        setStatus("load-status", `Error: ${err.message}`);
        console.error("explorer:", err);
      })
      .finally(() => {
        busy--;
        if (busy === 0) explorer.ready = true;
      });
  };
}

// restore draws the picture a URL names: the filters, the view and its
// expansions, the search and the selection.
async function restore() {
  state = parseState(location.hash);
  const { sel, q } = state;
  setFiltersFromState();
  $("search-input").value = q;
  const tl = loadTimeline();
  await openView();
  if (q) await search(q, false);
  if (sel) {
    const node = cy.getElementById(sel);
    if (node.nonempty()) {
      selectNode(sel);
      await showEntity(sel);
      selectNode(sel);
    } else {
      // A fact, drawn or not; an ID the graph does not hold is ignored.
      const f = known.facts.get(sel) || (await api.gql(endpoint, api.FACT, { id: sel }).catch(() => ({})))?.fact;
      if (f) {
        const edge = cy.getElementById(sel);
        if (edge.nonempty()) { cy.elements().unselect(); edge.select(); centreOn(edge.source()); }
        await showFact(sel);
      }
    }
    saveState();
  }
  await tl;
  await fetchStats();
  renderControls();
  showHint();
}

async function main() {
  cy = window.cytoscape({
    container: $("cy"), style: cyStyle(), wheelSensitivity: 0.3, minZoom: 0.15, maxZoom: 3,
    selectionType: "single", boxSelectionEnabled: false,
  });
  Object.assign(explorer, {
    cy, known, foldText, timeline,
    state: () => ({ ...state, expand: [...state.expand] }),
    labelOverlaps: () => labelOverlaps(cy).count,
    labelReport: () => {
      const r = labelOverlaps(cy), d = drawnLabels(cy);
      return { overlaps: r.count, pairs: r.pairs, nodeLabels: d.filter((x) => x.group === "node").length, edgeLabels: d.filter((x) => x.group === "edge").length, edges: cy.edges().not(".filtered").length };
    },
    exportCSV,
    exportPNG,
    drawnNodeIds: () => cy.nodes().not(".filtered").map((n) => n.id()).sort(),
    live,
  });
  window.policygraphExplorer = explorer;

  cy.on("tap", "node", guard((ev) => { cy.elements().unselect(); ev.target.select(); return showEntity(ev.target.id()); }));
  cy.on("tap", "edge", guard((ev) => { cy.elements().unselect(); ev.target.select(); saveState(); return showFact(ev.target.id()); }));
  cy.on("select", "node", (ev) => { ev.target.connectedEdges().addClass("lit"); arrangeLabels(); saveState(); });
  cy.on("unselect", "node", (ev) => { ev.target.connectedEdges().removeClass("lit"); arrangeLabels(); });
  cy.on("select", "edge", () => arrangeLabels());
  cy.on("mouseover", "node, edge", (ev) => ev.target.addClass("hover"));
  cy.on("mouseout", "node, edge", (ev) => ev.target.removeClass("hover"));

  $("toolbar").addEventListener("submit", guard((ev) => { ev.preventDefault(); return search($("search-input").value); }));
  $("preset-waic-us").addEventListener("click", guard(() => switchView("waic-us")));
  $("view-overview").addEventListener("click", guard(() => switchView("overview")));
  $("view-all").addEventListener("click", guard(() => switchView("all")));
  $("view-fit").addEventListener("click", () => fitView());
  $("show-more").addEventListener("click", guard(showMore));
  $("timeline-more").addEventListener("click", guard(() => loadTimeline(true)));
  for (const [key, id] of FILTER_SELECTS) {
    $(id).addEventListener("change", guard(async (ev) => {
      filters[key] = ev.target.value;
      applyFilters();
      fitView();
      saveState();
      await loadTimeline();
    }));
  }
  $("export-nodes").addEventListener("click", guard(async () => download(exportName("nodes.csv"), new Blob([(await exportCSV()).nodes], { type: "text/csv" }))));
  $("export-edges").addEventListener("click", guard(async () => download(exportName("edges.csv"), new Blob([(await exportCSV()).edges], { type: "text/csv" }))));
  $("export-png").addEventListener("click", guard(async () => download(exportName("png"), await exportPNG())));
  // A link pasted into the address bar, or edited, redraws the picture.
  window.addEventListener("hashchange", guard(async () => {
    if (location.hash === writtenHash) return;
    cy.elements().unselect();
    await restore();
  }));

  follow();
  await restore();
}

guard(main)();
