"""``run.summary``: a dict-like view of the run's summary.

Reads fold whatever ``log()`` queued into the summary first, so a value logged
a moment ago is already there; assignments win over logged values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runwatch.sdk.metrics import SummaryTracker
    from runwatch.sdk.writer import Writer


class Summary:
    def __init__(self, tracker: SummaryTracker, writer: Writer | None) -> None:
        object.__setattr__(self, "_tracker", tracker)
        object.__setattr__(self, "_writer", writer)

    def _sync(self) -> None:
        if self._writer is not None:
            self._writer.sync_summary()

    def __getitem__(self, key: str) -> Any:
        self._sync()
        return self._tracker.value(key)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def get(self, key: str, default: Any = None) -> Any:
        self._sync()
        return self._tracker.value(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            key = str(key)
        self._apply(lambda: self._tracker.set_explicit(key, value))

    __setattr__ = __setitem__

    def __delitem__(self, key: str) -> None:
        self._sync()
        if self._tracker.value(key, _ABSENT) is _ABSENT:
            raise KeyError(key)
        self._apply(lambda: self._tracker.delete(key))

    def _apply(self, change: Any) -> None:
        if self._writer is None:
            change()
            return
        with self._writer.lock:
            self._writer.drain()
            self._writer.batcher.fold_summary()
            change()

    def update(self, d: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        for key, value in {**(d or {}), **kwargs}.items():
            self[key] = value

    def keys(self) -> list[str]:
        self._sync()
        return self._tracker.keys()

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self._tracker.value(k)) for k in self.keys()]

    def values(self) -> list[Any]:
        return [v for _k, v in self.items()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _ABSENT) is not _ABSENT

    def as_dict(self) -> dict[str, Any]:
        return dict(self.items())

    def __repr__(self) -> str:
        return f"Summary({self.as_dict()!r})"


_ABSENT = object()
