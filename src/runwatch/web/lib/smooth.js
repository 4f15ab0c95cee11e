// Exponential moving average with debiasing (as TensorBoard and wandb draw it), over
// the points in order. weight in [0, 1): 0 leaves the series as it is. Gaps (null)
// stay gaps and do not reset the average. DOM-free.
export function ema(ys, weight) {
  if (!weight) return ys;
  const out = new Array(ys.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) {
      out[i] = null;
      continue;
    }
    last = last * weight + (1 - weight) * y;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}
