"""runwatch.Api(): wandb's read shapes over a real store."""

from __future__ import annotations

import math

import pytest

import runwatch
from runwatch.errors import RunNotFoundError, UsageError
from runwatch.store import history as history_mod


def make_run(project="p", steps=1000, **init):
    run = runwatch.init(project=project, **init)
    for i in range(steps):
        run.log({"loss": math.sin(i / 50) + (5.0 if i == 777 else 0.0), "i": i})
    run.finish()
    return run


def test_projects_and_runs_listing(api):
    a = make_run("alpha", 3, config={"lr": 0.1})
    b = make_run("alpha", 3, config={"lr": 0.2}, tags=["x"])
    make_run("beta", 1)
    projects = {p.name: p for p in api.projects()}
    assert set(projects) == {"alpha", "beta"}
    assert projects["alpha"].run_count == 2 and projects["alpha"].running_count == 0
    runs = api.runs("alpha")
    assert [r.id for r in runs] == [a.id, b.id]
    assert [r.id for r in api.runs("someone/alpha", order="-created_at")] == [b.id, a.id]
    assert [r.id for r in api.runs("alpha", filters={"config.lr": {"$gt": 0.15}})] == [b.id]
    assert [r.id for r in api.runs("alpha", filters={"tags": "x"})] == [b.id]
    assert [r.id for r in api.runs("alpha", filters={"$or": [{"config.lr": 0.1},
                                                             {"tags": {"$in": ["x"]}}]})] \
        == [a.id, b.id]
    assert [r.id for r in api.runs("alpha", order="-summary_metrics.i")] == [a.id, b.id]


def test_run_paths_and_errors(api):
    run = make_run("p", 2)
    assert api.run(f"p/{run.id}").id == run.id
    assert api.run(f"me/p/{run.id}").id == run.id
    assert api.run(f"me/p/runs/{run.id}").id == run.id
    with pytest.raises(RunNotFoundError, match="No run p/nope"):
        api.run("p/nope")
    with pytest.raises(RunNotFoundError, match="No project 'zzz'"):
        api.runs("zzz")
    with pytest.raises(UsageError):
        api.run("just-one-part")


def test_api_without_a_store_says_where_it_looked(tmp_path):
    api = runwatch.Api(dir=tmp_path / "empty")
    assert api.projects() == []
    with pytest.raises(RunNotFoundError, match="No runwatch store"):
        api.runs("p")


def test_run_fields(api):
    run = make_run("p", 5, name="n", tags=["t"], notes="note", group="g", job_type="j",
                   config={"lr": 1})
    r = api.run(f"p/{run.id}")
    assert (r.id, r.name, r.project, r.state, r.tags, r.notes, r.group, r.job_type) == (
        run.id, "n", "p", "finished", ["t"], "note", "g", "j")
    assert r.config == {"lr": 1}
    assert r.summary["i"] == 4
    assert r.created_at and r.heartbeat_at
    assert r.last_step == 4
    assert set(r.keys()) == {"loss", "i"}


def test_history_is_sampled_the_same_every_call_and_keeps_extremes(api):
    run = make_run("p", 5000)
    r = api.run(f"p/{run.id}")
    df1 = r.history(samples=100)
    df2 = r.history(samples=100)
    assert len(df1) <= 100
    assert df1.equals(df2)
    full = list(r.scan_history())
    losses = [row["loss"] for row in full]
    assert df1["loss"].max() == max(losses)  # the spike at step 777 survives
    assert df1["loss"].min() == min(losses)
    assert df1["_step"].iloc[0] == 0 and df1["_step"].iloc[-1] == 4999
    assert list(df1.columns[:3]) == ["_step", "_runtime", "_timestamp"]


def test_history_small_run_returns_everything_and_list_form(api):
    run = make_run("p", 10)
    r = api.run(f"p/{run.id}")
    rows = r.history(pandas=False)
    assert [row["_step"] for row in rows] == list(range(10))
    assert r.history(keys=["i"])["i"].tolist() == list(range(10))


def test_history_keys_only_rows_holding_all_of_them(api):
    run = runwatch.init(project="p")
    for i in range(10):
        row = {"a": i}
        if i % 3 == 0:
            row["b"] = -i
        run.log(row)
    run.finish()
    r = api.run(f"p/{run.id}")
    df = r.history(keys=["a", "b"])
    assert df["_step"].tolist() == [0, 3, 6, 9]
    assert r.history(keys=["nope"]).empty
    rows = list(r.scan_history(keys=["b"]))
    assert [row["b"] for row in rows] == [0, -3, -6, -9]
    assert set(rows[0]) == {"_step", "_runtime", "_timestamp", "b"}
    sparse = list(r.scan_history())
    assert sparse[1] == {**sparse[1], "a": 1} and "b" not in sparse[1]


def test_scan_history_step_range_is_wandb_style(api):
    run = make_run("p", 50)
    r = api.run(f"p/{run.id}")
    assert [row["_step"] for row in r.scan_history(min_step=10, max_step=15)] == list(range(10, 15))


def test_scan_history_windows_cover_everything(api, monkeypatch):
    monkeypatch.setattr(history_mod, "SCAN_WINDOW_POINTS", 1000)
    run = make_run("p", 12_000)
    r = api.run(f"p/{run.id}")
    steps = [row["_step"] for row in r.scan_history()]
    assert steps == list(range(12_000))
    part = [row["_step"] for row in r.scan_history(keys=["i"], min_step=5000, max_step=9000)]
    assert part == list(range(5000, 9000))


def test_history_mixed_numeric_and_text_values(api):
    run = runwatch.init(project="p")
    run.log({"v": 1.5})
    run.log({"v": "n/a"})
    run.log({"v": None})
    run.log({"v": True})
    run.finish()
    r = api.run(f"p/{run.id}")
    assert [row["v"] for row in r.scan_history()] == [1.5, "n/a", None, True]


def test_runs_histories(api):
    make_run("p", 5)
    make_run("p", 5)
    df = api.runs("p").histories(keys=["i"])
    assert len(df) == 10 and "run_id" in df.columns


def test_refresh_sees_new_state(api):
    run = runwatch.init(project="p")
    run.log({"a": 1})
    run.flush()
    r = api.run(f"p/{run.id}")
    assert r.state == "running"
    run.finish()
    assert r.load().state == "finished"
