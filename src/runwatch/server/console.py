"""``/api/v1/projects/{project}/runs/{run_id}/console``: the run's captured stdout and
stderr, a page of lines at a time (from the end by default), searched by substring;
``/console.txt`` is the whole of it as wandb's ``output.log``."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, Query
from starlette.responses import StreamingResponse

from runwatch.server import models
from runwatch.server.encoding import FastJSON, attachment
from runwatch.server.errors import ApiError
from runwatch.server.runs import find_run
from runwatch.server.state import AppState, app_state
from runwatch.store import console

router = APIRouter(tags=["console"])


@router.get("/projects/{project}/runs/{run_id}/console", response_class=FastJSON,
            responses={200: {"model": models.ConsolePage}, 404: {"model": models.Error},
                       422: {"model": models.Error}},
            summary="A page of a run's console lines; the last ones unless after/before")
def console_page(
    project: str, run_id: str,
    after: int | None = Query(None, ge=-1, description="Lines after this line number."),
    before: int | None = Query(None, ge=0, description="The last lines before this one."),
    limit: int = Query(500, ge=1, le=5000),
    q: str | None = Query(None, max_length=1000,
                          description="Only lines containing this text (any case)."),
    stream: str | None = Query(None, description="stdout, stderr or both (a shared channel)."),
    state: AppState = Depends(app_state),
) -> FastJSON:
    if after is not None and before is not None:
        raise ApiError(422, f"Give after ({after}) or before ({before}), not both.")
    if stream is not None and stream not in console.STREAMS:
        raise ApiError(422, f"stream={stream!r} is not one of {', '.join(console.STREAMS)}.")
    code = console.STREAMS[stream] if stream is not None else None
    with state.store.read() as conn:
        r = find_run(conn, state, project, run_id)
        lines, more = console.page(conn, r.pk, after=after, before=before, limit=limit,
                                   query=q or None, stream=code)
        total = console.count(conn, r.pk)
        matched = console.count(conn, r.pk, q or None, code) if q or code is not None else total
    return FastJSON({"project": project, "run": run_id, "total": total, "matched": matched,
                     "lines": lines, "more": more})


@router.get("/projects/{project}/runs/{run_id}/console.txt",
            responses={200: {"content": {"text/plain": {}}}, 404: {"model": models.Error}},
            summary="The run's whole console output as text (output.log)")
def console_text(project: str, run_id: str, download: bool = Query(False),
                 state: AppState = Depends(app_state)) -> StreamingResponse:
    with state.store.read() as conn:
        r = find_run(conn, state, project, run_id)

    def body() -> Iterator[bytes]:
        with state.store.read() as conn:
            for text in console.iter_text(conn, r.pk):
                yield text.encode()

    headers = {"X-Content-Type-Options": "nosniff"}
    if download:
        headers["Content-Disposition"] = attachment(f"{run_id}-output.log")
    return StreamingResponse(body(), media_type="text/plain; charset=utf-8", headers=headers)
