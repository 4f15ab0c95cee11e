"""Fast JSON responses (msgspec). NaN and ±Inf in chart arrays encode as ``null``,
which uPlot draws as a gap; user values keep them tagged (see ``jsonvalue``)."""

from __future__ import annotations

from typing import Any

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
