"""The whole team stack: ``runwatch server --store postgresql://... --blobs s3://...
--workers 2`` (a real PostgreSQL server and a real S3-compatible one, moto's), a training
script logging metrics, an image and a model checkpoint over HTTP, the server killed and
restarted in the middle; then everything read back through the server and checked in
the database and the bucket themselves."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import runwatch
from runwatch.store import open_store, read
from tests import s3
from tests.remote.conftest import Server, base_env, spawn

SCRIPT = """
import os, sys, time, numpy as np
import runwatch as wandb
run = wandb.init(project="team", id="stack", config={"lr": 0.01})
for i in range(6000):
    wandb.log({"loss": 1.0 / (i + 1)})
    if i == 1500:
        print("HALF", flush=True)
    if i % 200 == 0:
        time.sleep(0.05)
wandb.log({"digits": wandb.Image(np.arange(64, dtype=np.uint8).reshape(8, 8))})
path = os.path.join(os.environ["WORK"], "ckpt.pt")
with open(path, "wb") as fh:
    fh.write(os.urandom(5_000_000))
print("MODEL", run.log_model(path, name="ckpt").version, flush=True)
wandb.finish()
"""


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch):
    with s3.moto_server() as endpoint:
        s3.point_env_at(endpoint, monkeypatch)
        client, name = s3.new_bucket(endpoint)
        yield client, name


@pytest.mark.postgres
def test_postgres_s3_two_workers_and_a_restart(postgres, bucket, tmp_path: Path) -> None:
    client, name = bucket
    store_url = postgres.create_database("team")
    server = Server(tmp_path / "srv", workers=2,
                    extra_args=("--store", store_url, "--blobs", f"s3://{name}/rw"))
    server.start()
    try:
        work = tmp_path / "work"
        work.mkdir()
        env = base_env(tmp_path / "client", RUNWATCH_URL=server.url,
                       RUNWATCH_API_KEY=server.key or "", WORK=str(work))
        child = spawn(SCRIPT, env)
        child.wait_line(lambda line: line.startswith("HALF"))
        server.restart()  # SIGKILL to the whole server, then the same store and bucket
        rc, out, err = child.finish(180)
        assert rc == 0, err
        assert "MODEL v0" in out

        with runwatch.Api(overrides={"base_url": server.url}, api_key=server.key) as api:
            run = api.run("team/stack")
            assert run.state == "finished" and run.config == {"lr": 0.01}
            rows = list(run.scan_history(keys=["loss"], page_size=10_000))
            assert [r["_step"] for r in rows] == list(range(6000))
            assert all(r["loss"] == 1.0 / (r["_step"] + 1) for r in rows)
            assert run.media("digits").image.size == (8, 8)
            folder = Path(api.artifact("team/ckpt:v0").download(tmp_path / "dl"))
            got = hashlib.sha256((folder / "ckpt.pt").read_bytes()).hexdigest()
            assert got == hashlib.sha256((work / "ckpt.pt").read_bytes()).hexdigest()
    finally:
        server.stop()

    # In the database itself: one run, every point once.
    store = open_store(store_url, None)
    try:
        with store.read() as conn:
            record = read.get_run(conn, "team", "stack", 60)
            assert record is not None and record.last_step == 6000
            series = read.load_series(conn, read.run_keys(conn, record.pk)["loss"].id)
            assert series.steps.tolist() == list(range(6000))
    finally:
        store.close()
    # In the bucket: the checkpoint and the image, and nothing on the server's disk.
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=name, Prefix="rw/")["Contents"]]
    assert f"rw/{got[:2]}/{got[2:]}" in keys and len(keys) >= 2
    assert not any(p.is_file() for p in (server.dir / "blobs").rglob("*"))
