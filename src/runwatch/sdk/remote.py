"""Sinks that do not write a store in this process: a runwatch server over HTTP, and the
offline spool file that ``runwatch sync`` uploads later.

:class:`HttpSink` posts each batch, exactly as the local sink would hand it to the
store, to ``POST /api/v1/batches``: msgpack, deflate-compressed, over one
kept-alive connection. The server applies it with the same ``write_batch``, so a
batch re-sent after a lost answer is acknowledged without being applied twice.
Any failure raises: the writer keeps the batch, retries with backoff, and past its
memory limit spills batches to disk, so a server that is away costs training
nothing but disk. Artifact files the server lacks are uploaded before the batch
that names them, in resumable pieces (:mod:`runwatch.sdk.upload`).
"""

from __future__ import annotations

import fcntl
import os
import time
import zlib
from pathlib import Path
from typing import Any

from runwatch import records
from runwatch.errors import RunwatchError, SeqGapError, UsageError
from runwatch.records import Batch
from runwatch.sdk.outbox import write_frame

MSGPACK = "application/vnd.msgpack"


class ServerError(RunwatchError):
    """The server answered with an error (its message is kept), or did not answer."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def client(url: str, api_key: str | None, timeout: float = 30.0) -> Any:
    """An httpx client for the server at ``url``, with the key and keep-alive."""
    import httpx

    from runwatch import __version__

    headers = {"User-Agent": f"runwatch/{__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.Client(base_url=url.rstrip("/") + "/api/v1", headers=headers,
                        timeout=httpx.Timeout(timeout, connect=5.0),
                        limits=httpx.Limits(max_keepalive_connections=2, max_connections=4))


def raise_for(response: Any, url: str) -> None:
    """A :class:`ServerError` carrying the server's own message for a failed answer."""
    if response.status_code < 400:
        return
    try:
        err = response.json()["error"]
        message, code = str(err["message"]), str(err.get("code", ""))
    except Exception:  # noqa: BLE001 - not our server, or not JSON
        message, code = response.text[:200] or response.reason_phrase, ""
    if response.status_code == 401:
        message += " (server " + url + ")"
    raise ServerError(f"{response.status_code} {message}", response.status_code, code)


class ServerAway(UsageError):
    """The server did not answer a question init() had to ask it."""


class HttpSink:
    """Posts batches to a runwatch server."""

    def __init__(self, url: str, api_key: str | None, blob_dir: Path) -> None:
        self.url = url
        self.api_key = api_key
        self.blob_dir = blob_dir
        self.description = f"the runwatch server at {url}"
        self._client: Any = None
        self._known_blobs: set[str] = set()

    def open(self) -> None:
        if self._client is None:
            self._client = client(self.url, self.api_key)

    def apply(self, batch: Batch) -> list[str]:
        import httpx

        self.open()
        if batch.artifacts:
            self._upload_files(batch)
        body = zlib.compress(records.encode(batch), 1)
        try:
            response = self._client.post(
                "/batches", content=body,
                headers={"Content-Type": MSGPACK, "Content-Encoding": "deflate"})
        except httpx.HTTPError as exc:
            raise ServerError(f"no answer ({exc.__class__.__name__}: {exc})") from None
        if response.status_code == 409:
            raise SeqGapError(response.json()["error"]["message"])
        raise_for(response, self.url)
        return list(response.json().get("problems", []))

    def _upload_files(self, batch: Batch) -> None:
        from runwatch.sdk.upload import upload_blob
        from runwatch.store.blobs import LocalBlobStore

        local = LocalBlobStore(self.blob_dir)
        for version in batch.artifacts:
            for entry in version.files:
                if entry.ref is not None:
                    continue
                shas = [(entry.sha256, entry.size)]
                if entry.media is not None:
                    # A logged object (a Table) names more blobs: its columnar file, images.
                    shas += [(sha, None) for sha in _named_blobs(entry.media)]
                for sha, size in shas:
                    if sha in self._known_blobs:
                        continue
                    if size is None:
                        path = local.path(sha)
                        size = path.stat().st_size if path.exists() else 0
                    upload_blob(self._client, local, sha, size, self.url)
                    self._known_blobs.add(sha)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _named_blobs(meta_text: str) -> list[str]:
    """Every blob a logged object's description names (a table's file, its images)."""
    from runwatch import jsonvalue
    from runwatch.data.artifact import referenced_shas

    try:
        return referenced_shas(jsonvalue.loads(meta_text))
    except ValueError:
        return []


def spool_name(project: str, run_id: str) -> str:
    # Project and run id exclude '/', '\\' and NUL (records.check_*), so this is one name.
    return f"{project}--{run_id}--{int(time.time() * 1000)}.spool"


class SpoolSink:
    """``mode="offline"``: every batch appended to a spool file (the spill file's framing:
    length, CRC, msgpack), synced to disk at close; ``runwatch sync`` sends it on."""

    def __init__(self, folder: Path, project: str, run_id: str) -> None:
        self.path = folder / spool_name(project, run_id)
        self.description = f"the offline spool {self.path}"
        self._fh: Any = None

    def open(self) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")  # noqa: SIM115 - held for the run's life
            # Held while the run lives: `runwatch sync` leaves a spool it cannot lock.
            fcntl.flock(self._fh, fcntl.LOCK_EX)

    def apply(self, batch: Batch) -> list[str]:
        self.open()
        write_frame(self._fh, batch)
        self._fh.flush()
        return []

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


def spool_folder(base: Path, url: str) -> Path:
    """Where batches for the server at ``url`` wait while it is away (one folder per
    server: `runwatch sync` and the next run replay them to the right place)."""
    import hashlib

    slug = "".join(c if c.isalnum() else "_" for c in url.split("://", 1)[-1])[:48]
    return base / "spool" / f"{slug}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def lookup_run(url: str, api_key: str | None, project: str, run_id: str) -> Any:
    """The run on the server as init() needs it to resume, or None if it does not exist.
    A server that does not answer is an error: resuming needs to know where the run is."""
    import types
    import urllib.parse

    import httpx

    from runwatch import jsonvalue

    quote = urllib.parse.quote
    try:
        with client(url, api_key, timeout=10.0) as http:
            response = http.get(f"/projects/{quote(project, safe='')}/runs/"
                                f"{quote(run_id, safe='')}")
    except httpx.HTTPError as exc:
        raise ServerAway(f"Cannot look up run {project}/{run_id}: the server {url} does not "
                         f"answer ({exc}). Resume it when the server is back.") from None
    if response.status_code == 404:
        return None
    try:
        raise_for(response, url)
    except ServerError as exc:
        raise UsageError(f"Cannot look up run {project}/{run_id} on {url}: {exc}") from None
    body = jsonvalue.loads(response.text)
    return types.SimpleNamespace(
        name=body["name"], created_at=body["created_at"], last_step=body["last_step"],
        last_seq=body["seq"], config=body["config"], summary=body["summary"])
