// One run: its overview, its charts, and the places for system metrics, logs, files
// and artifacts.

import { useEffect, useMemo, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { api, blobUrl } from "../api.js";
import { Link, LiveDot, StateBadge, Tags } from "./common.js";
import { ChartSections } from "./charts.js";
import { MediaSections } from "./media.js";
import { RunArtifacts, formatBytes } from "./artifacts.js";
import { ConsoleLog } from "./console_log.js";
import { ChartOptions } from "./controls.js";
import { useProjectRuns, prepareRun } from "./live.js";
import { flatten, formatDuration, formatTime, formatValue, runDuration } from "../lib/format.js";
import { routePath } from "../lib/url.js";
import { SYSTEM_SECTION, sectionOf } from "../lib/sections.js";

function KeyValues({ values, empty }) {
  const entries = Object.entries(flatten(values)).filter(([k]) => !k.startsWith("_"));
  if (!entries.length) return html`<p class="muted">${empty}</p>`;
  return html`<table class="kv">${entries.map(([k, v]) => html`
    <tr><th>${k}</th><td>${formatValue(v)}</td></tr>`)}</table>`;
}

// What wandb's Files tab lists: the run's config, summary and metadata, and its media.
function RunFiles({ project, runId }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const ctl = new AbortController();
    api.files(project, runId, ctl.signal).then(setData).catch((e) => e.name !== "AbortError" && setError(e.message));
    return () => ctl.abort();
  }, [project, runId]);
  if (error) return html`<p class="error">${error}</p>`;
  if (!data) return html`<p class="muted">Loading…</p>`;
  const href = (f) => (f.url ? f.url + "?download=true" : blobUrl(f.sha256, { name: f.path.split("/").pop() }));
  return html`<table class="file-list run-files"><thead><tr><th>Path</th><th>Kind</th><th>Size</th><th></th></tr></thead>
    <tbody>${data.files.map((f) => html`<tr data-path=${f.path}><td>${f.path}</td><td>${f.kind}</td>
      <td class="num">${formatBytes(f.size)}</td><td><a href=${href(f)} download>download</a></td></tr>`)}</tbody></table>
    ${data.truncated ? html`<p class="muted">The first ${data.files.length} files are listed.</p>` : null}`;
}

// run.alert(...) calls and runwatch's own (a metric turned NaN or Inf), newest first.
function RunAlerts({ project, runId, seq }) {
  const [alerts, setAlerts] = useState(null);
  useEffect(() => {
    const ctl = new AbortController();
    api.alerts(project, runId, ctl.signal).then((r) => setAlerts(r.alerts)).catch(() => {});
    return () => ctl.abort();
  }, [project, runId, seq]);
  if (!alerts || !alerts.length) return null;
  return html`<section class="card alerts"><h2>Alerts <span class="muted">${alerts.length}</span></h2>
    <ul class="alert-list">${alerts.map((a) => html`<li class=${"alert alert-" + a.level.toLowerCase()}>
      <span class="alert-level">${a.level}</span> <b class="alert-title">${a.title}</b>
      <span class="muted"> ${formatTime(a.at)}${a.step !== null && a.step !== undefined ? ` · step ${a.step}` : ""}</span>
      <div class="alert-text">${a.text}</div></li>`)}</ul></section>`;
}

function command(meta) {
  if (!meta.program) return "";
  return ["python", meta.program, ...(meta.args || [])].join(" ");
}

export function RunPage({ project, runId, view, setView }) {
  const [detail, setDetail] = useState(null);
  const [error, setError] = useState(null);
  const { runs, keys, live } = useProjectRuns(project, runId);
  const liveRun = runs.find((r) => r.id === runId);

  useEffect(() => {
    const ctl = new AbortController();
    api.run(project, runId, ctl.signal)
      .then((d) => { setDetail(d); setError(null); })
      .catch((e) => e.name !== "AbortError" && setError(e.message));
    return () => ctl.abort();
  }, [project, runId, liveRun ? liveRun.state : null]);

  const run = useMemo(() => (liveRun ? { ...(detail || {}), ...liveRun } : detail ? prepareRun(detail) : null),
    [liveRun, detail]);
  const liveSteps = useMemo(() => (run ? { [run.id]: run.last_step } : {}), [run ? run.last_step : null]);
  const chartRuns = useMemo(() => (run ? [{ id: run.id, name: run.name, color: run.color }] : []), [run ? run.id : null]);
  const axisKeys = keys.filter((k) => k.numeric).map((k) => k.key);
  const userKeys = keys.filter((k) => sectionOf(k.key) !== SYSTEM_SECTION);
  const systemKeys = keys.filter((k) => sectionOf(k.key) === SYSTEM_SECTION);

  if (error) {
    return html`<main class="page"><p class="error">${error}</p>
      <p><${Link} href=${routePath({ page: "workspace", project })}>Back to ${project}</${Link}></p></main>`;
  }
  if (!run) return html`<main class="page"><p class="muted">Loading run…</p></main>`;
  const meta = (detail && detail.metadata) || {};
  const overview = [
    ["State", html`<${StateBadge} state=${run.state} />${run.exit_code ? ` (exit code ${run.exit_code})` : ""}`],
    ["Run path", `${project}/${run.id}`],
    ["Created", formatTime(run.created_at)],
    ["Runtime", formatDuration(runDuration(run))],
    ["Steps", run.last_step === null || run.last_step === undefined ? "0" : String(run.last_step + 1)],
    ["Host", meta.host || run.host || ""],
    ["OS", meta.os || ""],
    ["Python", meta.python ? `${meta.python} (${meta.executable || ""})` : ""],
    ["Command", command(meta)],
    ["Working directory", meta.cwd || ""],
    ["Git", meta.git ? [meta.git.remote, meta.git.branch, (meta.git.commit || "").slice(0, 12),
      meta.git.dirty ? "+ uncommitted changes" : ""].filter(Boolean).join(" ") : "not recorded"],
    ["Group", run.group || ""],
    ["Job type", run.job_type || ""],
    ["Tags", html`<${Tags} tags=${run.tags} />`],
    ["Notes", run.notes || ""],
  ];
  return html`
    <main class="page run-page">
      <header class="page-head">
        <nav class="crumbs"><${Link} href="/">Projects</${Link}> /
          <${Link} href=${routePath({ page: "workspace", project })}>${project}</${Link}> /
          <b class="run-name">${run.name}</b></nav>
        <${LiveDot} live=${live} />
      </header>
      <${RunAlerts} project=${project} runId=${run.id} seq=${run.seq} />
      <section class="overview">
        <div class="card">
          <h2>Overview</h2>
          <table class="kv overview-table">${overview.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table>
          ${detail && detail.traceback ? html`<h3>Traceback</h3><pre class="traceback">${detail.traceback}</pre>` : null}
          ${meta.git && meta.git.diff ? html`<details class="git-diff"><summary>Uncommitted changes (git diff HEAD)</summary>
              <pre class="code-block">${meta.git.diff}</pre></details>` : null}
          ${meta.packages ? html`<details class="packages"><summary>${meta.packages.length} installed packages</summary>
              <pre class="code-block">${meta.packages.join("\n")}</pre></details>` : null}
        </div>
        <div class="card"><h2>Config</h2><${KeyValues} values=${run.config} empty="No config." /></div>
        <div class="card"><h2>Summary</h2><${KeyValues} values=${run.summary} empty="No summary yet." /></div>
      </section>
      <section class="run-charts">
        <h2>Charts</h2>
        <${ChartOptions} view=${view} setView=${setView} axisKeys=${axisKeys} />
        <${ChartSections} project=${project} keys=${userKeys} runs=${chartRuns} groups=${null}
          view=${view} onZoom=${(z) => setView({ zoom: z })} liveSteps=${liveSteps} />
        <${MediaSections} project=${project} keys=${userKeys} runs=${chartRuns} search=${view.search} />
      </section>
      <section class="card system">
        <h2>System metrics</h2>
        ${systemKeys.length ? html`<${ChartSections} project=${project} keys=${systemKeys} runs=${chartRuns}
            groups=${null} view=${view} onZoom=${(z) => setView({ zoom: z })} liveSteps=${liveSteps} />`
          : html`<p class="muted">No system metrics recorded for this run.</p>`}
      </section>
      <${ConsoleLog} project=${project} runId=${run.id} seq=${run.seq} />
      <section class="card files"><h2>Files</h2><${RunFiles} project=${project} runId=${run.id} /></section>
      <section class="card artifacts"><h2>Artifacts</h2><${RunArtifacts} project=${project} runId=${run.id} /></section>
    </main>`;
}
