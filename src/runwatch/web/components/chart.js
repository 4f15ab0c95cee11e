// One uPlot line chart over several lines, each with its own x values. Draws each
// line's smoothed values, its raw values faintly when smoothed, and its min/max band
// when the server sampled it or it stands for a group. Drag to zoom, double-click to
// reset; hovering lists every line's value at that x.

import { useEffect, useRef, useState } from "../vendor/hooks.js";
import uPlot from "../vendor/uplot.js";
import { html } from "../html.js";
import { formatNumber } from "../lib/format.js";
import { withAlpha } from "../lib/colors.js";

const HEIGHT = 220;

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function positive(ys) {
  return ys.map((y) => (y === null || y <= 0 ? null : y));
}

// The uPlot table: one shared x column, then each line's columns, joined on x.
function build(lines, log) {
  const tables = [];
  const series = [{}];
  const bands = [];
  const main = []; // series index of each line's main (drawn-on-top) values
  let col = 1;
  for (const line of lines) {
    const fix = log ? positive : (v) => v;
    const cols = [line.x];
    if (line.band) {
      cols.push(fix(line.band.max), fix(line.band.min));
      series.push({ label: line.label + " max", stroke: "transparent", width: 0, points: { show: false },
                    spanGaps: true },
                  { label: line.label + " min", stroke: "transparent", width: 0, points: { show: false },
                    spanGaps: true });
      bands.push({ series: [col, col + 1], fill: withAlpha(line.color, line.group ? 0.18 : 0.1) });
      col += 2;
    }
    if (line.raw) {
      cols.push(fix(line.raw));
      series.push({ label: line.label + " raw", stroke: withAlpha(line.color, 0.25), width: 1,
                    points: { show: false }, spanGaps: true });
      col += 1;
    }
    cols.push(fix(line.y));
    series.push(line.scatter
      ? { label: line.label, stroke: line.color, fill: line.color, paths: () => null,
          points: { show: true, size: 5, fill: line.color }, spanGaps: true }
      : { label: line.label, stroke: line.color, width: line.group ? 2 : 1.5,
          points: { show: line.x.length < 60, size: 4 }, spanGaps: true });
    main.push(col);
    col += 1;
    tables.push(cols);
  }
  const data = tables.length ? uPlot.join(tables) : [[]];
  return { data, series, bands, main };
}

// Room for the longest y tick label, so small and large numbers are never cut off.
function axisSize(u, values) {
  const longest = (values || []).reduce((n, v) => Math.max(n, String(v).length), 0);
  return Math.max(40, longest * 7 + 16);
}

function nearest(xs, x) {
  let lo = 0;
  let hi = xs.length - 1;
  if (hi < 0) return -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(xs[lo - 1] - x) <= Math.abs(xs[lo] - x)) return lo - 1;
  return lo;
}

export function Chart({ lines, log, timeAxis, xLabel, onZoom, zoomed }) {
  const box = useRef(null);
  const plot = useRef(null);
  const zoomRef = useRef(onZoom);
  const linesRef = useRef(lines);
  const [hover, setHover] = useState(null);
  zoomRef.current = onZoom;
  linesRef.current = lines;

  // The chart is rebuilt only when its series change shape; new points (live updates,
  // smoothing) go in with setData, so the cursor, the tooltip and a drag in progress stay.
  const shape = [log, timeAxis, xLabel,
    ...lines.map((l) => `${l.id}|${l.color}|${l.raw ? 1 : 0}|${l.band ? 1 : 0}|${l.x.length < 60 ? 1 : 0}|${l.scatter ? 1 : 0}`)].join("\n");
  const built = useRef(null);

  useEffect(() => {
    const u = plot.current;
    if (!u || built.current === lines) return;
    built.current = lines;
    u.setData(build(lines, log).data);
    if (u.cursor.left >= 0) u.setCursor({ left: u.cursor.left, top: u.cursor.top });
  }, [lines]);

  useEffect(() => {
    const el = box.current;
    built.current = lines;
    const { data, series, bands } = build(lines, log);
    const axisColor = cssVar("--muted", "#666");
    const grid = cssVar("--grid", "#8882");
    const width = Math.max(200, el.clientWidth);
    const opts = {
      width, height: HEIGHT, series, bands,
      legend: { show: false },
      scales: { x: { time: !!timeAxis }, y: log ? { distr: 3 } : {} },
      axes: [
        { stroke: axisColor, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid },
          label: xLabel, labelSize: 18, labelFont: "11px system-ui", font: "11px system-ui" },
        { stroke: axisColor, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid },
          font: "11px system-ui", size: axisSize },
      ],
      cursor: {
        sync: { key: "runwatch" },
        drag: { x: true, y: false, setScale: false },
        bind: {
          dblclick: () => () => { zoomRef.current && zoomRef.current(null); return null; },
        },
      },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width > 2) {
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoomRef.current && zoomRef.current([a, b]);
          }
        }],
        setCursor: [(u) => {
          const idx = u.cursor.idx;
          if (idx === null || idx === undefined || u.cursor.left < 0) {
            setHover(null);
            return;
          }
          const x = u.data[0][idx];
          const rows = [];
          for (const line of linesRef.current) {
            const i = nearest(line.x, x);
            if (i < 0) continue;
            rows.push({ label: line.label, color: line.color, y: line.y[i], raw: line.raw ? line.raw[i] : null });
          }
          rows.sort((p, q) => (q.y ?? -Infinity) - (p.y ?? -Infinity));
          setHover({ x, left: u.cursor.left, rows });
        }],
      },
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height: HEIGHT });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape]);

  const xText = hover ? (timeAxis ? new Date(hover.x * 1000).toLocaleString() : formatNumber(hover.x)) : "";
  return html`
    <div class="chart" data-lines=${lines.length} data-series=${lines.reduce((n, l) => n + 1 + (l.raw ? 1 : 0) + (l.band ? 2 : 0), 0)}
         data-x=${xLabel} data-log=${log ? "1" : "0"} data-zoomed=${zoomed ? "1" : "0"}>
      <div class="plot" ref=${box}></div>
      ${hover && hover.rows.length ? html`
        <div class="tooltip" style=${{ left: Math.min(hover.left + 60, (box.current?.clientWidth || 400) - 200) + "px" }}>
          <div class="tt-x">${xLabel}: ${xText}</div>
          ${hover.rows.slice(0, 12).map((r) => html`
            <div class="tt-row">
              <span class="swatch" style=${{ background: r.color }}></span>
              <span class="tt-name">${r.label}</span>
              <span class="tt-val">${r.y === null || r.y === undefined ? "–" : formatNumber(r.y)}</span>
            </div>`)}
          ${hover.rows.length > 12 ? html`<div class="tt-more">+${hover.rows.length - 12} more</div>` : null}
        </div>` : null}
    </div>`;
}
