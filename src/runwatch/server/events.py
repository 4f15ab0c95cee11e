"""``/api/v1/events``: Server-Sent Events for live dashboards.

The stream looks at the store every ``poll_interval`` seconds and sends only what
changed: with ``project``, the runs whose seq or state moved (``event: runs``);
without, the project list when it changed (``event: projects``). A run that dies
without a word turns ``crashed`` here too, because its state is re-derived on each
look. ``event: ready`` follows the first look and carries each run's ``[seq, state]`` as
that look saw them: a page that loaded its runs in parallel compares, and reloads
only if it missed a change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from runwatch.server import views
from runwatch.server.errors import not_found
from runwatch.server.state import AppState, app_state
from runwatch.store import read

router = APIRouter(tags=["live"])

_encode = msgspec.json.Encoder().encode
KEEPALIVE_SECONDS = 15.0


def _message(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + _encode(data) + b"\n\n"


class _ProjectWatch:
    def __init__(self, state: AppState, project: str) -> None:
        self.state, self.project = state, project
        self.seen: dict[int, tuple[int, str]] | None = None
        # What the first look saw, by run id: sent with "ready", so a page that loaded
        # its runs before the stream opened can tell whether it missed a change.
        self.baseline: dict[str, tuple[int, str]] = {}

    def look(self) -> list[dict[str, Any]]:
        with self.state.store.read() as conn:
            pulses = read.run_pulses(conn, self.project, self.state.settings.heartbeat_timeout)
            first = self.seen is None
            seen = self.seen or {}
            changed = [p.run_id for p in pulses if seen.get(p.pk) != (p.last_seq, p.state)]
            self.seen = {p.pk: (p.last_seq, p.state) for p in pulses}
            if first:
                self.baseline = {p.run_id: (p.last_seq, p.state) for p in pulses}
            if first or not changed:
                return []
            records = read.runs_by_ids(conn, self.project, changed,
                                       self.state.settings.heartbeat_timeout)
        return [views.run(r) for r in records]


class _ProjectsWatch:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.seen: list[Any] | None = None

    def look(self) -> list[dict[str, Any]]:
        with self.state.store.read() as conn:
            found = [views.project(p)
                     for p in read.list_projects(conn, self.state.settings.heartbeat_timeout)]
        first = self.seen is None
        if found == self.seen:
            return []
        self.seen = found
        return [] if first else found


@router.get("/events", summary="Live updates (text/event-stream)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "event: ready | runs | projects, data: JSON"}})
async def events(request: Request,
                 project: str | None = Query(None, description="Watch this project's runs."),
                 state: AppState = Depends(app_state)) -> StreamingResponse:
    if project is not None:
        def exists() -> bool:
            with state.store.read() as conn:
                return read.project_exists(conn, project)

        if not await run_in_threadpool(exists):
            raise not_found("project", project, "GET /api/v1/projects lists the projects.")
        watch: Any = _ProjectWatch(state, project)
        kind = "runs"
    else:
        watch = _ProjectsWatch(state)
        kind = "projects"

    async def stream() -> AsyncIterator[bytes]:
        await run_in_threadpool(watch.look)
        ready: dict[str, Any] = {"poll_interval": state.poll_interval}
        if project is not None:
            ready["runs"] = watch.baseline
        yield _message("ready", ready)
        quiet = 0.0
        while not state.stopping.is_set():
            try:
                await asyncio.wait_for(state.stopping.wait(), state.poll_interval)
                break
            except asyncio.TimeoutError:
                pass
            if await request.is_disconnected():
                break
            changed = await run_in_threadpool(watch.look)
            if changed:
                quiet = 0.0
                yield _message(kind, {kind: changed})
            else:
                quiet += state.poll_interval
                if quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    yield b": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
