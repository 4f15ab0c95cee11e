"""Artifact references: content that stays where it is (file://, and s3:// against a real
local S3-compatible HTTP server, moto's). Checksums are recorded, nothing is copied into
the blob store, downloads fetch and check, and a changed source is an error naming it."""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runwatch as wandb
from runwatch.errors import RunwatchError, UsageError
from tests.integration._helpers import blob_files, tree, work_in_tmp, write  # noqa: F401

# Every test here works in its own folder (downloads default to ./artifacts).
pytestmark = pytest.mark.usefixtures("work_in_tmp")








def log(art: wandb.Artifact, project: str = "p") -> wandb.Artifact:
    run = wandb.init(project=project)
    run.log_artifact(art)
    run.finish()
    return art


# -- file:// --


def test_file_reference_records_checksum_copies_nothing_and_downloads(api, store_dir, tmp_path):
    data = os.urandom(200_000)
    source = write(tmp_path / "outside" / "my data.bin", data)  # a space: URI-quoted
    art = wandb.Artifact("refs", type="dataset")
    entries = art.add_reference(source.as_uri())
    assert [e.path for e in entries] == ["my data.bin"]
    assert entries[0].checksum == "sha256:" + hashlib.sha256(data).hexdigest()
    assert entries[0].size == len(data)
    log(art)
    assert blob_files(store_dir) == set()  # content not copied

    back = api.artifact("p/refs:v0")
    [entry] = back.files()
    assert entry.ref == source.as_uri() and entry.checksum == entries[0].checksum
    out = Path(back.download(tmp_path / "dl"))
    assert tree(out) == {"my data.bin": data}
    back.verify(out)
    assert blob_files(store_dir) == set()


def test_file_reference_to_a_folder_with_a_name_prefix(api, tmp_path):
    src = tmp_path / "shared"
    write(src / "x.txt", "x")
    write(src / "sub" / "y.txt", "y")
    art = wandb.Artifact("refdir", type="dataset")
    art.add_reference(src.as_uri(), name="refs")
    assert sorted(f.path for f in art.files()) == ["refs/sub/y.txt", "refs/x.txt"]
    log(art)
    out = Path(api.artifact("p/refdir:latest").download(tmp_path / "dl"))
    assert tree(out) == {"refs/x.txt": b"x", "refs/sub/y.txt": b"y"}


def test_changed_or_deleted_file_reference_fails_naming_it(api, tmp_path):
    a = write(tmp_path / "src" / "a.txt", "original a")
    b = write(tmp_path / "src" / "b.txt", "original b")
    art = wandb.Artifact("refs", type="dataset")
    art.add_reference(a.as_uri())
    art.add_reference(b.as_uri())
    log(art)
    good = Path(api.artifact("p/refs:v0").download(tmp_path / "good"))

    a.write_text("changed after logging")
    with pytest.raises(RunwatchError) as err:
        api.artifact("p/refs:v0").download(tmp_path / "dl1")
    assert "a.txt" in str(err.value)
    assert not (tmp_path / "dl1" / "a.txt").exists()  # never silently wrong data
    api.artifact("p/refs:v0").verify(good)  # an earlier good download is still good

    a.write_text("original a")
    b.unlink()
    with pytest.raises(RunwatchError) as err:
        api.artifact("p/refs:v0").download(tmp_path / "dl2")
    assert "b.txt" in str(err.value)
    assert not (tmp_path / "dl2" / "b.txt").exists()


def test_file_reference_bad_input(tmp_path):
    art = wandb.Artifact("refs", type="dataset")
    missing = tmp_path / "not_there.csv"
    with pytest.raises(UsageError, match="not_there.csv"):
        art.add_reference(missing.as_uri())
    with pytest.raises(UsageError, match="ftp://example.com/x"):
        art.add_reference("ftp://example.com/x")
    for i in range(3):
        write(tmp_path / "many" / f"{i}.txt", str(i))
    with pytest.raises(UsageError, match="max_objects"):
        art.add_reference((tmp_path / "many").as_uri(), max_objects=2)
    assert art.files() == []


def test_same_reference_twice_is_the_same_version_a_change_is_a_new_one(tmp_path):
    source = write(tmp_path / "r.txt", "one")
    first = wandb.Artifact("refs", type="dataset")
    first.add_reference(source.as_uri())
    second = wandb.Artifact("refs", type="dataset")
    second.add_reference(source.as_uri())
    run = wandb.init(project="p")
    assert run.log_artifact(first).version == "v0"
    assert run.log_artifact(second).version == "v0"
    source.write_text("two")
    third = wandb.Artifact("refs", type="dataset")
    third.add_reference(source.as_uri())
    assert run.log_artifact(third).version == "v1"
    run.finish()


# -- s3:// against a real local S3-compatible server --


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    import boto3  # noqa: F401 - the S3 client runwatch uses
    import moto.server as server_mod
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """A boto3 client and a fresh bucket on the local server; the environment points
    runwatch (and any child process) at it."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = f"rw-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # S3 single-part ETag


def test_s3_single_object_reference(api, store_dir, tmp_path, s3):
    client, bucket = s3
    body = os.urandom(100_000)
    client.put_object(Bucket=bucket, Key="models/ckpt/model.bin", Body=body)
    uri = f"s3://{bucket}/models/ckpt/model.bin"
    art = wandb.Artifact("s3model", type="model")
    [entry] = art.add_reference(uri)
    assert entry.path == "model.bin"
    assert entry.size == len(body)
    assert entry.checksum == f"etag:{md5(body)}"
    assert entry.ref is not None and entry.ref.split("?")[0] == uri
    named = wandb.Artifact("s3named", type="model")
    [named_entry] = named.add_reference(uri, name="weights/w.bin")
    assert named_entry.path == "weights/w.bin"
    run = wandb.init(project="p")
    run.log_artifact(art)
    run.log_artifact(named)
    run.finish()
    assert blob_files(store_dir) == set()  # nothing copied

    back = api.artifact("p/s3model:v0")
    out = Path(back.download(tmp_path / "dl"))
    assert tree(out) == {"model.bin": body}
    back.verify(out)
    assert tree(Path(api.artifact("p/s3named:v0").download(tmp_path / "dl2"))) == {
        "weights/w.bin": body}
    assert blob_files(store_dir) == set()


def test_s3_prefix_reference_and_changed_object(api, store_dir, tmp_path, s3):
    client, bucket = s3
    objects = {
        "data/train/a.csv": b"a,1\n",
        "data/train/sub/b.csv": os.urandom(30_000),
        "data/test/c.csv": b"c,3\n",
        "data/training-extra.csv": b"not under data/train/\n",
    }
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
    art = wandb.Artifact("s3data", type="dataset")
    entries = art.add_reference(f"s3://{bucket}/data/train")
    assert sorted(e.path for e in entries) == ["a.csv", "sub/b.csv"]
    checksums = {e.path: e.checksum for e in entries}
    assert checksums == {"a.csv": f"etag:{md5(objects['data/train/a.csv'])}",
                         "sub/b.csv": f"etag:{md5(objects['data/train/sub/b.csv'])}"}
    prefixed = wandb.Artifact("s3data2", type="dataset")
    prefixed.add_reference(f"s3://{bucket}/data/train/", name="train")
    assert sorted(f.path for f in prefixed.files()) == ["train/a.csv", "train/sub/b.csv"]
    run = wandb.init(project="p")
    run.log_artifact(art)
    run.log_artifact(prefixed)
    run.finish()
    assert blob_files(store_dir) == set()

    out = Path(api.artifact("p/s3data:v0").download(tmp_path / "dl"))
    assert tree(out) == {"a.csv": objects["data/train/a.csv"],
                         "sub/b.csv": objects["data/train/sub/b.csv"]}
    out2 = Path(api.artifact("p/s3data2:v0").download(tmp_path / "dl2"))
    assert sorted(tree(out2)) == ["train/a.csv", "train/sub/b.csv"]

    client.put_object(Bucket=bucket, Key="data/train/sub/b.csv", Body=b"replaced")
    with pytest.raises(RunwatchError) as err:
        api.artifact("p/s3data:v0").download(tmp_path / "dl3")
    assert "sub/b.csv" in str(err.value)
    assert not (tmp_path / "dl3" / "sub" / "b.csv").exists()
    api.artifact("p/s3data:v0").verify(out)  # the earlier download is untouched and still good


def test_s3_versioned_bucket_downloads_the_logged_version(api, tmp_path, s3):
    client, bucket = s3
    client.put_bucket_versioning(Bucket=bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket=bucket, Key="cfg.json", Body=b'{"v": 1}')
    art = wandb.Artifact("s3cfg", type="config")
    [entry] = art.add_reference(f"s3://{bucket}/cfg.json")
    assert "versionId=" in (entry.ref or "")
    log(art)
    client.put_object(Bucket=bucket, Key="cfg.json", Body=b'{"v": 2}')
    out = Path(api.artifact("p/s3cfg:v0").download(tmp_path / "dl"))
    assert (out / "cfg.json").read_bytes() == b'{"v": 1}'


def test_s3_reference_to_nothing_is_an_error_naming_it(s3):
    _client, bucket = s3
    art = wandb.Artifact("s3none", type="dataset")
    with pytest.raises(UsageError, match=f"s3://{bucket}/no/such/prefix"):
        art.add_reference(f"s3://{bucket}/no/such/prefix")
    assert art.files() == []
