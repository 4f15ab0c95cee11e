"""Hostile input to a real server's ingest (POST /api/v1/batches) and uploads
(/api/v1/uploads/{sha256}): garbage, oversized bodies, a zip bomb, names that try to
escape, sequence games, wrong hashes, torn uploads. Each is refused with the right 4xx,
never a 500, and nothing lands in the store (or anywhere else on disk)."""

from __future__ import annotations

import hashlib
import http.client
import math
import os
import socket
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

import runwatch
from runwatch import records
from runwatch.errors import UsageError
from runwatch.records import (
    ArtifactFile,
    ArtifactUse,
    ArtifactVersion,
    Batch,
    Blob,
    RunStart,
    Series,
    StateChange,
    ValueSeries,
)
from tests.remote.conftest import Server

MSGPACK = {"Content-Type": "application/vnd.msgpack"}
PROJECT = "hostile"
_ids = iter(range(1_000_000))


def _run_id() -> str:
    return f"run-{next(_ids)}"


def _batch(run_id: str, seq: int = 0, *, project: str = PROJECT, start: bool = True,
           steps: range | None = None, **fields: Any) -> Batch:
    now = time.time()
    series = [] if steps is None else [
        Series("loss", list(steps), [now] * len(steps), [s * 0.5 for s in steps])]
    fields.setdefault("series", series)
    return Batch(project=project, run_id=run_id, seq=seq, sent_at=now,
                 start=RunStart(name="hostile", created_at=now) if start else None, **fields)


def _post(server: Server, body: bytes | Batch, headers: dict[str, str] | None = None
          ) -> httpx.Response:
    data = records.encode(body) if isinstance(body, Batch) else body
    return server.http.post("/api/v1/batches", content=data, headers={**MSGPACK,
                                                                        **(headers or {})})


def _error(resp: httpx.Response, status: int, code: str | None = None) -> str:
    assert resp.status_code == status, f"{resp.status_code} {resp.text[:500]}"
    err = resp.json()["error"]
    assert err["status"] == status
    if code is not None:
        assert err["code"] == code, err
    return err["message"]


def _run_exists(server: Server, project: str, run_id: str) -> bool:
    from urllib.parse import quote

    resp = server.http.get(f"/api/v1/projects/{quote(project, safe='')}/runs/"
                           f"{quote(run_id, safe='')}")
    assert resp.status_code in (200, 404), resp.text
    return resp.status_code == 200


def _projects(server: Server) -> set[str]:
    return {p["name"] for p in server.get_json("/api/v1/projects")["projects"]}


def _tree(root: Path) -> set[str]:
    """Every file under ``root`` but the database's own."""
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and not p.name.startswith("runwatch.db")}


@pytest.fixture(scope="module")
def srv(shared_server: Server) -> Server:
    # A first run, so the project exists and reads have something to compare with.
    resp = _post(shared_server, _batch("anchor", steps=range(3)))
    assert resp.status_code == 200, resp.text
    return shared_server


# -- bodies that are not batches -----------------------------------------------------------

@pytest.mark.parametrize(("body", "headers", "status", "code"), [
    (b"garbage", {}, 400, "bad_batch"),
    (b"", {}, 400, "bad_batch"),
    (b"\xc0", {}, 400, "bad_batch"),                       # msgpack nil
    (b"\x93\x01\x02\x03", {}, 400, "bad_batch"),           # an array
    (b'{"project": "p", "run_id": "r", "seq": 0}', {}, 400, "bad_batch"),  # JSON
    (b"\xde\xad\xbe\xef" * 1000, {}, 400, "bad_batch"),
    (b"not deflate at all", {"Content-Encoding": "deflate"}, 400, "bad_encoding"),
    # A gzip header, then junk: a truncated stream inflates to nothing that decodes.
    (b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400, None),
    (zlib.compress(b"garbage"), {"Content-Encoding": "deflate"}, 400, "bad_batch"),
    (b"x", {"Content-Encoding": "br"}, 415, "unsupported_encoding"),
], ids=["text", "empty", "nil", "array", "json", "binary", "bad-deflate", "bad-gzip",
        "deflated-garbage", "brotli"])
def test_a_body_that_is_not_a_batch_is_refused(srv: Server, body: bytes,
                                               headers: dict[str, str], status: int,
                                               code: str | None) -> None:
    before = _projects(srv)
    _error(_post(srv, body, headers), status, code)
    assert _projects(srv) == before


def test_compressed_batches_are_taken(srv: Server) -> None:
    import gzip

    for encoding, pack in (("gzip", gzip.compress), ("deflate", zlib.compress)):
        run_id = _run_id()
        resp = _post(srv, pack(records.encode(_batch(run_id, steps=range(5)))),
                     {"Content-Encoding": encoding})
        assert resp.status_code == 200 and resp.json()["applied"] is True, resp.text
        assert srv.points(PROJECT, run_id, "loss")[0] == [0, 1, 2, 3, 4]


def _raw_request(server: Server, head: str, body: bytes = b"",
                 close_after: bool = False) -> tuple[int, bytes]:
    """Sends ``head`` (request line and headers) and ``body`` over a plain socket; returns
    the status and body of the answer (0 when the connection was cut before one came)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        if close_after:
            return 0, b""
        data = b""
        while True:
            try:
                piece = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not piece:
                break
            data += piece
            if b"\r\n\r\n" in data:
                headers, _, rest = data.partition(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in headers.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(rest) >= length[0]:
                    break
    if not data:
        return 0, b""
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


def _auth_head(server: Server, method: str, path: str, length: int) -> str:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {server.key}\r\nContent-Type: application/vnd.msgpack\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n")


def test_a_declared_body_past_the_limit_is_refused_before_it_is_read(srv: Server) -> None:
    from runwatch.server.ingest import MAX_BODY
    from runwatch.server.uploads import MAX_PIECE

    status, body = _raw_request(srv, _auth_head(srv, "POST", "/api/v1/batches", MAX_BODY + 1))
    assert status == 413 and b"too_large" in body, body
    sha = "c" * 64
    status, body = _raw_request(srv, _auth_head(
        srv, "PUT", f"/api/v1/uploads/{sha}?offset=0&size={MAX_PIECE * 2}", MAX_PIECE + 1))
    assert status == 413 and b"too_large" in body, body
    assert not (srv.dir / "uploads" / f"{sha}.part").exists()


def test_a_streamed_body_past_the_limit_is_refused(srv: Server) -> None:
    from runwatch.server.ingest import MAX_BODY

    piece = bytes(1 << 20)

    def stream() -> Any:  # chunked: no Content-Length to refuse up front
        for _ in range(MAX_BODY // len(piece) + 2):
            yield piece

    try:
        resp = srv.http.post("/api/v1/batches", content=stream(), headers=MSGPACK)
    except httpx.HTTPError as exc:  # the server may close while the client still sends
        pytest.fail(f"the server dropped the connection instead of answering 413: {exc!r}")
    _error(resp, 413, "too_large")
    assert srv.alive()


def _zip_bomb(inflated: int) -> bytes:
    """A zlib stream that inflates to more than ``inflated`` bytes of zeros, built in
    milliseconds: after a full flush, every 1 MiB of zeros compresses to the same bytes."""
    c = zlib.compressobj(9)
    mib = bytes(1 << 20)
    first = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    return first + block * (inflated // len(mib)) + c.flush()


def test_a_zip_bomb_is_refused(srv: Server) -> None:
    from runwatch.server.ingest import MAX_INFLATED

    bomb = _zip_bomb(MAX_INFLATED + (64 << 20))
    assert len(bomb) < 2 << 20  # about 1 MiB on the wire for more than 1 GiB inflated
    resp = _post(srv, bomb, {"Content-Encoding": "deflate"})
    _error(resp, 413, "too_large")
    assert srv.alive()
    # The server is still well: a real batch goes through.
    run_id = _run_id()
    assert _post(srv, _batch(run_id, steps=range(2))).status_code == 200


# -- names that try to escape ----------------------------------------------------------------

BAD_NAMES = [
    ("../x", "r"), ("a/b", "r"), ("x\x00y", "r"), ("p" * 200, "r"), ("a\\b", "r"),
    ("", "r"), ("  ", "r"),
    (PROJECT, "../x"), (PROJECT, "a/b"), (PROJECT, "x\x00y"), (PROJECT, "r" * 200),
    (PROJECT, ".."), (PROJECT, "."), (PROJECT, ""), (PROJECT, "a b"), (PROJECT, "a,b"),
    (PROJECT, "a\nb"), (PROJECT, "%2e%2e"),
]


@pytest.mark.parametrize(("project", "run_id"), BAD_NAMES,
                         ids=[f"{p[:12]!r}/{r[:12]!r}" for p, r in BAD_NAMES])
def test_a_batch_with_an_invalid_project_or_run_id_is_refused(srv: Server, project: str,
                                                              run_id: str) -> None:
    before_projects, before_files = _projects(srv), _tree(srv.root)
    resp = _post(srv, _batch(run_id, project=project, steps=range(3)))
    _error(resp, 422, "invalid_batch")
    assert _projects(srv) == before_projects
    assert _tree(srv.root) == before_files


# -- sequence numbers --------------------------------------------------------------------------

def test_a_gap_in_seq_is_refused_and_a_resent_batch_is_not_applied_twice(srv: Server) -> None:
    run_id = _run_id()
    sent = {seq: records.encode(_batch(run_id, seq, start=seq == 0,
                                       steps=range(10 * seq, 10 * seq + 10)))
            for seq in range(3)}
    first = _post(srv, sent[0])
    assert first.json() == {"run_id": run_id, "seq": 0, "applied": True, "problems": []}
    message = _error(_post(srv, sent[2]), 409, "seq_gap")
    assert "resend from 1" in message, message
    assert srv.points(PROJECT, run_id, "loss")[0] == list(range(10))

    for seq in (1, 2):
        resp = _post(srv, sent[seq])
        assert resp.json()["applied"] is True, resp.text
    # Every batch again, byte for byte, as a client does after a lost answer.
    for seq in (0, 1, 2):
        again = _post(srv, sent[seq])
        assert again.status_code == 200, again.text
        assert again.json() == {"run_id": run_id, "seq": seq, "applied": False, "problems": []}
    # A stale seq with other content changes nothing either.
    stale = _post(srv, _batch(run_id, 1, start=False, steps=range(100, 110)))
    assert stale.json()["applied"] is False
    steps, values = srv.points(PROJECT, run_id, "loss")
    assert steps == list(range(30))
    assert values == [s * 0.5 for s in range(30)]
    assert srv.run(PROJECT, run_id)["seq"] == 2


def test_batches_of_an_unknown_run_must_start_at_its_start(srv: Server) -> None:
    run_id = _run_id()
    _error(_post(srv, _batch(run_id, 0, start=False, steps=range(3))), 409, "seq_gap")
    _error(_post(srv, _batch(run_id, 5, steps=range(3))), 409, "seq_gap")
    _error(_post(srv, _batch(run_id, 2**64 - 1, steps=range(3))), 409, "seq_gap")
    _error(_post(srv, _batch(run_id, -1, steps=range(3))), 422, "invalid_batch")
    assert not _run_exists(srv, PROJECT, run_id)


# -- records the SDK never sends: refused, never a 500 -----------------------------------------

def _artifact_batch(run_id: str, *, path: str = "weights.bin", name: str = "evil",
                    project: str | None = None) -> Batch:
    data = b"evil content"
    sha = hashlib.sha256(data).hexdigest()
    files = [ArtifactFile(path=path, sha256=sha, size=len(data))]
    return _batch(run_id, blobs=[Blob(sha, data)], artifacts=[ArtifactVersion(
        name=name, type="model", digest=records.manifest_digest(files), files=files,
        project=project)])


def _stepped(run_id: str, steps: list[int]) -> Batch:
    return _batch(run_id, series=[Series("loss", steps, [1.0] * len(steps),
                                         [1.0] * len(steps))])


INVALID = {
    "blob-name-escapes": (lambda r: _batch(r, blobs=[Blob("../../evil", b"x")])),
    "blob-wrong-hash": (lambda r: _batch(r, blobs=[Blob("a" * 64, b"x")])),
    "step-past-int64": (lambda r: _stepped(r, [2**63])),
    "exit-code-past-int64": (lambda r: _batch(r, state=StateChange(state="finished", at=1.0,
                                                                   exit_code=2**64 - 1))),
    "pid-past-int64": (lambda r: Batch(project=PROJECT, run_id=r, seq=0, sent_at=1.0,
                                       start=RunStart(name="n", created_at=1.0,
                                                      pid=2**64 - 1))),
    "artifact-use-past-int64": (lambda r: _batch(r, uses=[ArtifactUse(
        project=PROJECT, name="x", version=2**64 - 1, at=1.0)])),
    "config-not-json": (lambda r: _batch(r, config={"lr": "{nope"})),
    "summary-not-json": (lambda r: _batch(r, summary={"acc": "{nope"})),
    "sent-at-nan": (lambda r: Batch(project=PROJECT, run_id=r, seq=0, sent_at=math.nan,
                                    start=RunStart(name="n", created_at=1.0))),
    "value-not-json": (lambda r: _batch(r, values=[ValueSeries("text", [0], [1.0], ["{no"])])),
    "ragged-series": (lambda r: _batch(r, series=[Series("loss", [0, 1, 2], [1.0], [1.0])])),
    "ragged-values": (lambda r: _batch(r, series=[Series("loss", [0], [1.0], [1.0, 2.0])])),
    "unknown-state": (lambda r: _batch(r, state=StateChange(state="pwned", at=1.0))),
    "artifact-path-escapes": (lambda r: _artifact_batch(r, path="../../evil")),
    "artifact-absolute-path": (lambda r: _artifact_batch(r, path="/etc/cron.d/evil")),
    "artifact-bad-name": (lambda r: _artifact_batch(r, name="../x y")),
    "artifact-bad-project": (lambda r: _artifact_batch(r, project="../bad/x")),
}


@pytest.mark.parametrize("make", list(INVALID.values()), ids=list(INVALID))
def test_a_record_the_sdk_never_sends_is_refused_without_a_500(srv: Server, make: Any) -> None:
    run_id = _run_id()
    before_projects, before_files = _projects(srv), _tree(srv.root)
    resp = _post(srv, make(run_id))
    assert resp.status_code != 500, resp.text
    refused = resp.status_code == 422 or (resp.status_code == 200 and resp.json()["problems"])
    assert refused, f"taken: {resp.status_code} {resp.text[:300]}"
    if resp.status_code == 422:
        assert not _run_exists(srv, PROJECT, run_id)
        assert _tree(srv.root) == before_files
    assert _projects(srv) <= before_projects | {PROJECT}


def test_an_artifact_path_that_escapes_never_writes_outside(srv: Server,
                                                            tmp_path: Path) -> None:
    """Whatever the server does with '../../evil', nothing is written by that path: not in
    the server's folders, and not by a reader's download."""
    base = srv.root.parent
    run_id = _run_id()
    resp = _post(srv, _artifact_batch(run_id, path="../../evil", name="escape"))
    assert resp.status_code in (200, 422), resp.text
    assert not [p for p in base.parent.rglob("evil") if p.is_file()]
    if resp.status_code == 200 and not resp.json()["problems"]:
        target = tmp_path / "dl" / "inner"
        with runwatch.Api(dir=srv.dir) as api:
            art = api.artifact(f"{PROJECT}/escape:latest")
            with pytest.raises(UsageError, match="outside"):
                art.download(target)
        assert not (tmp_path / "evil").exists()
        assert not [p for p in tmp_path.rglob("evil")]


# -- uploads ------------------------------------------------------------------------------------

def _put(server: Server, sha: str, offset: int, size: int, piece: bytes) -> httpx.Response:
    return server.http.put(f"/api/v1/uploads/{sha}", params={"offset": offset, "size": size},
                           content=piece, headers={"Content-Type": "application/octet-stream"})


BAD_SHAS = ["ABC", "a" * 63, "a" * 65, "A" * 64, "g" * 64, "../../etc/passwd",
            "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "a" * 62 + "%00",
            "..", "%2e%2e"]


@pytest.mark.parametrize("sha", BAD_SHAS)
def test_an_upload_named_by_no_sha256_is_refused(srv: Server, sha: str) -> None:
    before = _tree(srv.root)
    for method, query, body in (("GET", "", b""), ("PUT", "?offset=0&size=4", b"root")):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        try:
            conn.putrequest(method, f"/api/v1/uploads/{sha}{query}", skip_accept_encoding=True)
            conn.putheader("Authorization", f"Bearer {srv.key}")
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            text = resp.read()
        finally:
            conn.close()
        assert resp.status in (404, 422), (method, sha, resp.status, text[:300])
    assert _tree(srv.root) == before
    assert not [p for p in srv.root.parent.rglob("passwd")]


def test_a_piece_at_the_wrong_offset_is_refused_with_the_right_offset(srv: Server) -> None:
    data = os.urandom(3000)
    sha = hashlib.sha256(data).hexdigest()
    assert _put(srv, sha, 0, 3000, data[:1000]).json() == {
        "sha256": sha, "complete": False, "offset": 1000}
    for wrong in (0, 500, 2000):
        message = _error(_put(srv, sha, wrong, 3000, data[wrong:wrong + 1000]), 409,
                         "wrong_offset")
        assert "send from offset 1000" in message, message
    assert srv.get_json(f"/api/v1/uploads/{sha}") == {"sha256": sha, "complete": False,
                                                       "offset": 1000}
    # A piece running past the declared size is refused too.
    _error(_put(srv, sha, 1000, 1500, data[1000:]), 422)
    assert _put(srv, sha, 1000, 3000, data[1000:]).json()["complete"] is True
    assert srv.blob_path(sha).read_bytes() == data


def test_an_upload_that_does_not_hash_to_its_name_is_discarded(srv: Server) -> None:
    claimed = hashlib.sha256(b"what the client promised").hexdigest()
    message = _error(_put(srv, claimed, 0, 10, b"other data"), 422, "hash_mismatch")
    assert claimed in message
    assert not srv.blob_path(claimed).exists()
    assert not (srv.dir / "uploads" / f"{claimed}.part").exists()
    assert srv.get_json(f"/api/v1/uploads/{claimed}") == {"sha256": claimed,
                                                           "complete": False, "offset": 0}
    # In two pieces, the mismatch shows only at the end: still nothing kept.
    _put(srv, claimed, 0, 10, b"other")
    _error(_put(srv, claimed, 5, 10, b" data"), 422, "hash_mismatch")
    assert not srv.blob_path(claimed).exists()


def test_a_40_mb_upload_cut_in_the_middle_resumes_and_is_stored_verified(srv: Server) -> None:
    size = 40 << 20
    data = os.urandom(size)
    sha = hashlib.sha256(data).hexdigest()
    first = 16 << 20
    assert _put(srv, sha, 0, size, data[:first]).json() == {
        "sha256": sha, "complete": False, "offset": first}

    # The next piece is cut halfway: its connection dies after 8 of its 16 MiB.
    head = _auth_head(srv, "PUT", f"/api/v1/uploads/{sha}?offset={first}&size={size}",
                      16 << 20)
    _raw_request(srv, head, data[first:first + (8 << 20)], close_after=True)
    deadline = time.monotonic() + 10
    while True:  # the server notices the cut; it keeps none of the torn piece
        state = srv.get_json(f"/api/v1/uploads/{sha}")
        if state["offset"] == first or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert state == {"sha256": sha, "complete": False, "offset": first}, state

    rest = _put(srv, sha, state["offset"], size, data[state["offset"]:])
    assert rest.status_code == 200, rest.text
    assert rest.json() == {"sha256": sha, "complete": True, "offset": None}
    blob = srv.blob_path(sha)
    assert blob.stat().st_size == size
    digest = hashlib.sha256()
    with open(blob, "rb") as fh:
        while piece := fh.read(1 << 20):
            digest.update(piece)
    assert digest.hexdigest() == sha
    assert not (srv.dir / "uploads" / f"{sha}.part").exists()
    assert srv.get_json(f"/api/v1/uploads/{sha}")["complete"] is True
    # A finished upload sent again is acknowledged without being stored twice.
    assert _put(srv, sha, 0, size, data[:100]).json()["complete"] is True
    served = srv.http.get(f"/api/v1/blobs/{sha}")
    assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == sha
    assert srv.alive()
