// A project's artifacts, grouped by type, and one artifact: its versions, a version's
// aliases, metadata, files (download; tables open in the table view) and lineage.

import { useEffect, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { api, blobUrl } from "../api.js";
import { Link } from "./common.js";
import { TableView } from "./table_view.js";
import { LineageGraph, nodeHref } from "./lineage.js";
import { flatten, formatTime, formatValue } from "../lib/format.js";
import { routePath } from "../lib/url.js";

export function formatBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

function useLoad(fn, deps) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    const ctl = new AbortController();
    setState({ data: null, error: null });
    fn(ctl.signal).then((data) => setState({ data, error: null }))
      .catch((e) => e.name !== "AbortError" && setState({ data: null, error: e.message }));
    return () => ctl.abort();
  }, deps);
  return state;
}

const artifactHref = (project, name, version) => routePath({ page: "artifact", project, artifact: name, version });
// A run reference carries its project (a registry version's run lives elsewhere).
const runHref = (project, ref) => routePath({ page: "run", project: ref.project || project, run: ref.id });

export function ArtifactsPage({ project }) {
  const { data, error } = useLoad((s) => api.artifacts(project, s), [project]);
  return html`
    <main class="page artifacts-page">
      <header class="page-head"><nav class="crumbs"><${Link} href="/">Projects</${Link}> /
        <${Link} href=${routePath({ page: "workspace", project })}>${project}</${Link}> / <b>Artifacts</b></nav></header>
      ${error ? html`<p class="error">${error}</p>` : !data ? html`<p class="muted">Loading…</p>` :
        !data.types.length ? html`<p class="empty">No artifacts in this project. Log one with <code>run.log_artifact(...)</code>.</p>` :
        data.types.map((t) => html`
          <section class="card artifact-type" data-type=${t.type}>
            <h2>${t.type} <span class="muted">${t.artifacts.length}</span></h2>
            <table class="artifact-list"><thead><tr><th>Name</th><th>Versions</th><th>Latest</th><th>Aliases</th><th>Size</th><th>Updated</th></tr></thead>
              <tbody>${t.artifacts.map((a) => html`<tr data-artifact=${a.name}>
                <td><${Link} href=${artifactHref(project, a.name, "latest")}>${a.name}</${Link}></td>
                <td class="num">${a.versions}</td><td>${a.latest}</td>
                <td>${(a.aliases || []).map((x) => html`<span class="tag">${x}</span>`)}</td>
                <td class="num">${formatBytes(a.size)}</td><td>${formatTime(a.updated_at)}</td></tr>`)}</tbody></table>
          </section>`)}
    </main>`;
}

function Files({ files }) {
  const [open, setOpen] = useState(null);
  if (!files.length) return html`<p class="muted">No files.</p>`;
  return html`
    <table class="file-list"><thead><tr><th>Path</th><th>Size</th><th></th></tr></thead>
      <tbody>${files.map((f) => html`<tr data-path=${f.path}>
        <td>${f.path}</td><td class="num">${formatBytes(f.size)}</td>
        <td>${f.sha256 ? html`<a href=${blobUrl(f.sha256, { name: f.path.split("/").pop() })} download>download</a>` :
             f.ref ? html`<span class="muted" title=${f.ref}>reference</span>` : null}
            ${f.table_sha256 ? html` · <button class="open-table" onClick=${() => setOpen(f)}>open table</button>` : null}</td>
      </tr>`)}</tbody></table>
    ${open ? html`<div class="card"><h3>${open.path}</h3>
      <${TableView} source=${open.table_sha256} label=${open.path}
        load=${(params, signal) => api.tableBlob(open.table_sha256, params, signal)} /></div>` : null}`;
}

export function ArtifactPage({ project, name, version }) {
  const art = useLoad((s) => api.artifact(project, name, s), [project, name]);
  const ver = useLoad((s) => api.artifactVersion(project, name, version, s), [project, name, version]);
  const v = ver.data;
  return html`
    <main class="page artifact-page">
      <header class="page-head"><nav class="crumbs"><${Link} href="/">Projects</${Link}> /
        <${Link} href=${routePath({ page: "workspace", project })}>${project}</${Link}> /
        <${Link} href=${routePath({ page: "artifacts", project })}>Artifacts</${Link}> / <b class="artifact-name">${name}</b></nav></header>
      ${art.error || ver.error ? html`<p class="error">${art.error || ver.error}</p>` : null}
      <div class="artifact-layout">
        <aside class="card versions">
          <h2>Versions</h2>
          ${art.data ? art.data.versions.map((x) => html`<div class=${"version" + (v && v.version === x.version ? " current" : "")} data-version=${x.version}>
            <${Link} href=${artifactHref(project, name, x.version)}>${x.version}</${Link}>
            ${(x.aliases || []).map((a) => html` <span class="tag">${a}</span>`)}
            <span class="muted"> ${formatTime(x.created_at)}</span></div>`) : html`<p class="muted">Loading…</p>`}
        </aside>
        <section class="version-detail">
          ${!v ? html`<p class="muted">Loading…</p>` : html`
            <div class="card">
              <h2>${name}:${v.version} ${(v.aliases || []).map((a) => html`<span class="tag">${a}</span>`)}</h2>
              <table class="kv">
                <tr><th>Type</th><td>${art.data ? art.data.type : ""}</td></tr>
                <tr><th>Digest</th><td><code>${v.digest}</code></td></tr>
                <tr><th>Size</th><td>${formatBytes(v.size)} in ${v.file_count} files</td></tr>
                <tr><th>Created</th><td>${formatTime(v.created_at)}</td></tr>
                <tr><th>Description</th><td>${v.description || (art.data && art.data.description) || ""}</td></tr>
                <tr><th>Logged by</th><td>${v.logged_by ? html`<${Link} href=${runHref(project, v.logged_by)}>${v.logged_by.name}</${Link}>` : "—"}</td></tr>
                <tr><th>Used by</th><td>${(v.used_by || []).length ? v.used_by.map((r, i) => html`${i ? ", " : ""}<${Link} href=${runHref(project, r)}>${r.name}</${Link}>`) : "—"}</td></tr>
              </table>
              <h3>Metadata</h3>
              ${Object.keys(v.metadata || {}).length ? html`<table class="kv">${Object.entries(flatten(v.metadata)).map(([k, x]) => html`<tr><th>${k}</th><td>${formatValue(x)}</td></tr>`)}</table>` : html`<p class="muted">None.</p>`}
            </div>
            <div class="card"><h2>Files</h2><${Files} files=${v.files || []} /></div>
            <div class="card"><h2>Lineage</h2><${LineageGraph} project=${project} focus=${"artifact:" + name + ":" + v.version} query=${{ artifact: name + ":" + v.version }} /></div>`}
        </section>
      </div>
    </main>`;
}

// The run page's list of what a run logged and used.
export function RunArtifacts({ project, runId }) {
  const { data, error } = useLoad((s) => api.lineage(project, { run: runId, depth: 1 }, s), [project, runId]);
  if (error) return html`<p class="error">${error}</p>`;
  if (!data) return html`<p class="muted">Loading…</p>`;
  const me = "run:" + runId;
  const byId = new Map(data.nodes.map((n) => [n.id, n]));
  const logged = data.edges.filter((e) => e.from === me).map((e) => byId.get(e.to)).filter(Boolean);
  const used = data.edges.filter((e) => e.to === me).map((e) => byId.get(e.from)).filter(Boolean);
  const item = (n) => html`<li><${Link} href=${nodeHref(project, n)}>${n.label}</${Link}> <span class="muted">${n.type || ""}</span></li>`;
  return html`<div class="run-artifacts">
    <h3>Logged (outputs)</h3>${logged.length ? html`<ul class="logged">${logged.map(item)}</ul>` : html`<p class="muted">None.</p>`}
    <h3>Used (inputs)</h3>${used.length ? html`<ul class="used">${used.map(item)}</ul>` : html`<p class="muted">None.</p>`}
  </div>`;
}
