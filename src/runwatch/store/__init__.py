"""The store: schema, engine, migrations, ``write_batch`` and the read queries.

``store`` imports neither ``sdk`` nor ``server``; both reach it through
:class:`Store`, ``write_batch`` and the query functions in ``read``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.engine import Connection, Engine

from runwatch.records import Batch
from runwatch.store.engine import WRITE_OPTION, create_store_engine, ensure_schema
from runwatch.store.write import write_batch

__all__ = ["Store", "open_store", "write_batch"]


class Store:
    """An opened, migrated store: one engine, short transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def write(self, batch: Batch) -> bool:
        """Apply one batch in its own transaction; False if it was applied before."""
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                return write_batch(conn, batch)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str) -> Store:
    engine = create_store_engine(url)
    ensure_schema(engine)
    return Store(engine)
