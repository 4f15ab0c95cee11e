"""JSON text for user values (config, summary, non-numeric history), exactly round-tripped.

JSON has no NaN or Infinity and PostgreSQL's JSON types reject them, so non-finite
floats travel as ``{"$float": "nan" | "inf" | "-inf"}``. numpy scalars and arrays
become plain numbers and lists. Anything else is an error the caller turns into a
warning.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

_TAG = "$float"
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return {_TAG: "nan"}
    return {_TAG: "inf" if value > 0 else "-inf"}


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """Plain JSON-able structure for ``value``; raises TypeError for what has none."""
    if _depth > 64:
        raise TypeError("value nests deeper than 64 levels (a cycle?)")
    t = type(value)
    if value is None or t is bool or t is str or t is int:
        return value
    if t is float:
        return _float(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                k = str(k)
            out[k] = to_jsonable(v, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, _depth + 1) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, str):
        return str(value)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars, torch tensors
    if tolist is not None and callable(tolist):
        if hasattr(value, "detach"):
            value = value.detach().cpu()
            tolist = value.tolist
        return to_jsonable(tolist(), _depth + 1)
    raise TypeError(f"{t.__module__}.{t.__qualname__} is not a JSON value")


def from_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _TAG in value:
            return _NONFINITE[value[_TAG]]
        return {k: from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """JSON text for ``value``; raises TypeError if it has none."""
    try:
        return _encode(to_jsonable(value)).decode()
    except (msgspec.EncodeError, UnicodeEncodeError, OverflowError) as exc:
        raise TypeError(str(exc)) from None


def loads(text: str) -> Any:
    return from_jsonable(_decode(text))
