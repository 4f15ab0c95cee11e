// A run's console output: the last lines first, earlier ones on request, new ones as
// the run prints them, and search (matching lines with their numbers, the match marked).

import { useEffect, useLayoutEffect, useRef, useState } from "../vendor/hooks.js";
import { html } from "../html.js";
import { api, consoleTextUrl } from "../api.js";
import { formatTime } from "../lib/format.js";

const PAGE = 500;
const KEPT = 3000; // lines held on the page; older ones are one click away

function clock(ts) {
  const d = new Date(ts * 1000);
  return d.toLocaleTimeString([], { hour12: false });
}

// The text with every case-insensitive occurrence of q wrapped in <mark>, as nodes.
function marked(text, q) {
  if (!q) return text;
  const low = text.toLowerCase();
  const needle = q.toLowerCase();
  const out = [];
  let at = 0;
  for (let i = low.indexOf(needle); i >= 0 && needle; i = low.indexOf(needle, at)) {
    if (i > at) out.push(text.slice(at, i));
    out.push(html`<mark>${text.slice(i, i + needle.length)}</mark>`);
    at = i + needle.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

export function ConsoleLog({ project, runId, seq }) {
  const [typed, setTyped] = useState("");
  const [q, setQ] = useState("");
  const [page, setPage] = useState(null); // { lines, total, matched, more }
  const [error, setError] = useState(null);
  const box = useRef(null);
  const pinned = useRef(true); // scrolled to the bottom: stay there as lines arrive
  const keepFrom = useRef(null); // scroll height before earlier lines were put on top

  useEffect(() => {
    const t = setTimeout(() => setQ(typed.trim()), 250);
    return () => clearTimeout(t);
  }, [typed]);

  useEffect(() => {
    const ctl = new AbortController();
    pinned.current = true;
    api.console(project, runId, { q, limit: PAGE }, ctl.signal)
      .then((d) => { setPage(d); setError(null); })
      .catch((e) => e.name !== "AbortError" && setError(e.message));
    return () => ctl.abort();
  }, [project, runId, q]);

  // The run wrote a batch: fetch only the lines after the last one shown.
  useEffect(() => {
    if (!page) return undefined;
    const last = page.lines.length ? page.lines[page.lines.length - 1].n : -1;
    const ctl = new AbortController();
    api.console(project, runId, { q, after: last, limit: 5000 }, ctl.signal).then((d) => {
      // Even with no new line (none matched the search), the counts move on.
      setPage((cur) => {
        if (!cur || q !== d.q) return cur;
        const seen = cur.lines.length ? cur.lines[cur.lines.length - 1].n : -1;
        const lines = cur.lines.concat(d.lines.filter((l) => l.n > seen));
        const cut = Math.max(0, lines.length - KEPT);
        return { ...cur, total: d.total, matched: d.matched, lines: lines.slice(cut), more: cur.more || cut > 0 };
      });
    }).catch(() => {});
    return () => ctl.abort();
  }, [seq]);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (keepFrom.current !== null) {
      el.scrollTop += el.scrollHeight - keepFrom.current;
      keepFrom.current = null;
    } else if (pinned.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [page]);

  const earlier = () => {
    if (!page || !page.lines.length) return;
    api.console(project, runId, { q, before: page.lines[0].n, limit: PAGE }).then((d) => {
      keepFrom.current = box.current ? box.current.scrollHeight : null;
      setPage((cur) => (cur ? { ...cur, lines: d.lines.concat(cur.lines), more: d.more } : cur));
    }).catch((e) => setError(e.message));
  };
  const onScroll = (e) => {
    const el = e.currentTarget;
    pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };

  const count = page ? (q ? `${page.matched.toLocaleString()} of ${page.total.toLocaleString()} lines match`
    : `${page.total.toLocaleString()} lines`) : "";
  let body;
  if (error) body = html`<p class="error">${error}</p>`;
  else if (!page) body = html`<p class="muted">Loading…</p>`;
  else if (!page.total) body = html`<p class="muted">No console output recorded for this run.</p>`;
  else if (!page.lines.length) body = html`<p class="muted">No line contains “${q}”.</p>`;
  else {
    body = html`<div class="console-box" ref=${box} onScroll=${onScroll}>
      ${page.more ? html`<button class="console-earlier" onClick=${earlier}>Show earlier lines</button>` : null}
      ${page.lines.map((l) => html`<div class=${l.stream === 2 ? "console-line err" : "console-line"} data-n=${l.n}
        ><span class="ln">${l.n + 1}</span><span class="ts" title=${formatTime(l.at)}>${clock(l.at)}</span
        ><span class="tx">${marked(l.text, q)}</span></div>`)}
    </div>`;
  }
  return html`<section class="card logs">
    <div class="console-head"><h2>Console log <span class="muted console-count">${count}</span></h2>
      <input class="console-search" type="search" placeholder="Search the output" value=${typed}
        onInput=${(e) => setTyped(e.currentTarget.value)} aria-label="Search the console output" />
      ${page && page.total ? html`<a class="console-download" href=${consoleTextUrl(project, runId)} download>output.log</a>` : null}
    </div>
    ${body}
  </section>`;
}
