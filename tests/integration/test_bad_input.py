"""Bad input never stops training: odd values round-trip or are skipped with one warning."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

import runwatch
from runwatch import RunwatchError, RunwatchWarning
from tests.integration._helpers import RESERVED, scan, stored_run, user_items


def _runwatch_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, RunwatchWarning)]


def _history_rows(store: Path, path: str) -> list[dict]:
    with runwatch.Api(dir=store) as api:
        return api.run(path).history(pandas=False)


def test_nonfinite_floats_round_trip(store_dir: Path) -> None:
    run = runwatch.init(project="bad", id="nonfinite")
    logged = [math.nan, math.inf, -math.inf, 1.5, math.nan]
    for v in logged:
        run.log({"x": v, "only_nan": math.nan, "ok": 1})
    run.finish()

    for rows in (scan(store_dir, "bad/nonfinite"), _history_rows(store_dir, "bad/nonfinite")):
        assert [r["_step"] for r in rows] == list(range(len(logged)))
        got = [r["x"] for r in rows]
        assert math.isnan(got[0]) and math.isnan(got[4])
        assert got[1] == math.inf and got[2] == -math.inf and got[3] == 1.5
        assert all(math.isnan(r["only_nan"]) for r in rows)
        assert all(r["ok"] == 1 for r in rows)

    with runwatch.Api(dir=store_dir) as api:
        df = api.run("bad/nonfinite").history()
    assert math.isnan(df["x"][0]) and df["x"][1] == math.inf and df["x"][2] == -math.inf
    summary = stored_run(store_dir, "bad/nonfinite").summary
    assert math.isnan(summary["x"]) and math.isnan(summary["only_nan"])


def test_non_numeric_values_kept_as_such(store_dir: Path) -> None:
    run = runwatch.init(project="bad", id="types")
    run.log({"flag": True, "text": "hello", "nothing": None, "num": 1.0})
    run.log({"flag": False, "text": "", "nothing": None, "num": 2.0})
    run.log({"flag": 1.0, "text": "wörld ✓", "huge": 2**70, "neg_huge": -(2**64)})
    run.finish()

    for rows in (scan(store_dir, "bad/types"), _history_rows(store_dir, "bad/types")):
        assert len(rows) == 3
        r0, r1, r2 = rows
        assert r0["flag"] is True and r1["flag"] is False and r2["flag"] == 1.0
        assert type(r2["flag"]) is float
        assert r0["text"] == "hello" and r1["text"] == "" and r2["text"] == "wörld ✓"
        assert "nothing" in r0 and r0["nothing"] is None
        assert "nothing" in r1 and r1["nothing"] is None
        assert "nothing" not in r2
        assert r0["num"] == 1.0 and r1["num"] == 2.0 and "num" not in r2
        assert r2["huge"] == 2**70 and r2["neg_huge"] == -(2**64)
    assert stored_run(store_dir, "bad/types").summary["text"] == "wörld ✓"


def test_unserializable_value_warns_once_per_key_and_others_are_stored(
        store_dir: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = runwatch.init(project="bad", id="objects")
        for step in range(5):
            run.log({"bad": object(), "good": float(step), "also_bad": {1, 2}, "s": "x"})
        run.log({"bad": object()})  # a row with nothing storable
        run.log({"good": 9.0})
        run.finish()
    messages = _runwatch_warnings(caught)
    assert len([m for m in messages if "'bad'" in m]) == 1, messages
    assert len([m for m in messages if "'also_bad'" in m]) == 1, messages
    assert len(messages) == 2, messages
    assert run.stats["warnings"] == 11  # every occurrence counted, one shown per key

    rows = scan(store_dir, "bad/objects")
    assert [user_items(r) for r in rows] == (
        [{"good": float(i), "s": "x"} for i in range(5)] + [{"good": 9.0}])
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4, 6]
    assert stored_run(store_dir, "bad/objects").state == "finished"


def test_ten_thousand_keys_in_one_call(store_dir: Path) -> None:
    run = runwatch.init(project="bad", id="wide")
    row = {f"k{i:05d}": float(i) for i in range(10_000)}
    run.log(row)
    run.log({"k00000": -1.0})
    run.finish()
    rows = scan(store_dir, "bad/wide")
    assert len(rows) == 2
    assert user_items(rows[0]) == row
    assert user_items(rows[1]) == {"k00000": -1.0}
    with runwatch.Api(dir=store_dir) as api:
        stored = api.run("bad/wide")
        assert len(stored.keys()) == 10_000
        assert stored.summary["k09999"] == 9999.0 and stored.summary["k00000"] == -1.0


def test_markup_unicode_and_long_keys(store_dir: Path) -> None:
    markup = "<script>alert(1)</script>"
    keys = {
        markup: 1.0,
        "损失/训练": 2.0,
        "ключ": 3.0,
        "🔥 loss": 4.0,
        "quote'\"\\back": 5.0,
        "k" * 512: 6.0,
        "sp ace\ttab\nnl": "text",
    }
    too_long = "L" * 513
    way_too_long = "W" * 5000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = runwatch.init(project="bad", id="keys")
        run.log({**keys, too_long: 7.0, way_too_long: "text"})
        run.log({**keys, too_long: 8.0, "nested": {"L" * 600: 1}})
        run.finish()
    messages = _runwatch_warnings(caught)
    assert len([m for m in messages if "513 characters" in m]) == 1, messages
    assert len([m for m in messages if "5000 characters" in m]) == 1, messages
    assert len([m for m in messages if "607 characters" in m]) == 1, messages  # "nested." + 600
    assert len(messages) == 3, messages

    rows = scan(store_dir, "bad/keys")
    assert [user_items(r) for r in rows] == [keys, keys]
    with runwatch.Api(dir=store_dir) as api:
        stored = api.run("bad/keys")
        assert set(stored.keys()) == set(keys)
        assert stored.summary[markup] == 1.0
        df = stored.history()
        assert set(df.columns) == set(RESERVED) | set(keys)


def test_strict_background_warning_raised_by_flush(
        store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWATCH_STRICT", "1")
    run = runwatch.init(project="strict", id="flush")
    run.log({"bad": object(), "ok": 1.0})  # queued: the writer finds the problem
    with pytest.raises(RunwatchError, match="'bad'"):
        run.flush()
    run.log({"ok": 2.0})
    run.finish()  # the error was raised once; finishing is clean
    assert [user_items(r) for r in scan(store_dir, "strict/flush")] == [{"ok": 1.0}, {"ok": 2.0}]
    assert stored_run(store_dir, "strict/flush").state == "finished"


def test_strict_background_warning_raised_by_finish(
        store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWATCH_STRICT", "1")
    run = runwatch.init(project="strict", id="finish")
    run.log({"ok": 1.0})
    run.log({"bad": object(), "ok": 2.0})
    with pytest.raises(RunwatchError, match="'bad'"):
        run.finish()
    assert run.finished
    assert runwatch.run is None
    # Raising did not lose anything: the run is written out and ended.
    assert [user_items(r) for r in scan(store_dir, "strict/finish")] == [{"ok": 1.0}, {"ok": 2.0}]
    assert stored_run(store_dir, "strict/finish").state == "finished"


def test_strict_lower_step_raises_at_once(
        store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWATCH_STRICT", "1")
    run = runwatch.init(project="strict", id="steps")
    run.log({"a": 1.0}, step=5)
    with pytest.raises(RunwatchError, match="step 3"):
        run.log({"a": 2.0}, step=3)
    run.log({"a": 3.0}, step=6)
    run.finish()
    rows = scan(store_dir, "strict/steps")
    assert [(r["_step"], r["a"]) for r in rows] == [(5, 1.0), (6, 3.0)]


def test_lower_step_without_strict_warns_and_drops(store_dir: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = runwatch.init(project="strict", id="lax")
        run.log({"a": 1.0}, step=5)
        run.log({"a": 2.0}, step=3)  # dropped with a warning, no exception
        run.log({"a": 3.0}, step=6)
        run.finish()
    assert len([m for m in _runwatch_warnings(caught) if "step 3" in m]) == 1
    rows = scan(store_dir, "strict/lax")
    assert [(r["_step"], r["a"]) for r in rows] == [(5, 1.0), (6, 3.0)]
