// The drawn subgraph as CSV: its nodes, and its edges with their evidence
// (one row per piece of evidence: the quote, its gloss and its source). Pure
// functions, no DOM.

import { sentence } from "./format.js";

// cell quotes a CSV field (RFC 4180). A field that a spreadsheet would run as
// a formula (it starts with =, +, -, @, a tab or a carriage return) gets a
// leading apostrophe, as OWASP advises against CSV injection.
export function cell(v) {
  let s = v == null ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function rows(header, records) {
  return [header, ...records].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

export const NODE_COLUMNS = ["id", "kind", "name", "country", "sanctioned_or_controlled"];

// nodesCSV lists entities: [{id, kind, name, country, code, marked}].
export function nodesCSV(entities) {
  return rows(NODE_COLUMNS, entities.map((e) => [e.id, e.kind, e.name, e.country || e.code || "", e.marked || ""]));
}

export const EDGE_COLUMNS = [
  "fact_id", "subject_id", "subject", "predicate", "object_id", "object", "sentence", "negated", "tier", "year",
  "quote", "gloss", "source", "source_title_en", "source_author", "source_publisher", "source_published_at", "source_url",
];

// edgesCSV lists facts, each with its subject and object ({id, name, kind}),
// one row per piece of evidence.
export function edgesCSV(facts) {
  const out = [];
  for (const f of facts) {
    const base = [f.id, f.subject.id, f.subject.name, f.predicate, f.object ? f.object.id : "", f.object ? f.object.name : "",
      sentence(f), f.negated ? "true" : "false", f.tier || "", f.year ?? ""];
    const evidence = f.evidence && f.evidence.length ? f.evidence : [null];
    for (const ev of evidence) {
      const s = (ev && ev.source) || {};
      out.push([...base, ev ? ev.quote : "", ev ? ev.gloss : "", s.title, s.titleEn, s.author, s.publisher, s.publishedAt, s.url]);
    }
  }
  return rows(EDGE_COLUMNS, out);
}
