// A logged table, a page at a time from the server: sort by any column, page through a
// million rows, choose the step, images drawn in their cells.

import { useEffect, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { blobUrl } from "../api.js";
import { formatValue } from "../lib/format.js";

const PAGE = 50;
// Column kinds with an order (the table file keeps a sort permutation for each).
const SORTABLE = new Set(["int", "float", "bool", "str"]);

function Cell({ value }) {
  if (value && typeof value === "object" && value._type === "image" && value.sha256) {
    return html`<img class="cell-image" src=${blobUrl(value.sha256, { thumb: 64 })}
      alt=${value.caption || ""} title=${value.caption || ""} loading="lazy" />`;
  }
  return formatValue(value);
}

// load({step, offset, limit, sort, desc}, signal) fetches a page; `source` names what it
// reads (a run's key, a blob), so a new source starts over.
export function TableView({ source, load, steps = [], label = "" }) {
  const [step, setStep] = useState(null);
  const [sort, setSort] = useState(null);
  const [desc, setDesc] = useState(false);
  const [offset, setOffset] = useState(0);
  const [filter, setFilter] = useState("");
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const ctl = new AbortController();
    load({ step: step ?? undefined, offset, limit: PAGE, sort: sort ?? undefined, desc,
           filter: filter || undefined }, ctl.signal)
      .then((p) => { setPage(p); setError(null); })
      .catch((e) => e.name !== "AbortError" && setError(e.message));
    return () => ctl.abort();
  }, [source, step, offset, sort, desc, filter]);
  const filterBox = html`<input type="search" class="table-filter" placeholder="Filter rows: score>0.5 label=cat"
    value=${filter} aria-label="Filter rows"
    onChange=${(e) => { setFilter(e.currentTarget.value.trim()); setOffset(0); }} />`;
  if (error && !page) return html`<div class="table-view">${filterBox}<p class="error">${error}</p></div>`;
  if (!page) return html`<p class="muted">Loading table…</p>`;
  const onSort = (c) => {
    if (sort === c) setDesc(!desc); else { setSort(c); setDesc(false); }
    setOffset(0);
  };
  const total = page.matched ?? page.nrows;
  const last = Math.min(total, offset + PAGE);
  return html`
    <div class="table-view">
      <div class="table-tools">
        ${steps.length > 1 ? html`<label>Step <select class="table-step" value=${String(step ?? page.step)}
            onChange=${(e) => { setStep(Number(e.currentTarget.value)); setOffset(0); }}>
            ${steps.map((s) => html`<option value=${String(s)}>${s}</option>`)}</select></label>` : null}
        <span class="muted">${label}</span>
        ${filterBox}
        <span class="pager">
          <button class="prev" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>‹</button>
          <span class="rows-shown">${total ? offset + 1 : 0}–${last} of ${total.toLocaleString()}</span>
          ${total !== page.nrows ? html`<span class="muted">(${page.nrows.toLocaleString()} in all)</span>` : null}
          <button class="next" disabled=${last >= total} onClick=${() => setOffset(offset + PAGE)}>›</button>
        </span>
      </div>
      ${error ? html`<p class="error table-error">${error}</p>` : null}
      <div class="table-wrap">
        <table class="logged-table">
          <thead><tr>${page.columns.map((c, k) => SORTABLE.has(page.kinds[k]) ? html`
            <th data-col=${c} title=${"Sort by " + c} onClick=${() => onSort(c)} class="sortable"
                aria-sort=${sort === c ? (desc ? "descending" : "ascending") : "none"}>
              ${c}${sort === c ? (desc ? " ↓" : " ↑") : ""}</th>` : html`
            <th data-col=${c} title=${page.kinds[k] + " cells have no order"}>${c}</th>`)}</tr></thead>
          <tbody>${page.rows.map((row) => html`<tr>${row.map((v) => html`<td><${Cell} value=${v} /></td>`)}</tr>`)}</tbody>
        </table>
      </div>
    </div>`;
}
