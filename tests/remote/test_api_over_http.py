"""Reading a server: ``runwatch.Api()`` with RUNWATCH_URL gives the same answers as over the
local store, and artifacts and models go up and come back through the server, checked."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import pytest

import runwatch
from runwatch.errors import UsageError
from tests.remote.conftest import Server, base_env, run_child

LOGGER = """
import math, os, numpy as np
import runwatch as wandb
run = wandb.init(project="reads", id="r1", config={"lr": 0.1, "layers": [1, 2]})
for i in range(3000):
    wandb.log({"loss": 1.0 / (i + 1), "acc": i / 3000, "odd": math.nan if i == 7 else i})
wandb.log({"img": wandb.Image(np.full((8, 8, 3), 9, np.uint8)), "note": "<b>x</b>"})
print("console line <script>")
run.summary["best"] = math.inf
model = os.path.join(os.environ["WORK"], "model.bin")
with open(model, "wb") as fh:
    fh.write(os.urandom(3_000_000))
m = run.log_model(model, name="net", aliases=["best"])
print("MODEL", m.version, m.aliases)
art = wandb.Artifact("ds", "dataset", metadata={"rows": 2})
art.add(wandb.Table(columns=["a", "b"], data=[[1, "x"], [2, "<i>y</i>"]]), "tab")
print("DS", run.log_artifact(art).version)
wandb.finish()
"""


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Server, Path]:
    root = tmp_path_factory.mktemp("reads")
    server = Server(root / "server-root")
    server.start()
    work = root / "work"
    work.mkdir()
    env = base_env(root / "client", RUNWATCH_URL=server.url, RUNWATCH_API_KEY=server.key,
                   WORK=str(work), RUNWATCH_CONSOLE="wrap")
    out, _err = run_child(LOGGER, env)
    assert "MODEL v0 ['best', 'latest']" in out and "DS v0" in out
    try:
        yield server, work
    finally:
        server.stop()


@pytest.fixture
def api(logged, monkeypatch):
    server, _work = logged
    monkeypatch.setenv("RUNWATCH_URL", server.url)
    monkeypatch.setenv("RUNWATCH_API_KEY", server.key)
    a = runwatch.Api()
    yield a
    a.close()


def test_api_reads_the_server_not_the_local_store(api, logged):
    assert type(api).__name__ == "RemoteApi" and isinstance(api, runwatch.Api)
    assert [p.name for p in api.projects()] == ["reads"]
    run = api.run("reads/r1")
    assert run.state == "finished"
    assert run.config == {"lr": 0.1, "layers": [1, 2]}
    assert run.summary["best"] == math.inf and run.summary["note"] == "<b>x</b>"
    assert {"loss", "acc", "odd", "img", "note"} <= set(run.keys())
    assert [r.id for r in api.runs("reads", filters={"config.lr": 0.1})] == ["r1"]


def test_history_and_scan_match_what_was_logged(api, logged):
    run = api.run("reads/r1")
    rows = list(run.scan_history(keys=["loss"], page_size=700))
    assert [r["_step"] for r in rows] == list(range(3000))
    assert all(r["loss"] == 1.0 / (r["_step"] + 1) for r in rows)
    odd = list(run.scan_history(keys=["odd"], min_step=5, max_step=9))
    assert [r["_step"] for r in odd] == [5, 6, 7, 8] and math.isnan(odd[2]["odd"])
    frame = run.history(samples=50, keys=["acc"])
    assert 40 <= len(frame) <= 50
    assert frame["_step"].iloc[0] == 0 and frame["_step"].iloc[-1] == 2999
    # The very rows the local Api picks from the server's own store.
    with runwatch.Api(dir=logged[0].dir) as local:
        same = local.run("reads/r1").history(samples=50, keys=["acc"])
    assert frame.equals(same)


def test_media_console_and_files(api):
    run = api.run("reads/r1")
    image = run.media("img")
    assert image.image.size == (8, 8)
    assert run.media_steps("img") == [3000]
    assert "console line <script>" in run.console_logs()


def test_artifacts_come_back_through_the_server(api, logged, tmp_path):
    _server, work = logged
    model = api.artifact("reads/net:best")
    assert model.type == "model" and model.version == "v0"
    folder = Path(model.download(tmp_path / "dl"))
    got = (folder / "model.bin").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256((work / "model.bin").read_bytes()
                                                          ).digest()
    table = api.artifact("reads/ds:v0").get("tab")
    assert table.data == [[1, "x"], [2, "<i>y</i>"]]
    assert api.artifact("reads/ds:latest").metadata == {"rows": 2}


def test_use_model_in_a_later_run_downloads_it(logged, tmp_path):
    server, work = logged
    env = base_env(tmp_path / "client2", RUNWATCH_URL=server.url, RUNWATCH_API_KEY=server.key)
    out, _err = run_child("""
        import hashlib, runwatch as wandb
        run = wandb.init(project="reads")
        path = run.use_model("net:best")
        print("SHA", hashlib.sha256(open(path, "rb").read()).hexdigest())
        print("TAB", run.use_artifact("ds:latest").get("tab").data)
        wandb.finish()
    """, env, cwd=tmp_path)
    want = hashlib.sha256((work / "model.bin").read_bytes()).hexdigest()
    assert f"SHA {want}" in out
    assert "TAB [[1, 'x'], [2, '<i>y</i>']]" in out


def test_api_with_a_wrong_key_says_so(logged, monkeypatch):
    server, _work = logged
    monkeypatch.setenv("RUNWATCH_URL", server.url)
    monkeypatch.setenv("RUNWATCH_API_KEY", "rw_" + "x" * 40)
    with pytest.raises(UsageError, match="401"):
        runwatch.Api().projects()


def test_api_with_dir_reads_the_local_store_even_with_a_url(logged, monkeypatch, store_dir):
    server, _work = logged
    monkeypatch.setenv("RUNWATCH_URL", server.url)
    api = runwatch.Api(dir=store_dir)
    assert type(api).__name__ == "Api" and api.projects() == []
    os.environ.pop("RUNWATCH_URL")
