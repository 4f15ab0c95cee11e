"""``runwatch.Api()`` over HTTP: the same objects, read from a runwatch server.

Used when ``RUNWATCH_URL`` (or the saved ``runwatch login``) names a server, or with
``Api(overrides={"base_url": URL}, api_key=KEY)`` as in wandb. Runs, their config,
summary, history (sampled and full resolution), console output and artifacts
(files downloaded through ``/api/v1/blobs``, checked against their sha256) come
from the server's JSON API.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runwatch import jsonvalue
from runwatch.api import filters as flt
from runwatch.api.public import Api, Project, Run, Runs, _check_keys, _split
from runwatch.errors import RunNotFoundError, StoreError, UsageError
from runwatch.store import history, read

if TYPE_CHECKING:
    from runwatch.data.artifact import Artifact

_q = urllib.parse.quote


def _seg(text: str) -> str:
    return _q(text, safe="")


class HttpBlobs:
    """The server's blob store as the artifact code reads a local one: get and copy_to,
    each checked against the sha256 it was asked for."""

    def __init__(self, api: RemoteApi) -> None:
        self._api = api

    def local_path(self, sha: str) -> None:
        return None

    def has(self, sha: str) -> bool:
        return self._api._get(f"/uploads/{_seg(sha)}").json().get("complete", False)

    def get(self, sha: str) -> bytes:
        data = self._api._get(f"/blobs/{_seg(sha)}").content
        if hashlib.sha256(data).hexdigest() != sha:
            raise StoreError(f"Blob {sha} from {self._api.url} does not match its hash.")
        return data

    def copy_to(self, sha: str, dest: str | os.PathLike[str]) -> None:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        digest = hashlib.sha256()
        with self._api._http().stream("GET", f"/blobs/{_seg(sha)}", params={"name": "x"}) as r:
            self._api._raise_for(r)
            with open(tmp, "wb") as fh:
                for piece in r.iter_bytes(1 << 20):
                    digest.update(piece)
                    fh.write(piece)
        if digest.hexdigest() != sha:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"Blob {sha} for {dest} from {self._api.url} hashes to "
                             f"{digest.hexdigest()}; {dest} was not written.")
        os.replace(tmp, dest)


class _ServerStore:
    """What an Artifact read from a server holds instead of a Store: its blobs. Lineage
    queries need the store itself and say so."""

    def __init__(self, api: RemoteApi) -> None:
        self.blobs = HttpBlobs(api)
        self._api = api

    def read(self) -> Any:
        raise UsageError("This artifact was read from a runwatch server; its lineage "
                         f"(logged_by, used_by) is on the dashboard at {self._api.url}.")


class RemoteApi(Api):
    """``Api`` reading a runwatch server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Set up by :func:`remote_api` (``Api()``'s arguments arrive here too, again)."""

    def _setup(self, url: str, api_key: str | None, settings: Any) -> RemoteApi:
        self.settings = settings
        self.url = url.rstrip("/")
        self.api_key = api_key
        self._store = None
        self._client: Any = None
        self._server_store = _ServerStore(self)
        return self

    # -- HTTP --
    def _http(self) -> Any:
        if self._client is None:
            from runwatch.sdk.remote import client

            self._client = client(self.url, self.api_key)
        return self._client

    def _raise_for(self, response: Any) -> None:
        from runwatch.sdk.remote import ServerError, raise_for

        if response.status_code == 404:
            response.read()
            try:
                message = response.json()["error"]["message"]
            except Exception:  # noqa: BLE001
                message = f"Not found at {self.url}."
            raise RunNotFoundError(message)
        try:
            raise_for(response, self.url)
        except ServerError as exc:
            raise UsageError(f"The runwatch server at {self.url} answered: {exc}") from None

    def _get(self, path: str, **params: Any) -> Any:
        import httpx

        try:
            response = self._http().get(path, params={k: v for k, v in params.items()
                                                      if v is not None})
        except httpx.HTTPError as exc:
            raise UsageError(f"The runwatch server at {self.url} does not answer ({exc}).") \
                from None
        self._raise_for(response)
        return response

    def _json(self, path: str, **params: Any) -> Any:
        return jsonvalue.loads(self._get(path, **params).text)

    @property
    def store(self) -> Any:
        return self._server_store

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- reading --
    def projects(self, entity: str | None = None) -> list[Project]:
        out = []
        for p in self._json("/projects")["projects"]:
            rec = read.ProjectRecord(p["name"], p["entity"], p["created_at"], p["run_count"],
                                     p["running_count"], p["last_activity"])
            if entity is None or rec.entity in (None, entity):
                out.append(Project(self, rec))
        return out

    @property
    def _where(self) -> str:
        return self.url

    def runs(self, path: str = "", filters: dict[str, Any] | None = None,
             order: str = "+created_at", per_page: int = 50, include_sweeps: bool = True,
             lazy: bool = True) -> Runs:
        _entity, project = _split(path, 2, "Runs")
        assert project is not None
        records = [_record(r) for r in self._json(f"/projects/{_seg(project)}/runs")["runs"]]
        if filters:
            records = [r for r in records if flt.matches(r, filters)]
        records = flt.sort_runs(records, order)
        return Runs(self, project, [RemoteRun(self, r) for r in records])

    def run(self, path: str) -> Run:
        _entity, project, run_id = _split(path, 3, "Run")
        assert project is not None and run_id is not None
        return RemoteRun(self, self._run_record(project, run_id))

    def _run_record(self, project: str, run_id: str) -> read.RunRecord:
        return _record(self._json(f"/projects/{_seg(project)}/runs/{_seg(run_id)}"))

    def artifact(self, name: str, type: str | None = None) -> Artifact:  # noqa: A002
        from runwatch.store.artifacts import parse_ref

        _entity, project, ref = _split(name, 3, "Artifact")
        assert project is not None and ref is not None
        art_name, alias = parse_ref(ref)
        art = self.artifact_version(project, art_name, alias)
        if type is not None and art.type != type:
            raise UsageError(f"Artifact {name!r} is of type {art.type!r}, not {type!r}.")
        return art

    def artifact_version(self, project: str, name: str, version: str) -> Artifact:
        from runwatch.data.artifact import Artifact

        body = self._json(f"/projects/{_seg(project)}/artifacts/{_seg(name)}/{_seg(version)}")
        return Artifact._from_record(self._server_store, _version_record(body))

    def artifacts(self, project: str) -> list[Artifact]:
        _entity, name = _split(project, 2, "Project")
        assert name is not None
        out = []
        for group in self._json(f"/projects/{_seg(name)}/artifacts")["types"]:
            for art in group["artifacts"]:
                detail = self._json(f"/projects/{_seg(name)}/artifacts/{_seg(art['name'])}")
                for v in reversed(detail["versions"]):
                    out.append(self.artifact_version(name, art["name"], v["version"]))
        return out

    def find_version(self, project: str, name: str, digest: str) -> Artifact | None:
        """The version of ``project/name`` with ``digest`` (the one a log just made)."""
        try:
            detail = self._json(f"/projects/{_seg(project)}/artifacts/{_seg(name)}")
        except RunNotFoundError:
            return None
        for v in detail["versions"]:
            if v["digest"] == digest:
                return self.artifact_version(project, name, v["version"])
        return None


class RemoteRun(Run):
    """A run on a server: ``Run``'s fields and reads, over HTTP."""

    _api: RemoteApi

    @property
    def _base(self) -> str:
        return f"/projects/{_seg(self.project)}/runs/{_seg(self.id)}"

    def load(self, force: bool = True) -> Run:
        self._set(self._api._run_record(self.project, self.id))
        return self

    refresh = load

    def keys(self) -> list[str]:
        return [k["key"] for k in self._api._json(self._base)["keys"]]

    def history(self, samples: int = 500, keys: list[str] | None = None, x_axis: str = "_step",
                pandas: bool = True, stream: str = "default") -> Any:
        if stream not in history.STREAMS:
            raise UsageError(f"stream={stream!r} is not one of {', '.join(history.STREAMS)}.")
        if samples < 1:
            raise UsageError(f"samples must be at least 1, got {samples}.")
        keys = _check_keys(keys)
        body = self._api._json(self._base + "/history", samples=samples, stream=stream,
                               keys=",".join(keys) if keys is not None else None)
        if not pandas:
            return body["rows"]
        import pandas as pd

        return pd.DataFrame(body["rows"], columns=body["columns"])

    def scan_history(self, keys: list[str] | None = None, page_size: int = 1000,
                     min_step: int | None = None, max_step: int | None = None
                     ) -> Iterator[dict[str, Any]]:
        keys = _check_keys(keys)
        hi = None if max_step is None else max_step - 1
        step = min_step
        while True:
            body = self._api._json(self._base + "/history", min_step=step, max_step=hi,
                                   limit=max(1, min(page_size, 10_000)),
                                   keys=",".join(keys) if keys is not None else None)
            yield from body["rows"]
            if body["next_step"] is None:
                return
            step = body["next_step"]

    def media_steps(self, key: str) -> list[int]:
        body = self._api._json(self._base + "/values", key=key, limit=5000)
        if body["total"] > len(body["values"]):
            raise UsageError(f"{key!r} has {body['total']:,} logged objects; over a server "
                             "media_steps lists at most 5,000.")
        return [v["step"] for v in body["values"]]

    def media(self, key: str, step: int | None = None) -> Any:
        from runwatch.data.media import decode

        return decode(self._media_meta(key, step), self._api.store.blobs.get)

    def _media_meta(self, key: str, step: int | None) -> dict[str, Any]:
        body = self._api._json(self._base + "/media", key=key, step=step)
        meta = body.get("value")
        if not isinstance(meta, dict):
            raise UsageError(f"Run {self.project}/{self.id} has no logged object {key!r}.")
        return meta

    def console_logs(self, last: int | None = None) -> list[str]:
        if last is not None and (not isinstance(last, int) or last < 0):
            raise UsageError(f"last must be a whole number >= 0 or None, got {last!r}.")
        if last == 0:
            return []
        if last is not None:
            body = self._api._json(self._base + "/console", limit=min(last, 5000))
            return [line["text"] for line in body["lines"]]
        text = self._api._get(self._base + "/console.txt").text
        return text.split("\n")[:-1] if text else []

    def _artifacts(self, used: bool) -> list[Artifact]:
        raise UsageError("Over a runwatch server, a run's artifacts are listed on its page; "
                         "read one with Api().artifact('project/name:version').")


def _text(value: Any) -> str:
    return jsonvalue.dumps(value)


def _record(r: dict[str, Any]) -> read.RunRecord:
    return read.RunRecord(
        pk=-1, project=r["project"], entity=r["entity"], id=r["id"], name=r["name"],
        state=r["state"], stored_state=r["state"], notes=r["notes"], group=r["group"],
        job_type=r["job_type"], tags_json=_text(r["tags"]), config_json=_text(r["config"]),
        summary_json=_text(r["summary"]), metrics_json=_text(r.get("metrics", [])),
        metadata_json=_text(r.get("metadata", {})), host=r["host"], pid=0,
        created_at=r["created_at"], updated_at=r["updated_at"],
        heartbeat_at=r["heartbeat_at"], finished_at=r["finished_at"],
        exit_code=r["exit_code"], traceback=r.get("traceback"), last_step=r["last_step"],
        last_seq=r["seq"])


def _version_record(body: dict[str, Any]) -> Any:
    from runwatch.records import ArtifactFile
    from runwatch.store.artifacts import VersionRecord

    files = [ArtifactFile(path=f["path"], sha256=f["sha256"] or "", size=f["size"],
                          media=jsonvalue.dumps(f["meta"]) if f.get("meta") else None,
                          ref=f["ref"], checksum=f["checksum"]) for f in body["files"]]
    logged_by = body.get("logged_by")
    return VersionRecord(
        id=-1, project=body["project"], name=body["name"], type=body["type"],
        version=body["index"], digest=body["digest"], aliases=body["aliases"],
        description=body["description"], metadata=body["metadata"], size=body["size"],
        file_count=body["file_count"], created_at=body["created_at"],
        logged_by=logged_by["id"] if logged_by else None, step=body["step"], files=files)


def remote_api(overrides: dict[str, Any], api_key: str | None, settings: Any) -> Api | None:
    """A RemoteApi when a server is named (wandb's ``base_url`` override, else the
    settings' url), or None to read the local store."""
    url = overrides.get("base_url") or settings.url
    if not url:
        return None
    return object.__new__(RemoteApi)._setup(url, api_key or settings.api_key, settings)
