// The chart area: a panel per metric key, in sections by prefix. A panel fetches its
// series only once it scrolls into view, already downsampled to its pixel width, and
// afterwards only the points past what it drew.

import { useEffect, useMemo, useRef, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { api } from "../api.js";
import { Chart } from "./chart.js";
import { ema } from "../lib/smooth.js";
import { aggregate } from "../lib/group.js";
import { keyMatcher, sections } from "../lib/sections.js";

export const AXES = { _step: "Step", _runtime: "Relative time (s)", _timestamp: "Wall time" };

export function useVisible(ref) {
  const [visible, setVisible] = useState(false);
  useEffect(() => {
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setVisible(true);
    }, { rootMargin: "300px" });
    io.observe(ref.current);
    return () => io.disconnect();
  }, []);
  return visible;
}

const bucketWidth = (px) => Math.max(100, Math.ceil(px / 100) * 100);

// Fetched series of one key for the charted runs; refetched when the view changes,
// extended when live runs report higher steps.
function useSeries(project, key, runIds, axis, zoom, width, liveSteps, enabled) {
  const [state, setState] = useState({ byRun: null, error: null, loading: false });
  const [generation, setGeneration] = useState(0);
  const current = useRef(null);
  const checked = useRef({});
  // The same runs in another order (the table re-sorted) are the same request.
  const ids = [...runIds].sort().join(",");
  const zoomKey = zoom ? zoom.join(",") : "";

  useEffect(() => {
    if (!enabled || !runIds.length) {
      setState({ byRun: runIds.length ? null : {}, error: null, loading: false });
      return;
    }
    const ctl = new AbortController();
    checked.current = { ...liveSteps };
    setState((s) => ({ ...s, loading: true }));
    api.series(project, { key, runs: ids.split(","), x: axis, width, xmin: zoom?.[0], xmax: zoom?.[1] }, ctl.signal)
      .then((res) => {
        const byRun = {};
        for (const r of res.runs) byRun[r.id] = { ...r, appended: 0 };
        current.current = byRun;
        setState({ byRun, error: null, loading: false });
      })
      .catch((e) => { if (e.name !== "AbortError") setState({ byRun: null, error: e.message, loading: false }); });
    return () => ctl.abort();
  }, [project, key, ids, axis, zoomKey, width, enabled, generation]);

  // Live: fetch only the points after the last step drawn, per run that moved on.
  useEffect(() => {
    const byRun = current.current;
    if (!byRun || zoom) return;
    // A run's step moves on every row, this key maybe not (val/* every epoch): ask once
    // per new step, not on every event until this key has a point there.
    const stale = runIds.filter((id) => {
      const step = liveSteps[id];
      if (step === undefined || step === null) return false;
      const have = byRun[id] && byRun[id].last_step !== null ? byRun[id].last_step : -1;
      return step > Math.max(have, checked.current[id] ?? -1);
    });
    for (const id of stale) checked.current[id] = liveSteps[id];
    if (!stale.length) return;
    const ctl = new AbortController();
    Promise.all(stale.map((id) => api.series(project, {
      key, runs: [id], x: axis, width, after: byRun[id]?.last_step ?? undefined,
    }, ctl.signal))).then((answers) => {
      const next = { ...current.current };
      for (const res of answers) {
        for (const r of res.runs) {
          if (!r.x.length) continue;
          const old = next[r.id];
          if (!old || old.last_step === null) {
            next[r.id] = { ...r, appended: 0 };
            continue;
          }
          const pad = (arr, src) => (arr ? arr.concat(src || r.y) : null);
          next[r.id] = {
            ...old,
            x: old.x.concat(r.x), y: old.y.concat(r.y),
            min: pad(old.min, r.min), max: pad(old.max, r.max),
            last_step: r.last_step, points: old.points + r.points,
            appended: old.appended + r.x.length,
          };
        }
      }
      current.current = next;
      setState({ byRun: next, error: null, loading: false });
      // Appended tails are finer than the buckets drawn before them; once they add up
      // to a chart's width, one fresh downsampled fetch is cheaper to draw.
      if (Object.values(next).some((r) => r.appended > width)) setGeneration((g) => g + 1);
    }).catch(() => {});
    return () => ctl.abort();
  }, [liveSteps]);

  return state;
}

function linesFor(byRun, runs, groups, smooth) {
  if (!byRun) return [];
  if (groups) {
    return groups.map((g) => {
      const parts = g.runIds.map((id) => byRun[id]).filter((s) => s && s.x.length);
      const agg = aggregate(parts, 1500);
      const y = ema(agg.mean, smooth);
      return { id: "group:" + g.value, label: `${g.value} (${parts.length})`, color: g.color, group: true,
               x: agg.x, y, raw: smooth ? agg.mean : null,
               band: agg.x.length && parts.length > 1 ? { min: agg.min, max: agg.max } : null };
    }).filter((l) => l.x.length);
  }
  const out = [];
  for (const run of runs) {
    const s = byRun[run.id];
    if (!s || !s.x.length) continue;
    out.push({ id: run.id, label: run.name, color: run.color, x: s.x,
               y: ema(s.y, smooth), raw: smooth ? s.y : null,
               band: s.sampled && s.min ? { min: s.min, max: s.max } : null });
  }
  return out;
}

export function ChartPanel({ project, metric, runs, groups, axis, view, onZoom, liveSteps }) {
  const ref = useRef(null);
  const visible = useVisible(ref);
  const [px, setPx] = useState(600);
  useEffect(() => {
    const el = ref.current;
    setPx(el.clientWidth);
    const ro = new ResizeObserver(() => setPx(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const runIds = useMemo(() => (groups ? groups.flatMap((g) => g.runIds) : runs.map((r) => r.id)),
    [runs, groups]);
  const { byRun, error, loading } = useSeries(project, metric, runIds, axis, view.zoom,
    bucketWidth(px), liveSteps, visible);
  const lines = useMemo(() => linesFor(byRun, runs, groups, view.smooth), [byRun, runs, groups, view.smooth]);
  const points = byRun ? Object.values(byRun).reduce((n, s) => n + s.points, 0) : 0;
  const nonfinite = byRun ? Object.values(byRun).reduce((n, s) => n + (s.nonfinite || 0), 0) : 0;
  const xLabel = AXES[axis] || axis;

  return html`
    <section class="panel" ref=${ref} data-key=${metric} data-points=${points}>
      <header class="panel-head">
        <h3 title=${metric}>${metric}</h3>
        <span class="panel-meta">
          ${loading ? "loading…" : `${points.toLocaleString()} pts`}
          ${nonfinite ? html` · <span class="warn" title="NaN or Inf values are not drawn">${nonfinite} NaN/Inf</span>` : null}
        </span>
      </header>
      ${error ? html`<p class="error">${error}</p>` :
        !visible || !byRun ? html`<div class="chart-placeholder"></div>` :
        lines.length === 0 ? html`<p class="empty">No points for the charted runs${axis !== "_step" ? ` on x = ${axis}` : ""}.</p>` :
        html`<${Chart} lines=${lines} log=${view.log} timeAxis=${axis === "_timestamp"}
                      xLabel=${xLabel} onZoom=${onZoom} zoomed=${!!view.zoom} />`}
    </section>`;
}

// keys: [{key, numeric, hidden, step_metric}] -> sections of panels.
export function ChartSections({ project, keys, runs, groups, view, onZoom, liveSteps }) {
  const match = keyMatcher(view.search);
  const [closed, setClosed] = useState({});
  const known = new Set(keys.map((k) => k.key));
  const charted = keys.filter((k) => k.numeric && !k.hidden && match(k.key));
  const byKey = Object.fromEntries(charted.map((k) => [k.key, k]));
  const hidden = keys.filter((k) => k.hidden).length;
  // System metrics are sampled on the clock, not at steps: time is their axis.
  const axisFor = (k) => (k.key.startsWith("system/") ? (view.x && view.x.startsWith("_") && view.x !== "_step" ? view.x : "_runtime")
    : view.x || (k.step_metric && known.has(k.step_metric) ? k.step_metric : "_step"));
  return html`
    <div class="sections">
      ${charted.length === 0 ? html`<p class="empty">No metrics to chart${view.search ? " match the search" : " yet"}.</p>` : null}
      ${sections(charted.map((k) => k.key)).map((s) => html`
        <div class="section" data-section=${s.name}>
          <button class="section-head" onClick=${() => setClosed({ ...closed, [s.name]: !closed[s.name] })}>
            <span class="caret">${closed[s.name] ? "▸" : "▾"}</span> ${s.name}
            <span class="count">${s.keys.length}</span>
          </button>
          ${closed[s.name] ? null : html`<div class="panels">
            ${s.keys.map((key) => html`<${ChartPanel} key=${key} project=${project} metric=${key}
                runs=${runs} groups=${groups} axis=${axisFor(byKey[key])} view=${view}
                onZoom=${onZoom} liveSteps=${liveSteps} />`)}
          </div>`}
        </div>`)}
      ${hidden ? html`<p class="note">${hidden} metric${hidden > 1 ? "s" : ""} hidden by define_metric(hidden=True).</p>` : null}
    </div>`;
}
