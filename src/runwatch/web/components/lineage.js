// The lineage graph: runs and artifact versions as boxes in columns (inputs to the
// left, outputs to the right), "logged" and "used" as arrows; every box is a link.

import { useEffect, useLayoutEffect, useRef, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { api } from "../api.js";
import { Link } from "./common.js";
import { routePath } from "../lib/url.js";

// Column of each node: its distance from the focus, negative upstream.
export function layers(nodes, edges, focus) {
  const col = new Map([[focus, 0]]);
  const queue = [focus];
  while (queue.length) {
    const id = queue.shift();
    for (const e of edges) {
      if (e.from === id && !col.has(e.to)) { col.set(e.to, col.get(id) + 1); queue.push(e.to); }
      if (e.to === id && !col.has(e.from)) { col.set(e.from, col.get(id) - 1); queue.push(e.from); }
    }
  }
  const out = new Map();
  for (const n of nodes) {
    const c = col.has(n.id) ? col.get(n.id) : 0;
    if (!out.has(c)) out.set(c, []);
    out.get(c).push(n);
  }
  return [...out.entries()].sort((a, b) => a[0] - b[0]).map(([, ns]) => ns);
}

// Nodes carry their own project: a model linked into the registry lives in another one.
export function nodeHref(project, node) {
  const p = node.project || project;
  if (node.kind === "run") return routePath({ page: "run", project: p, run: node.run_id });
  return routePath({ page: "artifact", project: p, artifact: node.name, version: node.version });
}

export function LineageGraph({ project, focus, query }) {
  const [graph, setGraph] = useState(null);
  const [error, setError] = useState(null);
  const box = useRef(null);
  const [lines, setLines] = useState([]);
  const key = JSON.stringify(query);
  useEffect(() => {
    const ctl = new AbortController();
    api.lineage(project, { ...query, depth: 3 }, ctl.signal).then(setGraph)
      .catch((e) => e.name !== "AbortError" && setError(e.message));
    return () => ctl.abort();
  }, [project, key]);
  useLayoutEffect(() => {
    if (!graph || !box.current) return;
    const at = box.current.getBoundingClientRect();
    const pos = new Map();
    for (const el of box.current.querySelectorAll("[data-node]")) {
      const r = el.getBoundingClientRect();
      pos.set(el.dataset.node, { x1: r.left - at.left, x2: r.right - at.left, y: r.top - at.top + r.height / 2 });
    }
    setLines(graph.edges.map((e) => {
      const a = pos.get(e.from);
      const b = pos.get(e.to);
      return a && b ? { x1: a.x2, y1: a.y, x2: b.x1, y2: b.y, kind: e.kind } : null;
    }).filter(Boolean));
  }, [graph]);
  if (error) return html`<p class="error">${error}</p>`;
  if (!graph) return html`<p class="muted">Loading…</p>`;
  const root = graph.root || focus;
  const cols = layers(graph.nodes, graph.edges, root);
  return html`
    <p class="muted lineage-legend">Inputs on the left, outputs on the right: a solid line is "logged", a dashed one "used".${graph.truncated ? " Cut at 500 nodes." : ""}</p>
    <div class="lineage" ref=${box} data-nodes=${graph.nodes.length} data-edges=${graph.edges.length}>
      <svg class="lineage-edges" aria-hidden="true">
        ${lines.map((l) => html`<line x1=${l.x1} y1=${l.y1} x2=${l.x2} y2=${l.y2} class=${"edge " + l.kind} />`)}
      </svg>
      ${cols.map((ns) => html`<div class="lineage-col">${ns.map((n) => html`
        <${Link} href=${nodeHref(project, n)} class=${"node " + n.kind + (n.id === root ? " focus" : "")} data-node=${n.id}>
          <span class="node-kind">${n.kind === "run" ? "run" : n.type || "artifact"}</span>
          <span class="node-label">${n.label}</span>
          ${n.state ? html`<span class=${"state state-" + n.state}>${n.state}</span>` : null}
        </${Link}>`)}</div>`)}
    </div>`;
}
