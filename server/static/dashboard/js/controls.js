// The pickers shared by both pages. Each change navigates to the URL of the new state.
import { h } from "./dom.js";
import { DISPLAYS, PERIODS, SORTS, navigate } from "./router.js";

const ALL = "\u0000all"; // a select value no environment or project can have

function select(id, label, options, value, onChange) {
  return h(
    "div",
    { class: "control" },
    h("label", { for: id }, label),
    h(
      "select",
      { id, onchange: (e) => onChange(e.target.value) },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
    ),
  );
}

export function projectPicker(state, meta, hrefOf) {
  const projects = meta.organization.projects.nodes;
  return select(
    "pick-project",
    "Project",
    [[ALL, "All projects"], ...projects.map((p) => [p.projectId, p.slug])],
    state.project || ALL,
    (v) => navigate(hrefOf({ ...state, project: v === ALL ? "" : v })),
  );
}

export function environmentPicker(state, meta, hrefOf) {
  const names = meta.organization.environments.nodes.map((e) => e.name);
  return select(
    "pick-environment",
    "Environment",
    [[ALL, "All environments"], ...names.map((n) => [n, n === "" ? "(no environment)" : n])],
    state.environment === null ? ALL : state.environment,
    (v) => navigate(hrefOf({ ...state, environment: v === ALL ? null : v })),
  );
}

export function periodPicker(state, hrefOf) {
  return select(
    "pick-period",
    "Period",
    Object.entries(PERIODS).map(([key, p]) => [key, p.label]),
    state.period,
    (v) => navigate(hrefOf({ ...state, period: v })),
  );
}

export function sortPicker(state, hrefOf) {
  return select(
    "pick-sort",
    "Sort by",
    Object.entries(SORTS).map(([key, s]) => [key, s.label]),
    state.sort,
    (v) => navigate(hrefOf({ ...state, sort: v })),
  );
}

/** Display sessions or users: a pair of toggle buttons. */
export function displaySwitch(state, hrefOf) {
  return h(
    "div",
    { class: "control" },
    h("span", { class: "control-label", id: "display-label" }, "Display"),
    h(
      "div",
      { class: "segmented", role: "group", "aria-labelledby": "display-label" },
      Object.entries(DISPLAYS).map(([key, text]) =>
        h(
          "button",
          {
            type: "button",
            "aria-pressed": String(state.display === key),
            dataset: { display: key },
            onclick: () => state.display !== key && navigate(hrefOf({ ...state, display: key })),
          },
          text,
        ),
      ),
    ),
  );
}
