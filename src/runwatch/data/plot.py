"""``wandb.plot``: charts made of a Table and a plain spec the dashboard draws without Vega.

Every function returns a :class:`Chart`; log it like any value:
``run.log({"roc": wandb.plot.roc_curve(y_true, y_probas)})``.

The spec has every key below, always::

    {"kind":    "line" | "scatter" | "bar" | "histogram" | "line_series"
                | "confusion_matrix" | "pr_curve" | "roc_curve",
     "title":   str,
     "x":       column on the x axis (bar: the label column; histogram: the value column
                to bin; confusion_matrix: "Predicted"),
     "y":       column on the y axis, or None (histogram: the dashboard counts;
                confusion_matrix: "Actual"),
     "series":  column whose distinct values are separate lines/colours, or None
                (line: its stroke; line_series: "lineKey"; pr/roc: "class"),
     "value":   confusion_matrix: "nPredictions", the count in each cell; else None,
     "x_label": str, "y_label": str,
     "split_table": bool}

Tables follow wandb's columns: line_series ``step, lineKey, lineVal``; confusion_matrix
``Actual, Predicted, nPredictions`` (one row per pair of classes, counts as ints);
pr_curve ``class, precision, recall`` (``interp_size`` recall points from 1 down to 0 per
class, precision interpolated as the best precision at that recall or more); roc_curve
``class, fpr, tpr`` (sklearn's points, collinear ones dropped). Curve values are rounded to
3 decimals, as wandb does; they are computed with numpy alone.

Curves take ``y_true`` (N labels) and ``y_probas`` (N x K scores; a 1-D array is the
positive-class score of a binary problem). Integer labels name their score column
(label 2 is column 2); other labels are sorted and must number K. Only classes present
in ``y_true`` get a curve, as in wandb.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from runwatch.data.media import Encoded, Media, ReadBlob
from runwatch.data.table import Table

KINDS = ("line", "scatter", "bar", "histogram", "line_series", "confusion_matrix", "pr_curve",
         "roc_curve")
_COLUMN_KEYS = ("x", "y", "series", "value")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _require(fn: str, table: Any, **fields: str | None) -> None:
    if not isinstance(table, Table):
        raise TypeError(f"plot.{fn} needs a Table, not {_show(table)}; "
                        "build one with Table(columns=[...], data=[...])")
    for arg, col in fields.items():
        if col is not None and col not in table.columns:
            raise ValueError(f"plot.{fn}: {arg}={col!r} is not a column of the table; its "
                             f"columns are {table.columns}")


def _spec(kind: str, title: Any, x: str, y: str | None, series: str | None = None,
          value: str | None = None, x_label: str | None = None, y_label: str | None = None,
          split_table: bool = False) -> dict[str, Any]:
    return {"kind": kind, "title": "" if title is None else str(title), "x": x, "y": y,
            "series": series, "value": value, "x_label": x if x_label is None else x_label,
            "y_label": (y or "") if y_label is None else y_label, "split_table": bool(split_table)}


class Chart(Media):
    """A chart to log: its data (``.table``) and how to draw it (``.spec``)."""

    TYPE = "chart"

    def __init__(self, table: Table, spec: dict[str, Any]) -> None:
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if kind not in KINDS:
            raise ValueError(f"chart spec {_show(spec)} needs a kind among {', '.join(KINDS)}")
        _require(kind, table, **{k: spec.get(k) for k in _COLUMN_KEYS})
        self.table = table
        self.spec = dict(spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Chart):
            return NotImplemented
        return self.spec == other.spec and self.table == other.table

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Chart {self.spec['kind']} {self.spec.get('title')!r} of {self.table!r}>"

    def encode(self) -> Encoded:
        enc = self.table.encode()
        return Encoded({"_type": self.TYPE, "spec": dict(self.spec), "table": enc.meta},
                       dict(enc.blobs))

    @classmethod
    def decode(cls, meta: dict[str, Any], read_blob: ReadBlob) -> Chart:
        spec, table = meta.get("spec"), meta.get("table")
        if not isinstance(spec, dict) or not isinstance(table, dict):
            raise ValueError(f"chart meta {_show(meta)} lacks its spec or table")
        return cls(Table.decode(table, read_blob), spec)


# ---------------------------------------------------------------- charts of a table


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str = "",
         split_table: bool = False) -> Chart:
    _require("line", table, x=x, y=y, stroke=stroke)
    return Chart(table, _spec("line", title, x, y, series=stroke, split_table=split_table))


def scatter(table: Table, x: str, y: str, title: str = "", split_table: bool = False) -> Chart:
    _require("scatter", table, x=x, y=y)
    return Chart(table, _spec("scatter", title, x, y, split_table=split_table))


def bar(table: Table, label: str, value: str, title: str = "", split_table: bool = False) -> Chart:
    _require("bar", table, label=label, value=value)
    return Chart(table, _spec("bar", title, label, value, split_table=split_table))


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> Chart:
    _require("histogram", table, value=value)
    return Chart(table, _spec("histogram", title, value, None, y_label="count",
                              split_table=split_table))


def line_series(xs: Any, ys: Any, keys: Any = None, title: str = "", xname: str = "x",
                split_table: bool = False) -> Chart:
    """One line per entry of ``ys``; ``xs`` is one x sequence for all, or one per line."""
    ys = [np.asarray(y).tolist() for y in ys]
    if len(xs) and (not isinstance(xs[0], Iterable) or isinstance(xs[0], (str, bytes))):
        xs = [xs] * len(ys)
    xs = [np.asarray(x).tolist() for x in xs]
    if len(xs) != len(ys):
        raise ValueError(f"line_series got {len(xs)} x-series for {len(ys)} y-series; give one "
                         "x sequence for all lines or one per line")
    keys = [f"line_{i}" for i in range(len(ys))] if keys is None else list(keys)
    if len(keys) != len(ys):
        raise ValueError(f"line_series got {len(keys)} keys {_show(keys)} for {len(ys)} "
                         "y-series; give one key per line")
    data = []
    for i, (xx, yy) in enumerate(zip(xs, ys)):
        if len(xx) != len(yy):
            raise ValueError(f"line_series line {i} ({keys[i]!r}) has {len(xx)} x values but "
                             f"{len(yy)} y values")
        data.extend([x, keys[i], y] for x, y in zip(xx, yy))
    table = Table(columns=["step", "lineKey", "lineVal"], data=data)
    return Chart(table, _spec("line_series", title, "step", "lineVal", series="lineKey",
                              x_label=xname, y_label="", split_table=split_table))


# ---------------------------------------------------------------- classifier charts


def _labels_list(values: Any, what: str) -> list[Any]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one label per sample (1-D), not shape {arr.shape}")
    return arr.tolist()


def confusion_matrix(probs: Any = None, y_true: Any = None, preds: Any = None,
                     class_names: Any = None, title: str = "Confusion Matrix Curve",
                     split_table: bool = False) -> Chart:
    """Counts of (actual, predicted) pairs; ``probs`` (N x K) gives ``preds`` by argmax."""
    if probs is not None and preds is not None:
        raise ValueError("pass probs= or preds=, not both")
    if y_true is None or (probs is None and preds is None):
        raise ValueError("confusion_matrix needs y_true= and one of probs= or preds=")
    if probs is not None:
        p = np.asarray(probs, dtype=float)
        if p.ndim != 2:
            raise ValueError(f"probs must be N x K class probabilities, not shape {p.shape}")
        preds = p.argmax(axis=1)
    pred_list, true_list = _labels_list(preds, "preds"), _labels_list(y_true, "y_true")
    if len(pred_list) != len(true_list):
        raise ValueError(f"{len(pred_list)} predictions but {len(true_list)} true labels; "
                         "give one of each per sample")
    if class_names is not None:
        names = list(class_names)
        classes: list[Any] = list(range(len(names)))
        for what, values in (("y_true", true_list), ("preds", pred_list)):
            bad = next((v for v in values if type(v) is not int or not 0 <= v < len(names)),
                       None)
            if bad is not None:
                raise ValueError(f"{what} holds {bad!r}, but with {len(names)} class_names the "
                                 f"labels must be class indices 0..{len(names) - 1}")
    else:
        try:
            classes = sorted(set(pred_list) | set(true_list))
        except TypeError:
            raise ValueError("labels mix types that can't be ordered "
                             f"({_show(sorted({type(v).__name__ for v in true_list}))}); "
                             "pass class indices with class_names=") from None
        names = [f"Class_{i + 1}" for i in range(len(classes))]
    n = len(classes)
    index = {c: i for i, c in enumerate(classes)}
    actual = np.fromiter((index[v] for v in true_list), np.int64, len(true_list))
    predicted = np.fromiter((index[v] for v in pred_list), np.int64, len(pred_list))
    counts = np.bincount(actual * n + predicted, minlength=n * n).reshape(n, n)
    data = [[names[i], names[j], int(counts[i, j])] for i in range(n) for j in range(n)]
    table = Table(columns=["Actual", "Predicted", "nPredictions"], data=data)
    return Chart(table, _spec("confusion_matrix", title, "Predicted", "Actual",
                              value="nPredictions", split_table=split_table))


def _curve_classes(fn: str, y_true: Any, y_probas: Any, labels: Any,
                   classes_to_plot: Any) -> list[tuple[Any, np.ndarray, np.ndarray]]:
    """(class label, is-positive mask, scores) for each class to draw."""
    if y_true is None or y_probas is None:
        raise ValueError(f"{fn} needs y_true= (N labels) and y_probas= (N x K scores)")
    y = np.asarray(y_true)
    scores = np.asarray(y_probas, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"y_true must be one label per sample (1-D), not shape {y.shape}")
    if scores.ndim == 1:
        scores = np.stack([1.0 - scores, scores], axis=1)
    if scores.ndim != 2 or scores.shape[0] != len(y):
        raise ValueError(f"y_probas has shape {scores.shape}; expected ({len(y)}, n_classes) "
                         "to match y_true")
    if not np.isfinite(scores).all():
        raise ValueError(f"y_probas holds {int((~np.isfinite(scores)).sum())} NaN or infinite "
                         "scores; curves need finite scores")
    classes = np.unique(y)
    k = scores.shape[1]
    if y.dtype.kind in "iub":
        column = {c: c for c in classes.tolist()}
        bad = [c for c in column if not 0 <= c < k]
        if bad:
            raise ValueError(f"y_true holds class {bad[0]!r} but y_probas has only {k} columns "
                             f"(classes 0..{k - 1})")
    elif len(classes) != k:
        raise ValueError(f"y_true has {len(classes)} distinct labels {_show(classes.tolist())} but "
                         f"y_probas has {k} columns; with non-integer labels they must match")
    else:
        column = {c: i for i, c in enumerate(classes.tolist())}
    if classes_to_plot is None:
        wanted = list(column)
    else:
        chosen = set(np.asarray(classes_to_plot).ravel().tolist())
        wanted = [c for c in column if c in chosen]
    if not wanted:
        raise ValueError(f"classes_to_plot {_show(classes_to_plot)} names none of the classes "
                         f"in y_true: {list(column)}")
    out = []
    for c in wanted:
        name = labels[c] if labels is not None and isinstance(c, int) else c
        out.append((name, y == c, scores[:, column[c]]))
    return out


def _binary_counts(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positives at each distinct threshold, highest threshold first."""
    order = np.argsort(score, kind="mergesort")[::-1]
    s, t = score[order], positive[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(t)[ends]
    return 1 + ends - tps, tps


def pr_curve(y_true: Any = None, y_probas: Any = None, labels: Any = None,
             classes_to_plot: Any = None, interp_size: int = 21,
             title: str = "Precision v. Recall", split_table: bool = False) -> Chart:
    """Precision at ``interp_size`` recall levels per class (table: class, precision, recall)."""
    if type(interp_size) is not int or interp_size < 2:
        raise ValueError(f"interp_size must be an int >= 2, not {interp_size!r}")
    grid = np.linspace(0, 1, interp_size)[::-1]
    data: list[list[Any]] = []
    for name, positive, score in _curve_classes("pr_curve", y_true, y_probas, labels,
                                                classes_to_plot):
        fps, tps = _binary_counts(positive, score)
        precision = np.r_[1.0, tps / (tps + fps)]
        recall = np.r_[0.0, tps / tps[-1]]
        # Interpolated precision: the best precision at this recall or any higher one.
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        picked = precision[np.searchsorted(recall, grid, side="left")]
        data.extend([name, p, r] for p, r in zip(np.round(picked, 3).tolist(),
                                                 np.round(grid, 3).tolist()))
    table = Table(columns=["class", "precision", "recall"], data=data)
    return Chart(table, _spec("pr_curve", title, "recall", "precision", series="class",
                              x_label="Recall", y_label="Precision", split_table=split_table))


def roc_curve(y_true: Any = None, y_probas: Any = None, labels: Any = None,
              classes_to_plot: Any = None, title: str = "ROC",
              split_table: bool = False) -> Chart:
    """True vs false positive rate per class (table: class, fpr, tpr)."""
    data: list[list[Any]] = []
    for name, positive, score in _curve_classes("roc_curve", y_true, y_probas, labels,
                                                classes_to_plot):
        fps, tps = _binary_counts(positive, score)
        if fps[-1] == 0:
            raise ValueError(f"roc_curve: every sample is class {name!r}, so there is no false "
                             "positive rate; y_true needs at least two classes")
        if len(fps) > 2:  # drop points on a straight segment, as sklearn does
            keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
            fps, tps = fps[keep], tps[keep]
        fpr = np.round(np.r_[0, fps] / fps[-1], 3).tolist()
        tpr = np.round(np.r_[0, tps] / tps[-1], 3).tolist()
        data.extend([name, f, t] for f, t in zip(fpr, tpr))
    table = Table(columns=["class", "fpr", "tpr"], data=data)
    return Chart(table, _spec("roc_curve", title, "fpr", "tpr", series="class",
                              x_label="False positive rate", y_label="True positive rate",
                              split_table=split_table))
