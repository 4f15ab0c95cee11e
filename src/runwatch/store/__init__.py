"""The store: schema, engine, migrations, ``write_batch`` and the read queries.

``store`` imports neither ``sdk`` nor ``server``; both reach it through
:class:`Store`, ``write_batch`` and the query functions in ``read``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError

from runwatch.errors import StoreError
from runwatch.records import Batch
from runwatch.store.blobs import BlobStore, open_blob_store
from runwatch.store.engine import WRITE_OPTION, create_store_engine, ensure_schema, sqlite_path
from runwatch.store.write import skip_batch, write_batch

__all__ = ["Store", "open_store", "write_batch"]


class Store:
    """An opened, migrated store: one engine, short transactions."""

    def __init__(self, engine: Engine, blobs: BlobStore | None = None) -> None:
        self.engine = engine
        self.blobs = blobs
        # SQLite takes one writer at a time: threads of this process (a server's) queue
        # here, woken the moment it is free, instead of in SQLite's busy handler, which
        # polls with sleeps of up to 100 ms. PostgreSQL locks per run and needs no queue.
        self._write_lock: Any = (threading.Lock() if engine.dialect.name == "sqlite"
                                 else contextlib.nullcontext())

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def write(self, batch: Batch, problems: list[str] | None = None) -> bool:
        """Apply one batch in its own transaction; False if it was applied before.
        Records the store refused are described in ``problems`` (see write_batch); a
        value the database cannot hold fails the batch with :class:`StoreError`."""
        try:
            with self._write_lock, self.engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    return write_batch(conn, batch, self.blobs, problems)
        except (DataError, OverflowError) as exc:  # the sender's data, not the store
            orig = getattr(exc, "orig", None)
            reason = str(orig if orig is not None else exc).strip().splitlines()[0]
            message = (f"The store cannot hold batch {batch.seq} of run "
                       f"{batch.project}/{batch.run_id}: {reason}.")
        # Resending it would fail forever and hold up the run's later batches: count it as
        # done instead and say so (the sender keeps warning with this message).
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                skipped = skip_batch(conn, batch)
        if not skipped:
            raise StoreError(message)
        if problems is not None:
            problems.append(message + " It was skipped; the run's later batches were kept.")
        return False

    def warm_up(self, connections: int = 8) -> None:
        """Get ready for a burst of writers: open ``connections`` to PostgreSQL now (each
        one forks a server process, tens of milliseconds a client would otherwise wait
        for), and run the write path once in a transaction that is rolled back, so the
        first real batches do not pay for compiling its statements."""
        import time

        from runwatch.records import Batch, RunStart, Series, ValueSeries

        if self.engine.dialect.name == "postgresql":
            opened = [self.engine.connect() for _ in range(connections)]
            for conn in opened:
                conn.exec_driver_sql("SELECT 1")
                conn.close()
        now = time.time()
        batch = Batch(project="-warm-up-", run_id="-", seq=0, sent_at=now,
                      start=RunStart(name="-", created_at=now), config={"a": "1"},
                      summary={"a": "1"},
                      series=[Series(k, [0, 1], [now, now], [0.5, 1.5]) for k in ("a", "b")],
                      values=[ValueSeries("c", [0], [now], ['"x"'])])
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            trans = conn.begin()
            try:
                write_batch(conn, batch, None, [])
                batch.seq, batch.start = 1, None
                write_batch(conn, batch, None, [])  # appends to an open chunk
            finally:
                trans.rollback()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction that sees one snapshot of the store throughout (SQLite's
        are; PostgreSQL's default would let each query see the latest commits, so a reader
        could meet a chunk rewritten between two of its queries)."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ",
                                       postgresql_readonly=True)
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, blob_dir: str | os.PathLike[str] | BlobStore | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``url``; blobs live at
    ``blob_dir``: a folder, an object-storage URL such as ``s3://bucket/prefix`` (see
    :func:`runwatch.store.blobs.open_blob_store`) or an opened BlobStore (default:
    ``blobs/`` beside a SQLite file)."""
    engine = create_store_engine(url)
    ensure_schema(engine)
    if blob_dir is None:
        path = sqlite_path(engine.url)
        blob_dir = path.parent / "blobs" if path is not None else None
    try:
        blobs = open_blob_store(blob_dir) if blob_dir is not None else None
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, blobs)
