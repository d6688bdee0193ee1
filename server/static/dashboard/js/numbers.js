// A rendered number carries its raw API value: data-field is its path in the operation's
// `data`, data-value the value as the API sent it, data-format how it is shown. The
// browser test reads these to compare every number with the API's answer.
import { h } from "./dom.js";
import { FORMATS } from "./format.js";

export function num(value, format, path, attrs = {}) {
  return h(
    "span",
    {
      ...attrs,
      class: `num ${attrs.class ?? ""}`.trim(),
      dataset: { field: path, value: value === null || value === undefined ? "null" : String(value), format },
    },
    FORMATS[format](value),
  );
}

/** Health class of a rate against a gate's levels: higher is healthier for every metric. */
export function levelClass(value, target, critical) {
  if (value === null || value === undefined) return "level-none";
  if (critical !== null && critical !== undefined && value < critical) return "level-critical";
  if (target !== null && target !== undefined && value < target) return "level-warning";
  if ((target ?? critical) === null || (target ?? critical) === undefined) return "level-none";
  return "level-ok";
}
