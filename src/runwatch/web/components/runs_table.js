// The runs table: thousands of rows, only the visible ones in the DOM.

import { useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { Link, StateBadge, Tags } from "./common.js";
import { formatDuration, formatTime, formatValue, runDuration } from "../lib/format.js";
import { routePath } from "../lib/url.js";

const ROW = 28;
const OVERSCAN = 12;

export const BASE_COLUMNS = [
  { id: "name", title: "Name" },
  { id: "state", title: "State" },
  { id: "created_at", title: "Created" },
  { id: "duration", title: "Runtime" },
  { id: "tags", title: "Tags" },
  { id: "group", title: "Group" },
  { id: "job_type", title: "Job type" },
];

export function sortValue(run, col) {
  if (col === "duration") return runDuration(run);
  if (col === "tags") return (run.tags || []).join(",");
  if (col.startsWith("config.")) return run.flatConfig[col.slice(7)];
  if (col.startsWith("summary.")) return run.flatSummary[col.slice(8)];
  return run[col];
}

// Numbers before text before missing values, in either direction.
export function compareValues(a, b) {
  const rank = (v) => (typeof v === "number" && !Number.isNaN(v) ? 0 : v === undefined || v === null ? 2 : 1);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return a - b;
  if (ra === 2) return 0;
  const sa = typeof a === "string" ? a : JSON.stringify(a);
  const sb = typeof b === "string" ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function cell(run, col, project) {
  switch (col) {
    case "name":
      return html`<${Link} href=${routePath({ page: "run", project, run: run.id })} class="run-link"
        title=${run.name + " (" + run.id + ")"}>${run.name}</${Link}>`;
    case "state": return html`<${StateBadge} state=${run.state} />`;
    case "created_at": return formatTime(run.created_at);
    case "duration": return formatDuration(runDuration(run));
    case "tags": return html`<${Tags} tags=${run.tags} />`;
    case "group": return run.group ?? "";
    case "job_type": return run.job_type ?? "";
    default: return formatValue(sortValue(run, col));
  }
}

export function RunsTable({ project, rows, columns, sort, onSort, charted, colors, groupColor, onToggle, onToggleGroup }) {
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
  const count = Math.ceil(height / ROW) + 2 * OVERSCAN;
  const shown = rows.slice(first, first + count);
  const onScroll = (e) => {
    setTop(e.currentTarget.scrollTop);
    setHeight(e.currentTarget.clientHeight);
  };
  const sortCol = sort.replace(/^-/, "");
  const desc = sort.startsWith("-");
  const header = (c) => html`
    <th class=${"col-" + c.id.replace(/\W/g, "_")} data-col=${c.id}
        aria-sort=${sortCol === c.id ? (desc ? "descending" : "ascending") : "none"}
        onClick=${() => onSort(sortCol === c.id && !desc ? "-" + c.id : c.id)} title=${"Sort by " + c.title}>
      ${c.title}${sortCol === c.id ? (desc ? " ↓" : " ↑") : ""}
    </th>`;
  return html`
    <div class="table-scroll" onScroll=${onScroll}
         ref=${(el) => { if (el && el.clientHeight && el.clientHeight !== height) setHeight(el.clientHeight); }}>
      <table class="runs">
        <thead><tr><th class="col-pick" title="Charted">◉</th>${columns.map(header)}</tr></thead>
        <tbody>
          ${first > 0 ? html`<tr class="spacer" style=${{ height: first * ROW + "px" }}></tr>` : null}
          ${shown.map((row) => row.type === "group" ? html`
            <tr class="group-row" key=${"g:" + row.value} data-group=${row.value}>
              <td class="col-pick"><input type="checkbox" checked=${row.charted === "all"}
                indeterminate=${row.charted === "some"} aria-label=${"Chart group " + row.value}
                onChange=${() => onToggleGroup(row)} /></td>
              <td colspan=${columns.length}>
                <span class="swatch" style=${{ background: row.color }}></span>
                <b>${row.value}</b> <span class="muted">${row.runs.length} runs</span>
              </td>
            </tr>` : html`
            <tr key=${row.run.id} data-run=${row.run.id} class=${charted.has(row.run.id) ? "charted" : ""}>
              <td class="col-pick">
                <input type="checkbox" checked=${charted.has(row.run.id)}
                  aria-label=${"Chart " + row.run.name} onChange=${() => onToggle(row.run.id)} />
                <span class="swatch" style=${{ background: (groupColor && groupColor(row.run)) || colors.get(row.run.id) || row.run.color }}></span>
              </td>
              ${columns.map((c) => html`<td class=${"col-" + c.id.replace(/\W/g, "_")}>${cell(row.run, c.id, project)}</td>`)}
            </tr>`)}
          ${first + count < rows.length ? html`<tr class="spacer" style=${{ height: (rows.length - first - count) * ROW + "px" }}></tr>` : null}
        </tbody>
      </table>
    </div>`;
}
