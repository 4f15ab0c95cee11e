"""Chart series: one key of one run on a chosen x-axis, downsampled to a pixel width.

A chart never needs more points than it has pixels, but it must not hide a spike:
each bucket of the x range keeps its mean (the line), and its min and max (the
band), so a single outlier among a million points still shows. When the range
holds few enough points (zoomed in far), the raw points come back instead.

Decoded chunks are kept in a bounded :class:`ChunkCache`. A chunk is identified by
``(key_id, chunk_no, n)`` (plus whether its times were decoded): only a key's open
tail chunk is ever rewritten, and a rewrite always adds points, so a changed chunk
never matches a cached one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runwatch.store import chunks
from runwatch.store.schema import metric_chunks

# The x-axes every run has; any other name is a logged metric, joined on step.
STEP, WALL, RELATIVE = "_step", "_timestamp", "_runtime"
BUILTIN_AXES = (STEP, WALL, RELATIVE)


class ChunkCache:
    """Decoded chunks, least recently used first out, bounded by decoded bytes."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[int, int, int, bool], chunks.Columns] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, int, bool]) -> chunks.Columns | None:
        with self._lock:
            cols = self._items.get(key)
            if cols is not None:
                self._items.move_to_end(key)
            return cols

    def put(self, key: tuple[int, int, int, bool], cols: chunks.Columns) -> None:
        size = cols.steps.nbytes + cols.times.nbytes + cols.values.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = cols
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.steps.nbytes + old.times.nbytes + old.values.nbytes


_NO_TIMES = np.empty(0, np.float64)
_EMPTY = chunks.Columns(np.empty(0, np.int64), _NO_TIMES, np.empty(0, np.float64))


def load(conn: Connection, key_id: int, cache: ChunkCache | None = None,
         min_step: int | None = None, max_step: int | None = None,
         with_times: bool = True) -> chunks.Columns:
    """Numeric points of one key with ``min_step <= step <= max_step``, values as float64.
    Without ``with_times`` the times are not decoded (``times`` is empty): the step axis
    does not need them, and they are a third of the work.

    Chunks are decoded straight into one set of arrays (no concatenation afterwards);
    the cache keeps views of them per chunk."""
    q = sa.select(metric_chunks.c.chunk_no, metric_chunks.c.n).where(
        metric_chunks.c.key_id == key_id)
    if min_step is not None:
        q = q.where(metric_chunks.c.step_max >= min_step)
    if max_step is not None:
        q = q.where(metric_chunks.c.step_min <= max_step)
    wanted = [(int(r.chunk_no), int(r.n)) for r in conn.execute(q.order_by(metric_chunks.c.chunk_no))]
    if not wanted:
        return _EMPTY
    total = sum(n for _, n in wanted)
    steps = np.empty(total, np.int64)
    values = np.empty(total, np.float64)
    times = np.empty(total, np.float64) if with_times else _NO_TIMES
    offsets: dict[int, tuple[int, int]] = {}
    missing: list[int] = []
    at = 0
    for chunk_no, n in wanted:
        offsets[chunk_no] = (at, n)
        cols = None
        if cache is not None:
            # Cached with times serves both; cached without serves only the step axis.
            cols = cache.get((key_id, chunk_no, n, True))
            if cols is None and not with_times:
                cols = cache.get((key_id, chunk_no, n, False))
        if cols is None:
            missing.append(chunk_no)
        else:
            steps[at:at + n] = cols.steps
            values[at:at + n] = cols.values
            if with_times:
                times[at:at + n] = cols.times
        at += n
    if missing:
        columns = [metric_chunks.c.chunk_no, metric_chunks.c.n, metric_chunks.c.codec,
                   metric_chunks.c.steps, metric_chunks.c.vals]
        if with_times:
            columns.append(metric_chunks.c.times)
        for i in range(0, len(missing), 500):
            rows = conn.execute(sa.select(*columns).where(
                metric_chunks.c.key_id == key_id,
                metric_chunks.c.chunk_no.in_(missing[i:i + 500])))
            for r in rows:
                a, n = offsets[int(r.chunk_no)]
                b = a + n
                chunks.unpack_steps(r.steps, out=steps[a:b])
                # A chart draws doubles; ints past 2**53 lose digits here, never in the store.
                values[a:b] = chunks.unpack_values(r.codec, r.vals)
                if with_times:
                    chunks.unpack_times(r.times, out=times[a:b])
                if cache is not None:
                    cache.put((key_id, int(r.chunk_no), n, with_times),
                              chunks.Columns(steps[a:b], times[a:b] if with_times else _NO_TIMES,
                                             values[a:b]))
    cols = chunks.Columns(steps, times, values)
    if min_step is not None or max_step is not None:
        lo = 0 if min_step is None else int(np.searchsorted(steps, min_step, "left"))
        hi = total if max_step is None else int(np.searchsorted(steps, max_step, "right"))
        cols = chunks.Columns(steps[lo:hi], times[lo:hi] if with_times else _NO_TIMES,
                              values[lo:hi])
    return cols


@dataclass
class XY:
    """A series on its x-axis, sorted by x. ``steps`` maps each point back to its row."""

    x: np.ndarray      # int64 steps on the step axis, else float64
    y: np.ndarray      # float64
    steps: np.ndarray  # int64


def needs_times(axis: str) -> bool:
    return axis in (WALL, RELATIVE)


def on_axis(cols: chunks.Columns, axis: str, start_time: float,
            axis_cols: chunks.Columns | None = None) -> XY:
    """Put ``cols`` on ``axis``: step, wall time, time since ``start_time``, or the values of
    another metric (``axis_cols``) at the same steps; rows lacking that metric are dropped."""
    if axis == STEP:
        return XY(cols.steps, cols.values, cols.steps)
    steps, values = cols.steps, cols.values
    if axis == WALL:
        x = cols.times
    elif axis == RELATIVE:
        x = cols.times - start_time
    else:
        if axis_cols is None:
            raise ValueError(f"axis {axis!r} is a metric, so its points are needed")
        steps, mine, theirs = np.intersect1d(cols.steps, axis_cols.steps, assume_unique=True,
                                             return_indices=True)
        x = axis_cols.values[theirs].astype(np.float64)
        values = values[mine]
        keep = np.isfinite(x)
        if not keep.all():
            x, steps, values = x[keep], steps[keep], values[keep]
    if len(x) > 1 and bool((np.diff(x) < 0).any()):
        order = np.argsort(x, kind="stable")
        return XY(x[order], values[order], steps[order])
    return XY(np.asarray(x, dtype=np.float64), values, steps)


def clip(xy: XY, xmin: float | None, xmax: float | None) -> XY:
    lo = 0 if xmin is None else int(np.searchsorted(xy.x, xmin, "left"))
    hi = len(xy.x) if xmax is None else int(np.searchsorted(xy.x, xmax, "right"))
    return XY(xy.x[lo:hi], xy.y[lo:hi], xy.steps[lo:hi])


@dataclass
class Downsampled:
    x: np.ndarray
    y: np.ndarray                 # bucket mean of the finite values (NaN where none)
    ymin: np.ndarray | None       # None when the points are raw
    ymax: np.ndarray | None
    points: int                   # points in the range before downsampling
    nonfinite: int                # NaN and ±Inf in the range: not drawn, counted


def downsample(xy: XY, width: int, lo: float | None = None,
               hi: float | None = None) -> Downsampled:
    """At most ``width`` equal buckets over ``[lo, hi]`` (default: the series' own range):
    mean, min and max of each, placed at the bucket's centre, so series bucketed over the
    same range share their x values. Raw points when there are no more than
    ``2 * width`` of them."""
    if lo is not None or hi is not None:
        xy = clip(xy, lo, hi)
    n = len(xy.x)
    y = xy.y
    finite = np.isfinite(y)
    nonfinite = int(n - np.count_nonzero(finite))
    if n <= 2 * width:
        yy = y if nonfinite == 0 else np.where(finite, y, np.nan)
        return Downsampled(xy.x, yy, None, None, n, nonfinite)
    lo = float(xy.x[0]) if lo is None else lo
    hi = float(xy.x[-1]) if hi is None else hi
    if not hi > lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, width + 1)
    # The last edge is inclusive: a point at exactly hi belongs to the last bucket.
    starts = np.searchsorted(xy.x, edges[:-1], "left")
    ends = np.append(starts[1:], n)
    used = ends > starts
    starts = starts[used]
    centres = ((edges[:-1] + edges[1:]) / 2)[used]
    if nonfinite:
        ynan = np.where(finite, y, np.nan)
        counts = np.add.reduceat(finite.astype(np.int64), starts)
        sums = np.add.reduceat(np.where(finite, y, 0.0), starts)
    else:
        ynan = y
        counts = (ends[used] - starts)
        sums = np.add.reduceat(y, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return Downsampled(centres, mean, np.fmin.reduceat(ynan, starts),
                       np.fmax.reduceat(ynan, starts), n, nonfinite)


def round_significant(a: np.ndarray, digits: int) -> np.ndarray:
    """``a`` rounded to ``digits`` significant digits, so its JSON is short ("0.1234568",
    not "0.12345678901234566"). NaN and ±Inf pass through."""
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return a
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mag = np.floor(np.log10(np.abs(a)))
        mag[~np.isfinite(mag)] = 0
        scale = 10.0 ** (digits - 1 - mag)
        out = np.round(a * scale) / scale
    bad = ~np.isfinite(out) & np.isfinite(a)
    if bad.any():
        out[bad] = a[bad]
    return out
