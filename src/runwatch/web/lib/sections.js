// Charts sectioned by key prefix, as wandb does: the part before the first "/"
// names the section ("train/loss" -> "train"); keys without one go to "Charts".
// System metrics ("system/...") get their own section at the end. DOM-free.

export const DEFAULT_SECTION = "Charts";
export const SYSTEM_SECTION = "System";

export function sectionOf(key) {
  const i = key.indexOf("/");
  if (i <= 0) return DEFAULT_SECTION;
  const prefix = key.slice(0, i);
  return prefix === "system" ? SYSTEM_SECTION : prefix;
}

// [{name, keys:[...]}] in first-seen order, "Charts" first and "System" last.
export function sections(keys) {
  const byName = new Map();
  for (const k of keys) {
    const s = sectionOf(k);
    if (!byName.has(s)) byName.set(s, []);
    byName.get(s).push(k);
  }
  const names = [...byName.keys()];
  const rank = (n) => (n === DEFAULT_SECTION ? 0 : n === SYSTEM_SECTION ? 2 : 1);
  names.sort((a, b) => rank(a) - rank(b));
  return names.map((name) => ({ name, keys: byName.get(name) }));
}

// Panel search: a case-insensitive regular expression, or plain text when it is not one.
export function keyMatcher(query) {
  if (!query) return () => true;
  try {
    const re = new RegExp(query, "i");
    return (k) => re.test(k);
  } catch {
    const q = query.toLowerCase();
    return (k) => k.toLowerCase().includes(q);
  }
}
