// A project's workspace: the runs table on the left, a chart per metric on the right.

import { useMemo, useRef } from "../vendor/hooks.js";
import { html } from "../html.js";
import { Link, LiveDot } from "./common.js";
import { BASE_COLUMNS, RunsTable, compareValues, sortValue } from "./runs_table.js";
import { ChartSections } from "./charts.js";
import { MediaSections } from "./media.js";
import { ChartOptions, FilterBar, TableOptions } from "./controls.js";
import { useProjectRuns } from "./live.js";
import { parseFilter } from "../lib/filter.js";
import { routePath } from "../lib/url.js";
import { groupRuns } from "../lib/group.js";
import { assignColors, colorAt } from "../lib/colors.js";

const DEFAULT_CHARTED = 10;
const MAX_GROUP_RUNS = 200;

function keysOf(runs, field) {
  const seen = new Set();
  for (const r of runs) for (const k of Object.keys(r[field])) seen.add(k);
  return [...seen].sort();
}

export function Workspace({ project, view, setView }) {
  const { runs, keys, error, live, loaded } = useProjectRuns(project, null);
  const filter = useMemo(() => parseFilter(view.q), [view.q]);

  const sorted = useMemo(() => {
    const shown = runs.filter(filter.test);
    const col = view.sort.replace(/^-/, "");
    const sign = view.sort.startsWith("-") ? -1 : 1;
    return shown.sort((a, b) => {
      const c = compareValues(sortValue(a, col), sortValue(b, col));
      // Missing values sort last in both directions.
      const va = sortValue(a, col);
      const vb = sortValue(b, col);
      if (va === undefined || va === null || vb === undefined || vb === null) return c;
      return sign * c || (a.id < b.id ? -1 : 1);
    });
  }, [runs, filter, view.sort]);

  const groups = useMemo(() => (view.group ? groupRuns(sorted, view.group).map((g, i) => ({
    ...g, color: colorAt(i) })) : null), [sorted, view.group]);

  const charted = useMemo(() => {
    if (view.runs) return new Set(view.runs);
    if (groups) return new Set(groups.slice(0, DEFAULT_CHARTED).flatMap((g) => g.runs.map((r) => r.id)).slice(0, MAX_GROUP_RUNS));
    return new Set(sorted.slice(0, DEFAULT_CHARTED).map((r) => r.id));
  }, [view.runs, groups, sorted]);

  const rows = useMemo(() => {
    if (!groups) return sorted.map((run) => ({ type: "run", run }));
    const out = [];
    for (const g of groups) {
      const n = g.runs.filter((r) => charted.has(r.id)).length;
      out.push({ type: "group", value: g.value, runs: g.runs, color: g.color,
                 charted: n === 0 ? "none" : n === g.runs.length ? "all" : "some" });
      for (const run of g.runs) out.push({ type: "run", run });
    }
    return out;
  }, [sorted, groups, charted]);

  // Charted runs get distinct colours; the rest keep the colour of their id.
  const colors = useMemo(() => assignColors([...charted]), [charted]);
  // A shared link names its charted runs: charts start fetching before the runs table
  // has loaded (names fill in when it has).
  const chartRuns = useMemo(() => {
    if (!loaded && view.runs && !view.group) {
      return view.runs.map((id) => ({ id, name: id, last_step: null, color: colors.get(id) }));
    }
    return sorted.filter((r) => charted.has(r.id)).map((r) => ({ ...r, color: colors.get(r.id) }));
  }, [sorted, charted, colors, loaded, view.runs, view.group]);
  const chartGroups = useMemo(() => (groups ? groups.map((g) => ({
    value: g.value, color: g.color, runIds: g.runs.filter((r) => charted.has(r.id)).map((r) => r.id),
  })).filter((g) => g.runIds.length) : null), [groups, charted]);

  // A new object only when a charted run's step moved: panels fetch the tail then.
  const stepsRef = useRef({});
  const liveSteps = useMemo(() => {
    const next = {};
    let changed = false;
    for (const r of chartRuns) {
      next[r.id] = r.last_step;
      if (stepsRef.current[r.id] !== r.last_step) changed = true;
    }
    if (changed || Object.keys(next).length !== Object.keys(stepsRef.current).length) stepsRef.current = next;
    return stepsRef.current;
  }, [chartRuns]);

  const toggle = (id) => {
    const set = new Set(charted);
    if (set.has(id)) set.delete(id); else set.add(id);
    setView({ runs: [...set] });
  };
  const toggleGroup = (row) => {
    const set = new Set(charted);
    const on = row.charted !== "all";
    for (const r of row.runs) if (on) set.add(r.id); else set.delete(r.id);
    setView({ runs: [...set] });
  };

  // Grouped, a row's swatch is its group's colour: the colour its line is drawn in.
  const groupColor = useMemo(() => {
    if (!groups) return null;
    const byRun = new Map();
    for (const g of groups) for (const r of g.runs) byRun.set(r.id, g.color);
    return (run) => byRun.get(run.id);
  }, [groups]);
  const configKeys = useMemo(() => keysOf(runs, "flatConfig"), [runs]);
  const summaryKeys = useMemo(() => keysOf(runs, "flatSummary").filter((k) => !k.startsWith("_")), [runs]);
  const columns = useMemo(() => [...BASE_COLUMNS, ...view.cols.map((c) => ({ id: c, title: c }))], [view.cols]);
  const axisKeys = useMemo(() => keys.filter((k) => k.numeric).map((k) => k.key), [keys]);
  const onZoom = (z) => setView({ zoom: z });

  if (error) {
    return html`<main class="page"><h1>${project}</h1><p class="error">${error.message}</p>
      <p><${Link} href="/">All projects</${Link}></p></main>`;
  }
  return html`
    <main class="workspace">
      <header class="page-head">
        <nav class="crumbs"><${Link} href="/">Projects</${Link}> / <b class="project-name">${project}</b></nav>
        <${Link} href=${routePath({ page: "artifacts", project })} class="artifacts-link">Artifacts</${Link}>
        <${LiveDot} live=${live} />
      </header>
      <div class="split">
        <aside class="runs-pane">
          <${FilterBar} view=${view} setView=${setView} errors=${filter.errors}
            shown=${sorted.length} total=${runs.length} charted=${chartRuns.length} />
          <${TableOptions} view=${view} setView=${setView} configKeys=${configKeys} summaryKeys=${summaryKeys} />
          ${loaded ? html`<${RunsTable} project=${project} rows=${rows} columns=${columns} sort=${view.sort}
            onSort=${(s) => setView({ sort: s })} charted=${charted} colors=${colors} groupColor=${groupColor} onToggle=${toggle} onToggleGroup=${toggleGroup} />`
            : html`<p class="muted">Loading runs…</p>`}
        </aside>
        <section class="charts-pane">
          <${ChartOptions} view=${view} setView=${setView} axisKeys=${axisKeys} />
          <${ChartSections} project=${project} keys=${keys} runs=${chartRuns} groups=${chartGroups}
            view=${view} onZoom=${onZoom} liveSteps=${liveSteps} />
          <${MediaSections} project=${project} keys=${keys} runs=${chartRuns} search=${view.search} />
        </section>
      </div>
    </main>`;
}
