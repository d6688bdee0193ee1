// How numbers are shown. The test (tests/test_dashboard_browser.py) formats the API's
// values the same way and compares the text, so keep the two in step.

const GROUPING = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** A Count: a JSON number, or a string of digits beyond 2^53 (the API's Count scalar). */
export function formatCount(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return GROUPING.format(value);
}

/**
 * A percentage 0..100 with `digits` decimals. A rate below 100 never shows as 100 (a
 * 99.996 % crash-free release is not crash-free), nor one above 0 as 0.
 */
export function formatPercent(value, digits = 2) {
  if (value === null || value === undefined) return "—";
  let text = value.toFixed(digits);
  const step = 10 ** -digits;
  if (value < 100 && Number(text) >= 100) text = (100 - step).toFixed(digits);
  if (value > 0 && Number(text) <= 0) text = step.toFixed(digits);
  return `${text}%`;
}

/** Percentage points, signed. */
export function formatDelta(value, digits = 2) {
  if (value === null || value === undefined) return "—";
  const text = Math.abs(value).toFixed(digits);
  const sign = value > 0 ? "+" : value < 0 ? "−" : "±";
  return `${sign}${text} pp`;
}

export function formatSeconds(value) {
  if (value === null || value === undefined) return "—";
  const s = Math.round(value);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatDateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** The text and raw value of one number, by format name (data-format in the DOM). */
export const FORMATS = {
  count: formatCount,
  pct2: (v) => formatPercent(v, 2),
  pct1: (v) => formatPercent(v, 1),
  delta: (v) => formatDelta(v, 2),
  seconds: formatSeconds,
};

export const STAGE_LABELS = { ADOPTED: "Adopted", LOW_ADOPTION: "Low adoption", REPLACED: "Replaced" };
export const VERDICT_LABELS = {
  PASS: "Pass",
  WARN: "Warn",
  FAIL: "Fail",
  INSUFFICIENT_DATA: "Insufficient data",
};
export const COMPARISON_LABELS = {
  BETTER: "Better",
  WORSE: "Worse",
  NO_SIGNIFICANT_DIFFERENCE: "No significant difference",
  INSUFFICIENT_DATA: "Insufficient data",
};
