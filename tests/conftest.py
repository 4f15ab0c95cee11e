"""Shared fixtures: every test gets its own real store folder (a real SQLite file)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import runwatch


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
