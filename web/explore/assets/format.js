// Formatting of the API's values for people: partial dates at their
// precision, sponsorship tiers, predicates, quantities. Pure functions, no DOM.

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// formatPartialDate renders a PartialDate ({value, precision}) at the
// precision it is known to: "2022" (YEAR), "Oct 2022" (MONTH), "6 Jul 2023"
// (DAY). It never invents a day or a month the source did not state.
export function formatPartialDate(d) {
  if (!d || !d.value) return "";
  const [y, m, day] = d.value.split("-");
  switch (d.precision) {
    case "YEAR":
      return y;
    case "MONTH":
      return `${MONTHS[Number(m) - 1]} ${y}`;
    default:
      return `${Number(day)} ${MONTHS[Number(m) - 1]} ${y}`;
  }
}

// formatSpan renders a fact's time: its date, or its start–end span ("6 Jul
// 2023 – 8 Jul 2023"), or "" when it has none.
export function formatSpan(date, start, end) {
  if (date) return formatPartialDate(date);
  if (!start && !end) return "";
  const a = formatPartialDate(start), b = formatPartialDate(end);
  if (!b || a === b) return a;
  if (!a) return `until ${b}`;
  return `${a} – ${b}`;
}

// sortKey orders partial dates: "2022" < "2022-10" < "2022-10-05" < "2023".
export function sortKey(d) {
  return d && d.value ? d.value : "";
}

// formatTimestamp renders an RFC 3339 time as the calendar day it names in
// its own offset ("2023-07-03T22:51:00+07:00" is "3 Jul 2023"), so a reader in
// another zone sees the source's date.
export function formatTimestamp(t) {
  if (!t) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(t);
  if (!m) return t;
  return `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}`;
}

const TIERS = {
  STRATEGIC_PARTNER: "strategic partner",
  ELITE_PARTNER: "elite partner",
  GOVERNMENT_CO_SPONSOR: "government co-sponsor",
  SPONSOR: "sponsor",
};

// tierLabel names a SponsorTier; with a tier size it says how many share it
// ("elite partner (1 of 22)").
export function tierLabel(tier, tierSize) {
  const name = TIERS[tier] || (tier ? tier.toLowerCase().replaceAll("_", " ") : "sponsor");
  return tierSize && tierSize.amount ? `${name} (1 of ${formatNumber(tierSize.amount)})` : name;
}

// predicateLabel turns a Predicate into words: HELD_IN is "held in".
export function predicateLabel(p) {
  return p ? p.toLowerCase().replaceAll("_", " ") : "";
}

// edgeLabel is the text an edge of the graph carries: the relation, the tier
// of a sponsorship, "not …" for a negated fact.
export function edgeLabel(f) {
  // A negated tier is not one of the tier's members: no "(1 of 10)".
  let s = f.predicate === "SPONSORED" && f.tier ? `sponsored: ${tierLabel(f.tier, f.negated ? null : f.tierSize)}` : predicateLabel(f.predicate);
  if (f.role) s += ` (${f.role.toLowerCase()}${f.former ? ", former" : ""})`;
  return f.negated ? `not ${s}` : s;
}

const BOUNDS = { MORE_THAN: "more than ", AT_LEAST: "at least ", ABOUT: "about " };

// formatQuantity renders a Quantity as the source states it ("more than 3,800").
export function formatQuantity(q) {
  if (!q) return "";
  let s = (BOUNDS[q.bound] || "") + formatNumber(q.amount);
  if (q.bound === "RANGE" && q.upper != null) s += `–${formatNumber(q.upper)}`;
  if (q.unit) s += ` ${q.unit}`;
  return s;
}

export function formatNumber(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : String(n);
}

// foldText lowercases and strips diacritics, for matching names client-side
// the way the API's search does ("Thượng Hải" matches "thuong hai").
export function foldText(s) {
  return (s || "").normalize("NFD").replace(/\p{M}/gu, "").replaceAll("đ", "d").replaceAll("Đ", "D").toLowerCase();
}

// --- sentences ---------------------------------------------------------------
//
// sentenceParts writes a fact as an English sentence, from a template per
// predicate (storage/predicate.go lists them; the API's predicates query
// describes them). The parts are strings and, where an entity is named,
// {entity} objects, so a page can make the names links; sentence joins them
// into plain text. A negated fact reads as a negative sentence; a quantity
// keeps its bound ("about 100 AI tech firms"); a date is written at its
// precision. Facts are shaped as the API answers: subject and object
// ({id, name, kind}), value, measure, quantity, tier, tierSize, role, former,
// negated, date, start, end.

// Words that a measure's slug lowercases but English writes otherwise.
const WORDS = {
  ai: "AI", us: "US", uk: "UK", eu: "EU", un: "UN", llm: "LLM", llms: "LLMs", gpu: "GPU", gpus: "GPUs",
  cpu: "CPU", cpus: "CPUs", it: "IT", ict: "ICT", r: "R", d: "D", rd: "R&D", ip: "IP",
  asia: "Asia", europe: "Europe", africa: "Africa", america: "America", china: "China", "china's": "China's",
  india: "India", japan: "Japan", korea: "Korea", vietnam: "Vietnam", taiwan: "Taiwan",
  shanghai: "Shanghai", beijing: "Beijing", shenzhen: "Shenzhen",
};

// measureWords turns a measure slug into words: "ai-tech-firms" is "AI tech firms".
export function measureWords(slug) {
  // "co" joins the next word as English writes it: "government co-sponsors".
  return (slug || "").split(/[-_\s]+/).filter(Boolean).map((w) => WORDS[w.toLowerCase()] ?? w).join(" ").replace(/\bco /g, "co-");
}

// singular makes the last word of a phrase singular ("US company sponsors" to
// "US company sponsor"), for a count of exactly one.
function singular(phrase) {
  return phrase.replace(/(\w+)$/, (w) => {
    if (/ies$/.test(w)) return w.slice(0, -3) + "y";
    if (/(ss|us|is)$/.test(w)) return w;
    if (/(ches|shes|sses|xes)$/.test(w)) return w.slice(0, -2);
    return w.endsWith("s") ? w.slice(0, -1) : w;
  });
}

function ordinal(n) {
  const s = ["th", "st", "nd", "rd"], v = n % 100;
  return formatNumber(n) + (s[(v - 20) % 10] || s[v] || s[0]);
}

const DURATION_UNITS = /^(seconds?|minutes?|hours?|days?|weeks?|months?|years?)$/i;

// unitKind says how a quantity's unit reads: "rank" (ranked 1st), "value" (a
// measured amount: money, times, days, a share), or "count" (the measure's
// words name what is counted, "about 100 AI tech firms", and the unit, a
// plural noun such as "firms", adds nothing).
function unitKind(q, slug) {
  const unit = (q && q.unit) || "";
  if (unit === "rank" || /(^|-)rank(-|$)/.test(slug || "")) return "rank";
  if (!unit || /^unspecified/i.test(unit)) return "count";
  if (/^[A-Z]{3}$/.test(unit) || unit === "times" || DURATION_UNITS.test(unit) || /^(fraction|share|percent|%)/i.test(unit)) return "value";
  return /s$/.test(unit) ? "count" : "value";
}

// amountText renders a quantity's number with its bound ("about 100",
// "20,000–30,000", "more than 400"); fractions read as percentages.
function amountText(q, asShare) {
  const num = (n) => (asShare ? `${formatNumber(Math.round(n * 1000) / 10)}%` : formatNumber(n));
  let s = num(q.amount);
  if (q.bound === "RANGE" && q.upper != null) s += `–${num(q.upper)}`;
  return (BOUNDS[q.bound] || "") + s;
}

// quantityPhrase renders a MEASURE's or TARGET's quantity with what it counts:
// "about 100 AI tech firms" (count), "about 2,850,000,000 CNY" (value) or the
// rank's ordinal ("1st").
function quantityPhrase(f) {
  const q = f.quantity || { amount: "", bound: "EXACT" };
  const words = measureWords(f.measure);
  const kind = unitKind(f.quantity, f.measure);
  const share = /^(fraction|share)/i.test(q.unit || "");
  if (kind === "rank") return { kind, text: (BOUNDS[q.bound] || "") + ordinal(q.amount), words };
  if (kind === "count") {
    const one = q.amount === 1 && (q.bound === "EXACT" || !q.bound);
    return { kind, text: `${amountText(q, false)} ${one ? singular(words) : words}`.trim(), words };
  }
  const unit = share ? "" : q.unit ? ` ${q.unit}` : "";
  return { kind, text: amountText(q, share) + unit, words };
}

// rankParts splits a rank measure's words around "rank": "size rank in Asia
// among AI data centres" reads "in Asia among AI data centres by size".
function rankPhrase(words) {
  const m = /^(.*?)\s*\brank\b\s*(.*)$/.exec(words);
  if (!m) return words ? `by ${words}` : "";
  return [m[2], m[1] ? `by ${m[1]}` : ""].filter(Boolean).join(" ");
}

// datePhrase renders a date with the preposition its precision takes: "in
// 2018", "in Feb 2023", "on 6 Jul 2023"; a span "from … to …"; a start alone
// "since …".
export function datePhrase(date, start, end) {
  const at = (d) => `${d.precision === "DAY" ? "on" : "in"} ${formatPartialDate(d)}`;
  if (date) return at(date);
  if (start && end) return formatPartialDate(start) === formatPartialDate(end) ? at(start) : `from ${formatPartialDate(start)} to ${formatPartialDate(end)}`;
  if (start) return `since ${formatPartialDate(start)}`;
  if (end) return `until ${formatPartialDate(end)}`;
  return "";
}

let regionNames;
// countryName names an ISO 3166-1 alpha-2 code in English ("US" is "United
// States"), where the browser knows it.
export function countryName(code) {
  try {
    regionNames ||= new Intl.DisplayNames(["en"], { type: "region" });
    const n = regionNames.of(code);
    return n && n !== code ? `${n} (${code})` : code;
  } catch {
    return code;
  }
}

// possessive is the ending that makes an entity's name possessive:
// "Qualcomm's", "Amazon Web Services'".
function possessive(S) {
  const name = typeof S === "string" ? S : S.entity.name;
  return /s$/.test(name) ? "'" : "'s";
}

function article(phrase) {
  return /^[aeiou]/i.test(phrase) ? `an ${phrase}` : `a ${phrase}`;
}

// TEMPLATES holds, for each predicate, its sentence: a function of the subject
// S and object O (entity parts), the fact f and whether it is negated (no).
const TEMPLATES = {
  EDITION_OF: (S, O, f, no) => [S, no ? " is not an edition of " : " is an edition of ", O],
  HELD_IN: (S, O, f, no) => {
    const since = !f.date && f.start && !f.end ? ` ${datePhrase(null, f.start, null)}` : "";
    if (since) return [S, no ? " has not been held in " : " has been held in ", O, since];
    const when = datePhrase(f.date, f.start, f.end);
    return [S, no ? " was not held in " : " was held in ", O, when ? ` ${when}` : ""];
  },
  HELD_ON: (S, O, f, no) => [S, no ? " was not held " : " was held ", datePhrase(f.date, f.start, f.end) || "on a date the source does not give"],
  ORGANIZED_BY: (S, O, f, no) => [S, no ? " was not organized by " : " was organized by ", O],
  SPONSORED: (S, O, f, no) => {
    const tier = f.tier && f.tier !== "SPONSOR" ? tierLabel(f.tier) : "";
    if (no) return tier ? [S, ` was not ${article(tier)} of `, O] : [S, " did not sponsor ", O];
    if (!tier) return [S, " sponsored ", O];
    const n = f.tierSize && f.tierSize.amount;
    if (n > 1) return [S, " sponsored ", O, ` as one of ${formatNumber(n)} ${tier}s`];
    if (n === 1) return [S, " sponsored ", O, ` as its only ${tier}`];
    return [S, " sponsored ", O, ` as ${article(tier)}`];
  },
  PARTICIPATED_IN: (S, O, f, no) => [S, no ? " did not take part in " : " took part in ", O],
  SPEAKER_AT: (S, O, f, no) => [S, no ? " did not speak at " : " spoke at ", O],
  OPENED: (S, O, f, no) => [S, no ? " did not open " : " opened ", O],
  DISCUSSED: (S, O, f, no) => [O, no ? " was not discussed at " : " was discussed at ", S],
  MEASURE: (S, O, f, no) => {
    const q = quantityPhrase(f);
    if (q.kind === "rank") return [S, no ? " did not rank " : " ranked ", q.text, rankPhrase(q.words) ? ` ${rankPhrase(q.words)}` : ""];
    if (q.kind === "count") return [S, no ? " did not have " : " had ", q.text];
    return [S, `${possessive(S)} ${q.words || "measure"}`, no ? " was not " : " was ", q.text];
  },
  TARGET: (S, O, f, no) => {
    const q = quantityPhrase(f);
    const what = q.kind === "count" ? q.text : q.kind === "rank" ? `${q.text} place ${rankPhrase(q.words)}`.trim() : `${q.words} of ${q.text}`;
    const d = f.date || f.end || f.start;
    return [S, no ? " does not target " : " targets ", what, d ? ` by ${formatPartialDate(d)}` : ""];
  },
  COUNTRY: (S, O, f, no) => [S, possessive(S) + (no ? " country is not " : " country is "), countryName(f.value || "")],
  SUBSIDIARY_OF: (S, O, f, no) => [S, no ? " is not part of " : " is part of ", O],
  HEADQUARTERED_IN: (S, O, f, no) => [S, no ? " is not headquartered in " : " is headquartered in ", O],
  LISTED_IN: (S, O, f, no) => [S, no ? " is not listed in " : " is listed in ", O],
  LOCATED_IN: (S, O, f, no) => [S, no ? " is not located in " : " is located in ", O],
  HOLDS_POSITION: (S, O, f, no) => {
    const role = f.role || "a position";
    if (f.former) return [S, no ? ` was never ${role} of ` : ` was formerly ${role} of `, O];
    return [S, no ? ` is not ${role} of ` : ` is ${role} of `, O];
  },
  IMPOSED_BY: (S, O, f, no) => [O, no ? " did not impose " : " imposed ", S],
  TARGETS: (S, O, f, no) => [O, no ? " is not targeted by " : " is targeted by ", S],
  TARGET_COUNTRY: (S, O, f, no) => ["Exports to ", O, no ? " are not restricted by " : " are restricted by ", S],
  COVERS_PRODUCT: (S, O, f, no) => [O, no ? " is not covered by " : " is covered by ", S],
  TIGHTENS: (S, O, f, no) => [S, no ? " does not tighten " : " tightens ", O],
  ISSUED: (S, O, f, no) => [S, no ? " did not issue " : " issued ", O],
  MADE_BY: (S, O, f, no) => [S, no ? " is not made by " : " is made by ", O],
  LAUNCHED: (S, O, f, no) => [S, no ? " did not launch " : " launched ", O],
  AVAILABLE_IN: (S, O, f, no) => [S, no ? " is not available in " : " is available in ", O],
  ENDORSED_BY: (S, O, f, no) => [S, no ? " is not endorsed by " : " is endorsed by ", O],
  ANNOUNCED_AT: (S, O, f, no) => [S, no ? " was not announced at " : " was announced at ", O],
  OPERATES: (S, O, f, no) => [S, no ? " does not operate " : " operates ", O],
  QUOTED_IN: (S, O, f, no) => [S, no ? " is not quoted in " : " is quoted in ", O],
  PLAINTIFF: (S, O, f, no) => [O, no ? " is not a plaintiff in " : " is a plaintiff in ", S],
  DEFENDANT: (S, O, f, no) => [O, no ? " is not a defendant in " : " is a defendant in ", S],
  PHOTO_CREDIT: (S, O, f, no) => [O, no ? " is not credited for the photo in " : " is credited for the photo in ", S],
  MENTIONS: (S, O, f, no) => [S, no ? " does not mention " : " mentions ", O],
};

// hasTemplate reports whether a predicate has its own sentence.
export function hasTemplate(predicate) {
  return Object.hasOwn(TEMPLATES, predicate);
}

// sentenceParts returns the fact's sentence as parts: strings, and
// {entity: {id, name, kind}} where an entity is named.
export function sentenceParts(f) {
  const S = f.subject ? { entity: f.subject } : "Something";
  const O = f.object ? { entity: f.object } : f.value || "something";
  const t = TEMPLATES[f.predicate];
  // A predicate this page does not know yet (the API grew one): say what
  // links what without its slug.
  const parts = t ? t(S, O, f, !!f.negated) : [S, f.negated ? " is not linked to " : " is linked to ", O];
  const out = parts.filter((p) => p !== "" && p != null);
  // Capitalize the first word and end the sentence.
  if (typeof out[0] === "string") out[0] = out[0][0].toUpperCase() + out[0].slice(1);
  out.push(".");
  return out;
}

// sentence returns the fact's sentence as plain text.
export function sentence(f) {
  return sentenceParts(f).map((p) => (typeof p === "string" ? p : p.entity.name)).join("");
}
