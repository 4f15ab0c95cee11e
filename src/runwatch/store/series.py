"""Chart series: one key of one run on a chosen x-axis, downsampled to a pixel width.

A chart never needs more points than it has pixels, but it must not hide a spike:
each bucket of the x range keeps its mean (the line), and its min and max (the
band), so a single outlier among a million points still shows. When the range
holds few enough points (zoomed in far), the raw points come back instead.

Decoded chunks are kept in a bounded :class:`ChunkCache`. A chunk is identified by
``(key_id, chunk_no, n)``: only a key's open tail chunk is ever rewritten, and a
rewrite always adds points, so a changed chunk never matches a cached one.
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
        self._items: OrderedDict[tuple[int, int, int], chunks.Columns] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, int]) -> chunks.Columns | None:
        with self._lock:
            cols = self._items.get(key)
            if cols is not None:
                self._items.move_to_end(key)
            return cols

    def put(self, key: tuple[int, int, int], cols: chunks.Columns) -> None:
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


_EMPTY = chunks.Columns(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64))


def load(conn: Connection, key_id: int, cache: ChunkCache | None = None,
         min_step: int | None = None, max_step: int | None = None) -> chunks.Columns:
    """Numeric points of one key with ``min_step <= step <= max_step``, values as float64."""
    q = sa.select(metric_chunks.c.chunk_no, metric_chunks.c.n).where(
        metric_chunks.c.key_id == key_id)
    if min_step is not None:
        q = q.where(metric_chunks.c.step_max >= min_step)
    if max_step is not None:
        q = q.where(metric_chunks.c.step_min <= max_step)
    wanted = [(key_id, int(r.chunk_no), int(r.n))
              for r in conn.execute(q.order_by(metric_chunks.c.chunk_no))]
    parts: dict[tuple[int, int, int], chunks.Columns] = {}
    missing: list[int] = []
    for ident in wanted:
        cols = cache.get(ident) if cache is not None else None
        if cols is None:
            missing.append(ident[1])
        else:
            parts[ident] = cols
    if missing:
        rows = conn.execute(
            sa.select(metric_chunks.c.chunk_no, metric_chunks.c.n, metric_chunks.c.codec,
                      metric_chunks.c.steps, metric_chunks.c.times, metric_chunks.c.vals)
            .where(metric_chunks.c.key_id == key_id, metric_chunks.c.chunk_no.in_(missing))
        )
        for r in rows:
            cols = chunks.unpack(r.codec, r.steps, r.times, r.vals)
            if cols.values.dtype != np.float64:
                # A chart draws doubles; ints past 2**53 lose digits here, never in the store.
                cols = chunks.Columns(cols.steps, cols.times, cols.values.astype(np.float64))
            ident = (key_id, int(r.chunk_no), int(r.n))
            parts[ident] = cols
            if cache is not None:
                cache.put(ident, cols)
    ordered = [parts[i] for i in wanted if i in parts]
    if not ordered:
        return _EMPTY
    cols = chunks.Columns.concat(ordered)
    if min_step is not None or max_step is not None:
        lo = 0 if min_step is None else int(np.searchsorted(cols.steps, min_step, "left"))
        hi = len(cols) if max_step is None else int(np.searchsorted(cols.steps, max_step, "right"))
        cols = cols.slice(lo, hi)
    return cols


@dataclass
class XY:
    """A series on its x-axis, sorted by x. ``steps`` maps each point back to its row."""

    x: np.ndarray      # float64
    y: np.ndarray      # float64
    steps: np.ndarray  # int64


def on_axis(cols: chunks.Columns, axis: str, start_time: float,
            axis_cols: chunks.Columns | None = None) -> XY:
    """Put ``cols`` on ``axis``: step, wall time, time since ``start_time``, or the values of
    another metric (``axis_cols``) at the same steps; rows lacking that metric are dropped."""
    if axis == STEP:
        return XY(cols.steps.astype(np.float64), cols.values, cols.steps)
    if axis == WALL:
        x = cols.times
    elif axis == RELATIVE:
        x = cols.times - start_time
    else:
        if axis_cols is None:
            raise ValueError(f"axis {axis!r} is a metric, so its points are needed")
        common, mine, theirs = np.intersect1d(cols.steps, axis_cols.steps, assume_unique=True,
                                              return_indices=True)
        x = axis_cols.values[theirs].astype(np.float64)
        cols = chunks.Columns(common, cols.times[mine], cols.values[mine])
        keep = np.isfinite(x)
        if not keep.all():
            x, cols = x[keep], chunks.Columns(cols.steps[keep], cols.times[keep],
                                              cols.values[keep])
    if len(x) > 1 and bool((np.diff(x) < 0).any()):
        order = np.argsort(x, kind="stable")
        return XY(x[order], cols.values[order], cols.steps[order])
    return XY(np.asarray(x, dtype=np.float64), cols.values, cols.steps)


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


def downsample(xy: XY, width: int) -> Downsampled:
    """At most ``width`` buckets over the x range: mean, min and max of each.
    Returns the raw points when there are no more than ``2 * width`` of them."""
    n = len(xy.x)
    y = xy.y
    finite = np.isfinite(y)
    nonfinite = int(n - np.count_nonzero(finite))
    if n <= 2 * width:
        yy = y if nonfinite == 0 else np.where(finite, y, np.nan)
        return Downsampled(xy.x, yy, None, None, n, nonfinite)
    edges = np.linspace(xy.x[0], xy.x[-1], width + 1)
    starts = np.unique(np.searchsorted(xy.x, edges[:-1], "left"))
    starts = starts[starts < n]
    yz = np.where(finite, y, 0.0) if nonfinite else y
    counts = np.add.reduceat(finite.astype(np.int64), starts)
    sums = np.add.reduceat(yz, starts)
    sizes = np.diff(np.append(starts, n))
    xs = np.add.reduceat(xy.x, starts) / sizes
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    ynan = np.where(finite, y, np.nan) if nonfinite else y
    return Downsampled(xs, mean, np.fmin.reduceat(ynan, starts), np.fmax.reduceat(ynan, starts),
                       n, nonfinite)
