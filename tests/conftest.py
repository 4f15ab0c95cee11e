"""Shared fixtures: every test gets its own real store folder (a real SQLite file), and
tests of the store itself run on SQLite and on a real PostgreSQL server (``store_url``)
that the session starts (tests/pg.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import runwatch
from tests import pg

# The store's two databases. The PostgreSQL half is marked, so `-m "not postgres"` leaves
# it out; RUNWATCH_TEST_NO_POSTGRES=1 skips it; without PostgreSQL it fails (tests/pg.py).
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: runs on the PostgreSQL server the test session starts")


@pytest.fixture(autouse=True)
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh RUNWATCH_DIR per test; runwatch quiet and fast-flushing."""
    d = tmp_path / "store"
    monkeypatch.setenv("RUNWATCH_DIR", str(d))
    monkeypatch.setenv("RUNWATCH_SILENT", "1")
    monkeypatch.setenv("RUNWATCH_FLUSH_INTERVAL", "0.1")
    # No system metrics unless a test asks for them: charts and keys stay as logged.
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", "0")
    # Nor console capture: pytest owns the console (tests/integration/test_console.py
    # turns it on in child processes).
    monkeypatch.setenv("RUNWATCH_CONSOLE", "off")
    monkeypatch.delenv("RUNWATCH_MODE", raising=False)
    # Never the developer's own server: no RUNWATCH_URL, and no `runwatch login` file.
    for name in ("RUNWATCH_URL", "RUNWATCH_API_KEY", "RUNWATCH_STORE", "RUNWATCH_BLOBS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RUNWATCH_STRICT", raising=False)
    yield d
    # No run may leak into the next test.
    if runwatch.run is not None:
        runwatch.run.finish(quiet=True)


@pytest.fixture
def api(store_dir: Path) -> runwatch.Api:
    a = runwatch.Api(dir=store_dir)
    yield a
    a.close()


def run_python(code: str, env_extra: dict[str, str] | None = None, timeout: float = 120,
               check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with this test's environment."""
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


# -- the store on SQLite and on PostgreSQL ------------------------------------------------

@pytest.fixture(scope="session")
def postgres() -> Iterator[pg.PostgresCluster]:
    """One PostgreSQL cluster for the whole session, started on first use."""
    if pg.postgres_disabled():
        pytest.skip(f"{pg.NO_POSTGRES_ENV}=1: the PostgreSQL half of the store tests is off")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail(pg.DRIVER_HINT, pytrace=False)
    bindir = pg.find_bindir()
    if bindir is None:
        pytest.fail(pg.INSTALL_HINT, pytrace=False)
    cluster = pg.PostgresCluster(bindir)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty store for this test: ``sqlite:///<tmp>/runwatch.db``, then a database
    of its own on the session's PostgreSQL server."""
    return pg.new_store_url(request, request.param, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend(request: pytest.FixtureRequest) -> str:
    """The backend of the stores a module builds once and shares between its tests."""
    return request.param
