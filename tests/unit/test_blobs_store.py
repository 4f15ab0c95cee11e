"""The blob store's one interface, on a local folder and on S3 (a real moto server over
HTTP, through fsspec/s3fs): the same tests, the same answers."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runwatch.errors import StoreError
from runwatch.store.blobs import BlobStore, LocalBlobStore, MissingBlobError, open_blob_store
from tests.s3 import moto_server, new_bucket, point_env_at

PREFIX = "team/blobs"


def sha_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@dataclass
class Case:
    kind: str
    store: BlobStore
    overwrite: Callable[[str, bytes], None]  # replace a stored blob's bytes behind its back
    client: Any = None
    bucket: str = ""


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Case:
    if request.param == "local":
        store = open_blob_store(tmp_path / "blobs")
        assert isinstance(store, LocalBlobStore)
        return Case("local", store, lambda sha, data: store.path(sha).write_bytes(data))
    endpoint = request.getfixturevalue("s3_endpoint")
    point_env_at(endpoint, monkeypatch)
    client, bucket = new_bucket(endpoint)
    store = open_blob_store(f"s3://{bucket}/{PREFIX}")

    def overwrite(sha: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=f"{PREFIX}/{sha[:2]}/{sha[2:]}", Body=data)

    return Case("s3", store, overwrite, client, bucket)


def test_put_get_has_size_and_layout(blobs: Case) -> None:
    store, data = blobs.store, b"some image bytes" * 100
    sha = sha_of(data)
    assert not store.has(sha)
    store.put(sha, data)
    store.put(sha, data)  # already there: a no-op
    assert store.has(sha) and store.size(sha) == len(data)
    assert store.get(sha) == data and store.verify(sha)
    if blobs.kind == "s3":
        assert store.local_path(sha) is None
        head = blobs.client.head_object(Bucket=blobs.bucket, Key=f"{PREFIX}/{sha[:2]}/{sha[2:]}")
        assert head["ContentLength"] == len(data)  # the local folder's layout, as objects
        store._pid = -1  # as in a forked server worker: the filesystem is made anew
        assert store.get(sha) == data
    else:
        assert store.local_path(sha) == store.root / sha[:2] / sha[2:]


def test_put_refuses_bytes_that_do_not_hash_to_the_name(blobs: Case) -> None:
    claimed = sha_of(b"what it should be")
    with pytest.raises(StoreError, match="hashes to"):
        blobs.store.put(claimed, b"something else")
    assert not blobs.store.has(claimed)


def test_corruption_is_detected_on_every_checked_read(blobs: Case, tmp_path: Path) -> None:
    store, data = blobs.store, os.urandom(50_000)
    sha = sha_of(data)
    store.put(sha, data)
    blobs.overwrite(sha, bytes([data[0] ^ 1]) + data[1:])
    assert not store.verify(sha)
    with pytest.raises(StoreError, match=f"{sha}.*corrupted"):
        store.get(sha)
    dest = tmp_path / "out" / "model.bin"
    with pytest.raises(StoreError, match="corrupted") as err:
        store.copy_to(sha, dest)
    assert sha in str(err.value) and str(dest) in str(err.value)
    assert not dest.exists() and list(dest.parent.iterdir()) == []  # no partial file
    store.put(sha, data)  # storing the right bytes again repairs it
    if blobs.kind == "local":
        assert store.get(sha) == data


def test_missing_blob(blobs: Case, tmp_path: Path) -> None:
    store, sha = blobs.store, sha_of(b"never stored")
    assert not store.has(sha) and not store.verify(sha)
    for call in (store.get, store.open, store.size):
        with pytest.raises(MissingBlobError, match=sha):
            call(sha)
    with pytest.raises(StoreError, match="weights.bin"):
        store.copy_to(sha, tmp_path / "weights.bin")
    assert not (tmp_path / "weights.bin").exists()


def test_copy_to_writes_a_checked_file(blobs: Case, tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    sha = sha_of(data)
    blobs.store.put(sha, data)
    dest = tmp_path / "deep" / "er" / "file.bin"
    blobs.store.copy_to(sha, dest)
    assert dest.read_bytes() == data


def test_put_file_of_20_mb(blobs: Case, tmp_path: Path) -> None:
    data = os.urandom(20 << 20)  # past the S3 part size: a multipart upload
    source = tmp_path / "checkpoint.bin"
    source.write_bytes(data)
    sha, size = blobs.store.put_file(source)
    assert (sha, size) == (sha_of(data), len(data))
    assert blobs.store.has(sha) and blobs.store.size(sha) == size
    assert blobs.store.verify(sha)
    assert blobs.store.put_file(source) == (sha, size)  # unchanged: nothing stored again
    blobs.store.copy_to(sha, tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data


def test_open_streams_and_seeks(blobs: Case) -> None:
    data = os.urandom((5 << 20) + 123)
    sha = sha_of(data)
    blobs.store.put_stream(sha, io.BytesIO(data))  # size unknown
    digest = hashlib.sha256()
    with blobs.store.open(sha) as fh:
        while piece := fh.read(1 << 20):
            assert len(piece) <= 1 << 20
            digest.update(piece)
        fh.seek(4_000_000)
        assert fh.read(10) == data[4_000_000:4_000_010]
    assert digest.hexdigest() == sha


@pytest.mark.parametrize("size", [1000, 20 << 20])
def test_put_stream_with_a_wrong_hash_stores_nothing(blobs: Case, size: int) -> None:
    data = os.urandom(size)
    claimed = sha_of(b"not this")
    with pytest.raises(StoreError, match="hashes to"):
        blobs.store.put_stream(claimed, io.BytesIO(data), len(data))
    assert not blobs.store.has(claimed)
    if blobs.kind == "s3":  # the multipart upload was aborted, not left behind
        assert not blobs.client.list_multipart_uploads(Bucket=blobs.bucket).get("Uploads")
    else:
        assert [p.name for p in blobs.store.root.rglob("*") if p.is_file()] == []
    blobs.store.put_stream(sha_of(data), io.BytesIO(data), len(data))
    assert blobs.store.get(sha_of(data)) == data


def test_link_into_from_a_local_folder(blobs: Case, tmp_path: Path) -> None:
    staging = LocalBlobStore(tmp_path / "staging")
    data = os.urandom(2 << 20)
    source = tmp_path / "f.bin"
    source.write_bytes(data)
    sha, _ = staging.put_file(source)
    staging.link_into(sha, blobs.store)
    staging.link_into(sha, blobs.store)  # there already: a no-op
    assert blobs.store.get(sha) == data
    if blobs.kind == "local":  # one disk: a hard link, not a copy
        assert staging.path(sha).stat().st_ino == blobs.store.local_path(sha).stat().st_ino
    # ...and back out to a folder.
    other = LocalBlobStore(tmp_path / "other")
    blobs.store.link_into(sha, other)
    assert other.get(sha) == data


def test_link_into_object_storage_refuses_a_corrupted_source(blobs: Case,
                                                           tmp_path: Path) -> None:
    if blobs.kind == "local":
        pytest.skip("folder to folder is a hard link: the bytes are not read")
    staging = LocalBlobStore(tmp_path / "staging")
    data = os.urandom(10_000)
    sha = sha_of(data)
    staging.put(sha, data)
    staging.path(sha).write_bytes(b"x" + data[1:])
    with pytest.raises(StoreError, match="hashes to"):
        staging.link_into(sha, blobs.store)
    assert not blobs.store.has(sha)


BAD_SHAS = ["../../etc/passwd", ("../" * 22)[:64], "/etc/passwd".ljust(64, "0"),
            "g" * 64, "A" * 64, "0" * 63, "0" * 65, "", "ab/" + "0" * 61, None, 1234]


@pytest.mark.parametrize("bad", BAD_SHAS, ids=repr)
def test_bad_sha_is_rejected_everywhere(blobs: Case, tmp_path: Path, bad: Any) -> None:
    store = blobs.store
    calls: list[Callable[[], Any]] = [
        lambda: store.has(bad), lambda: store.get(bad), lambda: store.open(bad),
        lambda: store.size(bad), lambda: store.verify(bad), lambda: store.local_path(bad),
        lambda: store.put(bad, b"x"), lambda: store.put_stream(bad, io.BytesIO(b"x"), 1),
        lambda: store.copy_to(bad, tmp_path / "out"),
        lambda: store.link_into(bad, LocalBlobStore(tmp_path / "other")),
    ]
    for call in calls:
        with pytest.raises(StoreError, match="not a sha256"):
            call()
    assert not (tmp_path / "out").exists() and not (tmp_path / "other").exists()


def test_open_blob_store_picks_by_scheme(tmp_path: Path, s3_endpoint: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from runwatch.store.blobs_remote import FsspecBlobStore

    for location in (tmp_path / "a", str(tmp_path / "a"), (tmp_path / "a").as_uri(),
                     "relative/blobs", "C:\\blobs"):
        store = open_blob_store(location)
        assert isinstance(store, LocalBlobStore), location
    assert open_blob_store((tmp_path / "a b").as_uri()).root == tmp_path / "a b"
    point_env_at(s3_endpoint, monkeypatch)
    s3 = open_blob_store("s3://some-bucket/some/prefix/")
    assert isinstance(s3, FsspecBlobStore) and s3.root == "some-bucket/some/prefix"
    assert open_blob_store(s3) is s3


def test_any_fsspec_url_works_memory(tmp_path: Path) -> None:
    """Not only S3: any fsspec filesystem (here the in-memory one, whose files are not
    S3's) gets the same checks."""
    store = open_blob_store(f"memory://rw-test-{os.getpid()}/blobs")
    data = os.urandom(100_000)
    sha = sha_of(data)
    store.put(sha, data)
    assert store.get(sha) == data and store.local_path(sha) is None
    wrong = sha_of(b"other")
    with pytest.raises(StoreError, match="hashes to"):
        store.put_stream(wrong, io.BytesIO(data))
    assert not store.has(wrong)
    source = tmp_path / "f.bin"
    source.write_bytes(data[:1000])
    assert store.put_file(source) == (sha_of(data[:1000]), 1000)


def test_importing_runwatch_and_a_local_store_loads_no_fsspec(tmp_path: Path) -> None:
    code = (
        "import sys, runwatch\n"
        "from runwatch.store import open_store\n"
        f"s = open_store('sqlite:///{tmp_path}/r.db')\n"
        "s.blobs.has('0' * 64)\n"
        "bad = [m for m in ('fsspec', 's3fs', 'aiobotocore', 'botocore') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_open_store_takes_an_s3_location(tmp_path: Path, s3_endpoint: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from runwatch.store import open_store
    from runwatch.store.blobs_remote import FsspecBlobStore

    point_env_at(s3_endpoint, monkeypatch)
    _client, bucket = new_bucket(s3_endpoint)
    store = open_store(f"sqlite:///{tmp_path}/r.db", f"s3://{bucket}/blobs")
    try:
        assert isinstance(store.blobs, FsspecBlobStore)
    finally:
        store.close()
