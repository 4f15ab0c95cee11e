"""``/api/v1/projects/{project}/alerts``: ``run.alert(...)`` calls and runwatch's own
alerts (a metric that first turned NaN or Inf), newest first."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from runwatch.server.encoding import FastJSON
from runwatch.server.errors import not_found
from runwatch.server.state import AppState, app_state
from runwatch.store import read

router = APIRouter(tags=["alerts"])


@router.get("/projects/{project}/alerts", response_class=FastJSON,
            summary="A project's (or one run's) alerts, newest first")
def list_alerts(project: str, run: str | None = Query(None, description="Only this run's."),
                limit: int = Query(200, ge=1, le=1000),
                state: AppState = Depends(app_state)) -> FastJSON:
    with state.store.read() as conn:
        if not read.project_exists(conn, project):
            raise not_found("project", project, "GET /api/v1/projects lists the projects.")
        found = read.list_alerts(conn, project, run, limit)
    return FastJSON({"project": project, "alerts": found})
