// The runs filter: words and field comparisons, all of which must hold. DOM-free.
//
//   resnet                 name, id, tags, group, job type or notes contain "resnet"
//   state:running          also state=finished, state!=failed
//   tag:baseline           a tag contains "baseline" (tag=baseline: exactly)
//   group:cv  job_type:eval  name:foo  host:gpu1
//   config.lr>=0.001       numbers compare as numbers, the rest as text
//   summary.loss<0.5   config.optimizer=adam   config.model.depth!=50
//
// Values with spaces go in quotes: name:"my run".

const OPS = [">=", "<=", "!=", ">", "<", "=", ":"];
const FIELDS = new Set(["state", "tag", "tags", "group", "job_type", "name", "id", "host", "notes"]);

function tokenize(text) {
  const out = [];
  const re = /\s*((?:[^\s"]+|"[^"]*")+)/g;
  let m;
  while ((m = re.exec(text)) !== null) out.push(m[1].replace(/"/g, ""));
  return out;
}

function splitOp(token) {
  let best = null;
  for (const op of OPS) {
    const i = token.indexOf(op);
    if (i > 0 && (best === null || i < best.i || (i === best.i && op.length > best.op.length))) {
      best = { i, op };
    }
  }
  if (!best) return null;
  return { field: token.slice(0, best.i), op: best.op, value: token.slice(best.i + best.op.length) };
}

function asNumber(v) {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return null;
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  return null;
}

function compare(actual, op, wanted) {
  if (actual === undefined || actual === null) return op === "!=";
  const a = asNumber(actual);
  const w = asNumber(wanted);
  if (a !== null && w !== null) {
    switch (op) {
      case ">": return a > w;
      case "<": return a < w;
      case ">=": return a >= w;
      case "<=": return a <= w;
      case "!=": return a !== w;
      default: return a === w;
    }
  }
  // An order against a number holds only for numbers ("n/a" is not above 0.01).
  if (w !== null && [">", "<", ">=", "<="].includes(op)) return false;
  const as = (typeof actual === "string" ? actual : JSON.stringify(actual)).toLowerCase();
  const ws = String(wanted).toLowerCase();
  switch (op) {
    case ":": return as.includes(ws);
    case "=": return as === ws;
    case "!=": return as !== ws;
    case ">": return as > ws;
    case "<": return as < ws;
    case ">=": return as >= ws;
    default: return as <= ws;
  }
}

function fieldValue(run, field) {
  if (field.startsWith("config.")) return run.flatConfig[field.slice(7)];
  if (field.startsWith("summary.")) return run.flatSummary[field.slice(8)];
  return run[field];
}

// {test(run) -> bool, errors: [text]}. `run` carries flatConfig and flatSummary.
export function parseFilter(text) {
  const tests = [];
  const errors = [];
  for (const token of tokenize(text || "")) {
    const cmp = splitOp(token);
    if (cmp && (cmp.field.startsWith("config.") || cmp.field.startsWith("summary.") ||
                FIELDS.has(cmp.field))) {
      const { field, op, value } = cmp;
      if (field === "tag" || field === "tags") {
        tests.push((r) => {
          const hit = (r.tags || []).some((t) => compare(t, op === "!=" ? "=" : op, value));
          return op === "!=" ? !hit : hit;
        });
      } else {
        tests.push((r) => compare(fieldValue(r, field), op, value));
      }
    } else if (cmp && /^[A-Za-z_]+$/.test(cmp.field) && cmp.op !== ":") {
      errors.push(`Unknown field "${cmp.field}" in "${token}": use config.${cmp.field} or ` +
        `summary.${cmp.field}, or one of ${[...FIELDS].join(", ")}.`);
    } else {
      const word = token.toLowerCase();
      tests.push((r) =>
        [r.name, r.id, r.group, r.job_type, r.notes, ...(r.tags || [])]
          .some((s) => typeof s === "string" && s.toLowerCase().includes(word)));
    }
  }
  return { test: (run) => tests.every((t) => t(run)), errors };
}
