// Histograms over steps: a heat map (steps across, values up, darker = more), and the
// distribution at the step under the slider.

import { useEffect, useRef, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { formatNumber } from "../lib/format.js";

const ROWS = 48;

function draw(canvas, values, color) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    const b = v.value.bins || [];
    if (b.length) { lo = Math.min(lo, b[0]); hi = Math.max(hi, b[b.length - 1]); }
  }
  if (!Number.isFinite(lo) || hi <= lo) return { lo, hi };
  const colW = w / values.length;
  values.forEach((v, i) => {
    const bins = v.value.bins || [];
    const counts = v.value.values || [];
    const cells = new Float64Array(ROWS);
    for (let k = 0; k < counts.length; k++) {
      const mid = (bins[k] + bins[k + 1]) / 2;
      const row = Math.min(ROWS - 1, Math.floor(((mid - lo) / (hi - lo)) * ROWS));
      cells[row] += counts[k];
    }
    const max = Math.max(...cells) || 1;
    for (let r = 0; r < ROWS; r++) {
      if (!cells[r]) continue;
      ctx.globalAlpha = 0.1 + 0.9 * (cells[r] / max);
      ctx.fillStyle = color;
      ctx.fillRect(i * colW, h - (r + 1) * (h / ROWS), Math.ceil(colW), Math.ceil(h / ROWS));
    }
  });
  ctx.globalAlpha = 1;
  return { lo, hi };
}

export function HistogramView({ runs, byRun }) {
  const run = runs.find((r) => (byRun[r.id] || []).length);
  const values = run ? byRun[run.id] : [];
  const heat = useRef(null);
  const [index, setIndex] = useState(values.length - 1);
  const [range, setRange] = useState(null);
  useEffect(() => {
    const c = heat.current;
    if (!c) return;
    c.width = c.clientWidth || 400;
    c.height = 140;
    setRange(draw(c, values, run.color || "#4e79a7"));
  }, [values]);
  const current = values[Math.min(index, values.length - 1)];
  const counts = current ? current.value.values || [] : [];
  const bins = current ? current.value.bins || [] : [];
  const max = Math.max(1, ...counts);
  return html`
    <div class="histogram-view">
      <div class="heat-wrap">
        <canvas class="heatmap" ref=${heat} aria-label="Histogram over steps"></canvas>
        ${range && Number.isFinite(range.lo) ? html`<div class="heat-axis muted">
          ${formatNumber(range.lo)} … ${formatNumber(range.hi)}; steps ${values[0].step} → ${values[values.length - 1].step}</div>` : null}
      </div>
      <label class="step-slider">Step <output>${current ? current.step : ""}</output>
        <input type="range" min="0" max=${values.length - 1} value=${Math.min(index, values.length - 1)}
          aria-label="Histogram step" onInput=${(e) => setIndex(Number(e.currentTarget.value))} />
      </label>
      <div class="bars" title=${run ? run.name : ""}>
        ${counts.map((c, k) => html`<div class="bar" style=${{ height: (100 * c) / max + "%", background: run.color }}
            title=${`[${formatNumber(bins[k])}, ${formatNumber(bins[k + 1])}): ${c}`}></div>`)}
      </div>
    </div>`;
}
