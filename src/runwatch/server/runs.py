"""``/api/v1/projects/{project}/runs`` and ``/keys``: the runs table and the chart list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from runwatch.server import models, views
from runwatch.server.encoding import FastJSON
from runwatch.server.errors import not_found
from runwatch.server.state import AppState, app_state
from runwatch.store import read

router = APIRouter(tags=["runs"])

_HINT = "GET /api/v1/projects lists the projects."


def find_run(conn: Any, state: AppState, project: str, run_id: str) -> read.RunRecord:
    """The run, or the 404 that says whether the project or the run is missing."""
    r = read.get_run(conn, project, run_id, state.settings.heartbeat_timeout)
    if r is None:
        if not read.project_exists(conn, project):
            raise not_found("project", project, _HINT)
        raise not_found("run", run_id,
                        f"GET /api/v1/projects/{project}/runs lists the runs of {project!r}.")
    return r


def split_ids(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part for part in text.split(",") if part]


@router.get("/projects/{project}/runs", response_class=FastJSON,
            responses={200: {"model": models.RunList}, 404: {"model": models.Error}},
            summary="Every run of a project, for the runs table")
def list_runs(project: str, state: AppState = Depends(app_state)) -> FastJSON:
    with state.store.read() as conn:
        if not read.project_exists(conn, project):
            raise not_found("project", project, _HINT)
        found = read.list_runs(conn, project, state.settings.heartbeat_timeout)
    return FastJSON({"project": project, "runs": [views.run(r) for r in found]})


@router.get("/projects/{project}/runs/{run_id}", response_class=FastJSON,
            responses={200: {"model": models.RunDetail}, 404: {"model": models.Error}},
            summary="One run with its metadata and keys")
def get_run(project: str, run_id: str, state: AppState = Depends(app_state)) -> FastJSON:
    with state.store.read() as conn:
        r = find_run(conn, state, project, run_id)
        keys = read.project_keys(conn, project, [run_id])
    return FastJSON(views.run_detail(r, keys))


@router.get("/projects/{project}/keys", response_class=FastJSON,
            responses={200: {"model": models.KeyList}, 404: {"model": models.Error}},
            summary="Every metric key logged in a project, with its define_metric")
def list_keys(project: str,
              runs: str | None = Query(None, description="Comma-separated run ids: only their keys."),
              state: AppState = Depends(app_state)) -> FastJSON:
    with state.store.read() as conn:
        if not read.project_exists(conn, project):
            raise not_found("project", project, _HINT)
        keys = read.project_keys(conn, project, split_ids(runs))
    return FastJSON({"project": project, "keys": [views.key(k) for k in keys]})
