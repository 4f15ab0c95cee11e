"""wandb.plot.*: each chart's table and spec, error messages, and the Chart round trip."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from runwatch.data import plot
from runwatch.data.media import Media
from runwatch.data.media import decode as decode_media
from runwatch.data.table import Table

SPEC_KEYS = {"kind", "title", "x", "y", "series", "value", "x_label", "y_label", "split_table"}


@pytest.fixture()
def table():
    return Table(columns=["step", "loss", "run"],
                 data=[[0, 1.0, "a"], [1, 0.5, "a"], [0, 2.0, "b"], [1, 0.7, "b"]])


def rows_by_class(chart, name):
    cols = chart.table.columns
    return [dict(zip(cols, r)) for r in chart.table.data if r[0] == name]


def round_trip(chart):
    enc = chart.encode()
    return decode_media(enc.meta, dict(enc.blobs).__getitem__), enc


# ---------------------------------------------------------------- charts of a table


def test_line(table):
    c = plot.line(table, "step", "loss", stroke="run", title="Loss", split_table=True)
    assert isinstance(c, plot.Chart) and c.table is table
    assert c.spec == {"kind": "line", "title": "Loss", "x": "step", "y": "loss", "series": "run",
                      "value": None, "x_label": "step", "y_label": "loss", "split_table": True}


def test_scatter_bar_histogram(table):
    s = plot.scatter(table, "step", "loss", title="S")
    assert (s.spec["kind"], s.spec["x"], s.spec["y"], s.spec["series"]) == \
        ("scatter", "step", "loss", None)
    b = plot.bar(table, "run", "loss", title="B")
    assert (b.spec["kind"], b.spec["x"], b.spec["y"]) == ("bar", "run", "loss")
    h = plot.histogram(table, "loss", title="H")
    assert (h.spec["kind"], h.spec["x"], h.spec["y"], h.spec["y_label"]) == \
        ("histogram", "loss", None, "count")
    for c in (s, b, h):
        assert set(c.spec) == SPEC_KEYS and c.table is table


@pytest.mark.parametrize("make, arg, missing", [
    (lambda t: plot.line(t, "step", "acc"), "y", "acc"),
    (lambda t: plot.line(t, "step", "loss", stroke="seed"), "stroke", "seed"),
    (lambda t: plot.scatter(t, "epoch", "loss"), "x", "epoch"),
    (lambda t: plot.bar(t, "name", "loss"), "label", "name"),
    (lambda t: plot.histogram(t, "grad"), "value", "grad"),
])
def test_missing_column_lists_columns(table, make, arg, missing):
    with pytest.raises(ValueError) as e:
        make(table)
    msg = str(e.value)
    assert f"{arg}={missing!r}" in msg and "['step', 'loss', 'run']" in msg


def test_needs_a_table():
    with pytest.raises(TypeError, match=r"needs a Table, not \[\[1, 2\]\]"):
        plot.line([[1, 2]], "x", "y")


def test_line_series():
    c = plot.line_series([0, 1, 2], [[1, 2, 3], [4, 5, 6]], title="T", xname="epoch")
    assert c.table.columns == ["step", "lineKey", "lineVal"]
    assert c.table.data[:4] == [[0, "line_0", 1], [1, "line_0", 2], [2, "line_0", 3],
                                [0, "line_1", 4]]
    assert len(c.table.data) == 6
    assert (c.spec["x"], c.spec["y"], c.spec["series"], c.spec["x_label"]) == \
        ("step", "lineVal", "lineKey", "epoch")
    c2 = plot.line_series(np.array([[0, 1], [5, 6]]), np.array([[1.0, 2.0], [3.0, 4.0]]),
                          keys=["a", "b"])
    assert c2.table.data == [[0, "a", 1.0], [1, "a", 2.0], [5, "b", 3.0], [6, "b", 4.0]]


@pytest.mark.parametrize("kwargs, pattern", [
    ({"xs": [[0, 1]] * 3, "ys": [[1, 2], [3, 4]]}, r"3 x-series for 2 y-series"),
    ({"xs": [0, 1], "ys": [[1, 2]], "keys": ["a", "b"]}, r"2 keys \['a', 'b'\] for 1"),
    ({"xs": [0, 1, 2], "ys": [[1, 2]]}, r"line 0 \('line_0'\) has 3 x values but 2 y values"),
])
def test_line_series_errors(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        plot.line_series(**kwargs)


# ---------------------------------------------------------------- confusion matrix


def test_confusion_matrix_counts_match():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 500)
    preds = np.where(rng.random(500) < 0.7, y_true, rng.integers(0, 3, 500))
    c = plot.confusion_matrix(y_true=y_true, preds=preds, class_names=["cat", "dog", "owl"])
    assert c.table.columns == ["Actual", "Predicted", "nPredictions"]
    names = ["cat", "dog", "owl"]
    want = Counter((names[t], names[p]) for t, p in zip(y_true.tolist(), preds.tolist()))
    assert len(c.table.data) == 9
    for actual, predicted, n in c.table.data:
        assert n == want[(actual, predicted)] and type(n) is int
    assert sum(r[2] for r in c.table.data) == 500
    assert (c.spec["kind"], c.spec["x"], c.spec["y"], c.spec["value"]) == \
        ("confusion_matrix", "Predicted", "Actual", "nPredictions")
    assert c.spec["title"] == "Confusion Matrix Curve"


def test_confusion_matrix_from_probs_and_default_names():
    probs = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]
    c = plot.confusion_matrix(probs=probs, y_true=[0, 1, 1])
    assert c.table.data == [["Class_1", "Class_1", 1], ["Class_1", "Class_2", 0],
                            ["Class_2", "Class_1", 1], ["Class_2", "Class_2", 1]]


@pytest.mark.parametrize("kwargs, pattern", [
    ({"probs": [[1, 0]], "preds": [0], "y_true": [0]}, "not both"),
    ({"preds": [0, 1], "y_true": [0]}, "2 predictions but 1 true labels"),
    ({"preds": [0, 5], "y_true": [0, 1], "class_names": ["a", "b"]},
     r"preds holds 5.*indices 0\.\.1"),
    ({"preds": [0]}, "needs y_true"),
])
def test_confusion_matrix_errors(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        plot.confusion_matrix(**kwargs)


# ---------------------------------------------------------------- pr and roc


def test_roc_perfect_classifier():
    y = np.array([0, 0, 1, 1, 2, 2])
    probas = np.eye(3)[y] * 0.8 + 0.1
    c = plot.roc_curve(y, probas, labels=["a", "b", "c"])
    assert c.table.columns == ["class", "fpr", "tpr"]
    for name in ("a", "b", "c"):
        pts = [(r["fpr"], r["tpr"]) for r in rows_by_class(c, name)]
        assert pts[0] == (0.0, 0.0) and pts[-1] == (1.0, 1.0)
        assert (0.0, 1.0) in pts  # tpr reaches 1 while fpr is still 0
    assert (c.spec["x"], c.spec["y"], c.spec["series"]) == ("fpr", "tpr", "class")
    assert c.spec["title"] == "ROC"


def test_roc_matches_sklearn_documented_example():
    # sklearn.metrics.roc_curve docs: y=[1,1,2,2], scores=[.1,.4,.35,.8], pos_label=2.
    c = plot.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], classes_to_plot=[1])
    pts = [(r["fpr"], r["tpr"]) for r in rows_by_class(c, 1)]
    assert pts == [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
    assert {r[0] for r in c.table.data} == {1}


def test_roc_random_scores_stay_monotone():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 1000)
    c = plot.roc_curve(y, rng.random(1000))
    for name in (0, 1):
        pts = rows_by_class(c, name)
        assert all(a["fpr"] <= b["fpr"] and a["tpr"] <= b["tpr"] for a, b in zip(pts, pts[1:]))


def test_pr_curve_sklearn_example_interpolated():
    # sklearn: precision [.5, .667, .5, 1, 1] at recall [1, 1, .5, .5, 0]; the best
    # precision at recall >= r is .667 at r=1 and 1 at r<=.5.
    c = plot.pr_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], classes_to_plot=[1], interp_size=3)
    assert c.table.columns == ["class", "precision", "recall"]
    assert c.table.data == [[1, 0.667, 1.0], [1, 1.0, 0.5], [1, 1.0, 0.0]]
    assert (c.spec["x"], c.spec["y"], c.spec["series"]) == ("recall", "precision", "class")
    assert c.spec["title"] == "Precision v. Recall"


def test_pr_curve_perfect_and_labels():
    y = [0, 1, 2, 0, 1, 2]
    probas = np.eye(3)[y]
    c = plot.pr_curve(y, probas, labels=["x", "y", "z"], classes_to_plot=[0, 2])
    assert {r[0] for r in c.table.data} == {"x", "z"}
    assert len(c.table.data) == 2 * 21
    assert all(r[1] == 1.0 for r in c.table.data)


def test_curves_with_string_labels():
    y = ["dog", "cat", "dog", "cat"]
    probas = [[0.2, 0.8], [0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]  # columns: cat, dog (sorted)
    c = plot.roc_curve(y, probas)
    assert (0.0, 1.0) in [(r["fpr"], r["tpr"]) for r in rows_by_class(c, "dog")]


@pytest.mark.parametrize("fn", [plot.pr_curve, plot.roc_curve])
@pytest.mark.parametrize("kwargs, pattern", [
    ({"y_true": [0, 1], "y_probas": [[0.5, 0.5]]}, r"shape \(1, 2\); expected \(2, n_classes\)"),
    ({"y_true": [0, 3], "y_probas": [[1, 0], [0, 1]]}, r"class 3 but y_probas has only 2"),
    ({"y_true": [0, 1], "y_probas": [[1, 0], [0, float("nan")]]}, r"1 NaN or infinite"),
    ({"y_true": [0, 1], "y_probas": [[1, 0], [0, 1]], "classes_to_plot": [7]}, r"\[7\].*\[0, 1\]"),
    ({"y_true": None, "y_probas": [[1]]}, r"needs y_true"),
])
def test_curve_errors(fn, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        fn(**kwargs)


def test_roc_needs_two_classes():
    with pytest.raises(ValueError, match="every sample is class 0"):
        plot.roc_curve([0, 0], [[0.9, 0.1], [0.8, 0.2]])


# ---------------------------------------------------------------- Chart


def test_chart_round_trip(table):
    for chart in (plot.line(table, "step", "loss", stroke="run", title="<b>Loss</b>"),
                  plot.confusion_matrix(y_true=[0, 1], preds=[1, 1]),
                  plot.pr_curve([0, 1, 1], [0.2, 0.7, 0.9])):
        back, enc = round_trip(chart)
        assert isinstance(back, plot.Chart) and back == chart
        assert enc.meta["_type"] == "chart" and enc.meta["spec"] == chart.spec
        assert enc.meta["table"]["_type"] == "table"
        assert enc.meta["table"]["sha256"] in enc.blobs
    assert Media._registry["chart"] is plot.Chart


def test_chart_equality_and_validation(table):
    a = plot.line(table, "step", "loss")
    assert a != plot.line(table, "step", "loss", title="other")
    assert a != plot.scatter(table, "step", "loss")
    with pytest.raises(ValueError, match="needs a kind"):
        plot.Chart(table, {"kind": "pie"})
    with pytest.raises(ValueError, match=r"x='nope'.*\['step', 'loss', 'run'\]"):
        plot.Chart(table, dict(a.spec, x="nope"))
    with pytest.raises(ValueError, match="lacks its spec or table"):
        plot.Chart.decode({"_type": "chart"}, {}.__getitem__)
