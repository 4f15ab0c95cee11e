"""init(): names, ids, reinit, modes, globals, context manager."""

from __future__ import annotations

import re
import time

import pytest

import runwatch
from runwatch.errors import UsageError


def test_init_returns_run_and_sets_globals(api):
    assert runwatch.run is None
    run = runwatch.init(project="demo", name="mnist-demo", tags=["demo"], notes="n",
                        group="g", job_type="train", config={"lr": 1e-4})
    assert runwatch.run is run
    assert runwatch.config is run.config
    assert runwatch.summary is run.summary
    assert re.fullmatch(r"[a-z0-9]{8}", run.id)
    assert run.path == f"demo/{run.id}"
    runwatch.finish()
    assert runwatch.run is None
    r = api.run(f"demo/{run.id}")
    assert (r.name, r.tags, r.notes, r.group, r.job_type, r.state) == (
        "mnist-demo", ["demo"], "n", "g", "train", "finished")
    assert r.created_at.endswith("Z") and r.heartbeat_at.endswith("Z")


def test_default_name_is_readable_and_project_defaults(api):
    run = runwatch.init()
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d+", run.name)
    assert run.project == "uncategorized"
    run.finish()
    assert api.runs("uncategorized")[0].name == run.name


def test_reinit_default_returns_the_active_run():
    first = runwatch.init(project="p")
    assert runwatch.init(project="p") is first
    first.finish()


def test_reinit_finish_previous_and_create_new(api):
    first = runwatch.init(project="p")
    second = runwatch.init(project="p", reinit="finish_previous")
    assert first.finished and runwatch.run is second
    third = runwatch.init(project="p", reinit="create_new")
    assert runwatch.run is second and third is not second
    third.log({"a": 1})
    third.finish()
    second.finish()
    assert {r.state for r in api.runs("p")} == {"finished"}
    with pytest.raises(UsageError):
        runwatch.init(project="p", reinit="sometimes")


def test_context_manager_finishes_and_marks_failure(api):
    with runwatch.init(project="p") as run:
        run.log({"a": 1})
    assert api.run(f"p/{run.id}").state == "finished"
    with pytest.raises(ValueError):
        with runwatch.init(project="p") as run2:
            raise ValueError("boom <b>")
    r = api.run(f"p/{run2.id}")
    assert r.state == "failed" and "ValueError: boom <b>" in r.traceback


def test_finish_with_exit_code_marks_failed(api):
    run = runwatch.init(project="p")
    run.finish(exit_code=2)
    r = api.run(f"p/{run.id}")
    assert (r.state, r.exit_code) == ("failed", 2)


def test_tags_and_notes_change_after_start(api):
    run = runwatch.init(project="p", tags=["a"])
    run.tags = run.tags + ("b",)
    run.notes = "later"
    run.name = "renamed"
    run.finish()
    r = api.run(f"p/{run.id}")
    assert (r.tags, r.notes, r.name) == (["a", "b"], "later", "renamed")


def test_disabled_mode_is_a_noop(store_dir):
    run = runwatch.init(project="p", mode="disabled", config={"lr": 1})
    assert run.disabled and runwatch.run is run
    run.log({"a": 1})
    runwatch.log({"a": 2})
    run.summary["x"] = 1
    assert run.summary["x"] == 1 and run.config.lr == 1
    run.finish()
    assert not (store_dir / "runwatch.db").exists()


def test_disabled_mode_from_environment(store_dir, monkeypatch):
    monkeypatch.setenv("RUNWATCH_MODE", "disabled")
    run = runwatch.init(project="p")
    t0 = time.perf_counter_ns()
    for _ in range(1000):
        run.log({"a": 1})
    assert time.perf_counter_ns() > t0
    run.finish()
    assert not (store_dir / "runwatch.db").exists()


def test_bad_mode_project_id_and_tags():
    with pytest.raises(UsageError, match="not a mode"):
        runwatch.init(mode="cloudy")
    with pytest.raises(UsageError, match="not allowed"):
        runwatch.init(project="a:b")
    with pytest.raises(UsageError, match="not allowed"):
        runwatch.init(project="p", id="a/b")
    with pytest.raises(UsageError, match="list of strings"):
        runwatch.init(project="p", tags="demo")
    with pytest.raises(UsageError, match="1 to 64"):
        runwatch.init(project="p", tags=["x" * 65])
    with pytest.raises(UsageError, match="unexpected"):
        runwatch.init(project="p", colour="red")
    assert runwatch.run is None


def test_entity_slash_project(api):
    run = runwatch.init(project="team/proj")
    assert (run.entity, run.project) == ("team", "proj")
    run.finish()
    assert api.run(f"team/proj/{run.id}").id == run.id
    assert len(api.runs("team/proj")) == 1


def test_login_is_a_harmless_noop():
    assert runwatch.login() is True
    assert runwatch.login(key="abc", relogin=True) is True


def test_init_is_cheap_and_touches_no_store(store_dir):
    run = runwatch.init(project="p")
    # The writer opens the store in the background: init itself created nothing synchronously
    # beyond starting threads; after a flush the store exists.
    run.flush()
    assert (store_dir / "runwatch.db").exists()
    run.finish()
