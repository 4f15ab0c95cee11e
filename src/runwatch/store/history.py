"""History as rows: full-resolution scans and deterministic samples.

Both work on columns (numpy) and only build Python rows at the end. A row holds
``_step``, ``_runtime`` and ``_timestamp`` plus the keys logged at that step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from runwatch.store import read

RESERVED = ("_step", "_runtime", "_timestamp")
SCAN_WINDOW_POINTS = 250_000


@dataclass
class KeyColumn:
    steps: np.ndarray   # int64, ascending
    times: np.ndarray   # float64
    values: np.ndarray  # float64 / int64, or object when non-numeric points are present


def load_columns(conn: Connection, infos: list[read.KeyInfo], min_step: int | None = None,
                 max_step: int | None = None) -> dict[str, KeyColumn]:
    out: dict[str, KeyColumn] = {}
    for info in infos:
        cols = read.load_series(conn, info.id, min_step, max_step) if info.points else None
        if not info.values_count:
            assert cols is not None
            out[info.key] = KeyColumn(cols.steps, cols.times, cols.values)
            continue
        vsteps, vtimes, vvalues = read.load_values(conn, info.id, min_step, max_step)
        steps = np.array(vsteps, dtype=np.int64)
        times = np.array(vtimes, dtype=np.float64)
        values = np.empty(len(vvalues), dtype=object)
        values[:] = vvalues
        if cols is not None and len(cols):
            steps = np.concatenate([cols.steps, steps])
            times = np.concatenate([cols.times, times])
            values = np.concatenate([cols.values.astype(object), values])
            order = np.argsort(steps, kind="stable")
            steps, times, values = steps[order], times[order], values[order]
        out[info.key] = KeyColumn(steps, times, values)
    return out


def _row_steps(columns: dict[str, KeyColumn], require_all: bool) -> np.ndarray:
    arrays = [c.steps for c in columns.values()]
    if not arrays:
        return np.empty(0, dtype=np.int64)
    first = arrays[0]
    if all(len(a) == len(first) and np.array_equal(a, first) for a in arrays[1:]):
        return first
    if require_all:
        common = first
        for a in arrays[1:]:
            common = np.intersect1d(common, a, assume_unique=True)
        return common
    return np.unique(np.concatenate(arrays))


_MISSING = object()


def _rows(steps: np.ndarray, columns: dict[str, KeyColumn], start_time: float,
          ) -> Iterator[dict[str, Any]]:
    """Rows for ``steps`` (ascending, every one present in at least one column)."""
    n = len(steps)
    if n == 0:
        return
    times = np.full(n, np.nan)
    names = list(RESERVED)
    cols: list[list[Any]] = []
    dense = True
    for key, col in columns.items():
        if len(col.steps) == n and np.array_equal(col.steps, steps):
            times = col.times.copy()
            cols.append(col.values.tolist())
        elif len(col.steps):
            # Where each row's step sits in this column: O(rows log points).
            idx = np.minimum(np.searchsorted(col.steps, steps), len(col.steps) - 1)
            present = col.steps[idx] == steps
            idx = idx[present]
            times[present] = col.times[idx]
            full = np.empty(n, dtype=object)
            full[:] = _MISSING
            full[present] = col.values[idx]
            if not present.all():
                dense = False
            cols.append(full.tolist())
        else:
            dense = False
            cols.append([_MISSING] * n)
        names.append(key)
    # Times are kept to the microsecond, so a first row can land a hair before the start.
    runtime = np.maximum(times - start_time, 0.0).tolist()
    head = [steps.tolist(), runtime, times.tolist()]
    if dense:
        for vals in zip(*head, *cols):
            yield dict(zip(names, vals))
    else:
        for vals in zip(*head, *cols):
            yield {k: v for k, v in zip(names, vals) if v is not _MISSING}


STREAMS = ("default", "system")


def _history_keys(conn: Connection, run_pk: int,
                  stream: str = "default") -> dict[str, read.KeyInfo]:
    # System metrics are a stream of their own (steps are milliseconds of wall time),
    # not columns of the run's history, as in wandb.
    system = stream == "system"
    return {k: v for k, v in read.run_keys(conn, run_pk).items()
            if k.startswith("system/") == system}


def scan(conn: Connection, run: read.RunRecord, keys: list[str] | None = None,
         min_step: int | None = None, max_step: int | None = None) -> Iterator[dict[str, Any]]:
    """Every row in step order; with ``keys``, only rows that hold all of them.

    Reads a window of about ``SCAN_WINDOW_POINTS`` points at a time so memory stays
    flat however long the run is.
    """
    infos_by_key = _history_keys(conn, run.pk)
    if keys is not None:
        keys = [k for k in dict.fromkeys(keys) if k not in RESERVED]
        if any(k not in infos_by_key for k in keys):
            return
        infos = [infos_by_key[k] for k in keys]
    else:
        infos = list(infos_by_key.values())
    if not infos:
        return
    for lo, hi in _windows(conn, infos, min_step, max_step):
        columns = load_columns(conn, infos, lo, hi)
        steps = _row_steps(columns, keys is not None)
        yield from _rows(steps, columns, run.created_at)


def _windows(conn: Connection, infos: list[read.KeyInfo], min_step: int | None,
             max_step: int | None) -> list[tuple[int | None, int | None]]:
    """Step ranges that each hold about SCAN_WINDOW_POINTS numeric points."""
    total = sum(i.points for i in infos)
    if total <= SCAN_WINDOW_POINTS:
        return [(min_step, max_step)]
    bounds = sorted(read.chunk_bounds(conn, [i.id for i in infos if i.points]),
                    key=lambda b: b[2])
    windows: list[tuple[int | None, int | None]] = []
    lo, acc = min_step, 0
    for _key, _smin, smax, n in bounds:
        if min_step is not None and smax < min_step:
            continue
        acc += n
        if acc >= SCAN_WINDOW_POINTS:
            hi = smax if max_step is None else min(smax, max_step)
            windows.append((lo, hi))
            if max_step is not None and hi >= max_step:
                return windows
            lo, acc = hi + 1, 0
    windows.append((lo, max_step))
    return windows


def sample(conn: Connection, run: read.RunRecord, keys: list[str] | None = None,
           samples: int = 500, stream: str = "default") -> tuple[list[str], list[dict[str, Any]]]:
    """At most ``samples`` rows, the same ones on every call: the first and last
    rows, each key's minimum and maximum, and evenly spaced rows between. ``stream="system"``
    samples the system metrics instead (their ``_step`` is milliseconds of wall time)."""
    infos_by_key = _history_keys(conn, run.pk, stream)
    if keys is not None:
        keys = [k for k in dict.fromkeys(keys) if k not in RESERVED]
        if any(k not in infos_by_key for k in keys):
            return list(RESERVED) + keys, []
        infos = [infos_by_key[k] for k in keys]
    else:
        infos = list(infos_by_key.values())
    names = list(RESERVED) + [i.key for i in infos]
    columns = load_columns(conn, infos)
    steps = _row_steps(columns, keys is not None)
    n = len(steps)
    if n > samples:
        keep: set[int] = {0, n - 1}
        for col in columns.values():
            if col.values.dtype == object or not len(col.values):
                continue
            vals = col.values
            finite = ~np.isnan(vals) if vals.dtype.kind == "f" else None
            if finite is not None and not finite.any():
                continue
            lo = int(np.nanargmin(vals)) if finite is not None else int(np.argmin(vals))
            hi = int(np.nanargmax(vals)) if finite is not None else int(np.argmax(vals))
            for i in (lo, hi):
                pos = int(np.searchsorted(steps, col.steps[i]))
                if pos < n and steps[pos] == col.steps[i]:
                    keep.add(pos)
        budget = samples - len(keep)
        if budget > 0:
            keep.update(np.linspace(0, n - 1, budget).round().astype(np.int64).tolist())
        chosen = np.array(sorted(keep)[:samples], dtype=np.int64)
        steps = steps[chosen]
    return names, list(_rows(steps, columns, run.created_at))
