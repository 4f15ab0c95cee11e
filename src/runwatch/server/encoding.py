"""Fast JSON responses (msgspec). NaN and ±Inf in chart arrays encode as ``null``,
which uPlot draws as a gap; user values keep them tagged (see ``jsonvalue``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from starlette.responses import Response

_encode = msgspec.json.Encoder().encode


class FastJSON(Response):
    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(content, status_code,
                         {"X-Content-Type-Options": "nosniff", **(headers or {})})

    def render(self, content: Any) -> bytes:
        return _encode(content)


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` that saves as ``filename`` whatever it holds (run ids may
    be non-ASCII or hold quotes): an ASCII ``filename`` for old clients and the exact name
    as RFC 5987 ``filename*``. Headers are latin-1, so the raw name can never go in."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
