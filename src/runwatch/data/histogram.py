"""``wandb.Histogram``: a distribution logged as bin counts, computed with numpy.

``Histogram(sequence)`` bins the numbers into ``num_bins`` equal bins (at most 512, as
wandb's ``MAX_LENGTH``); ``Histogram(np_histogram=np.histogram(x))`` takes counts and bin
edges already made. When both are given ``np_histogram`` wins, as in wandb.

Unlike wandb, which raises on them, non-finite values (NaN, +Inf, -Inf, and ``None`` in a
list) are dropped and counted in ``.dropped``, so a diverging run still logs what it has. A
sequence with no finite value left (or an empty one) gives an empty histogram: ``bins`` and
``histogram`` are both ``[]``. Otherwise ``len(bins) == len(histogram) + 1``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

import numpy as np

from runwatch.data.media import Encoded, Media, ReadBlob

MAX_LENGTH = 512


def _is_torch(x: Any) -> bool:
    # Checked by module name so that logging numpy never pays for importing torch.
    return type(x).__module__.startswith("torch")


def _as_numbers(values: Any, what: str) -> np.ndarray:
    """``values`` as a flat bool, int or float array; ``None`` entries become NaN."""
    if _is_torch(values):
        values = values.detach().cpu()
        values = values.float() if str(values.dtype) == "torch.bfloat16" else values
        arr = values.numpy()
    else:
        if isinstance(values, Iterable) and not isinstance(
                values, (np.ndarray, list, tuple, str, bytes, dict)) and not hasattr(values, "__array__"):
            values = list(values)  # generators and other one-shot iterables
        try:
            arr = np.asarray(values)
        except (ValueError, TypeError) as e:  # ragged nesting
            raise ValueError(f"{what} must be numbers; numpy cannot read the "
                             f"{type(values).__name__} as an array ({e})") from e
    if arr.dtype.kind == "O":
        try:
            arr = np.array([np.nan if v is None else v for v in arr.ravel()], dtype=np.float64)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{what} must be numbers; got a non-number in it ({e})") from e
    if arr.dtype.kind not in "biuf":
        hint = " (take .real, .imag or abs() first)" if arr.dtype.kind == "c" else ""
        raise ValueError(f"{what} must be real numbers, got dtype {arr.dtype}{hint}")
    return arr.ravel()


def _check_num_bins(num_bins: Any) -> int:
    try:
        n = operator.index(num_bins)
    except TypeError:
        n = 0
    if not 1 <= n <= MAX_LENGTH:
        raise ValueError(f"num_bins must be an integer from 1 to {MAX_LENGTH}, got {num_bins!r}")
    return n


def _bin(values: np.ndarray, num_bins: int) -> tuple[list[int], list[float]]:
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        # numpy pads a constant by 0.5, which vanishes next to large values such as 1e20.
        pad = max(0.5, abs(lo) * 1e-6)
        lo, hi = lo - pad, hi + pad
    # Only float64 data near +-1.8e308 makes hi - lo overflow; halving is exact.
    scale = 1.0 if np.isfinite(hi - lo) else 0.5
    for bins in (num_bins, 1):  # 1: a range too narrow for num_bins distinct float edges
        try:
            with np.errstate(over="raise", invalid="raise"):
                counts, edges = np.histogram(values * scale, bins=bins, range=(lo * scale, hi * scale))
        except (ValueError, FloatingPointError) as e:
            error = e
            continue
        return counts.tolist(), (edges / scale).tolist()
    raise ValueError(f"cannot bin values from {lo!r} to {hi!r} ({error}); rescale them first")


def _check_np_histogram(np_histogram: Any) -> tuple[list[Any], list[float]]:
    try:
        counts, edges = np_histogram
    except (TypeError, ValueError) as e:
        raise ValueError("np_histogram must be a pair (counts, bin_edges) as np.histogram returns, "
                         f"got {type(np_histogram).__name__} {np_histogram!r:.80}") from e
    counts_arr = _as_numbers(counts, "np_histogram counts")
    keep_ints = counts_arr.dtype.kind in "iub"  # counts stay ints; densities stay floats
    counts_arr = counts_arr.astype(np.float64)
    edges_arr = _as_numbers(edges, "np_histogram bin_edges").astype(np.float64)
    n = counts_arr.size
    if n > MAX_LENGTH:
        raise ValueError(f"np_histogram has {n} bins; at most {MAX_LENGTH} are allowed "
                         "(re-bin with fewer bins)")
    if n == 0 or edges_arr.size != n + 1:
        raise ValueError(f"np_histogram has {n} counts and {edges_arr.size} bin edges; it needs at "
                         "least one count and exactly one more edge than counts")
    if not (np.isfinite(counts_arr).all() and np.isfinite(edges_arr).all()):
        raise ValueError("np_histogram counts and bin edges must be finite, got "
                         f"counts {counts_arr.tolist()!r:.80} and edges {edges_arr.tolist()!r:.80}")
    if (np.diff(edges_arr) < 0).any():
        raise ValueError(f"np_histogram bin edges must not decrease, got {edges_arr.tolist()!r:.120}")
    values = counts_arr.astype(np.int64).tolist() if keep_ints else counts_arr.tolist()
    return values, edges_arr.tolist()


class Histogram(Media):
    """A histogram to log: ``run.log({"grads": Histogram(tensor, num_bins=128)})``.

    ``.bins`` are the bin edges, ``.histogram`` the counts and ``.dropped`` how many
    non-finite values were left out. Bad input raises ``ValueError`` naming it.
    """

    TYPE = "histogram"
    MAX_LENGTH = MAX_LENGTH

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        self.dropped = 0
        if np_histogram is not None:
            self.histogram, self.bins = _check_np_histogram(np_histogram)
        elif sequence is not None:
            num_bins = _check_num_bins(num_bins)
            values = _as_numbers(sequence, "Histogram sequence").astype(np.float64)
            finite = np.isfinite(values)
            self.dropped = int(values.size - np.count_nonzero(finite))
            values = values[finite]
            self.histogram, self.bins = _bin(values, num_bins) if values.size else ([], [])
        else:
            raise ValueError("Histogram needs sequence=<numbers> or np_histogram=(counts, bin_edges)")

    def __repr__(self) -> str:
        if not self.bins:
            return f"Histogram(empty, dropped={self.dropped})"
        return (f"Histogram({len(self.histogram)} bins over [{self.bins[0]:g}, {self.bins[-1]:g}], "
                f"{sum(self.histogram):g} counted, dropped={self.dropped})")

    def encode(self) -> Encoded:
        return Encoded({"_type": self.TYPE, "bins": list(self.bins), "values": list(self.histogram),
                        "dropped": self.dropped})

    @classmethod
    def decode(cls, meta: dict[str, Any], read_blob: ReadBlob) -> Histogram:
        obj = cls.__new__(cls)
        bins, values = meta.get("bins", []), meta.get("values", [])
        if bins or values:
            obj.histogram, obj.bins = _check_np_histogram((values, bins))
        else:
            obj.histogram, obj.bins = [], []
        obj.dropped = int(meta.get("dropped", 0))  # wandb's own metas have no "dropped"
        return obj
