// The page's state lives in its URL, so any view can be shared by copying the address.
// DOM-free: works on strings, the caller reads and writes location.

export function parseRoute(pathname) {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "p" && parts.length >= 2) {
    if (parts[2] === "r" && parts.length >= 4) return { page: "run", project: parts[1], run: parts[3] };
    if (parts[2] === "artifacts") {
      if (parts.length >= 4) {
        return { page: "artifact", project: parts[1], artifact: parts[3], version: parts[4] || "latest" };
      }
      return { page: "artifacts", project: parts[1] };
    }
    return { page: "workspace", project: parts[1] };
  }
  return { page: "projects" };
}

export function routePath(route) {
  const e = encodeURIComponent;
  if (route.page === "run") return `/p/${e(route.project)}/r/${e(route.run)}`;
  if (route.page === "workspace") return `/p/${e(route.project)}`;
  if (route.page === "artifacts") return `/p/${e(route.project)}/artifacts`;
  if (route.page === "artifact") {
    return `/p/${e(route.project)}/artifacts/${e(route.artifact)}/${e(route.version || "latest")}`;
  }
  return "/";
}

export const DEFAULT_VIEW = {
  q: "",          // runs filter text (see filter.js)
  sort: "-created_at",
  group: "",      // "", "group", "job_type" or "config.<key>"
  cols: [],       // extra columns: "config.<key>" / "summary.<key>"
  runs: null,     // charted run ids; null: the first ten shown
  x: "",          // x-axis; "": each metric's step_metric, else _step
  smooth: 0,      // EMA weight, 0..0.99
  log: false,     // log-scale y
  zoom: null,     // [xmin, xmax]
  search: "",     // chart search
};

const list = (s) => (s ? s.split(",").filter(Boolean) : []);

export function parseView(search) {
  const p = new URLSearchParams(search);
  const v = { ...DEFAULT_VIEW };
  if (p.has("q")) v.q = p.get("q");
  if (p.has("sort")) v.sort = p.get("sort");
  if (p.has("group")) v.group = p.get("group");
  if (p.has("cols")) v.cols = list(p.get("cols"));
  if (p.has("runs")) v.runs = list(p.get("runs"));
  if (p.has("x")) v.x = p.get("x");
  if (p.has("smooth")) {
    const s = Number(p.get("smooth"));
    v.smooth = Number.isFinite(s) ? Math.min(0.99, Math.max(0, s)) : 0;
  }
  v.log = p.get("log") === "1";
  if (p.has("zoom")) {
    const z = list(p.get("zoom")).map(Number);
    if (z.length === 2 && z.every(Number.isFinite) && z[0] < z[1]) v.zoom = z;
  }
  if (p.has("search")) v.search = p.get("search");
  return v;
}

export function viewQuery(view) {
  const p = new URLSearchParams();
  const d = DEFAULT_VIEW;
  if (view.q) p.set("q", view.q);
  if (view.sort && view.sort !== d.sort) p.set("sort", view.sort);
  if (view.group) p.set("group", view.group);
  if (view.cols && view.cols.length) p.set("cols", view.cols.join(","));
  if (view.runs) p.set("runs", view.runs.join(","));
  if (view.x) p.set("x", view.x);
  if (view.smooth) p.set("smooth", String(view.smooth));
  if (view.log) p.set("log", "1");
  // Full precision: wall-clock zooms are ten digits before the point.
  if (view.zoom) p.set("zoom", view.zoom.map(String).join(","));
  if (view.search) p.set("search", view.search);
  const s = p.toString();
  return s ? "?" + s : "";
}
