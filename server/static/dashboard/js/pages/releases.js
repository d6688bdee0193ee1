// The Releases page (`/`): every release with sessions in the period, in the chosen order,
// and, for one project, its adoption chart.
import { query } from "../api.js";
import { lineChart, seriesColor, sparkline } from "../charts.js";
import { displaySwitch, environmentPicker, periodPicker, projectPicker, sortPicker } from "../controls.js";
import { h, replace, scrollTable } from "../dom.js";
import { STAGE_LABELS, VERDICT_LABELS, formatDateTime, formatPercent } from "../format.js";
import { levelClass, num } from "../numbers.js";
import { PERIODS, SORTS, navigate, releaseHref, releasesHref } from "../router.js";
import { badge, empty, failure, loading } from "../states.js";

export const PAGE_SIZE = 25;
export const CHART_RELEASES = 8;

/** The variables of ReleasesPage for a page state (docs/dashboard.md explains each). */
export function releasesVariables(state, slug) {
  const env = state.environment;
  return {
    slug,
    scope: { window: { period: PERIODS[state.period].name }, environments: env === null ? null : [env] },
    projects: state.project ? [state.project] : null,
    orderBy: { field: SORTS[state.sort].field, direction: "DESC" },
    first: PAGE_SIZE,
    stat: state.display === "users" ? "USERS" : "SESSIONS",
    interval: PERIODS[state.period].interval,
    stageEnvironment: env ?? "",
    hasStageEnvironment: env !== null && env !== "",
    gateEnvironment: env,
  };
}

export function adoptionVariables(state) {
  const env = state.environment;
  return {
    project: state.project,
    scope: { window: { period: PERIODS[state.period].name }, environments: env === null ? null : [env] },
    interval: PERIODS[state.period].interval,
    stat: state.display === "users" ? "USERS" : "SESSIONS",
    orderBy: { field: state.display === "users" ? "USERS" : "SESSIONS", direction: "DESC" },
    first: CHART_RELEASES,
  };
}

export async function renderReleases(view, state, ctx) {
  const { meta } = ctx;
  const projects = meta.organization.projects.nodes;
  const oneProject = projects.find((p) => p.projectId === state.project) ?? null;
  const title = oneProject ? `Releases of ${oneProject.slug}` : "Releases";
  document.title = `${title} · relhealth`;
  const tableArea = h("section", { class: "panel", "aria-labelledby": "releases-heading" });
  const chartArea = oneProject ? h("section", { class: "panel", "aria-labelledby": "adoption-heading" }) : null;
  replace(
    view,
    h("h1", { id: "page-title" }, title),
    h(
      "div",
      { class: "controls" },
      projectPicker(state, meta, releasesHref),
      environmentPicker(state, meta, releasesHref),
      periodPicker(state, releasesHref),
      displaySwitch(state, releasesHref),
      sortPicker(state, releasesHref),
    ),
    chartArea,
    tableArea,
  );
  replace(tableArea, h("h2", { id: "releases-heading" }, "Releases"), loading("Loading releases…"));
  if (chartArea) replace(chartArea, h("h2", { id: "adoption-heading" }, "Adoption"), loading("Loading the adoption chart…"));

  const jobs = [
    query("ReleasesPage", releasesVariables(state, ctx.session.organization)).then(
      (data) => ctx.current() && replace(tableArea, ...releasesTable(data, state, !oneProject)),
      (error) => ctx.current() && replace(tableArea, h("h2", { id: "releases-heading" }, "Releases"), failure("Could not load the releases.", error)),
    ),
  ];
  if (chartArea) {
    jobs.push(
      query("AdoptionChart", adoptionVariables(state)).then(
        (data) => ctx.current() && replace(chartArea, ...adoptionChart(data, state)),
        (error) => ctx.current() && replace(chartArea, h("h2", { id: "adoption-heading" }, "Adoption"), failure("Could not load the adoption chart.", error)),
      ),
    );
  }
  await Promise.all(jobs);
}

function releasesTable(data, state, showProject) {
  const heading = h("h2", { id: "releases-heading" }, "Releases");
  const connection = data.organization?.health.releases;
  if (!connection) return [heading, failure("Could not load the releases.", new Error("The organization is not visible to this session."))];
  if (connection.nodes.length === 0) {
    return [heading, empty("No release sent sessions in this period and environment. Choose a longer period or another environment.")];
  }
  const users = state.display === "users";
  const summary = h(
    "p",
    { class: "summary" },
    "Showing ",
    h("span", { dataset: { field: "shown" } }, String(connection.nodes.length)),
    " of ",
    h("span", { class: "num", dataset: { field: "organization.health.releases.totalCount", value: String(connection.totalCount), format: "count" } }, String(connection.totalCount)),
    ` releases, by ${SORTS[state.sort].label.toLowerCase()}. Health colours use each project's health gate levels.`,
  );
  const table = h(
    "table",
    { class: "releases", id: "releases-table" },
    h("caption", { class: "sr-only" }, `Releases by ${SORTS[state.sort].label.toLowerCase()}`),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Release"),
        h("th", { scope: "col" }, `Adoption (${users ? "users" : "sessions"}, 24 h)`),
        h("th", { scope: "col", "aria-sort": sortAria(state, "crash_free_sessions") }, "Crash-free sessions"),
        h("th", { scope: "col", "aria-sort": sortAria(state, "crash_free_users") }, "Crash-free users"),
        h("th", { scope: "col", "aria-sort": sortAria(state, "sessions") }, "Sessions"),
        h("th", { scope: "col", "aria-sort": sortAria(state, "users") }, "Users"),
        h("th", { scope: "col" }, `${users ? "Users" : "Sessions"} over time`),
        h("th", { scope: "col" }, "Gate"),
      ),
    ),
    h(
      "tbody",
      {},
      connection.nodes.map((node, i) => releaseRow(node, i, state, showProject)),
    ),
  );
  return [heading, summary, scrollTable("Releases table", table)];
}

function sortAria(state, key) {
  // The API's stability ranking: most first for counts, least crash-free first for rates.
  return state.sort === key ? "descending" : null;
}

/** A cell with its column's name, shown before the value on narrow screens (app.css). */
function cell(label, attrs, ...children) {
  return h("td", { ...attrs, dataset: { label } }, ...children);
}

function releaseRow(node, i, state, showProject) {
  const base = `organization.health.releases.nodes.${i}`;
  const users = state.display === "users";
  const gate = node.gate?.gate ?? null;
  const adoptionField = users ? "userRate" : "sessionRate";
  const adoptionValue = node.adoption ? node.adoption[adoptionField] : null;
  const release = node.release;
  const href = releaseHref(state, release.projectId, release.version);
  const bar = h("span", { class: "adoption-bar", "aria-hidden": "true" }, h("span", { class: "adoption-fill" }));
  bar.firstChild.style.width = `${Math.min(100, Math.max(0, adoptionValue ?? 0))}%`;
  bar.firstChild.classList.add(levelClass(adoptionValue, gate?.adoptionTarget, gate?.adoptionCritical));
  const stage = node.adoptionStage?.stage ?? null;
  const stat = users ? "users" : "sessions";
  return h(
    "tr",
    { dataset: { release: `${release.projectId}/${release.version}`, index: String(i) } },
    h(
      "th",
      { scope: "row" },
      h(
        "div",
        { class: "release-cell" },
        h("a", { href, dataset: { nav: "" }, class: "release-link" }, release.version),
        showProject ? h("span", { class: "project-slug" }, release.project.slug) : null,
      ),
    ),
    cell(
      "Adoption",
      {},
      h(
        "div",
        { class: "adoption-cell" },
        bar,
        num(adoptionValue, "pct1", `${base}.adoption.${adoptionField}`),
        stage ? badge("stage", stage, STAGE_LABELS[stage]) : null,
      ),
    ),
    cell("Crash-free sessions", { class: levelClass(node.crashFreeSessionRate, gate?.crashFreeSessionsTarget, gate?.crashFreeSessionsCritical) }, num(node.crashFreeSessionRate, "pct2", `${base}.crashFreeSessionRate`)),
    cell("Crash-free users", { class: levelClass(node.crashFreeUserRate, gate?.crashFreeUsersTarget, gate?.crashFreeUsersCritical) }, num(node.crashFreeUserRate, "pct2", `${base}.crashFreeUserRate`)),
    cell("Sessions", {}, num(node.sessions, "count", `${base}.sessions`)),
    cell("Users", {}, num(node.users, "count", `${base}.users`)),
    cell("Trend", {}, sparkline(node.series.total, `${stat} per ${PERIODS[state.period].interval.toLowerCase().replace("_", " ")} of ${release.version}`)),
    cell(
      "Gate",
      {},
      node.gate
        ? [badge("verdict", node.gate.verdict, VERDICT_LABELS[node.gate.verdict], node.gate.rule), h("span", { class: "sr-only" }, ` ${node.gate.rule}`)]
        : h("span", { class: "muted" }, "no gate"),
    ),
  );
}

function adoptionChart(data, state) {
  const heading = h("h2", { id: "adoption-heading" }, "Adoption");
  const nodes = data.project?.health.releases.nodes ?? [];
  if (nodes.length === 0) return [heading, empty("No release of this project sent sessions in this period.")];
  const what = state.display === "users" ? "users" : "sessions";
  const intervals = nodes[0].adoptionSeries.intervals;
  const chart = lineChart({
    label: `Adoption over time: the share of the project's ${what} of its ${nodes.length} largest releases; the same numbers are in the table below.`,
    x: intervals,
    series: nodes.map((n) => ({ label: n.release.version, values: n.adoptionSeries.rate })),
    format: (v) => formatPercent(v, 1),
    axisFormat: (v) => `${+v.toFixed(1)}%`,
    yRange: [0, 100],
    onPick: (i) => navigate(releaseHref(state, nodes[i].release.projectId, nodes[i].release.version)),
  });
  const table = h(
    "table",
    { class: "chart-data", id: "adoption-data" },
    h("caption", {}, `Share of the project's ${what} per interval, in percent`),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Interval start"),
        nodes.map((n, r) =>
          h(
            "th",
            { scope: "col" },
            h("span", { class: "swatch", "aria-hidden": "true", dataset: { color: String(r) } }),
            h("a", { href: releaseHref(state, n.release.projectId, n.release.version), dataset: { nav: "" } }, n.release.version),
          ),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      intervals.map((iso, i) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, formatDateTime(iso)),
          nodes.map((n, r) => h("td", {}, num(n.adoptionSeries.rate[i], "pct1", `project.health.releases.nodes.${r}.adoptionSeries.rate.${i}`))),
        ),
      ),
    ),
  );
  for (const swatch of table.querySelectorAll(".swatch")) swatch.style.backgroundColor = seriesColor(Number(swatch.dataset.color));
  return [
    heading,
    h("p", { class: "hint" }, `Each line is a release's share of the project's ${what}; hover for values, click a line to open its release.`),
    chart,
    h("details", { class: "chart-details" }, h("summary", {}, "Chart data as a table"), scrollTable("Adoption chart data", table)),
  ];
}
