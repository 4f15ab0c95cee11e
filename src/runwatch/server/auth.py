"""API keys on the wire: who may call the API, and the UI's sign-in cookie.

With auth on, every ``/api/v1`` call needs an active key, sent as
``Authorization: Bearer <key>`` (clients, curl) or in the ``runwatch_key``
cookie that ``POST /api/v1/session`` sets (the browser: the cookie also reaches
``<img>`` tags and the event stream, which cannot send headers). A read-only key
may only read. The page and its static files load without a key so the UI can
ask for one; the OpenAPI schema is public because it describes, not reveals.

Checks are cached for a few seconds per process, so a request costs a dict
lookup; a revoked key stops working within :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import time
from http.cookies import SimpleCookie

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from runwatch.server.errors import ApiError, error_response
from runwatch.server.state import app_state
from runwatch.store import Store
from runwatch.store import keys as store_keys

COOKIE = "runwatch_key"
CACHE_SECONDS = 5.0
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PUBLIC = frozenset({"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/session",
                     "/api/v1/docs/oauth2-redirect"})

router = APIRouter(tags=["auth"])


class KeyCache:
    """Key -> (KeyInfo or None, when the answer expires), bounded."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._seen: dict[str, tuple[store_keys.KeyInfo | None, float]] = {}

    def cached(self, key: str) -> tuple[bool, store_keys.KeyInfo | None]:
        """(True, the answer) when a fresh answer for ``key`` is cached, else (False, None)."""
        hit = self._seen.get(key)
        if hit is not None and hit[1] > time.monotonic():
            return True, hit[0]
        return False, None

    def lookup(self, key: str) -> store_keys.KeyInfo | None:
        known, info = self.cached(key)
        if known:
            return info
        now = time.monotonic()
        with self.store.read() as conn:
            info = store_keys.check(conn, key)
        if len(self._seen) > 10_000:
            self._seen.clear()  # a flood of made-up keys cannot grow memory
        self._seen[key] = (info, now + CACHE_SECONDS)
        return info

    def forget(self) -> None:
        self._seen.clear()


def _key_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie is no key
                continue
            if COOKIE in cookie:
                return cookie[COOKIE].value
    return None


def _unauthorized(message: str) -> JSONResponse:
    return error_response(401, "unauthorized", message,
                          headers={"WWW-Authenticate": 'Bearer realm="runwatch"'})


class RequireKey:
    """ASGI middleware: the API answers only callers with an active key."""

    def __init__(self, app: ASGIApp, cache: KeyCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/") \
                or scope["path"] in _PUBLIC:
            await self.app(scope, receive, send)
            return
        key = _key_of(scope)
        if key is None:
            response = _unauthorized(
                "This server needs an API key. Send it as 'Authorization: Bearer <key>', or "
                "set RUNWATCH_API_KEY (or run `runwatch login URL`). An admin creates keys "
                "with `runwatch keys create NAME` on the server.")
        else:
            info = None
            if _looks_like_key(key):
                known, info = self.cache.cached(key)
                if not known:  # a database read: off the event loop
                    info = await run_in_threadpool(self.cache.lookup, key)
            if info is None:
                response = _unauthorized(
                    f"The API key {key[:10]!r}... is not valid (unknown or revoked). Ask the "
                    "server's admin for a new one (`runwatch keys create NAME`).")
            elif info.read_only and scope["method"] not in _READ_METHODS:
                response = error_response(
                    403, "read_only_key",
                    f"The key {info.name!r} is read-only; {scope['method']} "
                    f"{scope['path']!r} needs a key that may write.")
            else:
                scope.setdefault("state", {})["key"] = info
                await self.app(scope, receive, send)
                return
        await response(scope, receive, send)


def _looks_like_key(key: str) -> bool:
    return key.startswith(store_keys.PREFIX) and len(key) <= 128


class SessionIn(BaseModel):
    key: str


@router.post("/session", summary="Sign the browser in with an API key (sets a cookie)")
async def sign_in(body: SessionIn, request: Request) -> Response:
    state = app_state(request)
    if state.keys is None:
        return JSONResponse({"name": None, "read_only": False, "auth": False})
    key = body.key.strip()
    info = await run_in_threadpool(state.keys.lookup, key) if _looks_like_key(key) else None
    if info is None:
        raise ApiError(401, "That API key is not valid (unknown or revoked). Check it, or ask "
                       "the server's admin for a new one.", code="unauthorized")
    response = JSONResponse({"name": info.name, "read_only": info.read_only, "auth": True})
    response.set_cookie(COOKIE, key, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=400 * 24 * 3600)
    return response


@router.delete("/session", summary="Sign the browser out (clears the cookie)")
async def sign_out() -> Response:
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE)
    return response


@router.get("/server", summary="This server: its version, whether keys are required, and "
            "which key the caller used")
async def server_info(request: Request) -> JSONResponse:
    from runwatch import __version__

    state = app_state(request)
    info = request.scope.get("state", {}).get("key")
    return JSONResponse({
        "version": __version__, "auth": state.keys is not None,
        "key": None if info is None else {"name": info.name, "read_only": info.read_only}})
