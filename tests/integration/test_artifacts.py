"""Artifacts through the real store: building, logging, versions, dedup, lineage, storage,
hash checks and bad input. Real files, a real SQLite store, real child processes."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import runwatch
import runwatch as wandb
from runwatch.errors import RunwatchError, UsageError
from tests.conftest import run_python
from tests.integration._helpers import (  # noqa: F401 - work_in_tmp is a fixture
    blob_files,
    spawn,
    tree,
    work_in_tmp,
    write,
)

# -- helpers --


# Every test here works in its own folder (downloads default to ./artifacts).
pytestmark = pytest.mark.usefixtures("work_in_tmp")




def blob_path(store_dir: Path, sha: str) -> Path:
    return store_dir / "blobs" / sha[:2] / sha[2:]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Corrupt a file in place without changing its size."""
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))






def versions(store_dir: Path, project: str) -> list[tuple[str, str, list[str]]]:
    """(name, version, aliases) of every stored version, read by a fresh Api."""
    with runwatch.Api(dir=store_dir) as api:
        return sorted((a.source_name, a.version, sorted(a.aliases))
                      for a in api.artifacts(project))


IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
IRIS_ROWS = [
    [5.1, 3.5, 1.4, 0.2, "setosa"],
    [4.9, 3.0, 1.4, 0.2, "setosa"],
    [7.0, 3.2, 4.7, 1.4, "versicolor"],
    [6.4, 3.2, 4.5, 1.5, "versicolor"],
    [6.3, 3.3, 6.0, 2.5, "virginica"],
]


# -- 1. the tutorial --


def test_tutorial_artifact_snippet_verbatim(api, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("iris.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(IRIS_COLUMNS)
        writer.writerows(IRIS_ROWS)
    csv_bytes = Path("iris.csv").read_bytes()
    iris_table = wandb.Table(data=IRIS_ROWS, columns=IRIS_COLUMNS)
    assert runwatch.run is None
    # --- the tutorial, verbatim (the artifact is built before init) ---
    iris_table_artifact = wandb.Artifact("iris_artifact", type="dataset")
    iris_table_artifact.add(iris_table, "iris_table")
    iris_table_artifact.add_file("iris.csv")
    run = wandb.init(project="tables-walkthrough")
    run.log_artifact(iris_table_artifact)
    # --- end ---
    run_id = run.id
    assert iris_table_artifact.version == "v0"
    assert iris_table_artifact.aliases == ["latest"]
    assert iris_table_artifact.qualified_name == "tables-walkthrough/iris_artifact:v0"
    wandb.finish()

    art = api.artifact("tables-walkthrough/iris_artifact:latest")
    assert (art.type, art.version, art.digest) == ("dataset", "v0", iris_table_artifact.digest)
    table = art.get("iris_table")
    assert isinstance(table, wandb.Table)
    assert table.columns == IRIS_COLUMNS and table.data == IRIS_ROWS
    assert "iris.csv" in {f.path for f in art.files()}
    folder = Path(art.download(tmp_path / "dl"))
    assert (folder / "iris.csv").read_bytes() == csv_bytes
    assert art.logged_by().id == run_id
    assert [a.name for a in api.run(f"tables-walkthrough/{run_id}").logged_artifacts()] == [
        "iris_artifact:v0"]


def test_tutorial_artifact_snippet_in_a_fresh_process(api, tmp_path, monkeypatch):
    """The snippet as a user script: a new interpreter, a store that does not exist yet."""
    monkeypatch.chdir(tmp_path)
    with open("iris.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([IRIS_COLUMNS, *IRIS_ROWS])
    proc = run_python(f"""
        import runwatch as wandb
        iris_table = wandb.Table(data={IRIS_ROWS!r}, columns={IRIS_COLUMNS!r})
        iris_table_artifact = wandb.Artifact("iris_artifact", type="dataset")
        iris_table_artifact.add(iris_table, "iris_table")
        iris_table_artifact.add_file("iris.csv")
        run = wandb.init(project="tables-walkthrough")
        run.log_artifact(iris_table_artifact)
        print(run.id, iris_table_artifact.version)
        wandb.finish()
    """)
    run_id, version = proc.stdout.split()
    assert version == "v0"
    art = api.artifact("tables-walkthrough/iris_artifact:v0", type="dataset")
    assert art.get("iris_table") == wandb.Table(data=IRIS_ROWS, columns=IRIS_COLUMNS)
    assert art.logged_by().id == run_id
    folder = Path(art.download(tmp_path / "out"))
    assert (folder / "iris.csv").read_bytes() == Path("iris.csv").read_bytes()


# -- building: add_file, add_dir, add, new_file --


def test_add_dir_nested_with_and_without_prefix_roundtrip(tmp_path):
    src = tmp_path / "src"
    write(src / "top.txt", "top\n")
    write(src / "sub" / "mid.txt", "middle\n")
    write(src / "sub" / "deeper" / "leaf.bin", bytes(range(256)) * 10)
    (src / "sub" / "empty").mkdir()
    expected = tree(src)

    run = wandb.init(project="p")
    prefixed = wandb.Artifact("prefixed", type="dataset")
    prefixed.add_dir(src, name="data")
    plain = wandb.Artifact("plain", type="dataset")
    plain.add_dir(str(src))
    assert sorted(f.path for f in prefixed.files()) == [
        "data/sub/deeper/leaf.bin", "data/sub/mid.txt", "data/top.txt"]
    assert sorted(f.path for f in plain.files()) == sorted(expected)
    run.log_artifact(prefixed)
    run.log_artifact(plain)
    wandb.finish()

    with runwatch.Api() as api:
        got_prefixed = Path(api.artifact("p/prefixed:latest").download(tmp_path / "o1"))
        got_plain = Path(api.artifact("p/plain:latest").download(tmp_path / "o2"))
        assert tree(got_prefixed) == {f"data/{k}": v for k, v in expected.items()}
        assert tree(got_plain) == expected
        api.artifact("p/prefixed:latest").verify(got_prefixed)
        api.artifact("p/plain:v0").verify()


def test_new_file_text_and_binary_and_failed_block_adds_nothing(tmp_path):
    art = wandb.Artifact("written", type="notes", description="made in place",
                         metadata={"lr": 0.1, "layers": [2, 3]})
    with art.new_file("notes/readme.txt") as f:
        f.write("hello\nworld\n")
    with art.new_file("weights.bin", mode="wb") as f:
        f.write(bytes(range(256)))
    with pytest.raises(RuntimeError), art.new_file("broken.txt") as f:
        f.write("half")
        raise RuntimeError("interrupted")
    with pytest.raises(UsageError, match="mode"), art.new_file("read.txt", mode="r"):
        pass
    assert sorted(f.path for f in art.files()) == ["notes/readme.txt", "weights.bin"]

    run = wandb.init(project="p")
    run.log_artifact(art)
    wandb.finish()
    with runwatch.Api() as api:
        back = api.artifact("p/written:v0")
        assert back.description == "made in place"
        assert back.metadata == {"lr": 0.1, "layers": [2, 3]}
        folder = Path(back.download(tmp_path / "out"))
    assert tree(folder) == {"notes/readme.txt": b"hello\nworld\n",
                            "weights.bin": bytes(range(256))}


def test_get_returns_table_and_image_as_themselves(tmp_path):
    table = wandb.Table(data=[[1, "a", 0.5], [2, "b", None]], columns=["n", "s", "f"])
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    write(tmp_path / "plain.txt", "plain")
    art = wandb.Artifact("objs", type="dataset")
    art.add(table, "my_table")
    art.add(wandb.Image(pixels), "pic")
    art.add_file(tmp_path / "plain.txt")

    producer = wandb.init(project="p")
    producer.log_artifact(art)
    producer.finish()
    consumer = wandb.init(project="p")
    used = consumer.use_artifact("objs:latest")
    got = used.get("my_table")
    assert isinstance(got, wandb.Table) and got == table
    image = used.get("pic")
    assert isinstance(image, wandb.Image)
    assert np.array_equal(image.to_numpy(), pixels)
    with pytest.raises(UsageError, match="plain.txt"):
        used.get("plain.txt")
    with pytest.raises(UsageError, match="nothing_here") as err:
        used.get("nothing_here")
    assert "plain.txt" in str(err.value)  # says what the artifact holds
    with pytest.raises(UsageError, match="add_file"):
        art.__class__("x", type="dataset").add(b"bytes", "raw")
    consumer.finish()


# -- 2. logging and using: versions, latest, aliases, dedup --


def test_versions_latest_and_aliases_move(api, store_dir, tmp_path):
    run = wandb.init(project="p")

    def log(content: str, aliases: list[str] | None = None) -> wandb.Artifact:
        art = wandb.Artifact("ds", type="dataset")
        with art.new_file("data.txt") as f:
            f.write(content)
        return run.log_artifact(art, aliases=aliases)

    a0 = log("one")
    assert (a0.version, a0.name, a0.aliases) == ("v0", "ds:v0", ["latest"])
    a1 = log("two", aliases=["best"])
    assert a1.version == "v1" and sorted(a1.aliases) == ["best", "latest"]
    a2 = log("three", aliases="candidate")
    assert a2.version == "v2" and sorted(a2.aliases) == ["candidate", "latest"]
    assert versions(store_dir, "p") == [
        ("ds", "v0", []), ("ds", "v1", ["best"]), ("ds", "v2", ["candidate", "latest"])]
    a3 = log("four", aliases=["best"])
    assert a3.version == "v3"
    assert api.artifact("p/ds:best").version == "v3"
    assert api.artifact("p/ds:v1").aliases == []
    assert api.artifact("p/ds:latest").version == "v3"

    for ref, content in (("ds:v0", "one"), ("ds:v1", "two"), ("ds:candidate", "three"),
                         ("ds:best", "four"), ("ds:latest", "four"), ("ds", "four"),
                         ("p/ds:v2", "three")):
        folder = Path(run.use_artifact(ref).download(tmp_path / ref.replace(":", "_")))
        assert (folder / "data.txt").read_text() == content, ref
    wandb.finish()


def test_identical_content_makes_no_new_version_and_stores_nothing(api, store_dir, tmp_path):
    write(tmp_path / "a.txt", "alpha")
    write(tmp_path / "b.bin", os.urandom(300_000))
    write(tmp_path / "copy" / "b.bin", (tmp_path / "b.bin").read_bytes())

    run = wandb.init(project="p")
    first = wandb.Artifact("ds", type="dataset")
    first.add_file(tmp_path / "a.txt")
    first.add_file(tmp_path / "b.bin")
    run.log_artifact(first)
    before = blob_files(store_dir)
    assert len(before) == 2

    again = wandb.Artifact("ds", type="dataset")
    again.add_file(tmp_path / "copy" / "b.bin")  # same content, another folder, other order
    again.add_file(tmp_path / "a.txt")
    assert again.digest == first.digest
    run.log_artifact(again, aliases=["again"])
    assert again.version == "v0"
    assert blob_files(store_dir) == before
    run.finish()

    # A later run logging the same content: still v0, still nothing new on disk.
    run2 = wandb.init(project="p")
    third = wandb.Artifact("ds", type="dataset")
    third.add_dir(tmp_path / "copy")
    third.add_file(tmp_path / "a.txt")
    assert run2.log_artifact(third).version == "v0"
    run2.finish()
    assert blob_files(store_dir) == before
    assert versions(store_dir, "p") == [("ds", "v0", ["again", "latest"])]


def test_dedup_across_versions_stores_only_new_content(store_dir, tmp_path):
    shared = os.urandom(1 << 20)
    write(tmp_path / "v0" / "shared.bin", shared)
    write(tmp_path / "v0" / "old.txt", "old")
    write(tmp_path / "v1" / "shared.bin", shared)
    write(tmp_path / "v1" / "new.txt", "new")

    run = wandb.init(project="p")
    a0 = wandb.Artifact("ds", type="dataset")
    a0.add_dir(tmp_path / "v0")
    run.log_artifact(a0)
    after_v0 = blob_files(store_dir)

    a1 = wandb.Artifact("ds", type="dataset")
    a1.add_dir(tmp_path / "v1")
    a1.add_file(tmp_path / "v1" / "shared.bin", name="again/shared.bin")  # same bytes twice
    run.log_artifact(a1)
    assert a1.version == "v1"
    new_sha = sha256(b"new")
    assert blob_files(store_dir) - after_v0 == {f"{new_sha[:2]}/{new_sha[2:]}"}
    shas = {f.path: f.sha256 for f in a1.files()}
    assert shas["shared.bin"] == shas["again/shared.bin"] == sha256(shared)
    run.finish()
    with runwatch.Api() as api:
        out = Path(api.artifact("p/ds:v1").download(tmp_path / "out"))
        assert tree(out) == {"shared.bin": shared, "again/shared.bin": shared, "new.txt": b"new"}
        out0 = Path(api.artifact("p/ds:v0").download(tmp_path / "out0"))
        assert tree(out0) == {"shared.bin": shared, "old.txt": b"old"}


def test_api_artifact_reads_without_a_run_and_checks_type(store_dir, tmp_path):
    write(tmp_path / "f.txt", "content")
    run_python(f"""
        import runwatch
        art = runwatch.Artifact("ds", type="dataset", metadata={{"rows": 3}})
        art.add_file({str(tmp_path / "f.txt")!r})
        run = runwatch.init(project="p")
        run.log_artifact(art, aliases=["prod"])
        runwatch.finish()
    """)
    assert runwatch.run is None
    with runwatch.Api() as api:
        for ref in ("p/ds:latest", "p/ds:prod", "p/ds:v0", "someone/p/ds:v0", "p/ds"):
            art = api.artifact(ref)
            assert (art.source_name, art.version, art.type) == ("ds", "v0", "dataset"), ref
        art = api.artifact("p/ds:prod", type="dataset")
        assert art.metadata == {"rows": 3}
        assert sorted(art.aliases) == ["latest", "prod"]
        assert art.logged_by() is not None and art.used_by() == []
        assert (Path(art.download(tmp_path / "o")) / "f.txt").read_text() == "content"
        with pytest.raises(UsageError) as err:
            api.artifact("p/ds:latest", type="model")
        assert "'dataset'" in str(err.value) and "'model'" in str(err.value)
        with pytest.raises(RunwatchError, match="v7"):
            api.artifact("p/ds:v7")
        with pytest.raises(RunwatchError, match="nosuch"):
            api.artifact("p/nosuch:latest")
    assert runwatch.run is None


# -- 4. lineage --


def test_lineage_both_directions_across_runs_in_separate_processes(store_dir, tmp_path):
    write(tmp_path / "data.csv", "x,y\n1,2\n")
    producer = run_python(f"""
        import runwatch
        run = runwatch.init(project="lin")
        art = runwatch.Artifact("ds", type="dataset")
        art.add_file({str(tmp_path / "data.csv")!r})
        run.log_artifact(art)
        print(run.id)
        runwatch.finish()
    """).stdout.strip()
    trainer = run_python(f"""
        import runwatch
        run = runwatch.init(project="lin")
        ds = run.use_artifact("ds:latest")
        run.use_artifact("ds:v0")  # the same version again: one input, not two
        ds.download({str(tmp_path / "t")!r})
        model = runwatch.Artifact("m", type="model")
        with model.new_file("w.txt") as f:
            f.write("weights")
        run.log_artifact(model)
        print(run.id)
        runwatch.finish()
    """).stdout.strip()
    evaluator = run_python("""
        import runwatch
        run = runwatch.init(project="lin")
        run.use_artifact("lin/ds:v0")
        run.use_artifact("m:latest", type="model")
        print(run.id)
        runwatch.finish()
    """).stdout.strip()
    assert len({producer, trainer, evaluator}) == 3

    with runwatch.Api() as api:
        ds = api.artifact("lin/ds:v0")
        assert ds.logged_by().id == producer
        assert [r.id for r in ds.used_by()] == [trainer, evaluator]
        m = api.artifact("lin/m:v0")
        assert m.logged_by().id == trainer
        assert [r.id for r in m.used_by()] == [evaluator]

        def names(arts: list) -> list[str]:
            return sorted(a.qualified_name for a in arts)

        assert names(api.run(f"lin/{producer}").logged_artifacts()) == ["lin/ds:v0"]
        assert names(api.run(f"lin/{producer}").used_artifacts()) == []
        assert names(api.run(f"lin/{trainer}").used_artifacts()) == ["lin/ds:v0"]
        assert names(api.run(f"lin/{trainer}").logged_artifacts()) == ["lin/m:v0"]
        assert names(api.run(f"lin/{evaluator}").used_artifacts()) == ["lin/ds:v0",
                                                                       "lin/m:v0"]
        assert names(api.run(f"lin/{evaluator}").logged_artifacts()) == []


def test_use_is_recorded_while_the_consumer_still_runs(api):
    producer = wandb.init(project="p")
    art = wandb.Artifact("ds", type="dataset")
    with art.new_file("a.txt") as f:
        f.write("a")
    producer.log_artifact(art)
    producer.finish()
    consumer = wandb.init(project="p")
    used = consumer.use_artifact("ds:v0")
    assert [r.id for r in used.used_by()] == [consumer.id]
    assert used.logged_by().id == producer.id
    assert [a.name for a in api.run(f"p/{consumer.id}").used_artifacts()] == ["ds:v0"]
    consumer.finish()


# -- 5. storage: memory, hash checks --


def test_large_file_logs_with_little_memory_growth(store_dir, tmp_path):
    size = 400 << 20
    if shutil.disk_usage(tmp_path).free < 2 << 30:
        pytest.skip("needs 2 GB of free disk for a 400 MB file, its blob and its download")
    big = tmp_path / "checkpoint.bin"
    digest = hashlib.sha256()
    piece = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for i in range(size >> 20):
            chunk = i.to_bytes(8, "little") + piece[8:]
            digest.update(chunk)
            fh.write(chunk)
    proc = run_python(f"""
        import json, resource
        import runwatch
        run = runwatch.init(project="big")
        warm = runwatch.Artifact("warm", type="model")  # load everything logging needs
        with warm.new_file("w.txt") as f:
            f.write("w")
        run.log_artifact(warm)
        warm.download({str(tmp_path / "warm")!r})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        art = runwatch.Artifact("ckpt", type="model")
        art.add_file({str(big)!r})
        run.log_artifact(art)
        logged = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        art.download({str(tmp_path / "dl")!r})
        downloaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        runwatch.finish()
        print(json.dumps({{"before_kb": before, "logged_kb": logged,
                          "downloaded_kb": downloaded, "sha": art.files()[0].sha256,
                          "size": art.files()[0].size, "version": art.version}}))
    """, timeout=240)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["sha"] == digest.hexdigest() and report["size"] == size
    assert report["version"] == "v0"
    growth_mb = (report["logged_kb"] - report["before_kb"]) / 1024
    assert growth_mb < 100, f"logging a 400 MB file grew peak RSS by {growth_mb:.0f} MB"
    growth_mb = (report["downloaded_kb"] - report["before_kb"]) / 1024
    assert growth_mb < 100, f"logging+downloading grew peak RSS by {growth_mb:.0f} MB"
    stored = blob_path(store_dir, report["sha"])
    assert stored.stat().st_size == size
    downloaded = tmp_path / "dl" / "checkpoint.bin"
    assert downloaded.stat().st_size == size
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == digest.hexdigest()


def _log_two_files(tmp_path: Path) -> tuple[str, str]:
    write(tmp_path / "in" / "good.txt", "good content")
    write(tmp_path / "in" / "model" / "weights.bin", os.urandom(3 << 20))
    run = wandb.init(project="p")
    art = wandb.Artifact("ds", type="dataset")
    art.add_dir(tmp_path / "in")
    run.log_artifact(art)
    run.finish()
    entries = {f.path: f.sha256 for f in art.files()}
    return entries["good.txt"], entries["model/weights.bin"]


def test_corrupted_blob_download_raises_naming_it_and_leaves_nothing(store_dir, tmp_path):
    _good, bad_sha = _log_two_files(tmp_path)
    flip_byte(blob_path(store_dir, bad_sha))

    out = tmp_path / "out"
    with runwatch.Api() as api:
        art = api.artifact("p/ds:v0")
        with pytest.raises(RunwatchError) as err:
            art.download(out)
        message = str(err.value)
        assert "weights.bin" in message and bad_sha in message
        assert not (out / "model" / "weights.bin").exists()
        assert not [p for p in out.rglob("*") if p.is_file() and p.name != "good.txt"], \
            "a partial or temporary file was left behind"
        with pytest.raises(RunwatchError, match="weights.bin"):
            art.verify()
    # The same through a run that uses it.
    run = wandb.init(project="p")
    with pytest.raises(RunwatchError, match="weights.bin"):
        run.use_artifact("ds:latest").download(tmp_path / "out2")
    assert not (tmp_path / "out2" / "model" / "weights.bin").exists()
    run.finish()


def test_logging_the_file_again_repairs_a_corrupted_blob(store_dir, tmp_path):
    """The corruption error says "Restore the blob or log the file again": logging the
    same file again must then give a version whose download is good."""
    _good, bad_sha = _log_two_files(tmp_path)
    flip_byte(blob_path(store_dir, bad_sha))
    with runwatch.Api() as api:
        with pytest.raises(RunwatchError, match="log the file again"):
            api.artifact("p/ds:v0").download(tmp_path / "broken")
    run = wandb.init(project="p")
    again = wandb.Artifact("ds", type="dataset")
    again.add_dir(tmp_path / "in")
    run.log_artifact(again)
    run.finish()
    with runwatch.Api() as api:
        art = api.artifact("p/ds:latest")
        folder = Path(art.download(tmp_path / "repaired"))
        assert tree(folder) == tree(tmp_path / "in")
        art.verify()


def test_missing_blob_download_raises_naming_the_entry(store_dir, tmp_path):
    _good, bad_sha = _log_two_files(tmp_path)
    blob_path(store_dir, bad_sha).unlink()
    with runwatch.Api() as api:
        art = api.artifact("p/ds:v0")
        with pytest.raises(RunwatchError, match="weights.bin"):
            art.download(tmp_path / "out")
        with pytest.raises(RunwatchError, match="weights.bin"):
            art.verify()
    assert not (tmp_path / "out" / "model" / "weights.bin").exists()


def test_corrupted_table_blob_makes_get_raise_not_return_wrong_data(store_dir, tmp_path):
    table = wandb.Table(data=[[i, f"row {i}"] for i in range(50)], columns=["i", "s"])
    art = wandb.Artifact("tables", type="dataset")
    art.add(table, "t")
    run = wandb.init(project="p")
    run.log_artifact(art)
    run.finish()
    table_sha = json.loads(art.get_entry("t").media)["sha256"]
    flip_byte(blob_path(store_dir, table_sha))
    with runwatch.Api() as api:
        with pytest.raises(RunwatchError, match=table_sha):
            api.artifact("p/tables:v0").get("t")


def test_verify_in_store_checks_the_blobs_an_object_entry_refers_to(store_dir, tmp_path):
    """verify() (no root) must not pass an artifact whose Table data is corrupted: get()
    on it fails, so the artifact does not match what was logged."""
    table = wandb.Table(data=[[i, f"row {i}"] for i in range(50)], columns=["i", "s"])
    art = wandb.Artifact("tables", type="dataset")
    art.add(table, "t")
    run = wandb.init(project="p")
    run.log_artifact(art)
    run.finish()
    table_sha = json.loads(art.get_entry("t").media)["sha256"]
    flip_byte(blob_path(store_dir, table_sha))
    with runwatch.Api() as api:
        with pytest.raises(RunwatchError, match="t.table.json|t'"):
            api.artifact("p/tables:v0").verify()


def test_verify_on_a_tampered_download_names_the_file(tmp_path):
    _log_two_files(tmp_path)
    with runwatch.Api() as api:
        art = api.artifact("p/ds:v0")
        folder = Path(art.download(tmp_path / "out"))
        art.verify(folder)  # an untouched download verifies
        art.verify()
        flip_byte(folder / "model" / "weights.bin", offset=0)
        with pytest.raises(RunwatchError) as err:
            art.verify(folder)
        assert "model/weights.bin" in str(err.value) and "good.txt" not in str(err.value)
        (folder / "good.txt").unlink()
        with pytest.raises(RunwatchError) as err:
            art.verify(folder)
        assert "model/weights.bin" in str(err.value) and "good.txt" in str(err.value)
        art.verify()  # the store itself is untouched


def test_download_default_root_is_under_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f.txt", "x")
    run = wandb.init(project="p")
    art = wandb.Artifact("ds", type="dataset")
    art.add_file("f.txt")
    run.log_artifact(art)
    folder = run.use_artifact("ds:v0").download()
    assert (Path(folder) / "f.txt").read_text() == "x"
    assert Path(folder).resolve().is_relative_to(tmp_path.resolve())
    run.finish()


@pytest.mark.parametrize("evil", ["../escaped.txt", "a/../../escaped.txt", "/tmp/escaped.txt"])
def test_download_refuses_entries_escaping_the_root(store_dir, tmp_path, evil):
    """A tampered manifest (written straight into SQLite) cannot make download write
    outside the folder it was given."""
    write(tmp_path / "in" / "inside.txt", "inside")
    write(tmp_path / "in" / "evil.txt", "evil")
    run = wandb.init(project="p")
    art = wandb.Artifact("ds", type="dataset")
    art.add_dir(tmp_path / "in")
    run.log_artifact(art)
    run.finish()
    if evil.startswith("/"):
        evil = str(tmp_path / "escaped.txt")
    db = sqlite3.connect(store_dir / "runwatch.db")
    try:
        changed = db.execute("UPDATE artifact_files SET path = ? WHERE path = 'evil.txt'",
                             (evil,)).rowcount
        db.commit()
    finally:
        db.close()
    assert changed == 1
    root = tmp_path / "root" / "dl"
    with runwatch.Api() as api:
        tampered = api.artifact("p/ds:v0")
        assert evil in {f.path for f in tampered.files()}
        with pytest.raises(RunwatchError) as err:
            tampered.download(root)
    assert evil in str(err.value)
    assert not (tmp_path / "root" / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()


# -- 6. bad input --


def test_missing_paths_are_errors_naming_them(tmp_path):
    art = wandb.Artifact("ds", type="dataset")
    missing = tmp_path / "no_such_file.csv"
    with pytest.raises(UsageError, match="no_such_file.csv"):
        art.add_file(missing)
    with pytest.raises(UsageError, match="no_such_folder"):
        art.add_dir(tmp_path / "no_such_folder")
    (tmp_path / "a_folder").mkdir()
    with pytest.raises(UsageError, match="a_folder"):
        art.add_file(tmp_path / "a_folder")
    assert art.files() == []


@pytest.mark.parametrize("bad", ["has space", "slash/name", "colon:name", "ümlaut", "semi;colon",
                                 "", "x" * 129, "tab\tname"])
def test_bad_artifact_names_are_refused_naming_the_value(bad):
    with pytest.raises(UsageError) as err:
        wandb.Artifact(bad, type="dataset")
    assert repr(bad) in str(err.value) or bad in str(err.value)


def test_bad_names_in_use_and_entries_are_refused(tmp_path):
    write(tmp_path / "f.txt", "f")
    art = wandb.Artifact("ok.name-1_2", type="dataset")
    for entry in ("../up.txt", "/abs.txt", "a/../../b.txt"):
        with pytest.raises(UsageError) as err:
            art.add_file(tmp_path / "f.txt", name=entry)
        assert entry in str(err.value)
    assert art.files() == []
    run = wandb.init(project="p")
    with pytest.raises(UsageError, match="bad name"):
        run.use_artifact("bad name:latest")
    run.finish()


def test_adding_after_logging_is_refused_and_stored_version_untouched(store_dir, tmp_path):
    write(tmp_path / "a.txt", "a")
    write(tmp_path / "b.txt", "b")
    (tmp_path / "dir").mkdir()
    write(tmp_path / "dir" / "c.txt", "c")
    run = wandb.init(project="p")
    art = wandb.Artifact("ds", type="dataset")
    art.add_file(tmp_path / "a.txt")
    run.log_artifact(art)
    blobs = blob_files(store_dir)
    attempts = [
        lambda: art.add_file(tmp_path / "b.txt"),
        lambda: art.add_dir(tmp_path / "dir"),
        lambda: art.add(wandb.Table(data=[[1]], columns=["x"]), "t"),
        lambda: art.add_reference((tmp_path / "b.txt").as_uri()),
    ]
    for attempt in attempts:
        with pytest.raises(UsageError, match="ds"):
            attempt()
    with pytest.raises(UsageError, match="ds"), art.new_file("late.txt") as f:
        f.write("late")
    assert [f.path for f in art.files()] == ["a.txt"]
    assert blob_files(store_dir) == blobs
    run.finish()
    with runwatch.Api() as api:
        stored = api.artifact("p/ds:latest")
        assert stored.version == "v0" and [f.path for f in stored.files()] == ["a.txt"]
        assert stored.digest == art.digest
        stored.verify()
        with pytest.raises(UsageError, match="ds"):  # a version read back cannot change either
            stored.add_file(tmp_path / "b.txt")
    assert blob_files(store_dir) == blobs


def test_unknown_alias_is_an_error_listing_what_exists(store_dir):
    run = wandb.init(project="p")
    for content, aliases in (("one", ["best"]), ("two", None)):
        art = wandb.Artifact("ds", type="dataset")
        with art.new_file("d.txt") as f:
            f.write(content)
        run.log_artifact(art, aliases=aliases)
    with pytest.raises(RunwatchError) as err:
        run.use_artifact("ds:nope")
    message = str(err.value)
    assert "nope" in message
    # The error says what the caller could have asked for instead.
    assert "best" in message and "latest" in message, message
    with pytest.raises(RunwatchError, match="v9"):
        run.use_artifact("ds:v9")
    with pytest.raises(RunwatchError) as err:
        run.use_artifact("dss:latest")
    assert "dss" in str(err.value) and "ds" in str(err.value).replace("dss", "")
    # The failures touched nothing: the run goes on, the versions are as they were.
    run.log({"x": 1})
    assert run.use_artifact("ds:best").version == "v0"
    run.finish()
    assert versions(store_dir, "p") == [("ds", "v0", ["best"]), ("ds", "v1", ["latest"])]
    with runwatch.Api() as api:
        with pytest.raises(RunwatchError) as err:
            api.artifact("p/ds:nope")
        assert "nope" in str(err.value) and "best" in str(err.value)
        assert api.run(f"p/{run.id}").summary["x"] == 1


def test_failed_logs_leave_stored_versions_intact(store_dir, tmp_path):
    write(tmp_path / "a.txt", "a")
    run = wandb.init(project="p")
    art = wandb.Artifact("ds", type="dataset")
    art.add_file(tmp_path / "a.txt")
    run.log_artifact(art, aliases=["keep"])
    blobs = blob_files(store_dir)

    other_type = wandb.Artifact("ds", type="model")
    with other_type.new_file("b.txt") as f:
        f.write("b")
    with pytest.raises(UsageError) as err:
        run.log_artifact(other_type)
    assert "'dataset'" in str(err.value) and "'model'" in str(err.value)

    for bad_alias in ("v3", "a/b", "x:y", ""):
        fresh = wandb.Artifact("ds", type="dataset")
        with fresh.new_file("c.txt") as f:
            f.write("c")
        with pytest.raises(UsageError) as err:
            run.log_artifact(fresh, aliases=[bad_alias])
        assert repr(bad_alias) in str(err.value)
    run.log({"still": 1})
    run.finish()
    assert versions(store_dir, "p") == [("ds", "v0", ["keep", "latest"])]
    with runwatch.Api() as api:
        stored = api.artifact("p/ds:keep")
        assert [f.path for f in stored.files()] == ["a.txt"]
        stored.verify()
    # Content staged by the refused attempts may be in the blob store, but nothing that
    # v0 refers to was changed or removed.
    assert blobs <= blob_files(store_dir)


def test_logging_something_that_is_not_an_artifact_is_a_usage_error(store_dir):
    run = wandb.init(project="p")
    with pytest.raises(UsageError, match="dict"):
        run.log_artifact({"not": "an artifact"})
    with pytest.raises(UsageError, match="42"):
        run.use_artifact(42)
    run.finish()


def test_log_artifact_right_after_init_on_fresh_stores(tmp_path, monkeypatch):
    """The tutorial's order (build, init, log at once) on a store that does not exist yet:
    the run's first read of the store must not collide with its writer opening it."""
    import warnings

    for i in range(60):
        monkeypatch.setenv("RUNWATCH_DIR", str(tmp_path / f"store{i}"))
        art = wandb.Artifact("ds", type="dataset")
        with art.new_file("a.txt") as f:
            f.write(str(i))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = wandb.init(project="p")
            try:
                assert run.log_artifact(art).version == "v0", i
            finally:
                run.finish()
        problems = [str(w.message) for w in caught if "locked" in str(w.message)]
        assert not problems, f"store {i}: {problems}"


def test_concurrent_processes_number_versions_without_gaps_or_twins(store_dir):
    """Two processes log versions of one artifact at once: every content gets exactly one
    version number, the numbers are 0..n-1, and each process is told its own numbers."""
    code = """
        import json, sys
        import runwatch
        who = sys.argv[1]
        run = runwatch.init(project="race")
        got = {}
        for i in range(6):
            art = runwatch.Artifact("shared", type="dataset")
            with art.new_file("content.txt") as f:
                f.write(f"{who}-{i}")
            got[f"{who}-{i}"] = run.log_artifact(art).version
        runwatch.finish()
        print(json.dumps(got))
    """
    wandb.init(project="race").finish()  # the store exists: this test is about numbering
    children = [spawn(code, who) for who in ("a", "b")]
    told: dict[str, str] = {}
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        told.update(json.loads(out.strip().splitlines()[-1]))
    assert len(told) == 12
    assert sorted(told.values(), key=lambda v: int(v[1:])) == [f"v{i}" for i in range(12)]
    with runwatch.Api() as api:
        for content, version in told.items():
            art = api.artifact(f"race/shared:{version}")
            folder = Path(art.download(store_dir.parent / "dl" / version))
            assert (folder / "content.txt").read_text() == content
