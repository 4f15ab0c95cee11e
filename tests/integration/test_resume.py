"""Resuming a run by id: continues its history, keeps its config and summary."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

import runwatch
from runwatch import UsageError
from tests.conftest import run_python
from tests.integration._helpers import scan, spawn, stored_run, user_items


def test_resume_allow_continues_finished_run(store_dir: Path) -> None:
    run = runwatch.init(project="res", id="x", config={"lr": 0.1, "layers": 3}, tags=["first"])
    for i in range(5):
        run.log({"loss": 1.0 / (i + 1), "acc": i / 10})
    run.summary["best"] = 0.42
    run.finish()
    first = stored_run(store_dir, "res/x")
    assert first.state == "finished" and first.last_step == 4

    run = runwatch.init(project="res", id="x", resume="allow", config={"extra": "yes"})
    assert run.resumed
    assert run.step == 5
    assert run.config["lr"] == 0.1 and run.config["layers"] == 3 and run.config["extra"] == "yes"
    assert run.summary["best"] == 0.42
    assert run.summary["acc"] == 0.4
    assert run.name == first.name
    # While it runs, the store shows it running again.
    run.flush()
    assert stored_run(store_dir, "res/x").state == "running"
    run.log({"loss": 0.1})
    run.log({"acc": 0.9})
    run.finish()

    stored = stored_run(store_dir, "res/x")
    assert stored.state == "finished"
    assert stored.exit_code == 0
    assert stored.name == first.name
    assert stored.created_at == first.created_at
    assert stored.config == {"lr": 0.1, "layers": 3, "extra": "yes"}
    assert stored.summary["best"] == 0.42
    assert stored.summary["loss"] == 0.1
    assert stored.summary["acc"] == 0.9
    assert stored.last_step == 6
    rows = scan(store_dir, "res/x")
    assert [r["_step"] for r in rows] == list(range(7))
    assert [user_items(r) for r in rows[:5]] == [
        {"loss": 1.0 / (i + 1), "acc": i / 10} for i in range(5)]
    assert user_items(rows[5]) == {"loss": 0.1}
    assert user_items(rows[6]) == {"acc": 0.9}
    with runwatch.Api(dir=store_dir) as api:
        assert len(api.runs("res")) == 1


def _writer_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("runwatch-")}


def test_resume_changing_config_needs_allow_val_change(store_dir: Path) -> None:
    runwatch.init(project="res", id="cfg", config={"lr": 0.1}).finish()
    before = _writer_threads()
    with pytest.raises(runwatch.ConfigError):
        runwatch.init(project="res", id="cfg", resume="allow", config={"lr": 0.2})
    # The refused init left nothing behind: no writer of a half-made run, and the stored
    # run still reads finished (not running again under this process).
    assert _writer_threads() - before == set()
    time.sleep(1.0)  # 10 flush intervals: a leftover writer would have written by now
    stored = stored_run(store_dir, "res/cfg")
    assert stored.state == "finished" and stored.finished_at is not None
    run = runwatch.init(project="res", id="cfg", resume="allow", config={"lr": 0.2},
                        allow_val_change=True, reinit="finish_previous")
    run.finish()
    assert stored_run(store_dir, "res/cfg").config == {"lr": 0.2}


def test_resume_after_crash_continues_from_last_committed_step(store_dir: Path) -> None:
    proc = spawn("""
        import time, runwatch
        run = runwatch.init(project="res", id="crashy")
        for i in range(20):
            run.log({"i": i})
        run.flush()
        print("flushed", flush=True)
        time.sleep(600)
    """)
    try:
        assert proc.stdout.readline().strip() == "flushed", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert stored_run(store_dir, "res/crashy").state == "crashed"
    run_python("""
        import runwatch
        run = runwatch.init(project="res", id="crashy", resume="must")
        assert run.step == 20, run.step
        run.log({"i": 20})
    """)
    stored = stored_run(store_dir, "res/crashy")
    assert stored.state == "finished"
    assert [r["i"] for r in scan(store_dir, "res/crashy")] == list(range(21))


def test_resume_must_with_unknown_id_raises(store_dir: Path) -> None:
    with pytest.raises(UsageError, match="nope"):  # no store at all yet
        runwatch.init(project="res", id="nope", resume="must")
    runwatch.init(project="res", id="other").finish()
    with pytest.raises(UsageError, match="nope"):  # a store, but no such run
        runwatch.init(project="res", id="nope", resume="must")
    assert runwatch.run is None
    with runwatch.Api(dir=store_dir) as api:
        assert [r.id for r in api.runs("res")] == ["other"]


def test_reusing_id_without_resume_raises(store_dir: Path) -> None:
    runwatch.init(project="res", id="dup").log({"a": 1})
    runwatch.finish()
    for resume in (None, False, "never"):
        with pytest.raises(UsageError, match="already exists"):
            runwatch.init(project="res", id="dup", resume=resume)
    assert runwatch.run is None
    # The existing run is untouched.
    stored = stored_run(store_dir, "res/dup")
    assert stored.state == "finished"
    assert [user_items(r) for r in scan(store_dir, "res/dup")] == [{"a": 1}]


def test_same_id_in_another_project_is_a_different_run(store_dir: Path) -> None:
    runwatch.init(project="res", id="same").finish()
    run = runwatch.init(project="res2", id="same")
    assert not run.resumed and run.step == 0
    run.finish()
    assert stored_run(store_dir, "res2/same").state == "finished"
