// Panels for what runs logged beyond scalars: images with a step slider (runs side by
// side), histograms over steps, tables, and plot.* charts. Each panel loads when it
// scrolls into view.

import { useEffect, useMemo, useRef, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { api, blobUrl } from "../api.js";
import { useVisible } from "./charts.js";
import { TableView } from "./table_view.js";
import { CustomChart } from "./custom_chart.js";
import { HistogramView } from "./histogram_view.js";
import { formatValue } from "../lib/format.js";
import { keyMatcher } from "../lib/sections.js";

const MAX_SIDE_BY_SIDE = 4;
const THUMB = 160;
const PREFETCH = 8;

// The value a run holds at `step`: its last one at or before it.
export function valueAt(values, step) {
  let lo = 0;
  let hi = values.length - 1;
  let found = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid].step <= step) { found = values[mid]; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

const kindOf = (v) => (v && v._type === "media-list" ? (v.items[0] || {})._type : v && v._type);
const imagesOf = (v) => (v && v._type === "media-list" ? v.items : v ? [v] : []);

function ImageStrip({ runs, byRun }) {
  const steps = useMemo(() => {
    const all = new Set();
    for (const r of runs) for (const v of byRun[r.id] || []) all.add(v.step);
    return [...all].sort((a, b) => a - b);
  }, [runs, byRun]);
  const [index, setIndex] = useState(null);
  const [full, setFull] = useState(null);
  const i = index === null ? steps.length - 1 : Math.min(index, steps.length - 1);
  const step = steps[i];
  // Thumbnails of the steps around the slider are fetched ahead, so scrubbing never waits.
  useEffect(() => {
    for (let d = -PREFETCH; d <= PREFETCH; d++) {
      const s = steps[i + d];
      if (s === undefined) continue;
      for (const r of runs) {
        for (const img of imagesOf(valueAt(byRun[r.id] || [], s)?.value)) {
          if (img.sha256) new Image().src = blobUrl(img.sha256, { thumb: THUMB });
        }
      }
    }
  }, [i, steps, runs, byRun]);
  if (!steps.length) return html`<p class="empty">No images.</p>`;
  return html`
    <div class="image-panel">
      <label class="step-slider">Step <output>${step}</output>
        <input type="range" min="0" max=${steps.length - 1} value=${i} aria-label="Step"
          onInput=${(e) => setIndex(Number(e.currentTarget.value))} />
        <span class="muted">${i + 1} / ${steps.length}</span>
      </label>
      <div class="image-runs">
        ${runs.map((r) => {
          const v = valueAt(byRun[r.id] || [], step);
          return html`<div class="image-run" data-run=${r.id}>
            <div class="image-run-name"><span class="swatch" style=${{ background: r.color }}></span>${r.name}
              ${v && v.step !== step ? html`<span class="muted"> (step ${v.step})</span>` : null}</div>
            <div class="thumbs">${imagesOf(v?.value).map((img) => html`
              <figure class="thumb">
                <img src=${blobUrl(img.sha256, { thumb: THUMB })} alt=${img.caption || ""} loading="lazy"
                  width=${Math.min(THUMB, Math.max(96, img.width || THUMB))} onClick=${() => setFull(img)} />
                ${img.caption ? html`<figcaption>${img.caption}</figcaption>` : null}
              </figure>`)}</div>
          </div>`;
        })}
      </div>
      ${full ? html`<div class="overlay" onClick=${() => setFull(null)} role="dialog" aria-label="Full size image">
          <img src=${blobUrl(full.sha256)} alt=${full.caption || ""} />
          ${full.caption ? html`<p>${full.caption}</p>` : null}
          <p class="muted">${full.width}×${full.height} · click to close</p>
        </div>` : null}
    </div>`;
}

export function MediaPanel({ project, metric, runs }) {
  const ref = useRef(null);
  const visible = useVisible(ref);
  const shown = runs.slice(0, MAX_SIDE_BY_SIDE);
  const ids = shown.map((r) => r.id).join(",");
  const [byRun, setByRun] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!visible || !shown.length) return;
    const ctl = new AbortController();
    Promise.all(shown.map((r) => api.values(project, r.id, metric, 5000, ctl.signal)))
      .then((answers) => {
        const out = {};
        shown.forEach((r, k) => { out[r.id] = answers[k].values; });
        setByRun(out);
      })
      .catch((e) => e.name !== "AbortError" && setError(e.message));
    return () => ctl.abort();
  }, [visible, project, metric, ids]);

  const first = byRun && shown.map((r) => byRun[r.id] || []).find((v) => v.length);
  const latest = first ? first[first.length - 1] : null;
  const kind = latest ? kindOf(latest.value) : null;
  const owner = byRun && shown.find((r) => (byRun[r.id] || []).length);
  let body;
  if (error) body = html`<p class="error">${error}</p>`;
  else if (!byRun) body = html`<div class="chart-placeholder"></div>`;
  else if (!latest) body = html`<p class="empty">The charted runs logged nothing under this key.</p>`;
  else if (kind === "image") body = html`<${ImageStrip} runs=${shown} byRun=${byRun} />`;
  else if (kind === "histogram") body = html`<${HistogramView} runs=${shown} byRun=${byRun} />`;
  else if (kind === "table") {
    body = html`<${TableView} source=${project + "\u0000" + owner.id + "\u0000" + metric} label=${owner.name}
      load=${(params, signal) => api.table(project, owner.id, { key: metric, ...params }, signal)}
      steps=${byRun[owner.id].map((v) => v.step)} />`;
  }
  else if (kind === "chart") body = html`<${CustomChart} project=${project} run=${owner} metric=${metric} value=${latest.value} step=${latest.step} />`;
  else body = html`<pre class="value">${formatValue(latest.value)}</pre>`;
  return html`
    <section class=${"panel media-panel" + (kind === "table" || kind === "image" ? " wide" : "")}
             ref=${ref} data-key=${metric} data-kind=${kind || ""}>
      <header class="panel-head"><h3 title=${metric}>${metric}</h3>
        <span class="panel-meta">${kind || ""}${runs.length > MAX_SIDE_BY_SIDE ? ` · first ${MAX_SIDE_BY_SIDE} runs` : ""}</span></header>
      ${body}
    </section>`;
}

// keys: the project's keys; only those holding objects get a panel here.
export function MediaSections({ project, keys, runs, search }) {
  const match = keyMatcher(search);
  const media = keys.filter((k) => k.values > 0 && !k.hidden && match(k.key));
  if (!media.length || !runs.length) return null;
  return html`
    <div class="section" data-section="Media">
      <div class="section-head static">Media, tables and charts <span class="count">${media.length}</span></div>
      <div class="panels">
        ${media.map((k) => html`<${MediaPanel} key=${k.key} project=${project} metric=${k.key} runs=${runs} />`)}
      </div>
    </div>`;
}
