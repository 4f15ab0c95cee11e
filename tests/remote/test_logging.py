"""Remote logging end to end: a training process with RUNWATCH_URL and RUNWATCH_API_KEY
logs to a real ``runwatch server`` process, and every point comes back over HTTP."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.remote.conftest import Server, files_under, run_child

STEPS = 5000

LOGGER = """
import numpy as np
import runwatch

run = runwatch.init(project="e2e", id="run-e2e", name="remote-one",
                    config={"lr": 0.001, "layers": [64, 32], "opt": {"name": "adam"}})
pixels = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
for i in range(5000):
    row = {"loss": 1.0 / (i + 1), "acc": i / 5000, "lr": 0.001 * 0.999 ** i}
    if i == 2500:
        row["sample"] = runwatch.Image(pixels, caption="a gradient")
    run.log(row)
run.summary["best_acc"] = 0.875
run.finish()
print("done", run.id)
"""


def test_a_run_logged_to_the_server_comes_back_whole(server: Server, store_dir: Path,
                                                     tmp_path: Path) -> None:
    out, err = run_child(LOGGER, server.client_env(store_dir), cwd=tmp_path)
    assert "done run-e2e" in out
    assert "RunwatchWarning" not in err, err

    run = server.run("e2e", "run-e2e")
    assert run["state"] == "finished" and run["exit_code"] == 0
    assert run["name"] == "remote-one"
    assert run["last_step"] == STEPS - 1
    assert run["config"] == {"lr": 0.001, "layers": [64, 32], "opt": {"name": "adam"}}
    summary = run["summary"]
    assert summary["best_acc"] == 0.875
    assert summary["loss"] == 1.0 / STEPS
    assert summary["acc"] == (STEPS - 1) / STEPS
    assert summary["lr"] == 0.001 * 0.999 ** (STEPS - 1)

    expected = {"loss": [1.0 / (i + 1) for i in range(STEPS)],
                "acc": [i / STEPS for i in range(STEPS)],
                "lr": [0.001 * 0.999 ** i for i in range(STEPS)]}
    for key, values in expected.items():
        steps, got = server.points("e2e", "run-e2e", key)
        assert steps == list(range(STEPS)), key
        assert got == values, key  # exact: raw points travel as float64

    # The image: its reference at its step, its PNG in the server's blob folder and served.
    media = server.get_json("/api/v1/projects/e2e/runs/run-e2e/media", key="sample")
    assert media["step"] == 2500
    image = media["value"]
    assert image["_type"] == "image" and image["caption"] == "a gradient"
    assert (image["width"], image["height"]) == (16, 16)
    sha = image["sha256"]
    blob = server.blob_path(sha)
    assert blob.is_file(), f"the server's store has no blob {sha}"
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == sha
    served = server.http.get(f"/api/v1/blobs/{sha}")
    assert served.status_code == 200 and served.content == blob.read_bytes()
    assert served.content.startswith(b"\x89PNG")

    # Everything was delivered: nothing waits in the client's spool.
    assert files_under(store_dir, "*.spill") == []


TABLE_LOGGER = """
import runwatch

run = runwatch.init(project="e2e", id="run-table")
for i in range(10):
    run.log({"loss": 1.0 / (i + 1)})
run.log({"preds": runwatch.Table(columns=["id", "label", "score"],
                                 data=[[1, "cat", 0.9], [2, "dog", 0.4], [3, "<b>x</b>", 0.1]])})
run.finish()
"""


def test_a_table_logged_to_the_server_arrives(server: Server, store_dir: Path,
                                              tmp_path: Path) -> None:
    _out, err = run_child(TABLE_LOGGER, server.client_env(store_dir,
                                                          RUNWATCH_FINISH_TIMEOUT="4"),
                          cwd=tmp_path)
    assert "RunwatchWarning" not in err, err
    run = server.run("e2e", "run-table")
    assert run["state"] == "finished"
    steps, _ = server.points("e2e", "run-table", "loss")
    assert steps == list(range(10))
    page = server.get_json("/api/v1/projects/e2e/runs/run-table/table", key="preds")
    assert page["columns"] == ["id", "label", "score"]
    assert page["rows"] == [[1, "cat", 0.9], [2, "dog", 0.4], [3, "<b>x</b>", 0.1]]


ARTIFACT_LOGGER = """
import runwatch

run = runwatch.init(project="e2e", id="run-art")
run.log({"x": 1.0})
art = runwatch.Artifact("weights", type="model")
art.add_file("ckpt.bin")
run.log_artifact(art)
print("version", art.version)
run.finish()
"""


def test_log_artifact_to_the_server_uploads_the_file_and_does_not_raise(
        server: Server, store_dir: Path, tmp_path: Path) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    (tmp_path / "ckpt.bin").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    out, err = run_child(ARTIFACT_LOGGER, server.client_env(store_dir,
                                                            RUNWATCH_FINISH_TIMEOUT="10"),
                         cwd=tmp_path)
    assert "version v0" in out, err
    version = server.get_json("/api/v1/projects/e2e/artifacts/weights/latest")
    assert [(f["path"], f["sha256"]) for f in version["files"]] == [("ckpt.bin", sha)]
    assert server.blob_path(sha).read_bytes() == data
