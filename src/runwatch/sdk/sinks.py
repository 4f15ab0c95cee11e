"""Where the writer's batches go. Local: straight into the embedded store."""

from __future__ import annotations

from typing import Protocol

from runwatch.records import Batch


class Sink(Protocol):
    description: str

    def open(self) -> None: ...

    def apply(self, batch: Batch) -> list[str]: ...

    def close(self) -> None: ...


class LocalSink:
    """Applies batches to a store opened on first use (so ``init()`` never waits for
    SQLAlchemy to import or for migrations to run)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.description = f"the store at {url.removeprefix('sqlite:///')}"
        self._store = None

    def open(self) -> None:
        self._open()

    def _open(self):  # noqa: ANN202 - Store is imported lazily
        if self._store is None:
            from runwatch.store import open_store

            self._store = open_store(self.url)
        return self._store

    def apply(self, batch: Batch) -> list[str]:
        """Write ``batch``; returns what the store refused (usually nothing)."""
        problems: list[str] = []
        self._open().write(batch, problems)
        return problems

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
