"""What every logged rich value (Image, Histogram, Table, chart) has in common.

A rich value becomes an :class:`Encoded`: a JSON-able ``meta`` dict that is stored
as the history value at its step (``meta["_type"]`` names the kind), plus the
``blobs`` its meta refers to by sha256 (PNG bytes, a table's columnar file). The
writer thread stores blobs content-addressed, so identical content is kept once.
Reading back, :func:`decode` turns a meta into the same type again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

ReadBlob = Callable[[str], bytes]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Encoded:
    meta: dict[str, Any]
    blobs: dict[str, bytes] = field(default_factory=dict)


class Media:
    """Base of the rich value types. Subclasses set ``TYPE`` and implement both sides."""

    TYPE: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Media]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Only a class that names its own TYPE; a user's subclass must not take it over.
        if cls.__dict__.get("TYPE"):
            Media._registry[cls.TYPE] = cls

    def encode(self) -> Encoded:
        """The stored form. Called on the writer thread, never inside ``log()``."""
        raise NotImplementedError

    @classmethod
    def decode(cls, meta: dict[str, Any], read_blob: ReadBlob) -> Media:
        """The value again, from its meta and the blob store."""
        raise NotImplementedError


def is_media_meta(value: Any) -> bool:
    _load_types()
    return isinstance(value, dict) and isinstance(value.get("_type"), str) \
        and value["_type"] in Media._registry


def _load_types() -> None:
    # Each type registers itself when its module is imported.
    from runwatch.data import histogram, image, plot, table  # noqa: F401


def decode(meta: dict[str, Any], read_blob: ReadBlob) -> Any:
    """A stored meta back as its type (lists of media come back as lists)."""
    _load_types()
    if meta.get("_type") == "media-list":
        return [decode(item, read_blob) for item in meta["items"]]
    cls = Media._registry.get(meta.get("_type", ""))
    if cls is None:
        return meta
    return cls.decode(meta, read_blob)
