// Grouping runs and drawing a group as one line: the mean of its runs, with a band
// from their min to their max. DOM-free.

import { flatten } from "./format.js";

// The value a run is grouped by: "group", "job_type" or "config.<key>".
export function groupValue(run, by) {
  if (by === "group") return run.group ?? "(no group)";
  if (by === "job_type") return run.job_type ?? "(no job type)";
  if (by.startsWith("config.")) {
    const flat = run.flatConfig || flatten(run.config);
    const v = flat[by.slice(7)];
    return v === undefined ? "(unset)" : typeof v === "string" ? v : JSON.stringify(v);
  }
  return "";
}

// [{value, runs:[...]}] in the order the runs come.
export function groupRuns(runs, by) {
  const groups = new Map();
  for (const r of runs) {
    const v = groupValue(r, by);
    if (!groups.has(v)) groups.set(v, []);
    groups.get(v).push(r);
  }
  return [...groups.entries()].map(([value, rs]) => ({ value, runs: rs }));
}

// Series of several runs ({x, y} each, x sorted) put on `width` buckets over their
// joint x range; each bucket's mean, min and max over the runs that have a value there.
export function aggregate(seriesList, width) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of seriesList) {
    if (s.x.length) {
      lo = Math.min(lo, s.x[0]);
      hi = Math.max(hi, s.x[s.x.length - 1]);
    }
  }
  if (!Number.isFinite(lo)) return { x: [], mean: [], min: [], max: [] };
  const n = Math.max(1, Math.min(width, seriesList.reduce((m, s) => Math.max(m, s.x.length), 1)));
  const span = hi - lo || 1;
  const sum = new Float64Array(n);
  const count = new Uint32Array(n);
  const min = new Array(n).fill(null);
  const max = new Array(n).fill(null);
  const xs = new Float64Array(n);
  const xc = new Uint32Array(n);
  for (const s of seriesList) {
    // One value per run per bucket (the run's last in it), so a dense run does not
    // outweigh a sparse one.
    const own = new Map();
    for (let i = 0; i < s.x.length; i++) {
      const y = s.y[i];
      if (y === null || !Number.isFinite(y)) continue;
      const b = Math.min(n - 1, Math.floor(((s.x[i] - lo) / span) * n));
      own.set(b, [s.x[i], y]);
    }
    for (const [b, [x, y]] of own) {
      sum[b] += y;
      count[b]++;
      xs[b] += x;
      xc[b]++;
      min[b] = min[b] === null ? y : Math.min(min[b], y);
      max[b] = max[b] === null ? y : Math.max(max[b], y);
    }
  }
  const out = { x: [], mean: [], min: [], max: [] };
  for (let b = 0; b < n; b++) {
    if (!count[b]) continue;
    out.x.push(xs[b] / xc[b]);
    out.mean.push(sum[b] / count[b]);
    out.min.push(min[b]);
    out.max.push(max[b]);
  }
  return out;
}
