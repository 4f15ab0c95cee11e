"""``/api/v1/projects/{project}/runs/{run_id}/history``: a run's history as rows, the way
``runwatch.Api().run(...).history()`` and ``scan_history()`` return it, for clients
reading a server (``RUNWATCH_URL``). Charts use ``/series`` instead (columns, bucketed).

Values travel as runwatch's JSON (non-finite floats tagged ``{"$float": "nan"}``,
logged objects as their metas), so a client gets back exactly what was logged.
"""

from __future__ import annotations

import itertools

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from runwatch import jsonvalue
from runwatch.server.errors import ApiError
from runwatch.server.runs import find_run, split_ids
from runwatch.server.state import AppState, app_state
from runwatch.store import history

router = APIRouter(tags=["history"])

MAX_PAGE = 10_000


@router.get("/projects/{project}/runs/{run_id}/history",
            responses={200: {"content": {"application/json": {}}}},
            summary="History rows: a deterministic sample, or a page of every row in step order")
def get_history(
    project: str, run_id: str,
    keys: str | None = Query(None, description="Comma-separated keys; rows must hold all."),
    samples: int | None = Query(None, ge=1, le=100_000,
                                description="At most this many rows (first, last, each "
                                            "key's extremes, evenly spaced between)."),
    stream: str = Query("default", description="default, or system for system metrics."),
    min_step: int | None = Query(None, description="Full-resolution rows from this step."),
    max_step: int | None = Query(None, description="...up to this step (inclusive)."),
    limit: int = Query(1000, ge=1, le=MAX_PAGE, description="Rows per page when scanning."),
    state: AppState = Depends(app_state),
) -> Response:
    if stream not in history.STREAMS:
        raise ApiError(422, f"stream={stream!r} is not one of {', '.join(history.STREAMS)}.",
                       "invalid_parameter")
    wanted = split_ids(keys)
    with state.store.read() as conn:
        run = find_run(conn, state, project, run_id)
        if samples is not None:
            names, rows = history.sample(conn, run, wanted, samples, stream)
            body = {"columns": names, "rows": rows}
        else:
            if stream != "default":
                raise ApiError(422, "Scanning (no samples=) reads the default stream only.",
                               "invalid_parameter")
            rows = list(itertools.islice(history.scan(conn, run, wanted, min_step, max_step),
                                         limit + 1))
            more = len(rows) > limit
            rows = rows[:limit]
            body = {"rows": rows,
                    "next_step": rows[-1]["_step"] + 1 if more and rows else None}
    return Response(jsonvalue.dumps(body), media_type="application/json",
                    headers={"X-Content-Type-Options": "nosniff"})
