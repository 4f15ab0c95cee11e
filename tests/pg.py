"""A throwaway PostgreSQL server for the tests: one cluster per pytest session, a fresh
database per test (or per module, for stores built once and only read).

The cluster lives in a private folder under the system's temporary directory, listens on
a free port of 127.0.0.1 with ``trust`` authentication, and runs with ``fsync=off``: its
data is thrown away with it. PostgreSQL refuses to run as root, so when the tests run as
root (CI containers) ``initdb``, ``pg_ctl`` and the server run as ``nobody``.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

INSTALL_HINT = ("PostgreSQL's server binaries (initdb, pg_ctl, postgres) were not found: "
                "install them with `apt-get install -y postgresql` (the tests start their own "
                "server; none needs to be running), or set RUNWATCH_TEST_NO_POSTGRES=1 to skip "
                "the PostgreSQL half of the store tests.")
DRIVER_HINT = ("The PostgreSQL driver psycopg is not installed: "
               "`pip install -e '.[postgres]'` (or set RUNWATCH_TEST_NO_POSTGRES=1 to skip "
               "the PostgreSQL half of the store tests).")
NO_POSTGRES_ENV = "RUNWATCH_TEST_NO_POSTGRES"
NOBODY = 65534  # uid and gid the cluster runs as when the tests run as root


def postgres_disabled() -> bool:
    return os.environ.get(NO_POSTGRES_ENV, "") not in ("", "0")


def find_bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: ``pg_config --bindir``, else the newest
    ``/usr/lib/postgresql/*/bin`` (Debian and Ubuntu keep them off the PATH)."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                             timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))

    def version(path: str) -> tuple[int, ...]:
        found = re.search(r"/postgresql/([\d.]+)/", path)
        return tuple(int(p) for p in found.group(1).split(".") if p) if found else (0,)

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                           key=version, reverse=True)]
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).parent)  # type: ignore[arg-type]
    for c in candidates:
        if (c / "initdb").is_file() and (c / "pg_ctl").is_file() and (c / "postgres").is_file():
            return c
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresError(RuntimeError):
    pass


class PostgresCluster:
    """``initdb`` + ``pg_ctl start`` in a folder of its own; :meth:`stop` removes it all."""

    USER = "postgres"

    def __init__(self, bindir: Path, durable: bool = False) -> None:
        self.bindir = bindir
        # Benchmarks want a real server's durability (fsync, synchronous commit); tests do not.
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="runwatch-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "postgres.log"
        self.port = 0
        self._as_nobody = os.geteuid() == 0
        self._names = itertools.count()
        self._lock = threading.Lock()
        self._admin = None  # a psycopg connection to the "postgres" database, autocommit
        self._reaper: subprocess.Popen[bytes] | None = None

    # -- running the binaries ------------------------------------------------------------

    def _as_user(self) -> dict[str, Any]:
        """Popen's arguments that run a binary as ``nobody`` when the tests run as root
        (set by Popen itself between fork and exec: safe with threads, unlike preexec_fn)."""
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []} if self._as_nobody else {}

    def _run(self, *args: str, timeout: float = 120) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C.UTF-8" if _has_c_utf8() else "C", TZ="UTC")
        proc = subprocess.run([str(self.bindir / args[0]), *args[1:]], cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=timeout,
                              **self._as_user())
        if proc.returncode != 0:
            raise PostgresError(f"{args[0]} failed ({proc.returncode}):\n{proc.stdout}\n"
                                f"{proc.stderr}\n{self.log_tail()}")
        return proc.stdout

    def log_tail(self, chars: int = 4000) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "--- postgres.log\n" + text[-chars:]

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        self.sockets.mkdir()
        if self._as_nobody:
            for path in (self.root, self.sockets):
                os.chown(path, NOBODY, NOBODY)
        locale = "C.UTF-8" if _has_c_utf8() else "C"
        self._run("initdb", "-D", str(self.data), "-U", self.USER, "--auth=trust",
                  "--encoding=UTF8", f"--locale={locale}", "--no-sync", "--no-instructions")
        for attempt in range(5):
            self.port = _free_port()
            fast = ("" if self.durable else
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off ")
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                       f"-c unix_socket_directories={self.sockets} {fast}"
                       "-c max_connections=200 -c shared_buffers=128MB")
            try:
                self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                          "-t", "60", "-o", options)
                break
            except PostgresError:
                # Another process may have taken the port between the probe and the start.
                if attempt == 4 or "could not bind" not in self.log_tail():
                    raise
        self._start_reaper()
        self._connect_admin()

    def _start_reaper(self) -> None:
        """A watcher that stops the cluster and removes its folder once this process is
        gone, should it die without running :meth:`stop` (killed, or a hard crash)."""
        script = ('while [ -d "/proc/$0" ]; do sleep 2; done; '
                  '"$1/pg_ctl" stop -D "$2" -m immediate >/dev/null 2>&1; rm -rf "$3"')
        self._reaper = subprocess.Popen(
            ["sh", "-c", script, str(os.getpid()), str(self.bindir), str(self.data),
             str(self.root)],
            cwd=self.root, start_new_session=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **self._as_user())

    def _connect_admin(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                self._admin = psycopg.connect(host="127.0.0.1", port=self.port, user=self.USER,
                                              dbname="postgres", autocommit=True)
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.kill()
            self._reaper.wait(10)
            self._reaper = None
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- databases -------------------------------------------------------------------------

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, prefix: str = "t") -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        with self._lock:
            name = f"{prefix}_{next(self._names)}"
            assert self._admin is not None, "the cluster is not running"
            self._admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url``, ending any connection a test left open."""
        name = url.rsplit("/", 1)[1]
        with self._lock:
            assert self._admin is not None, "the cluster is not running"
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_C_UTF8: list[bool] = []


def _has_c_utf8() -> bool:
    """Whether the C library knows the C.UTF-8 locale (case folding beyond ASCII)."""
    if not _C_UTF8:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True) \
            if shutil.which("locale") else None
        names = {n.lower().replace("-", "") for n in out.stdout.split()} if out else set()
        _C_UTF8.append("c.utf8" in names)
    return _C_UTF8[0]


def copy_store(source_url: str, target_url: str) -> None:
    """Every row of the store at ``source_url`` into the empty store at ``target_url``
    (migrated here), keys and all, then PostgreSQL's id sequences moved past the copied
    ids: the same store on another database, for read tests of stores the SDK logged."""
    import sqlalchemy as sa

    from runwatch.store import open_store
    from runwatch.store.schema import metadata

    source, target = open_store(source_url), open_store(target_url)
    try:
        with source.engine.connect() as src, target.engine.begin() as dst:
            for table in metadata.sorted_tables:
                rows = [dict(r._mapping) for r in src.execute(sa.select(table))]
                for i in range(0, len(rows), 1000):
                    dst.execute(sa.insert(table), rows[i:i + 1000])
                if dst.dialect.name != "postgresql":
                    continue
                for column in table.primary_key.columns:
                    if column.autoincrement is True and isinstance(column.type, sa.Integer):
                        dst.execute(sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                            f"'{column.name}'), COALESCE(MAX({column.name}), 0) + 1, false) "
                            f"FROM {table.name}"))
    finally:
        source.close()
        target.close()


def new_store_url(request: Any, backend: str, folder: Path) -> str:
    """A URL of a new, empty store on ``backend``: a SQLite file in ``folder``, else a fresh
    database on the session's PostgreSQL server (the ``postgres`` fixture), dropped when
    the scope of ``request`` (a pytest FixtureRequest) ends."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'runwatch.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    url = cluster.create_database()
    request.addfinalizer(lambda: cluster.drop_database(url))
    return url
