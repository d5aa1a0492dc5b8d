// Label geometry for the graph: where each drawn label is, whether two
// overlap, and which edge labels to draw so that none does.
//
// Cytoscape.js computes every label's box; boundingBox({includeLabels}) gives
// a node's label box, and for an edge label drawn along the edge
// (text-rotation: autorotate) the box before rotation and the angle. Boxes are
// in model coordinates, so whether two labels overlap does not depend on the
// zoom: a picture without overlaps stays without overlaps when zoomed. Labels
// that Cytoscape.js leaves out when they are too small to read at the current
// zoom (min-zoomed-font-size) are counted as drawn, for the same reason.

const LABEL_ONLY = {
  includeNodes: false, includeEdges: false, includeLabels: true, includeMainLabels: true,
  includeSourceLabels: false, includeTargetLabels: false, includeOverlays: false, includeUnderlays: false,
};

// labelShown reports whether an element's main label is drawn: it has text
// and is neither hidden nor transparent.
export function labelShown(ele) {
  if (!ele.pstyle("label").strValue) return false;
  if (ele.pstyle("display").value === "none" || ele.pstyle("visibility").value === "hidden") return false;
  if (ele.pstyle("opacity").value === 0 || ele.pstyle("text-opacity").value === 0) return false;
  if (ele.isEdge() && (ele.source().pstyle("display").value === "none" || ele.target().pstyle("display").value === "none")) return false;
  return true;
}

// labelPolygon returns the four corners of an element's label box, rotated
// as drawn, or null when it has no label. It computes the box even when the
// label is transparent, so a placement can ask where a label would go.
export function labelPolygon(ele) {
  if (!ele.pstyle("label").strValue || ele.pstyle("display").value === "none") return null;
  const bb = ele.boundingBox(LABEL_ONLY);
  if (!(bb.w > 0 && bb.h > 0)) return null;
  const p = ele[0]._private;
  const main = p.labelBounds && p.labelBounds.main;
  const angle = ele.isEdge() && p.rstyle ? p.rstyle.labelAngle || 0 : 0;
  if (!main || !angle || !(main.w > 0)) return corners(bb.x1, bb.y1, bb.x2, bb.y2, 0);
  return corners(main.x1, main.y1, main.x2, main.y2, angle);
}

function corners(x1, y1, x2, y2, angle) {
  const pts = [[x1, y1], [x2, y1], [x2, y2], [x1, y2]];
  if (!angle) return pts;
  const cx = (x1 + x2) / 2, cy = (y1 + y2) / 2, c = Math.cos(angle), s = Math.sin(angle);
  return pts.map(([x, y]) => [cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c]);
}

function bounds(poly) {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const [x, y] of poly) {
    x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x); y2 = Math.max(y2, y);
  }
  return { x1, y1, x2, y2 };
}

// intersect reports whether two convex polygons overlap, by the separating
// axis theorem; touching edges do not count.
export function intersect(a, b) {
  for (const poly of [a, b]) {
    for (let i = 0; i < poly.length; i++) {
      const [x1, y1] = poly[i], [x2, y2] = poly[(i + 1) % poly.length];
      const nx = y2 - y1, ny = x1 - x2;
      let amin = Infinity, amax = -Infinity, bmin = Infinity, bmax = -Infinity;
      for (const [x, y] of a) { const d = nx * x + ny * y; amin = Math.min(amin, d); amax = Math.max(amax, d); }
      for (const [x, y] of b) { const d = nx * x + ny * y; bmin = Math.min(bmin, d); bmax = Math.max(bmax, d); }
      if (amax <= bmin || bmax <= amin) return false;
    }
  }
  return true;
}

// A Boxes is a set of polygons with a coarse grid, for asking which placed
// polygons may overlap a new one without comparing it with every one.
class Boxes {
  constructor(cell = 80) {
    this.cell = cell;
    this.grid = new Map();
    this.all = [];
  }

  cells(poly, fn) {
    const b = bounds(poly), c = this.cell;
    for (let i = Math.floor(b.x1 / c); i <= Math.floor(b.x2 / c); i++) {
      for (let j = Math.floor(b.y1 / c); j <= Math.floor(b.y2 / c); j++) fn(`${i},${j}`);
    }
  }

  add(item) {
    this.all.push(item);
    this.cells(item.poly, (k) => {
      if (!this.grid.has(k)) this.grid.set(k, []);
      this.grid.get(k).push(item);
    });
  }

  // hits returns the placed items whose polygons overlap poly.
  hits(poly) {
    const seen = new Set(), out = [];
    this.cells(poly, (k) => {
      for (const it of this.grid.get(k) || []) {
        if (seen.has(it)) continue;
        seen.add(it);
        if (intersect(poly, it.poly)) out.push(it);
      }
    });
    return out;
  }
}

// drawnLabels returns the labels the graph draws: {ele, group, poly}.
export function drawnLabels(cy) {
  const out = [];
  cy.elements().forEach((ele) => {
    if (!labelShown(ele)) return;
    const poly = labelPolygon(ele);
    if (poly) out.push({ ele, group: ele.isNode() ? "node" : "edge", poly });
  });
  return out;
}

// labelOverlaps counts the pairs of drawn labels (node and edge labels) whose
// boxes overlap, and lists the first few pairs by their text.
export function labelOverlaps(cy) {
  const boxes = new Boxes();
  const pairs = [];
  let count = 0;
  for (const item of drawnLabels(cy)) {
    for (const other of boxes.hits(item.poly)) {
      count++;
      if (pairs.length < 10) pairs.push([other.ele.pstyle("label").strValue, item.ele.pstyle("label").strValue]);
    }
    boxes.add(item);
  }
  return { count, pairs };
}

// bodyPolygon is a node's shape as a box, with a margin.
function bodyPolygon(n, margin = 2) {
  const p = n.position(), w = n.outerWidth() / 2 + margin, h = n.outerHeight() / 2 + margin;
  return corners(p.x - w, p.y - h, p.x + w, p.y + h, 0);
}

// EDGE_SLIDES are where along its edge a label may go, as fractions of the
// edge's length from its middle: the middle first.
const EDGE_SLIDES = [0, 0.2, -0.2, 0.32, -0.32];

// slideBy is how far a slide of t moves an edge's label: text-margin shifts
// the label before it is turned along the edge, so the drawn box moves by
// the margin itself.
function slideBy(e, t) {
  const s = e.sourceEndpoint(), g = e.targetEndpoint();
  return { x: (g.x - s.x) * t, y: (g.y - s.y) * t };
}

function translate(poly, d) {
  return poly.map(([x, y]) => [x + d.x, y + d.y]);
}

// placeLabels decides which labels the graph draws so that no two overlap:
// node labels first (the layout keeps them apart; one that still collides,
// in order of rank, is hidden), then edge labels in order of rank, each at the
// first place along its edge (EDGE_SLIDES) where it overlaps no label and no
// node already placed, or not at all. Elements whose label is left out get
// the class hiddenClass (the style makes that label transparent; hovering or
// selecting shows it). rank(a, b) orders elements, most important first.
export function placeLabels(cy, { rank, hiddenClass = "label-off" }) {
  const placed = new Boxes();
  const hide = [];
  cy.batch(() => {
    cy.elements().removeClass(hiddenClass);
    cy.edges("[?slid]").forEach((e) => { e.removeStyle("text-margin-x text-margin-y"); e.data("slid", false); });
  });
  const nodes = cy.nodes().filter(labelShown).sort(rank);
  for (const n of nodes) {
    const poly = labelPolygon(n);
    if (!poly) continue;
    if (placed.hits(poly).length) { hide.push(n); continue; }
    placed.add({ ele: n, group: "node-label", poly });
  }
  cy.nodes().forEach((n) => { if (n.style("display") !== "none") placed.add({ ele: n, group: "node-body", poly: bodyPolygon(n) }); });
  const edges = cy.edges().filter(labelShown).sort(rank);
  const slides = [];
  for (const e of edges) {
    const base = labelPolygon(e);
    const t = base ? EDGE_SLIDES.find((t) => !placed.hits(translate(base, slideBy(e, t))).length) : undefined;
    if (t === undefined) {
      hide.push(e);
      continue;
    }
    const d = slideBy(e, t);
    placed.add({ ele: e, group: "edge-label", poly: translate(base, d) });
    if (t) slides.push([e, d]);
  }
  cy.batch(() => {
    hide.forEach((ele) => ele.addClass(hiddenClass));
    for (const [e, d] of slides) {
      e.style({ "text-margin-x": d.x, "text-margin-y": d.y });
      e.data("slid", true);
    }
  });
  return { hidden: hide.length, shown: nodes.length + edges.length - hide.length };
}
