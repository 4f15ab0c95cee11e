"""Helpers shared by the integration tests: child processes and store reads."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import runwatch

RESERVED = ("_step", "_runtime", "_timestamp")


def child_env(env_extra: dict[str, str] | None = None,
              drop: Iterable[str] = ()) -> dict[str, str]:
    """This test's environment (RUNWATCH_DIR etc.), changed by ``env_extra`` and ``drop``."""
    env = dict(os.environ)
    for name in drop:
        env.pop(name, None)
    env.update(env_extra or {})
    return env


def spawn(code: str, *args: str, env_extra: dict[str, str] | None = None,
          drop: Iterable[str] = (), text: bool = True,
          stdout: Any = subprocess.PIPE, stderr: Any = subprocess.PIPE) -> subprocess.Popen:
    """Start ``code`` in a fresh interpreter (``sys.argv[1:] == args``) without waiting."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            env=child_env(env_extra, drop), stdout=stdout, stderr=stderr,
                            text=text)


def user_items(row: dict[str, Any]) -> dict[str, Any]:
    """A history row without runwatch's own columns."""
    return {k: v for k, v in row.items() if k not in RESERVED}


def stored_run(store: Path, path: str) -> Any:
    """A fresh read of one run (its own Api, closed again)."""
    with runwatch.Api(dir=store) as api:
        return api.run(path)


def scan(store: Path, path: str) -> list[dict[str, Any]]:
    with runwatch.Api(dir=store) as api:
        return list(api.run(path).scan_history())


def count_points(rows: Iterable[dict[str, Any]]) -> int:
    return sum(len(user_items(r)) for r in rows)


@pytest.fixture(autouse=False)
def work_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads to the default ./artifacts folder land in the test's folder."""
    monkeypatch.chdir(tmp_path)


def blob_files(store_dir: Path) -> set[str]:
    """Every file under the blob store (relative paths), temporary ones included."""
    root = store_dir / "blobs"
    if not root.exists():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path
