"""Packing a series' columns into chunk blobs and back (numpy + zlib).

steps: int64, delta-encoded then deflated (regular steps cost almost nothing);
times: microseconds as int64, delta-encoded then deflated; values: raw float64 or
int64 bytes, deflated only when that saves a quarter or more (small counters do,
noisy losses don't). NaN and ±Inf survive bit for bit.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

_LEVEL = 1


@dataclass
class Columns:
    steps: np.ndarray   # int64
    times: np.ndarray   # float64 seconds
    values: np.ndarray  # float64 or int64

    def __len__(self) -> int:
        return len(self.steps)

    @staticmethod
    def concat(parts: list[Columns]) -> Columns:
        """One series from parts in step order. Mixed int and float parts become float64
        when every int is exact as a float, else Python objects (nothing is rounded)."""
        if len(parts) == 1:
            return parts[0]
        values = [p.values for p in parts]
        if len({v.dtype for v in values}) > 1:
            if all(v.dtype != np.int64 or float_exact(v) for v in values):
                values = [v.astype(np.float64) for v in values]
            else:
                values = [v.astype(object) for v in values]
        return Columns(
            np.concatenate([p.steps for p in parts]),
            np.concatenate([p.times for p in parts]),
            np.concatenate(values),
        )

    def slice(self, start: int, stop: int) -> Columns:
        return Columns(self.steps[start:stop], self.times[start:stop], self.values[start:stop])


_EXACT = 2**53  # ints up to this size survive a trip through float64


def float_exact(ints: np.ndarray) -> bool:
    """True if every int64 in ``ints`` is exactly representable as a float64."""
    return bool(((ints >= -_EXACT) & (ints <= _EXACT)).all())


def merge(a: Columns, b: Columns) -> Columns | None:
    """``a`` then ``b`` as one chunk's columns, or None if that would round an int."""
    if a.values.dtype == b.values.dtype:
        return Columns.concat([a, b])
    for part in (a, b):
        if part.values.dtype == np.int64 and not float_exact(part.values):
            return None
    return Columns.concat([a, b])


def _delta(a: np.ndarray) -> bytes:
    d = np.empty_like(a)
    if len(a):
        d[0] = a[0]
        np.subtract(a[1:], a[:-1], out=d[1:])
    return zlib.compress(d.tobytes(), _LEVEL)


def _undelta(blob: bytes, out: np.ndarray | None = None) -> np.ndarray:
    return np.cumsum(np.frombuffer(zlib.decompress(blob), dtype=np.int64), out=out)


@dataclass
class Packed:
    n: int
    step_min: int
    step_max: int
    vmin: float | None
    vmax: float | None
    codec: str
    steps: bytes
    times: bytes
    vals: bytes


def pack(cols: Columns) -> Packed:
    values = cols.values
    kind = "i8" if values.dtype == np.int64 else "f8"
    raw = values.tobytes()
    codec, vals = kind, raw
    # Noisy floats barely deflate: try a sample before paying for the whole chunk.
    sample = raw[:4096]
    if len(zlib.compress(sample, _LEVEL)) * 4 <= len(sample) * 3:
        deflated = zlib.compress(raw, _LEVEL)
        if len(deflated) * 4 <= len(raw) * 3:
            codec, vals = kind + "z", deflated
    if kind == "f8":
        finite = values[~np.isnan(values)]
    else:
        finite = values
    vmin = float(finite.min()) if len(finite) else None
    vmax = float(finite.max()) if len(finite) else None
    micros = np.round(cols.times * 1e6).astype(np.int64)
    return Packed(
        n=len(cols),
        step_min=int(cols.steps[0]),
        step_max=int(cols.steps[-1]),
        vmin=vmin,
        vmax=vmax,
        codec=codec,
        steps=_delta(cols.steps),
        times=_delta(micros),
        vals=vals,
    )


def unpack_values(codec: str, vals: bytes) -> np.ndarray:
    data = zlib.decompress(vals) if codec.endswith("z") else vals
    return np.frombuffer(data, dtype=np.int64 if codec.startswith("i8") else np.float64)


def unpack_steps(steps: bytes, out: np.ndarray | None = None) -> np.ndarray:
    """The steps of a chunk, written into ``out`` (an int64 slice) when given."""
    return _undelta(steps, out)


def unpack_times(times: bytes, out: np.ndarray | None = None) -> np.ndarray:
    """The times of a chunk in seconds, written into ``out`` (a float64 slice) when given."""
    if out is None:
        return _undelta(times) / 1e6
    return np.divide(_undelta(times), 1e6, out=out)


def unpack(codec: str, steps: bytes, times: bytes, vals: bytes) -> Columns:
    return Columns(unpack_steps(steps), unpack_times(times), unpack_values(codec, vals))
