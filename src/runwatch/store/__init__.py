"""The store: schema, engine, migrations, ``write_batch`` and the read queries.

``store`` imports neither ``sdk`` nor ``server``; both reach it through
:class:`Store`, ``write_batch`` and the query functions in ``read``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from sqlalchemy.engine import Connection, Engine

from runwatch.records import Batch
from runwatch.store.blobs import BlobStore
from runwatch.store.engine import WRITE_OPTION, create_store_engine, ensure_schema, sqlite_path
from runwatch.store.write import write_batch

__all__ = ["Store", "open_store", "write_batch"]


class Store:
    """An opened, migrated store: one engine, short transactions."""

    def __init__(self, engine: Engine, blobs: BlobStore | None = None) -> None:
        self.engine = engine
        self.blobs = blobs

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def write(self, batch: Batch, problems: list[str] | None = None) -> bool:
        """Apply one batch in its own transaction; False if it was applied before.
        Records the store refused are described in ``problems`` (see write_batch)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                return write_batch(conn, batch, self.blobs, problems)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, blob_dir: str | os.PathLike[str] | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``url``; blobs live in
    ``blob_dir`` (default: ``blobs/`` beside a SQLite file)."""
    engine = create_store_engine(url)
    ensure_schema(engine)
    if blob_dir is None:
        path = sqlite_path(engine.url)
        blob_dir = path.parent / "blobs" if path is not None else None
    return Store(engine, BlobStore(blob_dir) if blob_dir is not None else None)
