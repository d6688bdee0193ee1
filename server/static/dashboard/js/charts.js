// Charts: tiny SVG sparklines, and uPlot (vendored, no build step) for the time series.
// Every chart's data is also in a table next to it (keyboard and screen-reader users,
// and the browser test, read the table), so the canvas itself is decorative.
import uPlot from "../vendor/uPlot.esm.js";
import { h, svg } from "./dom.js";

/** Line colours by series index (identity, not health: health colours come from gates). */
const PALETTE = ["#3b82f6", "#e4572e", "#17a673", "#a855f7", "#f59e0b", "#0ea5e9", "#db2777", "#65a30d", "#6366f1", "#78716c"];

export function seriesColor(i) {
  return PALETTE[i % PALETTE.length];
}

/** A sparkline of `values` (numbers or Count strings), scaled to its own maximum. */
export function sparkline(values, label) {
  const nums = values.map((v) => (v === null ? 0 : Number(v)));
  const width = 120;
  const height = 28;
  const max = Math.max(1, ...nums);
  const step = nums.length > 1 ? width / (nums.length - 1) : width;
  const points = nums.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`);
  return svg(
    "svg",
    { class: "sparkline", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label },
    svg("polyline", { points: points.join(" "), fill: "none" }),
  );
}

// Charts are rebuilt when the theme changes (colours come from CSS variables) and when
// the window is resized (uPlot draws at a fixed pixel size).
const live = new Set();

function rebuildAll() {
  for (const chart of live) {
    if (!chart.container.isConnected) {
      chart.plot?.destroy();
      live.delete(chart);
    } else chart.build();
  }
}

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(rebuildAll, 150);
});
window.addEventListener("relhealth:theme", rebuildAll);

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * A line chart over time. `x` holds ISO instants; each series is {label, values}; `format`
 * renders a y value (legend and axis); `onPick(i)` is called when a line is clicked.
 */
export function lineChart({ label, x, series, format, axisFormat = format, yRange = null, onPick = null, height = 260 }) {
  const container = h("div", { class: "chart", role: "img", "aria-label": label });
  const times = x.map((iso) => Date.parse(iso) / 1000);
  const data = [times, ...series.map((s) => s.values.map((v) => (v === null ? null : Number(v))))];
  const chart = { container, plot: null };
  chart.build = () => {
    chart.plot?.destroy();
    const text = cssVar("--text-muted") || "#555";
    const grid = cssVar("--grid") || "#ddd";
    const width = Math.max(280, Math.floor(container.clientWidth || container.parentElement?.clientWidth || 600));
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    const opts = {
      width,
      height,
      scales: { x: { time: true }, y: yRange ? { range: yRange } : {} },
      axes: [axis, { ...axis, size: 70, values: (u, vals) => vals.map((v) => axisFormat(v)) }],
      series: [
        { label: "Time", value: (u, v) => (v === null ? "—" : new Date(v * 1000).toISOString().slice(0, 16).replace("T", " ")) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.colorVar ? cssVar(s.colorVar) : seriesColor(i),
          width: 2,
          points: { show: times.length < 40 },
          value: (u, v) => (v === null ? "—" : format(v)),
        })),
      ],
      cursor: { focus: { prox: 24 } },
      focus: { alpha: 0.35 },
      legend: { live: true },
    };
    chart.plot = new uPlot(opts, data, container);
    if (onPick) {
      chart.plot.over.classList.add("clickable");
      chart.plot.over.addEventListener("click", () => {
        const picked = nearestSeries(chart.plot);
        if (picked !== null) onPick(picked);
      });
    }
  };
  live.add(chart);
  // Built once in the document, so it knows its width.
  requestAnimationFrame(() => {
    if (container.isConnected) chart.build();
  });
  return container;
}

/** The series whose line is closest to the cursor at the hovered instant (index into series). */
function nearestSeries(plot) {
  const idx = plot.cursor.idx;
  if (idx === null || idx === undefined) return null;
  let best = null;
  let bestDistance = Infinity;
  for (let i = 1; i < plot.data.length; i++) {
    const v = plot.data[i][idx];
    if (v === null || v === undefined || !plot.series[i].show) continue;
    const distance = Math.abs(plot.valToPos(v, "y") - plot.cursor.top);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = i - 1;
    }
  }
  return best;
}
