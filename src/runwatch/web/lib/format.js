// Turning values into short, honest text. DOM-free.

// The store tags non-finite floats as {"$float": "nan" | "inf" | "-inf"}.
export function untag(v) {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$float") {
      return v.$float === "nan" ? NaN : v.$float === "inf" ? Infinity : -Infinity;
    }
  }
  return v;
}

export function formatNumber(n) {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Inf";
  if (n === -Infinity) return "-Inf";
  if (Number.isInteger(n)) return Math.abs(n) >= 1e7 ? n.toExponential(3) : String(n);
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return n.toExponential(3);
  return String(Number(n.toPrecision(5)));
}

export function formatValue(v) {
  v = untag(v);
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") return v;
  if (typeof v === "object" && typeof v._type === "string") return `[${v._type}]`;
  return JSON.stringify(v);
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function formatTime(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function formatAgo(ts, now = Date.now() / 1000) {
  if (!ts) return "never";
  const s = now - ts;
  if (s < 5) return "just now";
  return formatDuration(s) .split(" ")[0] + " ago";
}

// A run's duration: to its end, or to now while it runs, or to its last sign of life.
export function runDuration(run, now = Date.now() / 1000) {
  const end = run.finished_at ?? (run.state === "running" ? now : run.heartbeat_at);
  return end - run.created_at;
}

// Nested dicts as dot paths: {"opt": {"lr": 1}} -> {"opt.lr": 1}. Tagged floats stay leaves.
export function flatten(obj, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && untag(v) === v &&
        typeof v._type !== "string" && Object.keys(v).length) {
      flatten(v, path, out);
    } else {
      out[path] = untag(v);
    }
  }
  return out;
}
