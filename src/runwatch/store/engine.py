"""Opening a store: the engine, SQLite's pragmas, and migrations on first use.

SQLite runs in WAL mode so readers never block the writer; write transactions
start with ``BEGIN IMMEDIATE`` so that many processes queue on the busy timeout
instead of failing with "database is locked" when a read lock is upgraded.

PostgreSQL (``postgresql://`` URLs, through psycopg 3) gets a bounded connection pool
that checks a connection before handing it out. Its text cannot hold NUL characters,
which SQLite keeps: every NUL in a string sent to PostgreSQL becomes U+FFFD (the
replacement character), in values and in lookups alike, so such a name is stored, and
found again, instead of failing the whole batch.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from runwatch.errors import StoreError

HEAD_REVISION = "0006"
BUSY_TIMEOUT_MS = 120_000
WRITE_OPTION = "runwatch_write"


def sqlite_path(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def create_store_engine(url: str) -> Engine:
    parsed = sa.make_url(url)
    path = sqlite_path(parsed)
    if parsed.get_backend_name() == "sqlite":
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"Cannot create the store folder {str(path.parent)!r}: {exc}. "
                    "Set RUNWATCH_DIR to a writable folder."
                ) from exc
        if path is not None:
            _create_in_wal_mode(path)
        engine = sa.create_engine(
            parsed,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() in ("postgresql", "postgres"):
        return _create_postgres_engine(parsed)
    return sa.create_engine(parsed, pool_pre_ping=True)


# The server answers requests from a thread pool; each holds a connection for one short
# transaction, so a few connections serve many threads and the overflow absorbs bursts.
PG_POOL_SIZE = 8
PG_MAX_OVERFLOW = 16
PG_POOL_TIMEOUT = 30
PG_POOL_RECYCLE = 1800
PG_CONNECT_TIMEOUT = 10


def _create_postgres_engine(url: sa.URL) -> Engine:
    if url.drivername in ("postgresql", "postgres"):
        # No driver named: psycopg 3 (the "postgres" extra), not SQLAlchemy's psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {}
    if url.get_driver_name() in ("psycopg", "psycopg2"):
        connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT, "application_name": "runwatch"}
    try:
        engine = sa.create_engine(
            url, pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW,
            pool_timeout=PG_POOL_TIMEOUT, pool_recycle=PG_POOL_RECYCLE, pool_pre_ping=True,
            connect_args=connect_args)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"A PostgreSQL store needs the {exc.name} driver: pip install 'runwatch[postgres]'."
        ) from None
    _configure_postgresql(engine)
    return engine


NUL, REPLACEMENT = "\x00", "\ufffd"


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and NUL in value:
        return value.replace(NUL, REPLACEMENT)
    return value


def _row_without_nul(row: Any) -> Any:
    if isinstance(row, dict):
        if any(isinstance(v, str) and NUL in v for v in row.values()):
            return {k: _no_nul(v) for k, v in row.items()}
        return row
    if isinstance(row, (list, tuple)):
        if any(isinstance(v, str) and NUL in v for v in row):
            return type(row)(_no_nul(v) for v in row)
        return row
    return row


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _replace_nul(_conn: Connection, _cursor: Any, statement: str, parameters: Any,
                     _context: Any, executemany: bool) -> tuple[str, Any]:
        if not parameters:
            return statement, parameters
        if executemany:
            return statement, [_row_without_nul(row) for row in parameters]
        return statement, _row_without_nul(parameters)


def _casefold(text: object) -> object:
    return text.casefold() if isinstance(text, str) else text


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _set_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        # SQLite's lower() and LIKE fold ASCII only; searches that ignore case use this.
        dbapi_conn.create_function("casefold", 1, _casefold, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _create_in_wal_mode(path: Path) -> None:
    """Put the database in WAL mode once, under the migration lock: converting a new file
    while other connections touch it is where SQLite answers "locked" without waiting."""
    with open(str(path) + ".migrate-lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                _set_wal(conn.cursor())
            finally:
                conn.close()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _set_wal(cur: Any) -> None:
    # Switching a new database to WAL answers "locked" at once, without the busy
    # timeout, while another connection (the writer thread, another process) holds a
    # lock on it; retry for as long as the busy timeout would have waited.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def current_revision(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    path = sqlite_path(engine.url)
    if path is not None:
        with open(str(path) + ".migrate-lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(727274)"))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(727274)"))
                conn.commit()
    else:
        yield


def ensure_schema(engine: Engine) -> None:
    """Bring the store to the head revision; cheap when it is already there."""
    with engine.connect() as conn:
        if current_revision(conn) == HEAD_REVISION:
            return
    with _migration_lock(engine):
        with engine.connect() as conn:
            if current_revision(conn) == HEAD_REVISION:
                return
        upgrade(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def describe(url: str) -> str:
    """The store's location for messages, without a password."""
    parsed = sa.make_url(url)
    return parsed.render_as_string(hide_password=True)


def sqlite_file_size(engine: Engine) -> int:
    path = sqlite_path(engine.url)
    if path is None:
        return 0
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            total += os.path.getsize(str(path) + suffix)
    return total
