"""``/api/v1/projects``: every project with its run counts and last activity."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from runwatch.server import models, views
from runwatch.server.encoding import FastJSON
from runwatch.server.state import AppState, app_state
from runwatch.store import read

router = APIRouter(tags=["projects"])


@router.get("/projects", response_class=FastJSON,
            responses={200: {"model": models.ProjectList}},
            summary="List projects")
def list_projects(state: AppState = Depends(app_state)) -> FastJSON:
    with state.store.read() as conn:
        found = read.list_projects(conn, state.settings.heartbeat_timeout)
    return FastJSON({"projects": [views.project(p) for p in found]})


@router.get("/projects/{project}", response_class=FastJSON,
            responses={200: {"model": models.Project}, 404: {"model": models.Error}},
            summary="One project")
def get_project(project: str, state: AppState = Depends(app_state)) -> FastJSON:
    with state.store.read() as conn:
        found = [p for p in read.list_projects(conn, state.settings.heartbeat_timeout)
                 if p.name == project]
    if not found:
        from runwatch.server.errors import not_found

        raise not_found("project", project, "GET /api/v1/projects lists them.")
    return FastJSON(views.project(found[0]))
