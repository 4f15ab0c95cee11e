// The workspace's controls: filter, grouping, columns, x-axis, smoothing, log scale, zoom.

import { useEffect, useRef, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { AXES } from "./charts.js";

export function FilterBar({ view, setView, errors, shown, total, charted }) {
  return html`
    <div class="filter-bar">
      <input type="search" class="filter" placeholder="Filter runs: text, state:running, tag:x, config.lr>0.01, summary.loss<0.5"
        value=${view.q} onInput=${(e) => setView({ q: e.currentTarget.value })} aria-label="Filter runs" />
      <span class="counts">${shown} of ${total} runs · ${charted} charted</span>
      ${errors.map((e) => html`<div class="error filter-error">${e}</div>`)}
    </div>`;
}

export function TableOptions({ view, setView, configKeys, summaryKeys }) {
  const [q, setQ] = useState("");
  const menu = useRef(null);
  useEffect(() => {
    const close = (e) => { if (menu.current && !menu.current.contains(e.target)) menu.current.open = false; };
    document.addEventListener("click", close);
    return () => document.removeEventListener("click", close);
  }, []);
  const cols = new Set(view.cols);
  const toggle = (c) => setView({ cols: cols.has(c) ? view.cols.filter((x) => x !== c) : [...view.cols, c] });
  const all = [...configKeys.map((k) => "config." + k), ...summaryKeys.map((k) => "summary." + k)]
    .filter((c) => c.toLowerCase().includes(q.toLowerCase()));
  return html`
    <div class="table-options">
      <label>Group by
        <select class="group-by" value=${view.group} onChange=${(e) => setView({ group: e.currentTarget.value, runs: null })}>
          <option value="">none</option>
          <option value="group">group</option>
          <option value="job_type">job type</option>
          ${configKeys.map((k) => html`<option value=${"config." + k}>config.${k}</option>`)}
        </select>
      </label>
      <details class="columns" ref=${menu}>
        <summary>Columns (${view.cols.length})</summary>
        <div class="columns-menu">
          <input type="search" placeholder="Find a config or summary key" value=${q}
                 onInput=${(e) => setQ(e.currentTarget.value)} />
          ${all.slice(0, 300).map((c) => html`
            <label class="col-choice"><input type="checkbox" checked=${cols.has(c)} onChange=${() => toggle(c)} />${c}</label>`)}
          ${all.length > 300 ? html`<p class="muted">${all.length - 300} more: narrow the search.</p>` : null}
        </div>
      </details>
    </div>`;
}

export function ChartOptions({ view, setView, axisKeys }) {
  return html`
    <div class="chart-options">
      <label>X-axis
        <select class="x-axis" value=${view.x} onChange=${(e) => setView({ x: e.currentTarget.value, zoom: null })}>
          <option value="">default (step or step_metric)</option>
          ${Object.entries(AXES).map(([v, t]) => html`<option value=${v}>${t}</option>`)}
          ${axisKeys.map((k) => html`<option value=${k}>${k}</option>`)}
        </select>
      </label>
      <label class="smooth">Smoothing
        <input type="range" min="0" max="0.99" step="0.01" value=${view.smooth}
          onInput=${(e) => setView({ smooth: Number(e.currentTarget.value) })} aria-label="Smoothing" />
        <output>${view.smooth.toFixed(2)}</output>
      </label>
      <label><input type="checkbox" class="log-scale" checked=${view.log}
        onChange=${(e) => setView({ log: e.currentTarget.checked })} /> log y</label>
      ${view.zoom ? html`<button class="reset-zoom" onClick=${() => setView({ zoom: null })}
        title="Or double-click a chart">Reset zoom</button>` : html`<span class="muted hint">drag on a chart to zoom</span>`}
      <input type="search" class="chart-search" placeholder="Search charts (regex)" value=${view.search}
        onInput=${(e) => setView({ search: e.currentTarget.value })} aria-label="Search charts" />
    </div>`;
}
