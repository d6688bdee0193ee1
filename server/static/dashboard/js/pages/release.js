// The Release Details page (`/releases/<projectId>/<version>`): crash-free rates, the
// status breakdown and adoption over time, the gate, the comparison with the previous
// release and the split by platform, OS and browser.
import { query } from "../api.js";
import { lineChart } from "../charts.js";
import { environmentPicker, periodPicker } from "../controls.js";
import { h, replace, scrollTable } from "../dom.js";
import {
  COMPARISON_LABELS,
  STAGE_LABELS,
  VERDICT_LABELS,
  formatDateTime,
  formatPercent,
} from "../format.js";
import { levelClass, num } from "../numbers.js";
import { PERIODS, releaseHref, releasesHref } from "../router.js";
import { badge, empty, failure, loading } from "../states.js";

export const STATUSES = ["healthy", "errored", "abnormal", "crashed", "unhandled"];
const METRIC_LABELS = {
  CRASH_FREE_SESSIONS: "Crash-free sessions",
  CRASH_FREE_USERS: "Crash-free users",
  ERRORED_SESSIONS: "Errored sessions",
  ABNORMAL_SESSIONS: "Abnormal sessions",
  UNHANDLED_SESSIONS: "Unhandled sessions",
  ADOPTION: "Adoption",
  SESSIONS: "Sessions",
  USERS: "Users",
};

export function releaseVariables(state) {
  const env = state.environment;
  return {
    project: state.projectId,
    version: state.version,
    scope: { window: { period: PERIODS[state.period].name }, environments: env === null ? null : [env] },
    interval: PERIODS[state.period].interval,
    stageEnvironment: env ?? "",
    hasStageEnvironment: env !== null && env !== "",
    gateEnvironment: env,
  };
}

export async function renderRelease(view, state, ctx) {
  const back = releasesHref({ ...state, project: state.projectId });
  const hrefOf = (s) => releaseHref(s, state.projectId, state.version);
  document.title = `${state.version} · relhealth`;
  const body = h("div", { class: "release-body" }, loading("Loading the release…"));
  replace(
    view,
    h("p", { class: "breadcrumb" }, h("a", { href: back, dataset: { nav: "" } }, "← Releases")),
    h("h1", { id: "page-title" }, state.version),
    h("div", { class: "controls" }, environmentPicker(state, ctx.meta, hrefOf), periodPicker(state, hrefOf)),
    body,
  );
  let data;
  try {
    data = await query("ReleaseDetails", releaseVariables(state));
  } catch (error) {
    if (ctx.current()) replace(body, failure("Could not load the release.", error));
    return;
  }
  if (!ctx.current()) return;
  if (!data.release) {
    replace(body, empty(`Project ${state.projectId} has no release ${state.version} that sent sessions (or it is not visible to this session).`));
    return;
  }
  replace(body, ...details(data.release, state));
}

function section(id, title, ...children) {
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

function details(release, state) {
  const health = release.health;
  const gate = health.gate?.gate ?? null;
  const P = "release.health";
  const stage = health.adoptionStage?.stage ?? null;
  const cards = h(
    "dl",
    { class: "cards" },
    card("Project", h("span", {}, release.project.slug)),
    card("Sessions", num(health.sessions, "count", `${P}.sessions`)),
    card("Users", num(health.users, "count", `${P}.users`)),
    card(
      "Crash-free sessions",
      num(health.crashFreeSessionRate, "pct2", `${P}.crashFreeSessionRate`, {
        class: levelClass(health.crashFreeSessionRate, gate?.crashFreeSessionsTarget, gate?.crashFreeSessionsCritical),
      }),
    ),
    card(
      "Crash-free users",
      num(health.crashFreeUserRate, "pct2", `${P}.crashFreeUserRate`, {
        class: levelClass(health.crashFreeUserRate, gate?.crashFreeUsersTarget, gate?.crashFreeUsersCritical),
      }),
    ),
    card(
      "Adoption (24 h)",
      h(
        "span",
        {},
        num(health.adoption?.sessionRate ?? null, "pct1", `${P}.adoption.sessionRate`),
        " of sessions, ",
        num(health.adoption?.userRate ?? null, "pct1", `${P}.adoption.userRate`),
        " of users",
      ),
    ),
    card("Stage", stage ? badge("stage", stage, STAGE_LABELS[stage]) : h("span", { class: "muted" }, state.environment ? "none" : "pick an environment")),
    card("Median session", num(health.durationP50Seconds, "seconds", `${P}.durationP50Seconds`)),
    card("Sessions seen", h("span", {}, `${formatDateTime(health.firstSessionAt)} – ${formatDateTime(health.lastSessionAt)}`)),
  );
  return [
    cards,
    gateSection(health, P),
    crashFreeSection(health, P),
    statusSection(health, P),
    adoptionSection(health, P),
    comparisonSection(health, P, state, release),
    splitSection(health, P),
  ];
}

function card(label, value) {
  return h("div", { class: "card" }, h("dt", {}, label), h("dd", {}, value));
}

function gateSection(health, P) {
  const g = health.gate;
  if (!g) return section("gate-heading", "Health gate", h("p", { class: "muted" }, "No health gate applies to this project and environment."));
  const where = g.gate.environment === null ? "every environment" : `environment ${g.gate.environment}`;
  const table = h(
    "table",
    { id: "gate-checks" },
    h("caption", { class: "sr-only" }, "Gate checks"),
    h("thead", {}, h("tr", {}, ["Check", "Value", "Target", "Critical", "Minimum", "Outcome"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      g.checks.map((c, i) => {
        const rate = c.metric !== "SESSIONS" && c.metric !== "USERS";
        const base = `${P}.gate.checks.${i}`;
        return h(
          "tr",
          {},
          h("th", { scope: "row" }, METRIC_LABELS[c.metric] ?? c.metric),
          h("td", {}, num(c.value, rate ? "pct2" : "count", `${base}.value`)),
          h("td", {}, num(c.target, "pct2", `${base}.target`)),
          h("td", {}, num(c.critical, "pct2", `${base}.critical`)),
          h("td", {}, num(c.minimum, "count", `${base}.minimum`)),
          h("td", {}, badge("verdict", c.outcome, VERDICT_LABELS[c.outcome])),
        );
      }),
    ),
  );
  return section(
    "gate-heading",
    "Health gate",
    h("p", { class: "gate-verdict" }, badge("verdict", g.verdict, VERDICT_LABELS[g.verdict]), " ", h("span", { class: "gate-rule" }, g.rule)),
    h("p", { class: "muted" }, `The gate for ${where}, over ${PERIOD_BY_NAME[g.gate.window] ?? g.gate.window} ending now.`),
    scrollTable("Gate checks", table),
  );
}

const PERIOD_BY_NAME = Object.fromEntries(Object.values(PERIODS).map((p) => [p.name, p.label.toLowerCase()]));

/** Crash-free percent of one bucket: the API's formula, 100 × (1 − crashed / total). */
function crashFree(crashed, total) {
  const t = Number(total);
  return t === 0 ? null : 100 * (1 - Number(crashed) / t);
}

function crashFreeSection(health, P) {
  const s = health.sessionSeries;
  const u = health.userSeries;
  if (s.intervals.length === 0) return section("crash-free-heading", "Crash-free over time", empty("No intervals in this period."));
  const sessionsRate = s.intervals.map((_, i) => crashFree(s.crashed[i], s.total[i]));
  const usersRate = u.intervals.map((_, i) => crashFree(u.crashed[i], u.total[i]));
  const chart = lineChart({
    label: "Crash-free sessions and users per interval; the numbers are in the table below.",
    x: s.intervals,
    series: [
      { label: "Crash-free sessions", values: sessionsRate },
      { label: "Crash-free users", values: usersRate },
    ],
    format: (v) => formatPercent(v, 2),
    axisFormat: (v) => `${+v.toFixed(1)}%`,
  });
  const table = h(
    "table",
    { id: "crash-free-data", class: "chart-data" },
    h("caption", {}, "Crash-free rates per interval (crashed / total as the API counts them)"),
    h(
      "thead",
      {},
      h("tr", {}, ["Interval start", "Sessions", "Crashed", "Crash-free sessions", "Users", "Crashed users", "Crash-free users"].map((t) => h("th", { scope: "col" }, t))),
    ),
    h(
      "tbody",
      {},
      s.intervals.map((iso, i) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, formatDateTime(iso)),
          h("td", {}, num(s.total[i], "count", `${P}.sessionSeries.total.${i}`)),
          h("td", {}, num(s.crashed[i], "count", `${P}.sessionSeries.crashed.${i}`)),
          h("td", {}, derived(sessionsRate[i], `${P}.sessionSeries`, i)),
          h("td", {}, num(u.total[i], "count", `${P}.userSeries.total.${i}`)),
          h("td", {}, num(u.crashed[i], "count", `${P}.userSeries.crashed.${i}`)),
          h("td", {}, derived(usersRate[i], `${P}.userSeries`, i)),
        ),
      ),
    ),
  );
  return section(
    "crash-free-heading",
    "Crash-free over time",
    chart,
    h("details", { class: "chart-details" }, h("summary", {}, "Chart data as a table"), scrollTable("Crash-free data", table)),
  );
}

/** A crash-free rate the page computes from a series bucket; the test recomputes it. */
function derived(value, seriesPath, i) {
  const el = num(value, "pct2", `${seriesPath}#crashFree.${i}`);
  el.dataset.derived = "crashFree";
  return el;
}

function statusSection(health, P) {
  const totals = health.sessionsByStatus;
  const s = health.sessionSeries;
  const total = Number(totals.total);
  const bar = h("div", { class: "status-bar", "aria-hidden": "true" });
  for (const status of STATUSES) {
    const part = h("span", { class: `status-part status-${status}` });
    part.style.width = `${total ? (100 * Number(totals[status])) / total : 0}%`;
    bar.append(part);
  }
  const table = h(
    "table",
    { id: "status-totals" },
    h("caption", { class: "sr-only" }, "Sessions by how they ended"),
    h("thead", {}, h("tr", {}, ["Status", "Sessions", "Share"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      STATUSES.map((status) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, h("span", { class: `swatch status-${status}`, "aria-hidden": "true" }), status[0].toUpperCase() + status.slice(1)),
          h("td", {}, num(totals[status], "count", `${P}.sessionsByStatus.${status}`)),
          h("td", {}, formatPercent(total ? (100 * Number(totals[status])) / total : null, 1)),
        ),
      ),
      h("tr", {}, h("th", { scope: "row" }, "Total"), h("td", {}, num(totals.total, "count", `${P}.sessionsByStatus.total`)), h("td", {}, "")),
    ),
  );
  const chart =
    s.intervals.length > 0
      ? lineChart({
          label: "Sessions per interval by how they ended; the numbers are in the table below.",
          x: s.intervals,
          series: STATUSES.map((status) => ({ label: status, values: s[status], colorVar: `--status-${status}` })),
          format: (v) => String(Math.round(v)),
          height: 220,
        })
      : null;
  const seriesTable = h(
    "table",
    { id: "status-data", class: "chart-data" },
    h("caption", {}, "Sessions per interval by status"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Interval start"), STATUSES.map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      s.intervals.map((iso, i) =>
        h("tr", {}, h("th", { scope: "row" }, formatDateTime(iso)), STATUSES.map((status) => h("td", {}, num(s[status][i], "count", `${P}.sessionSeries.${status}.${i}`)))),
      ),
    ),
  );
  return section(
    "status-heading",
    "Session status breakdown",
    bar,
    scrollTable("Status totals", table),
    chart,
    h("details", { class: "chart-details" }, h("summary", {}, "Statuses per interval as a table"), scrollTable("Status data", seriesTable)),
  );
}

function adoptionSection(health, P) {
  const a = health.adoptionSeries;
  if (!a) return null; // a server without ReleaseHealth.adoptionSeries
  const chart = lineChart({
    label: "Adoption per interval: the release's share of the project's sessions; the numbers are in the table below.",
    x: a.intervals,
    series: [{ label: "Adoption (sessions)", values: a.rate }],
    format: (v) => formatPercent(v, 1),
    axisFormat: (v) => `${+v.toFixed(1)}%`,
    yRange: [0, 100],
    height: 200,
  });
  const table = h(
    "table",
    { id: "adoption-series", class: "chart-data" },
    h("caption", {}, "Share of the project's sessions per interval"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Interval start"), h("th", { scope: "col" }, "Adoption"))),
    h(
      "tbody",
      {},
      a.intervals.map((iso, i) => h("tr", {}, h("th", { scope: "row" }, formatDateTime(iso)), h("td", {}, num(a.rate[i], "pct1", `${P}.adoptionSeries.rate.${i}`)))),
    ),
  );
  return section(
    "adoption-heading",
    "Adoption over time",
    chart,
    h("details", { class: "chart-details" }, h("summary", {}, "Chart data as a table"), scrollTable("Adoption data", table)),
  );
}

function comparisonSection(health, P, state, release) {
  const c = health.comparison;
  const previous = c.target.release;
  const against = previous
    ? h("a", { href: releaseHref(state, release.projectId, previous.version), dataset: { nav: "" } }, previous.version)
    : h("span", {}, "no previous release");
  const table = h(
    "table",
    { id: "comparison" },
    h("caption", { class: "sr-only" }, "Rates compared with the previous release"),
    h("thead", {}, h("tr", {}, ["Rate", "This release", "Previous", "Difference", `${Math.round(c.confidence * 100)} % interval`, "Verdict"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      c.rates.map((r, i) => {
        const base = `${P}.comparison.rates.${i}`;
        return h(
          "tr",
          { dataset: { metric: r.metric } },
          h("th", { scope: "row" }, METRIC_LABELS[r.metric] ?? r.metric),
          h("td", {}, num(r.value, "pct2", `${base}.value`)),
          h("td", {}, num(r.baseline, "pct2", `${base}.baseline`)),
          h("td", {}, num(r.delta, "delta", `${base}.delta`)),
          h(
            "td",
            {},
            r.deltaInterval
              ? [num(r.deltaInterval.low, "delta", `${base}.deltaInterval.low`), " … ", num(r.deltaInterval.high, "delta", `${base}.deltaInterval.high`)]
              : "—",
          ),
          h("td", {}, badge("comparison", r.verdict, COMPARISON_LABELS[r.verdict])),
        );
      }),
    ),
  );
  return section(
    "comparison-heading",
    "Compared with the previous release",
    h(
      "p",
      { class: "comparison-verdict" },
      badge("comparison", c.verdict, COMPARISON_LABELS[c.verdict]),
      " against ",
      against,
      ` (at least ${c.minSessions} sessions and ${c.minUsers} users per side for a verdict; `,
      num(c.target.sessions, "count", `${P}.comparison.target.sessions`),
      " sessions before, ",
      num(c.subject.sessions, "count", `${P}.comparison.subject.sessions`),
      " now).",
    ),
    scrollTable("Comparison", table),
  );
}

const SPLITS = [
  ["sdk", "Platform (SDK)"],
  ["os", "Operating system"],
  ["browser", "Browser"],
];

function splitSection(health, P) {
  const parts = SPLITS.map(([key, title]) => {
    const conn = health[key];
    const id = `split-${key}`;
    if (conn.nodes.length === 0) return h("div", { class: "split" }, h("h3", { id }, title), empty("No sessions carried this dimension."));
    const table = h(
      "table",
      { id: `${id}-table` },
      h("caption", { class: "sr-only" }, `Sessions by ${title.toLowerCase()}`),
      h("thead", {}, h("tr", {}, [title, "Sessions", "Users", "Crash-free sessions", "Crash-free users"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        conn.nodes.map((g, i) => {
          const base = `${P}.${key}.nodes.${i}`;
          return h(
            "tr",
            {},
            h("th", { scope: "row" }, g.value ?? "(unknown)"),
            h("td", {}, num(g.sessions, "count", `${base}.sessions`)),
            h("td", {}, num(g.users, "count", `${base}.users`)),
            h("td", {}, num(g.crashFreeSessionRate, "pct2", `${base}.crashFreeSessionRate`)),
            h("td", {}, num(g.crashFreeUserRate, "pct2", `${base}.crashFreeUserRate`)),
          );
        }),
      ),
    );
    const more = conn.totalCount > conn.nodes.length ? h("p", { class: "muted" }, `The ${conn.nodes.length} largest of ${conn.totalCount}.`) : null;
    return h("div", { class: "split" }, h("h3", { id }, title), scrollTable(`Sessions by ${title.toLowerCase()}`, table), more);
  });
  return section("split-heading", "By platform, OS and browser", h("div", { class: "splits" }, parts));
}
