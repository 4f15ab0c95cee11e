"""``create_app(settings)``: the one ASGI app behind ``runwatch server`` and ``runwatch ui``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from runwatch import __version__
from runwatch.server import (
    alerts,
    artifacts,
    auth,
    blobs,
    console,
    errors,
    events,
    files,
    history,
    ingest,
    media,
    projects,
    runs,
    series,
    uploads,
)
from runwatch.server.serve import is_loopback
from runwatch.server.state import AppState
from runwatch.settings import Settings
from runwatch.store import Store, open_store

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

# The UI loads only its own files and talks only to this server: a string that slips
# through as markup still cannot run a script.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


class _GZipUnlessLocal:
    """Compress responses for remote clients only: over loopback, compressing a chart's
    JSON costs more time than sending it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=2048, compresslevel=5)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and is_loopback(client[0]):
            await self.app(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)


def _warm_up(state: AppState) -> None:
    """Run the chart path once on nothing before the first request: the first real chart
    then does not pay for compiling its queries and first-touching numpy's code."""
    import numpy as np

    from runwatch.store import read
    from runwatch.store import series as ser

    with state.store.read() as conn:
        read.key_ids(conn, "", ["-"], ["-"])
        read.project_keys(conn, "")
        ser.load(conn, -1, None, 0, 1, with_times=False)
        ser.load(conn, -1, None)
    xy = ser.XY(np.arange(10_000), np.linspace(0.0, 1.0, 10_000), np.arange(10_000))
    ser.round_significant(ser.downsample(xy, 100, 0, 9_999).y, 7).tolist()
    # ... and the write path a logging client takes.
    state.store.warm_up()


def create_app(settings: Settings, store: Store | None = None, *,
               require_keys: bool = False) -> FastAPI:
    """The API under ``/api/v1`` and the web UI, over the store ``settings`` names (or
    ``store``, already open); with ``require_keys`` every API call needs an API key."""
    owned = store is None
    state = AppState(settings=settings,
                     store=store if store is not None else open_store(
                         settings.store_url, Path(settings.dir) / "blobs"))
    if require_keys:
        state.keys = auth.KeyCache(state.store)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_warm_up, state)
        yield
        state.stopping.set()
        if owned:
            state.store.close()

    app = FastAPI(
        title="runwatch", version=__version__, lifespan=lifespan,
        description="Read runs, metrics and live updates from a runwatch store.",
        openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs", redoc_url=None,
    )
    app.state.runwatch = state
    errors.install(app)
    app.add_middleware(_GZipUnlessLocal)
    if state.keys is not None:
        app.add_middleware(auth.RequireKey, cache=state.keys)

    api = APIRouter(prefix="/api/v1")
    for module in (projects, runs, series, media, files, blobs, artifacts, alerts, console,
                   events, history, ingest, uploads, auth):
        api.include_router(module.router)
    app.include_router(api)

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    index = WEB_DIR / "index.html"

    async def page(request: Request) -> Response:
        return FileResponse(index, headers={"Content-Security-Policy": CSP,
                                            "Cache-Control": "no-cache",
                                            "X-Content-Type-Options": "nosniff"})

    # The single-page app owns these paths; the browser's history API moves between them.
    for path in ("/", "/p/{rest:path}"):
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    return app
