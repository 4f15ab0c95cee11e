// Every project in the store, with run counts and activity, kept live.

import { useEffect, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { api, subscribe } from "../api.js";
import { Link, LiveDot } from "./common.js";
import { formatAgo, formatTime } from "../lib/format.js";
import { routePath } from "../lib/url.js";

export function ProjectsPage() {
  const [projects, setProjects] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState(false);
  useEffect(() => {
    let alive = true;
    const load = () => api.projects()
      .then((res) => alive && setProjects(res.projects)).catch((e) => alive && setError(e.message));
    load();
    // The list is small: on every (re)connect of the stream, load it again.
    const stop = subscribe(null, (kind, data) => {
      if (!alive) return;
      if (kind === "ready") {
        load();
      } else if (kind === "projects") {
        setProjects(data.projects);
      }
    }, setLive);
    return () => { alive = false; stop(); };
  }, []);
  return html`
    <main class="page">
      <header class="page-head"><h1>Projects</h1><${LiveDot} live=${live} /></header>
      ${error ? html`<p class="error">${error}</p>` : null}
      ${projects === null ? html`<p class="muted">Loading…</p>` :
        projects.length === 0 ? html`<div class="empty-state">
            <p>No runs in this store yet. Log one:</p>
            <pre>import runwatch as wandb\nrun = wandb.init(project="hello")\nfor step in range(100):\n    run.log({"loss": 1 / (step + 1)})\nrun.finish()</pre>
          </div>` :
        html`<table class="projects">
          <thead><tr><th>Project</th><th>Runs</th><th>Running</th><th>Last activity</th><th>Created</th></tr></thead>
          <tbody>${projects.map((p) => html`
            <tr data-project=${p.name}>
              <td><${Link} href=${routePath({ page: "workspace", project: p.name })}>${p.name}</${Link}></td>
              <td class="num">${p.run_count}</td>
              <td class="num">${p.running_count ? html`<span class="state state-running">${p.running_count}</span>` : "0"}</td>
              <td title=${formatTime(p.last_activity)}>${formatAgo(p.last_activity)}</td>
              <td>${formatTime(p.created_at)}</td>
            </tr>`)}</tbody>
        </table>`}
    </main>`;
}
