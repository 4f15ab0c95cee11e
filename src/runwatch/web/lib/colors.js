// A stable colour per run (or group): the same id is the same colour on every page,
// in every session. DOM-free.

const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
  "#9c755f", "#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
  "#17becf", "#bcbd22", "#3b5bdb", "#c2255c",
];

export function hash(text) {
  // FNV-1a, 32 bit.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function colorOf(id) {
  return PALETTE[hash(String(id)) % PALETTE.length];
}

// Colours for a set of ids: each id keeps its own colour unless another id in the set
// already holds it, then it takes the next free one. Ids are placed in sorted order, so
// the result depends on the set, not on how the table is sorted or filtered.
export function assignColors(ids) {
  const out = new Map();
  const taken = new Set();
  for (const id of [...ids].sort()) {
    let i = hash(String(id)) % PALETTE.length;
    if (taken.size < PALETTE.length) {
      while (taken.has(i)) i = (i + 1) % PALETTE.length;
    }
    taken.add(i);
    out.set(id, PALETTE[i]);
  }
  return out;
}

// Colours by position: for a handful of groups, all distinct.
export function colorAt(i) {
  return PALETTE[i % PALETTE.length];
}

export function withAlpha(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}
