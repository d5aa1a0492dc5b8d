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
  let s = f.predicate === "SPONSORED" && f.tier ? `sponsored: ${tierLabel(f.tier, f.tierSize)}` : predicateLabel(f.predicate);
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
