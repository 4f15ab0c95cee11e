"""``/api/v1/projects/{project}/runs/{run_id}/files``: a run's files, as wandb's Files tab
lists them: its config, summary and metadata as JSON, and every image and table it
logged (downloaded through ``/api/v1/blobs``)."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from runwatch import jsonvalue
from runwatch.server.encoding import FastJSON, attachment
from runwatch.server.errors import ApiError
from runwatch.server.runs import find_run
from runwatch.server.state import AppState, app_state
from runwatch.store import console, read

router = APIRouter(tags=["files"])

MAX_FILES = 5000
_GENERATED = ("config.json", "summary.json", "metadata.json")
_EXT = {"png": "png", "jpeg": "jpg", "jpg": "jpg", "gif": "gif", "webp": "webp"}


def _run(state: AppState, project: str, run_id: str) -> read.RunRecord:
    with state.store.read() as conn:
        return find_run(conn, state, project, run_id)


def _blobs_of(key: str, step: int, value: Any) -> list[dict[str, Any]]:
    items = value.get("items", []) if value.get("_type") == "media-list" else [value]
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("sha256"), str):
            continue
        kind = item.get("_type", "file")
        if kind == "chart":
            continue  # its table is listed under the table's own sha
        ext = _EXT.get(str(item.get("format", "")).lower(), "json" if kind == "table" else "bin")
        suffix = f"-{i}" if len(items) > 1 else ""
        out.append({"path": f"media/{key}/{step}{suffix}.{ext}", "kind": kind,
                    "sha256": item["sha256"], "size": item.get("size"), "step": step})
    return out


@router.get("/projects/{project}/runs/{run_id}/files", response_class=FastJSON,
            summary="A run's files: config, summary and metadata, and the media it logged")
def list_files(project: str, run_id: str, state: AppState = Depends(app_state)) -> FastJSON:
    r = _run(state, project, run_id)
    base = f"/api/v1/projects/{project}/runs/{run_id}/files/"
    files: list[dict[str, Any]] = [
        {"path": name, "kind": "json", "sha256": None, "size": None, "step": None,
         "url": base + name} for name in _GENERATED]
    truncated = False
    with state.store.read() as conn:
        if console.count(conn, r.pk):
            files.append({"path": "output.log", "kind": "text", "sha256": None, "size": None,
                          "step": None, "url": f"{base[:-len('files/')]}console.txt"})
        keys = read.run_keys(conn, r.pk)
        for key, info in keys.items():
            if not info.values_count:
                continue
            for step, text in read.value_texts(conn, info.id):
                value = jsonvalue.loads(text)
                if isinstance(value, dict):
                    files.extend(_blobs_of(key, step, value))
            if len(files) > MAX_FILES:
                truncated = True
                break
    return FastJSON({"project": project, "run": run_id, "files": files[:MAX_FILES],
                     "truncated": truncated})


@router.get("/projects/{project}/runs/{run_id}/files/{name}",
            summary="config.json, summary.json or metadata.json of a run")
def generated_file(project: str, run_id: str, name: str,
                   download: bool = Query(False), state: AppState = Depends(app_state)) -> Response:
    if name not in _GENERATED:
        raise ApiError(404, f"No file {name!r}; a run's own files are {list(_GENERATED)}, and "
                            "its media are downloaded through /api/v1/blobs/{sha256}.")
    r = _run(state, project, run_id)
    text = {"config.json": r.config_json, "summary.json": r.summary_json,
            "metadata.json": r.metadata_json}[name]
    body = msgspec.json.format(text.encode(), indent=2)
    headers = {"X-Content-Type-Options": "nosniff"}
    if download:
        headers["Content-Disposition"] = attachment(f"{run_id}-{name}")
    return Response(body, media_type="application/json", headers=headers)
