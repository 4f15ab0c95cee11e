"""wandb's step rules for log(), checked against what lands in a real store."""

from __future__ import annotations

import warnings

import pytest

import runwatch
from runwatch.errors import RunwatchWarning, UsageError


def rows(api, run):
    return list(api.run(f"{run.project}/{run.id}").scan_history())


def strip(rs):
    return [{k: v for k, v in r.items() if k not in ("_runtime", "_timestamp")} for r in rs]


def test_each_call_is_a_new_step_from_zero(api):
    run = runwatch.init(project="p")
    for i in range(3):
        runwatch.log({"a": i})
    run.finish()
    assert strip(rows(api, run)) == [{"_step": i, "a": i} for i in range(3)]


def test_commit_false_merges_into_the_current_row(api):
    run = runwatch.init(project="p")
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    run.log({"c": 3})
    run.log({"a": 4})
    run.finish()
    assert strip(rows(api, run)) == [{"_step": 0, "a": 1, "b": 2, "c": 3}, {"_step": 1, "a": 4}]


def test_explicit_step_merges_then_advances(api):
    run = runwatch.init(project="p")
    run.log({"a": 1}, step=5)
    run.log({"b": 2}, step=5)
    run.log({"a": 3}, step=7)
    run.log({"a": 9})  # no step: commits the pending row at 7, this one too
    run.finish()
    assert strip(rows(api, run)) == [
        {"_step": 5, "a": 1, "b": 2},
        {"_step": 7, "a": 9},
    ]


def test_explicit_step_with_commit_true_flushes(api):
    run = runwatch.init(project="p")
    run.log({"a": 1}, step=2, commit=True)
    run.log({"a": 2})
    run.finish()
    assert strip(rows(api, run)) == [{"_step": 2, "a": 1}, {"_step": 3, "a": 2}]


def test_lower_step_is_dropped_with_wandbs_warning(api):
    run = runwatch.init(project="p")
    run.log({"a": 1}, step=10)
    with pytest.warns(RunwatchWarning, match="less than the current step 10"):
        run.log({"a": 2}, step=3)
    run.log({"a": 3}, step=11)
    run.finish()
    assert strip(rows(api, run)) == [{"_step": 10, "a": 1}, {"_step": 11, "a": 3}]
    assert run.stats["dropped_lower_steps"] == 1


def test_lower_step_raises_under_strict(monkeypatch):
    monkeypatch.setenv("RUNWATCH_STRICT", "1")
    run = runwatch.init(project="p")
    run.log({"a": 1})
    with pytest.raises(runwatch.RunwatchError, match="less than the current step"):
        run.log({"a": 2}, step=0)
    run.finish()


def test_pending_row_is_written_at_finish(api):
    run = runwatch.init(project="p")
    run.log({"a": 1}, step=3)
    run.finish()
    assert strip(rows(api, run)) == [{"_step": 3, "a": 1}]


def test_nested_dicts_flatten_to_dotted_keys(api):
    run = runwatch.init(project="p")
    run.log({"train": {"loss": 0.5, "acc": {"top1": 0.7}}, "x": 1})
    run.finish()
    assert strip(rows(api, run)) == [{"_step": 0, "train.loss": 0.5, "train.acc.top1": 0.7, "x": 1}]


def test_rows_carry_runtime_and_timestamp(api):
    run = runwatch.init(project="p")
    run.log({"a": 1})
    run.finish()
    (row,) = rows(api, run)
    assert row["_timestamp"] >= run.start_time
    assert 0 <= row["_runtime"] == pytest.approx(row["_timestamp"] - run.start_time, abs=1e-5)


def test_logged_dict_is_copied(api):
    run = runwatch.init(project="p")
    d = {"a": 1}
    run.log(d)
    d["a"] = 2
    d["b"] = 3
    run.finish()
    assert strip(rows(api, run)) == [{"_step": 0, "a": 1}]


def test_step_property_and_numpy_steps(api):
    np = pytest.importorskip("numpy")
    run = runwatch.init(project="p")
    assert run.step == 0
    run.log({"a": 1}, step=np.int64(4))
    run.log({"a": 2}, step=6.0)
    assert run.step == 6
    run.finish()
    assert [r["_step"] for r in rows(api, run)] == [4, 6]


def test_bad_step_warns_and_logs_at_next_step(api):
    run = runwatch.init(project="p")
    with pytest.warns(RunwatchWarning, match="not a whole number"):
        run.log({"a": 1}, step="x")
    run.finish()
    assert [r["_step"] for r in rows(api, run)] == [0]


def test_log_needs_a_dict():
    run = runwatch.init(project="p")
    with pytest.raises(UsageError, match="takes a dict"):
        run.log([1, 2])
    run.finish()


def test_log_after_finish_is_an_error():
    run = runwatch.init(project="p")
    run.finish()
    with pytest.raises(UsageError, match="finished"):
        run.log({"a": 1})


def test_module_log_before_init_is_an_error():
    with pytest.raises(UsageError, match="init"):
        runwatch.log({"a": 1})
    with pytest.raises(UsageError, match="init"):
        runwatch.config.lr  # noqa: B018


def test_many_steps_arrive_in_order(api):
    run = runwatch.init(project="p")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(20_000):
            run.log({"i": i, "f": i / 2})
    run.finish()
    got = rows(api, run)
    assert [r["_step"] for r in got] == list(range(20_000))
    assert all(r["i"] == r["_step"] and r["f"] == r["_step"] / 2 for r in got)


def test_lower_step_warnings_stop_after_ten_but_are_counted():
    run = runwatch.init(project="p")
    run.log({"a": 1}, step=100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for s in range(25):
            run.log({"a": 2}, step=s)
    shown = [w for w in caught if issubclass(w.category, RunwatchWarning)]
    assert len(shown) == 10 and "not shown" in str(shown[-1].message)
    assert run.stats["dropped_lower_steps"] == 25
    run.finish()
