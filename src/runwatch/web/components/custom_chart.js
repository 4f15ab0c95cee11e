// plot.* charts drawn from their tables: line, scatter, line_series, pr_curve and
// roc_curve as uPlot lines; bar, histogram and confusion_matrix as plain elements.

import { useEffect, useMemo, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { api } from "../api.js";
import { Chart } from "./chart.js";
import { colorAt } from "../lib/colors.js";
import { formatNumber, formatValue } from "../lib/format.js";

const MAX_ROWS = 1000;

function lines(rows, columns, spec) {
  const xi = columns.indexOf(spec.x);
  const yi = columns.indexOf(spec.y);
  const si = spec.series ? columns.indexOf(spec.series) : -1;
  const groups = new Map();
  for (const row of rows) {
    const key = si >= 0 ? String(row[si]) : spec.y;
    if (!groups.has(key)) groups.set(key, []);
    if (typeof row[xi] === "number" && typeof row[yi] === "number") groups.get(key).push([row[xi], row[yi]]);
  }
  return [...groups.entries()].map(([label, pts], k) => {
    pts.sort((a, b) => a[0] - b[0]);
    return { id: label, label, color: colorAt(k), x: pts.map((p) => p[0]), y: pts.map((p) => p[1]),
             scatter: spec.kind === "scatter" };
  });
}

function Bars({ rows, columns, spec }) {
  const li = columns.indexOf(spec.x);
  const vi = columns.indexOf(spec.y);
  const max = Math.max(1e-12, ...rows.map((r) => Math.abs(Number(r[vi]) || 0)));
  return html`<div class="hbars">${rows.map((r) => html`
    <div class="hbar-row"><span class="hbar-label" title=${formatValue(r[li])}>${formatValue(r[li])}</span>
      <span class="hbar" style=${{ width: (100 * Math.abs(Number(r[vi]) || 0)) / max + "%" }}></span>
      <span class="hbar-value">${formatValue(r[vi])}</span></div>`)}</div>`;
}

function Histogram({ rows, columns, spec }) {
  const vi = columns.indexOf(spec.x);
  const vals = rows.map((r) => r[vi]).filter((v) => typeof v === "number" && Number.isFinite(v));
  if (!vals.length) return html`<p class="empty">No numbers to count.</p>`;
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const n = 20;
  const counts = new Array(n).fill(0);
  for (const v of vals) counts[hi > lo ? Math.min(n - 1, Math.floor(((v - lo) / (hi - lo)) * n)) : 0]++;
  const max = Math.max(...counts);
  return html`<div class="bars tall">${counts.map((c, k) => html`<div class="bar" style=${{ height: (100 * c) / max + "%" }}
      title=${`[${formatNumber(lo + ((hi - lo) * k) / n)}, ${formatNumber(lo + ((hi - lo) * (k + 1)) / n)}): ${c}`}></div>`)}</div>
    <div class="muted">${formatNumber(lo)} … ${formatNumber(hi)} (${vals.length} values)</div>`;
}

function Confusion({ rows, columns }) {
  const ai = columns.indexOf("Actual");
  const pi = columns.indexOf("Predicted");
  const ni = columns.indexOf("nPredictions");
  const classes = [...new Set(rows.flatMap((r) => [String(r[ai]), String(r[pi])]))];
  const cell = new Map(rows.map((r) => [String(r[ai]) + "\u0000" + String(r[pi]), Number(r[ni]) || 0]));
  const max = Math.max(1, ...cell.values());
  return html`<table class="confusion"><thead><tr><th>actual \\ predicted</th>${classes.map((c) => html`<th>${c}</th>`)}</tr></thead>
    <tbody>${classes.map((a) => html`<tr><th>${a}</th>${classes.map((p) => {
      const n = cell.get(a + "\u0000" + p) || 0;
      return html`<td style=${{ background: `rgba(78,121,167,${(0.85 * n) / max})` }}>${n}</td>`;
    })}</tr>`)}</tbody></table>`;
}

export function CustomChart({ project, run, metric, value, step }) {
  const spec = value.spec || {};
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const ctl = new AbortController();
    api.table(project, run.id, { key: metric, step, offset: 0, limit: MAX_ROWS }, ctl.signal)
      .then(setPage).catch((e) => e.name !== "AbortError" && setError(e.message));
    return () => ctl.abort();
  }, [project, run.id, metric, step]);
  const drawn = useMemo(() => (page && ["line", "scatter", "line_series", "pr_curve", "roc_curve"].includes(spec.kind)
    ? lines(page.rows, page.columns, spec) : null), [page]);
  if (error) return html`<p class="error">${error}</p>`;
  if (!page) return html`<div class="chart-placeholder"></div>`;
  let body;
  if (drawn) body = html`<${Chart} lines=${drawn} log=${false} timeAxis=${false} xLabel=${spec.x_label || spec.x} onZoom=${null} zoomed=${false} />`;
  else if (spec.kind === "bar") body = html`<${Bars} rows=${page.rows} columns=${page.columns} spec=${spec} />`;
  else if (spec.kind === "histogram") body = html`<${Histogram} rows=${page.rows} columns=${page.columns} spec=${spec} />`;
  else if (spec.kind === "confusion_matrix") body = html`<${Confusion} rows=${page.rows} columns=${page.columns} />`;
  else body = html`<p class="muted">A ${spec.kind} chart; its table has ${page.nrows} rows.</p>`;
  return html`<div class="custom-chart" data-chart-kind=${spec.kind || ""}>
    ${spec.title ? html`<div class="chart-title">${spec.title}</div>` : null}
    ${body}
    <div class="muted axis-names">${spec.x_label || spec.x || ""}${spec.y_label || spec.y ? " / " + (spec.y_label || spec.y) : ""}
      ${page.nrows > MAX_ROWS ? ` · first ${MAX_ROWS} of ${page.nrows} rows` : ""}</div>
  </div>`;
}
