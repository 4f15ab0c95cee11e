"""One JSON error shape for every failure: ``{"error": {"status", "code", "message"}}``.

Clients (the web UI, ``runwatch.Api`` over HTTP, curl users) branch on ``code`` and
show ``message``, which says what was wrong, with the offending value, and what to do.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("runwatch.server")

_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
          422: "invalid_parameter", 500: "internal_error", 503: "unavailable"}


class ApiError(Exception):
    """An error the API reports as it is: status, a stable code, a helpful message."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message


def not_found(what: str, name: str, hint: str) -> ApiError:
    return ApiError(404, f"No {what} named {name!r}. {hint}")


def error_response(status: int, code: str, message: str, detail: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse({"error": body}, status_code=status,
                        headers={"X-Content-Type-Options": "nosniff", **(headers or {})})


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        path = request.url.path
        if status == 404:
            message = f"Nothing at {path!r}. The API lives under /api/v1 (see /api/v1/docs)."
        elif status == 405:
            allowed = (exc.headers or {}).get("Allow", "GET")
            message = f"{request.method} is not allowed on {path!r}; use {allowed}."
        return error_response(status, _CODES.get(status, "error"), message,
                              headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()))
            problems.append({"parameter": where, "problem": e.get("msg", ""),
                             "value": _short(e.get("input"))})
        first = problems[0] if problems else {"parameter": "?", "problem": "invalid"}
        message = (f"Parameter {first['parameter']!r}: {first['problem']} "
                   f"(got {first.get('value')!r}).")
        return error_response(422, "invalid_parameter", message, problems)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("error serving %s", request.url.path)
        return error_response(500, "internal_error",
                              f"The server failed on {request.url.path}: "
                              f"{type(exc).__name__}: {exc}. The server log has the traceback.")


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "..."
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return _short(repr(value))
