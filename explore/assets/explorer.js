// policygraph explorer: the graph view, the evidence panel and the timeline,
// drawn from the public GraphQL API only. Cytoscape.js (window.cytoscape) is
// loaded before this module by index.html.

import * as api from "./api.js";
import {
  edgeLabel, foldText, formatPartialDate, formatQuantity, formatSpan, formatTimestamp,
  predicateLabel, sortKey, tierLabel,
} from "./format.js";

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

// The model: what the page knows of the graph, and what it shows.
const known = {
  entities: new Map(), // id -> entity (with country, marked)
  facts: new Map(), // id -> fact (core fields; subjectId, objectId)
};
// view: the nodes drawn, and (for presets) the only facts drawn among them.
// quiet: edge labels only when zoomed in (for the large, laid-out views).
let view = { name: "", nodes: new Set(), facts: null, quiet: false };
const filters = { year: "", country: "", relation: "" };

let cy;

function entityCountry(e) {
  return e.country || e.code || "";
}

function nodeDisplay(e) {
  const country = entityCountry(e);
  let s = country && e.kind !== "PLACE" ? `${e.name} · ${country}` : e.name;
  if (e.marked === "sanctioned") s += "\nSANCTIONED";
  if (e.marked === "controlled") s += "\nEXPORT-CONTROLLED";
  return s;
}

function nodeElement(e) {
  return {
    group: "nodes",
    data: {
      id: e.id, label: e.name, display: nodeDisplay(e), kind: e.kind,
      country: entityCountry(e), marked: e.marked || "",
      colour: KIND_COLOURS[e.kind] || OTHER_COLOUR, shape: KIND_SHAPES[e.kind] || "ellipse",
      ring: COUNTRY_COLOURS[entityCountry(e)] || "#4b5563",
    },
    classes: [e.marked ? "marked" : "", entityCountry(e) ? "has-country" : ""].join(" "),
  };
}

function edgeElement(f) {
  return {
    group: "edges",
    data: { id: f.id, source: f.subjectId, target: f.objectId, label: edgeLabel(f), predicate: f.predicate },
    classes: [f.negated ? "negated" : "", view.quiet ? "quiet" : ""].join(" "),
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
    // In the overview and the whole graph, edge labels show only when zoomed
    // in, or on the edges of the selected node: dozens of them around a hub
    // would cover each other and the nodes.
    { selector: "edge.quiet", style: { "min-zoomed-font-size": 11 } },
    { selector: "edge.lit", style: { "min-zoomed-font-size": 0, "font-size": 11, "z-index": 10, "text-background-opacity": 1 } },
    { selector: "edge.negated", style: { "line-style": "dashed", "line-color": "#9ca3af", "target-arrow-color": "#9ca3af" } },
    { selector: "edge:selected", style: { width: 4, "line-color": "#111827", "target-arrow-color": "#111827" } },
    { selector: ".filtered", style: { display: "none" } },
  ];
}

// --- loading -----------------------------------------------------------------

function addFact(f) {
  const fact = { ...f, subjectId: f.subject.id, objectId: f.object ? f.object.id : null };
  known.facts.set(f.id, { ...(known.facts.get(f.id) || {}), ...fact });
  return known.facts.get(f.id);
}

async function load() {
  const [entities, marked, facts] = await Promise.all([
    api.all(endpoint, api.ENTITIES, "entities"),
    api.gql(endpoint, api.MARKED),
    api.all(endpoint, api.FACTS, "facts"),
  ]);
  for (const e of entities) known.entities.set(e.id, { ...e });
  for (const { id } of marked.sanctioned.nodes) if (known.entities.has(id)) known.entities.get(id).marked = "sanctioned";
  for (const { id } of marked.controlled.nodes) if (known.entities.has(id)) known.entities.get(id).marked = "controlled";
  for (const f of facts) addFact(f);
}

// --- views -------------------------------------------------------------------

// overviewNodes: the policy core (events, series, sanctions, export controls,
// plans) and everything one fact away from it, but not the source article,
// which mentions everything.
function overviewNodes() {
  const core = new Set();
  for (const e of known.entities.values()) {
    if (["EVENT_SERIES", "EVENT", "SANCTION", "EXPORT_CONTROL", "PLAN"].includes(e.kind)) core.add(e.id);
  }
  const nodes = new Set(core);
  for (const f of known.facts.values()) {
    if (!f.objectId) continue;
    if (core.has(f.subjectId)) nodes.add(f.objectId);
    if (core.has(f.objectId)) nodes.add(f.subjectId);
  }
  for (const id of [...nodes]) if (known.entities.get(id)?.kind === "SOURCE") nodes.delete(id);
  return nodes;
}

function showOverview() {
  setView({ name: "Policy overview: events, sanctions, export controls and what they touch", nodes: overviewNodes(), facts: null });
}

function showAll() {
  setView({ name: "Whole graph", nodes: new Set(known.entities.keys()), facts: null });
}

// showWaicUSSponsors draws the answer of sponsorshipsByYear(series: "waic",
// sponsorCountry: "US"): the editions, one column per year, and their US
// sponsors below them, linked by tier-labelled edges.
async function showWaicUSSponsors() {
  setStatus("load-status", "Asking the API which US firms sponsored WAIC…");
  const data = await api.gql(endpoint, api.WAIC_US_BY_YEAR);
  const years = data.sponsorshipsByYear;
  const nodes = new Set(), facts = new Set(), positions = new Map();
  years.forEach((y, col) => {
    const x = col * 260;
    y.events.forEach((ev, i) => { nodes.add(ev.id); positions.set(ev.id, { x: x + i * 40, y: 0 }); });
    y.sponsorships.forEach((s, i) => {
      nodes.add(s.subject.id);
      facts.add(s.id);
      if (!positions.has(s.subject.id)) positions.set(s.subject.id, { x: x + (i % 2 ? 70 : -70), y: 240 + i * 90 }); // edges long enough for their tier labels
      const known_ = known.facts.get(s.id);
      if (known_) Object.assign(known_, { tier: s.tier, tierSize: s.tierSize });
    });
  });
  const summary = years.map((y) => `${y.year}: ${y.sponsorships.map((s) => `${s.subject.name} (${tierLabel(s.tier, s.tierSize)})`).join(", ") || "none"}`).join(" · ");
  setView({ name: `US sponsors of WAIC by year — ${summary}`, nodes, facts, positions });
  window.__explorer.preset = data;
  setStatus("load-status", `US sponsors of WAIC by year: ${summary}`);
}

// setView replaces what the graph draws and lays it out.
function setView(v) {
  view = { name: v.name, nodes: v.nodes, facts: v.facts, quiet: !v.positions };
  $("graph-caption").textContent = v.name;
  cy.batch(() => {
    cy.elements().remove();
    cy.add([...view.nodes].map((id) => nodeElement(known.entities.get(id))).filter(Boolean));
    cy.add(viewFacts().map(edgeElement));
  });
  applyFilters();
  if (v.positions) {
    cy.nodes().forEach((n) => { const p = v.positions.get(n.id()); if (p) n.position(p); });
    cy.fit(shown(), 60);
    if (cy.zoom() > 1.8) { cy.zoom(1.8); cy.center(shown()); }
  } else {
    layout();
  }
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
    keyed.sort((p, q) => p.a - q.a || q.degree - p.degree || p.label.localeCompare(q.label));
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
  nodes.forEach((n) => n.data("hub", n.degree(false)));
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
  stretchToCanvas(nodes);
  separateLabels(nodes);
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

function viewFacts() {
  const out = [];
  for (const f of known.facts.values()) {
    if (!f.objectId || !view.nodes.has(f.subjectId) || !view.nodes.has(f.objectId)) continue;
    if (view.facts && !view.facts.has(f.id)) continue;
    out.push(f);
  }
  return out;
}

// expand adds the neighbours of node id (from its facts, as the API gave
// them) to the view, on a ring around it, without moving the rest.
function expand(id, facts) {
  const centre = cy.getElementById(id);
  if (centre.empty()) return;
  const added = [];
  for (const f of facts) {
    if (view.facts) view.facts.add(f.id);
    for (const other of [f.subjectId, f.objectId]) {
      if (other && !view.nodes.has(other) && known.entities.has(other)) {
        view.nodes.add(other);
        added.push(other);
      }
    }
  }
  const c = centre.position();
  cy.batch(() => {
    added.forEach((nid, i) => {
      const angle = (2 * Math.PI * i) / Math.max(added.length, 1);
      const r = 140 + 20 * (i % 3);
      cy.add({ ...nodeElement(known.entities.get(nid)), position: { x: c.x + r * Math.cos(angle), y: c.y + r * Math.sin(angle) } });
    });
    for (const f of viewFacts()) if (cy.getElementById(f.id).empty()) cy.add(edgeElement(f));
  });
  applyFilters();
}

// --- filters -----------------------------------------------------------------

function factPasses(f) {
  if (filters.relation && f.predicate !== filters.relation) return false;
  if (filters.year && String(f.year ?? "") !== filters.year) return false;
  if (filters.country) {
    const s = known.entities.get(f.subjectId), o = known.entities.get(f.objectId);
    if (entityCountry(s || {}) !== filters.country && entityCountry(o || {}) !== filters.country) return false;
  }
  return true;
}

function nodePassesAlone(e) {
  if (filters.relation) return false;
  if (filters.country && entityCountry(e) !== filters.country) return false;
  if (filters.year && String(e.year ?? "") !== filters.year) return false;
  return true;
}

// applyFilters hides what the year, country and relation filters exclude:
// an edge shows when its fact passes; a node when an edge of it shows, or
// when it matches the filters itself.
function applyFilters() {
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
  renderTimeline();
}

function fillFilterOptions() {
  const years = new Set(), countries = new Set(), relations = new Set();
  for (const f of known.facts.values()) {
    if (f.year) years.add(f.year);
    if (f.objectId) relations.add(f.predicate);
  }
  for (const e of known.entities.values()) {
    if (e.year) years.add(e.year);
    if (entityCountry(e)) countries.add(entityCountry(e));
  }
  const fill = (select, values, text) => {
    for (const v of values) {
      const o = document.createElement("option");
      o.value = String(v);
      o.textContent = text(v);
      select.append(o);
    }
  };
  fill($("filter-year"), [...years].sort(), String);
  fill($("filter-country"), [...countries].sort(), (c) => c);
  fill($("filter-relation"), [...relations].sort(), predicateLabel);
  for (const [key, id] of [["year", "filter-year"], ["country", "filter-country"], ["relation", "filter-relation"]]) {
    $(id).addEventListener("change", (ev) => { filters[key] = ev.target.value; applyFilters(); fitView(); });
  }
}

// --- selection, evidence -----------------------------------------------------

function setStatus(id, text) {
  $(id).textContent = text;
}

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
  return el("button", { type: "button", class: "link", onclick: () => focusNode(ent.id) }, ent.name);
}

function factObject(f) {
  if (f.object) return entityButton(f.object);
  if (f.predicate === "COUNTRY") return f.value;
  const q = formatQuantity(f.quantity);
  if (q || f.measure) return [q, f.measure ? ` ${f.measure.replaceAll("-", " ")}` : ""].join("");
  return f.value || "";
}

function factItem(f) {
  const when = formatSpan(f.date, f.start, f.end);
  const pred = f.predicate === "SPONSORED" && f.tier ? `sponsored (${tierLabel(f.tier, f.tierSize)})` : predicateLabel(f.predicate);
  return el("li", { class: "fact" + (f.negated ? " negated" : ""), "data-fact": f.id },
    el("p", { class: "claim" },
      entityButton(f.subject), " ",
      el("span", { class: "pred" }, (f.negated ? "did not: " : "") + pred + (f.role ? ` (${f.role}${f.former ? ", former" : ""})` : "")), " ",
      factObject(f),
      when ? el("span", { class: "when" }, " · ", el("time", { datetime: (f.date || f.start).value }, when)) : "",
    ),
    el("ul", { class: "evidence-list" }, f.evidence.map((ev) => el("li", {},
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

// showEntity fills the evidence panel with the facts of an entity and expands
// its neighbours in the graph.
async function showEntity(id) {
  const token = ++evidenceToken;
  const ent = known.entities.get(id);
  $("evidence").replaceChildren(el("p", { class: "hint" }, `Loading the facts about ${ent ? ent.name : id}…`));
  const data = await api.gql(endpoint, api.ENTITY_FACTS, { id });
  if (token !== evidenceToken || !data.entity) return;
  const facts = data.entity.facts.map((f) => Object.assign(addFact(f), { subject: f.subject, object: f.object, evidence: f.evidence }));
  expand(id, facts);
  const country = ent ? entityCountry(ent) : "";
  $("evidence").replaceChildren(
    el("h3", { class: "entity-name" }, data.entity.name),
    el("p", { class: "meta" }, predicateLabel(data.entity.kind), country ? ` · ${country}` : "",
      ent?.marked ? el("span", { class: "badge" }, ent.marked === "sanctioned" ? "sanctioned" : "export-controlled") : ""),
    data.entity.description ? el("p", { class: "description" }, data.entity.description) : "",
    el("h4", {}, `${facts.length} fact${facts.length === 1 ? "" : "s"}`),
    el("ol", { class: "facts" }, sortFacts(facts).map(factItem)),
  );
}

function sortFacts(facts) {
  return [...facts].sort((a, b) => (a.predicate === "SPONSORED" ? -1 : 0) - (b.predicate === "SPONSORED" ? -1 : 0) || (a.year ?? 0) - (b.year ?? 0));
}

async function showFact(id) {
  const token = ++evidenceToken;
  $("evidence").replaceChildren(el("p", { class: "hint" }, "Loading the fact…"));
  const data = await api.gql(endpoint, api.FACT, { id });
  if (token !== evidenceToken || !data.fact) return;
  $("evidence").replaceChildren(el("h3", { class: "entity-name" }, "Fact"), el("ol", { class: "facts" }, factItem(data.fact)));
}

// focusNode brings an entity into the view (if it is not there), selects and
// centres it, and shows its evidence.
async function focusNode(id, factId) {
  if (!known.entities.has(id)) return;
  let node = cy.getElementById(id);
  if (node.empty()) {
    view.nodes.add(id);
    const ext = cy.extent();
    node = cy.add({ ...nodeElement(known.entities.get(id)), position: { x: (ext.x1 + ext.x2) / 2, y: (ext.y1 + ext.y2) / 2 } });
  }
  if (node.hasClass("filtered")) {
    clearFilters();
  }
  cy.elements().unselect();
  node.select();
  centreOn(node);
  if (factId) {
    await showEntityQuietly(id);
    const edge = cy.getElementById(factId);
    if (edge.nonempty()) { cy.elements().unselect(); edge.select(); }
    centreOn(node);
    await showFact(factId);
  } else {
    await showEntity(id);
    centreOn(node);
  }
}

async function showEntityQuietly(id) {
  const data = await api.gql(endpoint, api.ENTITY_FACTS, { id });
  if (data.entity) expand(id, data.entity.facts.map(addFact));
}

// centreOn pans so that the node itself (not the box around it and its
// label, which cy.center would use) is in the middle of the graph.
function centreOn(node) {
  if (cy.zoom() < 0.9) cy.zoom(0.9);
  const p = node.position(), z = cy.zoom();
  cy.pan({ x: cy.width() / 2 - p.x * z, y: cy.height() / 2 - p.y * z });
}

function clearFilters() {
  for (const [key, id] of [["year", "filter-year"], ["country", "filter-country"], ["relation", "filter-relation"]]) {
    filters[key] = "";
    $(id).value = "";
  }
  applyFilters();
}

// --- search ------------------------------------------------------------------

async function search(text) {
  const list = $("search-results");
  list.replaceChildren();
  if (!text.trim()) { setStatus("search-status", ""); return; }
  const data = await api.gql(endpoint, api.SEARCH, { text });
  const hits = data.search;
  if (!hits.length) { setStatus("search-status", `No entity matches “${text}”.`); return; }
  setStatus("search-status", `${hits.length} match${hits.length === 1 ? "" : "es"}; showing ${hits[0].entity.name}.`);
  for (const h of hits) {
    list.append(el("li", {}, el("button", { type: "button", class: "link", onclick: () => focusNode(h.entity.id) },
      h.entity.name, el("span", { class: "kind" }, ` ${predicateLabel(h.entity.kind)}`))));
  }
  await focusNode(hits[0].entity.id);
}

// --- timeline ----------------------------------------------------------------

// timelineItems: events (their HELD_ON dates), export controls and plans
// (their ISSUED dates), sanctions (undated in the seed unless an IMPOSED_BY
// fact is dated) and every other dated fact.
function timelineItems() {
  const items = [];
  for (const e of known.entities.values()) {
    switch (e.kind) {
      case "EVENT": {
        const d = e.start || (e.year ? { value: String(e.year), precision: "YEAR" } : null);
        items.push({ kind: "event", key: sortKey(d), when: formatSpan(null, e.start, e.end) || (e.year ? String(e.year) : ""), title: e.name, node: e.id, year: e.year });
        break;
      }
      case "EXPORT_CONTROL":
        items.push({ kind: "export control", key: sortKey(e.date), when: formatPartialDate(e.date), title: e.name, node: e.id, year: e.date ? Number(e.date.value.slice(0, 4)) : null, extra: e.status ? e.status.toLowerCase().replaceAll("_", " ") : "" });
        break;
      case "PLAN":
        items.push({ kind: "plan", key: sortKey(e.date), when: formatPartialDate(e.date), title: e.name, node: e.id, year: e.date ? Number(e.date.value.slice(0, 4)) : null });
        break;
      case "SANCTION": {
        const imposed = [...known.facts.values()].find((f) => f.subjectId === e.id && f.predicate === "IMPOSED_BY" && (f.date || f.start));
        const d = imposed ? imposed.date || imposed.start : null;
        items.push({ kind: "sanction", key: sortKey(d), when: formatPartialDate(d), title: e.name, node: e.id, year: d ? Number(d.value.slice(0, 4)) : null });
        break;
      }
    }
  }
  for (const f of known.facts.values()) {
    if (!(f.date || f.start) || f.predicate === "HELD_ON" || f.predicate === "ISSUED") continue;
    const s = known.entities.get(f.subjectId), o = f.objectId ? known.entities.get(f.objectId) : null;
    if (!s) continue;
    const what = o ? o.name : [formatQuantity(f.quantity), f.measure ? f.measure.replaceAll("-", " ") : ""].filter(Boolean).join(" ");
    const d = f.date || f.start;
    items.push({ kind: f.predicate === "TARGET" ? "target" : "fact", key: sortKey(d), when: formatSpan(f.date, f.start, f.end), title: `${s.name} ${predicateLabel(f.predicate)} ${what}`.trim(), node: s.id, fact: o ? f.id : null, year: f.year });
  }
  items.sort((a, b) => (a.key === "" ? 1 : 0) - (b.key === "" ? 1 : 0) || a.key.localeCompare(b.key) || a.title.localeCompare(b.title));
  return items;
}

function renderTimeline() {
  const list = $("timeline");
  const items = timelineItems().filter((it) => !filters.year || String(it.year ?? "") === filters.year || (!it.key && !filters.year));
  list.replaceChildren(...items.map((it) => el("li", { class: `tl-item tl-${it.kind.replaceAll(" ", "-")}` },
    el("button", { type: "button", class: "tl-button", "data-node": it.node, onclick: () => focusNode(it.node, it.fact) },
      el("span", { class: "tl-when" }, it.when ? el("time", { datetime: it.key }, it.when) : "undated"),
      el("span", { class: "tl-kind" }, it.kind),
      el("span", { class: "tl-title" }, it.title, it.extra ? ` (${it.extra})` : ""),
    ))));
}

// --- start -------------------------------------------------------------------

function guard(fn) {
  return (...args) => Promise.resolve(fn(...args)).catch((err) => {
    setStatus("load-status", `Error: ${err.message}`);
    console.error("explorer:", err);
  });
}

async function main() {
  cy = window.cytoscape({
    container: $("cy"), style: cyStyle(), wheelSensitivity: 0.3, minZoom: 0.15, maxZoom: 3,
    selectionType: "single", boxSelectionEnabled: false,
  });
  window.__explorer = { cy, known, ready: false, foldText };
  cy.on("tap", "node", guard((ev) => { cy.elements().unselect(); ev.target.select(); return showEntity(ev.target.id()); }));
  cy.on("select", "node", (ev) => ev.target.connectedEdges().addClass("lit"));
  cy.on("unselect", "node", (ev) => ev.target.connectedEdges().removeClass("lit"));
  cy.on("tap", "edge", guard((ev) => { cy.elements().unselect(); ev.target.select(); return showFact(ev.target.id()); }));

  $("toolbar").addEventListener("submit", guard((ev) => { ev.preventDefault(); return search($("search-input").value); }));
  $("preset-waic-us").addEventListener("click", guard(showWaicUSSponsors));
  $("view-overview").addEventListener("click", () => showOverview());
  $("view-all").addEventListener("click", () => showAll());
  $("view-fit").addEventListener("click", () => fitView());

  await load();
  fillFilterOptions();
  showOverview();
  renderTimeline();
  setStatus("load-status", `${known.entities.size} entities and ${known.facts.size} facts loaded from ${endpoint}.`);
  window.__explorer.ready = true;
}

guard(main)();
