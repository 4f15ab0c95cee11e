// The only module that talks to the server. Every other module asks through here.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const BASE = "/api/v1";

async function getJSON(path, params, signal) {
  const qs = params ? new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""),
  ).toString() : "";
  let res;
  try {
    res = await fetch(BASE + path + (qs ? "?" + qs : ""), { signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "unreachable", "The runwatch server does not answer. Is `runwatch ui` still running?");
  }
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    if (e.name === "AbortError") throw e; // the caller gave up while the body arrived
    throw new ApiError(res.status, "bad_response", `The server answered ${res.status} without JSON.`);
  }
  if (!res.ok) {
    const err = body && body.error ? body.error : { code: "error", message: `HTTP ${res.status}` };
    // The server wants an API key: the app shows its sign-in form (app.js).
    if (res.status === 401) dispatchEvent(new CustomEvent("runwatch:unauthorized", { detail: err.message }));
    throw new ApiError(res.status, err.code, err.message);
  }
  return body;
}

// Sign the browser in: the server checks the key and keeps it in an HttpOnly cookie, which
// also reaches images and the event stream. Resolves to {name, read_only}.
export async function signIn(key) {
  let res;
  try {
    res = await fetch(BASE + "/session", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ key }),
    });
  } catch (e) {
    throw new ApiError(0, "unreachable", "The runwatch server does not answer.");
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = body && body.error ? body.error : { code: "error", message: `HTTP ${res.status}` };
    throw new ApiError(res.status, err.code, err.message);
  }
  return body;
}

const seg = encodeURIComponent;

export const api = {
  projects: (signal) => getJSON("/projects", null, signal),
  runs: (project, signal) => getJSON(`/projects/${seg(project)}/runs`, null, signal),
  run: (project, id, signal) => getJSON(`/projects/${seg(project)}/runs/${seg(id)}`, null, signal),
  keys: (project, runIds, signal) =>
    getJSON(`/projects/${seg(project)}/keys`, runIds ? { runs: runIds.join(",") } : null, signal),
  // One metric of several runs on an x-axis, reduced to `width` buckets by the server.
  mediaSteps: (project, key, runIds, signal) =>
    getJSON(`/projects/${seg(project)}/media/steps`, { key, runs: runIds.join(",") }, signal),
  // Every object a run logged under key (sampled to `limit` steps): image metas, histograms.
  values: (project, run, key, limit, signal) =>
    getJSON(`/projects/${seg(project)}/runs/${seg(run)}/values`, { key, limit }, signal),
  media: (project, run, key, step, signal) =>
    getJSON(`/projects/${seg(project)}/runs/${seg(run)}/media`, { key, step }, signal),
  table: (project, run, { key, step, offset, limit, sort, desc, filter }, signal) =>
    getJSON(`/projects/${seg(project)}/runs/${seg(run)}/table`,
      { key, step, offset, limit, sort, desc: desc ? "true" : undefined, filter }, signal),
  tableBlob: (sha, { offset, limit, sort, desc, filter }, signal) =>
    getJSON(`/tables/${seg(sha)}`, { offset, limit, sort, desc: desc ? "true" : undefined, filter }, signal),
  artifacts: (project, signal) => getJSON(`/projects/${seg(project)}/artifacts`, null, signal),
  artifact: (project, name, signal) =>
    getJSON(`/projects/${seg(project)}/artifacts/${seg(name)}`, null, signal),
  artifactVersion: (project, name, version, signal) =>
    getJSON(`/projects/${seg(project)}/artifacts/${seg(name)}/${seg(version)}`, null, signal),
  lineage: (project, { artifact, run, depth }, signal) =>
    getJSON(`/projects/${seg(project)}/lineage`, { artifact, run, depth }, signal),
  alerts: (project, run, signal) => getJSON(`/projects/${seg(project)}/alerts`, { run }, signal),
  // A page of a run's console lines: the last ones, or after/before a line number; q searches.
  console: (project, run, { after, before, limit, q }, signal) =>
    getJSON(`/projects/${seg(project)}/runs/${seg(run)}/console`, { after, before, limit, q }, signal)
      .then((d) => ({ ...d, q: q || "" })),
  files: (project, run, signal) => getJSON(`/projects/${seg(project)}/runs/${seg(run)}/files`, null, signal),
  series: (project, { key, runs, x, width, xmin, xmax, after }, signal) =>
    getJSON(`/projects/${seg(project)}/series`,
      { key, runs: runs.join(","), x, width, xmin, xmax, after }, signal),
};

// The run's whole console output as a file (wandb's output.log).
export function consoleTextUrl(project, run) {
  return `${BASE}/projects/${seg(project)}/runs/${seg(run)}/console.txt?download=true`;
}

// Where a stored file (an image, a checkpoint) is served; thumb: longest side in pixels.
export function blobUrl(sha, { thumb, name } = {}) {
  const q = new URLSearchParams();
  if (thumb) q.set("thumb", String(thumb));
  if (name) q.set("name", name);
  const qs = q.toString();
  return `${BASE}/blobs/${encodeURIComponent(sha)}${qs ? "?" + qs : ""}`;
}

// Live updates: calls onEvent(kind, data) for "ready", "runs" and "projects" events.
// EventSource reconnects by itself; onStatus tells the page whether it is live.
export function subscribe(project, onEvent, onStatus) {
  const url = BASE + "/events" + (project ? "?project=" + seg(project) : "");
  const source = new EventSource(url);
  for (const kind of ["ready", "runs", "projects"]) {
    source.addEventListener(kind, (ev) => onEvent(kind, JSON.parse(ev.data)));
  }
  source.onopen = () => onStatus && onStatus(true);
  source.onerror = () => onStatus && onStatus(false);
  return () => source.close();
}
