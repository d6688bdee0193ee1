// Loading, empty and error states, the same on every page.
import { h } from "./dom.js";

export function loading(text) {
  return h("p", { class: "state state-loading", role: "status" }, text);
}

export function empty(text) {
  return h("p", { class: "state state-empty", role: "status" }, text);
}

export function failure(title, error) {
  return h(
    "div",
    { class: "state state-error", role: "alert" },
    h("strong", {}, title),
    " ",
    h("span", { class: "error-message" }, error?.message ?? String(error)),
  );
}

export function badge(kind, value, text, title = null) {
  return h("span", { class: `badge badge-${kind} badge-${String(value).toLowerCase()}`, dataset: { [kind]: value }, title }, text);
}
