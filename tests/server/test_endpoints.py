"""Each endpoint's happy path over real stores: projects, runs, one run, keys. The shared
world is read from its SQLite file, then from a copy of it in PostgreSQL."""

from __future__ import annotations

import platform
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from runwatch.server import models
from tests.server.conftest import ApiClient, World, api_on, start_run


@pytest.fixture(scope="module")
def world_api(request: pytest.FixtureRequest, world: World,
              module_backend: str) -> Iterator[ApiClient]:
    c = api_on(request, module_backend, world.store)
    yield c
    c.close()

RUN_FIELDS = {"id", "name", "project", "entity", "state", "notes", "group", "job_type", "tags",
              "config", "summary", "created_at", "updated_at", "heartbeat_at", "finished_at",
              "exit_code", "last_step", "host", "seq"}


def _by(items: list[dict], field: str) -> dict:
    return {item[field]: item for item in items}


def test_projects_lists_counts_and_last_activity(world: World, world_api: ApiClient) -> None:
    data = world_api.ok("/api/v1/projects", models.ProjectList)
    assert [p["name"] for p in data["projects"]] == ["audio", "vision"]
    projects = _by(data["projects"], "name")
    runs = _by(world_api.ok("/api/v1/projects/vision/runs", models.RunList)["runs"], "id")
    vision = projects["vision"]
    assert (vision["run_count"], vision["running_count"]) == (2, 0)
    assert vision["last_activity"] == max(r["updated_at"] for r in runs.values())
    assert vision["created_at"] <= min(r["created_at"] for r in runs.values())
    assert (projects["audio"]["run_count"], projects["audio"]["running_count"]) == (1, 0)

    one = world_api.ok("/api/v1/projects/vision", models.Project)
    assert one == vision


def test_running_count_follows_a_live_run(store_dir: Path, client_for) -> None:
    run = start_run(store_dir, "live", name="runner")
    run.log({"loss": 1.0})
    run.log({"loss": 0.5})
    assert run.flush(30)
    api = client_for(store_dir)

    project = api.ok("/api/v1/projects/live", models.Project)
    assert (project["run_count"], project["running_count"]) == (1, 1)
    (listed,) = api.ok("/api/v1/projects/live/runs", models.RunList)["runs"]
    assert (listed["state"], listed["finished_at"], listed["exit_code"]) == ("running", None, None)
    assert listed["last_step"] == 1

    run.log({"loss": 0.25})
    run.finish()
    project = api.ok("/api/v1/projects/live", models.Project)
    assert (project["run_count"], project["running_count"]) == (1, 0)
    (listed,) = api.ok("/api/v1/projects/live/runs", models.RunList)["runs"]
    assert (listed["state"], listed["exit_code"], listed["last_step"]) == ("finished", 0, 2)
    assert listed["finished_at"] >= listed["created_at"]


def test_runs_table_fields(world: World, world_api: ApiClient) -> None:
    data = world_api.ok("/api/v1/projects/vision/runs", models.RunList)
    assert data["project"] == "vision"
    # Oldest first.
    assert [r["id"] for r in data["runs"]] == [world.alpha, world.beta]
    for r in data["runs"]:
        assert set(r) == RUN_FIELDS
        assert "metadata" not in r and "traceback" not in r
    alpha, beta = data["runs"]
    assert alpha["name"] == "alpha" and alpha["project"] == "vision"
    assert alpha["state"] == "finished" and alpha["exit_code"] == 0
    assert alpha["tags"] == ["baseline", "cnn"]
    assert (alpha["group"], alpha["job_type"], alpha["notes"]) == ("sweep-1", "train", "first try")
    assert alpha["config"] == {"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam"}}
    assert alpha["summary"]["best_acc"] == 0.98
    assert alpha["summary"]["loss"] == 1.0 / 50  # last logged value
    assert alpha["summary"]["caption"] == "c49"
    assert alpha["last_step"] == 49
    assert alpha["created_at"] <= alpha["finished_at"] <= alpha["updated_at"]
    assert alpha["host"] == socket.gethostname()

    assert beta["name"] == "beta" and beta["state"] == "failed"
    assert beta["exit_code"] not in (None, 0)
    assert (beta["job_type"], beta["group"], beta["notes"]) == ("eval", None, None)
    assert beta["tags"] == ["exp"] and beta["config"] == {"lr": 0.1}
    assert beta["last_step"] == 19 and beta["finished_at"] is not None


def test_run_detail_has_metadata_keys_metrics_and_traceback(world: World,
                                                           world_api: ApiClient) -> None:
    beta = world_api.ok(f"/api/v1/projects/vision/runs/{world.beta}", models.RunDetail)
    assert beta["id"] == world.beta and beta["state"] == "failed"
    meta = beta["metadata"]
    assert meta["host"] == socket.gethostname()
    assert meta["python"] == platform.python_version()
    assert meta["program"] == str(world.beta_script)
    assert "Traceback (most recent call last)" in beta["traceback"]
    assert "RuntimeError: boom-beta" in beta["traceback"]
    assert beta["metrics"] == [{"name": "shared", "step_metric": "batch", "hidden": True}]
    keys = _by(beta["keys"], "key")
    assert set(keys) == {"loss", "shared"}  # this run's keys only
    assert keys["loss"] == {"key": "loss", "runs": 1, "points": 20, "values": 0,
                            "numeric": True, "hidden": False, "step_metric": None}

    # The table row and the detail agree on every shared field.
    (row,) = [r for r in world_api.ok("/api/v1/projects/vision/runs", models.RunList)["runs"]
              if r["id"] == world.beta]
    assert {k: beta[k] for k in row} == row

    alpha = world_api.ok(f"/api/v1/projects/vision/runs/{world.alpha}", models.RunDetail)
    assert alpha["traceback"] is None and alpha["state"] == "finished"
    assert {m["name"] for m in alpha["metrics"]} == {"train/*", "train/top5", "debug/*", "shared"}
    assert _by(alpha["keys"], "key")["shared"]["step_metric"] == "epoch"


def test_keys_counts_kinds_and_define_metric(world: World, world_api: ApiClient) -> None:
    data = world_api.ok("/api/v1/projects/vision/keys", models.KeyList)
    assert data["project"] == "vision"
    keys = _by(data["keys"], "key")
    # First-logged order, each key once.
    assert [k["key"] for k in data["keys"]][:2] == ["loss", "train/acc"]
    assert len(keys) == len(data["keys"])
    assert keys["loss"]["runs"] == 2 and keys["loss"]["points"] == 50 + 20
    assert keys["count"] == {"key": "count", "runs": 1, "points": 50, "values": 0,
                             "numeric": True, "hidden": False, "step_metric": None}
    # Text is a value, not a point: not chartable as a line.
    assert keys["caption"]["numeric"] is False
    assert (keys["caption"]["points"], keys["caption"]["values"]) == (0, 50)
    # define_metric: a glob applies, an exact name beats it, hidden comes through.
    assert keys["train/acc"]["step_metric"] == "epoch"
    assert keys["train/top5"]["step_metric"] == "batch"
    assert keys["debug/grad"]["hidden"] is True and keys["debug/grad"]["step_metric"] is None
    assert keys["loss"]["hidden"] is False and keys["loss"]["step_metric"] is None
    # alpha says "shared" steps on epoch; beta, the later run, says batch and hidden.
    assert (keys["shared"]["step_metric"], keys["shared"]["hidden"]) == ("batch", True)
    assert keys["shared"]["runs"] == 2


def test_keys_of_chosen_runs(world: World, world_api: ApiClient) -> None:
    only_alpha = {k["key"]: k for k in world_api.ok(
        "/api/v1/projects/vision/keys", models.KeyList, runs=world.alpha)["keys"]}
    assert only_alpha["loss"]["runs"] == 1 and only_alpha["loss"]["points"] == 50
    # Only alpha's define_metric counts when only alpha is asked for.
    assert (only_alpha["shared"]["step_metric"], only_alpha["shared"]["hidden"]) == ("epoch", False)

    both = world_api.ok("/api/v1/projects/vision/keys", models.KeyList,
                        runs=f"{world.alpha},{world.beta}")
    assert _by(both["keys"], "key")["loss"]["runs"] == 2

    # A run of another project contributes nothing here.
    foreign = world_api.ok("/api/v1/projects/vision/keys", models.KeyList, runs=world.gamma)
    assert foreign["keys"] == []
    audio = world_api.ok("/api/v1/projects/audio/keys", models.KeyList)
    assert [k["key"] for k in audio["keys"]] == ["wer"]


def test_series_happy_path(world: World, world_api: ApiClient) -> None:
    data = world_api.ok("/api/v1/projects/vision/series", models.SeriesResponse,
                        key="loss", runs=f"{world.beta},{world.alpha}")
    assert (data["key"], data["x"], data["width"], data["missing"]) == ("loss", "_step", 1500, [])
    # In the order asked for.
    assert [r["id"] for r in data["runs"]] == [world.beta, world.alpha]
    beta, alpha = data["runs"]
    assert beta["x"] == [float(i) for i in range(20)]
    assert beta["y"] == [2.0 / (i + 1) for i in range(20)]
    assert alpha["y"] == [1.0 / (i + 1) for i in range(50)]
    assert (alpha["sampled"], alpha["min"], alpha["max"]) == (False, None, None)
    assert (alpha["points"], alpha["nonfinite"], alpha["last_step"]) == (50, 0, 49)
