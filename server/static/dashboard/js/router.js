// The URL is the page's state: `/?project=&environment=&period=&display=&sort=` and
// `/releases/<projectId>/<version>?...`, so links are shareable and back/forward work.

export const PERIODS = {
  "1h": { name: "LAST_HOUR", label: "Last hour", interval: "FIVE_MINUTES" },
  "24h": { name: "LAST_24_HOURS", label: "Last 24 hours", interval: "HOUR" },
  "48h": { name: "LAST_48_HOURS", label: "Last 48 hours", interval: "HOUR" },
  "7d": { name: "LAST_7_DAYS", label: "Last 7 days", interval: "SIX_HOURS" },
  "14d": { name: "LAST_14_DAYS", label: "Last 14 days", interval: "SIX_HOURS" },
  "30d": { name: "LAST_30_DAYS", label: "Last 30 days", interval: "DAY" },
  "90d": { name: "LAST_90_DAYS", label: "Last 90 days", interval: "DAY" },
};
export const DEFAULT_PERIOD = "14d";

export const SORTS = {
  sessions: { field: "SESSIONS", label: "Active sessions" },
  users: { field: "USERS", label: "Active users" },
  crash_free_sessions: { field: "CRASH_RATE", label: "Crash-free sessions (worst first)" },
  crash_free_users: { field: "USER_CRASH_RATE", label: "Crash-free users (worst first)" },
};

export const DISPLAYS = { sessions: "Sessions", users: "Users" };

function pick(value, allowed, fallback) {
  return value !== null && Object.hasOwn(allowed, value) ? value : fallback;
}

/** The page state in the current URL (unknown values fall back to the defaults). */
export function readState(url = new URL(location.href)) {
  const q = url.searchParams;
  const state = {
    project: q.get("project") ?? "",
    // Absent: every environment. Present (even empty: sessions without an environment): that one.
    environment: q.has("environment") ? q.get("environment") : null,
    period: pick(q.get("period"), PERIODS, DEFAULT_PERIOD),
    display: pick(q.get("display"), DISPLAYS, "sessions"),
    sort: pick(q.get("sort"), SORTS, "sessions"),
  };
  const m = url.pathname.match(/^\/releases\/([^/]+)\/(.+)$/);
  if (m) return { ...state, page: "release", projectId: decodeURIComponent(m[1]), version: decodeURIComponent(m[2]) };
  return { ...state, page: "releases" };
}

/** The query string for a state, leaving defaults out. */
export function queryString(state) {
  const q = new URLSearchParams();
  if (state.project) q.set("project", state.project);
  if (state.environment !== null && state.environment !== undefined) q.set("environment", state.environment);
  if (state.period !== DEFAULT_PERIOD) q.set("period", state.period);
  if (state.display !== "sessions") q.set("display", state.display);
  if (state.sort !== "sessions") q.set("sort", state.sort);
  const text = q.toString();
  return text ? `?${text}` : "";
}

export function releasesHref(state) {
  return `/${queryString(state)}`;
}

export function releaseHref(state, projectId, version) {
  return `/releases/${encodeURIComponent(projectId)}/${encodeURIComponent(version)}${queryString(state)}`;
}

let onChange = () => {};

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  onChange();
}

/** Render on back/forward and on clicks of same-origin links marked data-nav. */
export function startRouter(render) {
  onChange = render;
  window.addEventListener("popstate", render);
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("a[data-nav]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(link.getAttribute("href"));
  });
}
