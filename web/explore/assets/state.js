// The explorer's state as a URL fragment, so that a link reopens the same
// picture: the view (a preset, the overview, the whole graph, or one entity
// and its neighbours), the nodes expanded since, how many times "show more"
// was pressed, the search, the selection and the filters. Pure functions, no
// DOM.
//
//   #view=overview&expand=<id>,<id>&sel=<id>&q=thuong%20hai&year=2023
//
// Values are checked on the way in: an ID must be a UUID, a year four digits,
// a country two capitals, a relation a predicate's name; anything else is
// dropped, so a hand-edited link cannot inject anything into a query.

// VIEWS are the views a link can name.
export const VIEWS = ["overview", "waic-us", "all", "entity"];

// MAX_EXPAND bounds the expanded nodes a link replays, MAX_MORE its presses
// of "Show more".
export const MAX_EXPAND = 24;
export const MAX_MORE = 20;

export const DEFAULT_STATE = Object.freeze({
  view: "overview", focus: "", more: 0, expand: [], sel: "", q: "", year: "", country: "", relation: "",
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const CHECKS = {
  view: (v) => VIEWS.includes(v),
  focus: (v) => UUID.test(v),
  sel: (v) => UUID.test(v),
  q: (v) => v.length <= 200,
  year: (v) => /^\d{4}$/.test(v),
  country: (v) => /^[A-Z]{2}$/.test(v),
  relation: (v) => /^[A-Z][A-Z_]{1,40}$/.test(v),
  more: (v) => /^\d{1,2}$/.test(v) && Number(v) <= MAX_MORE,
};

// parseState reads a fragment ("#view=…" or "view=…") into a state; missing
// or invalid values take their defaults.
export function parseState(hash) {
  const params = new URLSearchParams((hash || "").replace(/^#/, ""));
  const s = { ...DEFAULT_STATE, expand: [] };
  for (const [key, ok] of Object.entries(CHECKS)) {
    const v = params.get(key);
    if (v != null && ok(v)) s[key] = key === "more" ? Number(v) : v;
  }
  if (s.view === "entity" && !s.focus) s.view = DEFAULT_STATE.view;
  const expand = params.get("expand");
  if (expand) s.expand = [...new Set(expand.split(",").filter((id) => UUID.test(id)))].slice(0, MAX_EXPAND);
  return s;
}

// formatState writes a state as a fragment, leaving out default values.
export function formatState(s) {
  const params = new URLSearchParams();
  params.set("view", s.view);
  if (s.view === "entity" && s.focus) params.set("focus", s.focus);
  if (s.more) params.set("more", String(s.more));
  if (s.expand.length) params.set("expand", s.expand.slice(-MAX_EXPAND).join(","));
  for (const key of ["sel", "q", "year", "country", "relation"]) if (s[key]) params.set(key, s[key]);
  return "#" + params.toString().replaceAll("%2C", ",");
}
