"""Fast JSON responses (msgspec). NaN and ±Inf in chart arrays encode as ``null``,
which uPlot draws as a gap; user values keep them tagged (see ``jsonvalue``)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

_encode = msgspec.json.Encoder().encode


class FastJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode(content)
