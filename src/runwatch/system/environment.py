"""The run's environment, captured once at init: cheap facts only (no subprocesses)."""

from __future__ import annotations

import os
import platform
import socket
import sys
from typing import Any

HOST = socket.gethostname()


def basic_metadata() -> dict[str, Any]:
    return {
        "host": HOST,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "executable": sys.executable,
        "program": sys.argv[0] if sys.argv else "",
        "args": sys.argv[1:],
        "cwd": os.getcwd(),
        "pid": os.getpid(),
    }


GIT_TIMEOUT = 5.0
DIFF_LIMIT = 1_000_000


def _git(cwd: str, *args: str) -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT,
                             env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.decode("utf-8", "replace")


def git_state(cwd: str | None = None) -> dict[str, Any] | None:
    """The git remote, commit, branch and uncommitted diff of ``cwd``, or None outside a
    repository (or without git). The diff is capped at 1 MB, with a marker saying so."""
    cwd = cwd or os.getcwd()
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit is None:
        return None
    state: dict[str, Any] = {"commit": commit.strip()}
    remote = _git(cwd, "remote", "get-url", "origin")
    if remote:
        state["remote"] = remote.strip()
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    if branch:
        state["branch"] = branch.strip()
    root = _git(cwd, "rev-parse", "--show-toplevel")
    if root:
        state["root"] = root.strip()
    diff = _git(cwd, "diff", "HEAD", "--no-color", "--no-ext-diff")
    if diff:
        if len(diff) > DIFF_LIMIT:
            diff = diff[:DIFF_LIMIT] + f"\n[runwatch: diff cut at {DIFF_LIMIT:,} characters]\n"
        state["diff"] = diff
    state["dirty"] = bool(diff)
    return state


def packages() -> list[str]:
    """Installed distributions as ``name==version``, sorted case-insensitively."""
    from importlib import metadata

    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return [seen[k] for k in sorted(seen)]


def capture(git: bool, with_packages: bool) -> dict[str, Any]:
    """What is slow to learn about the environment (subprocesses, package metadata):
    run in the background after init, sent as a metadata update."""
    out: dict[str, Any] = {}
    if git:
        state = git_state()
        if state is not None:
            out["git"] = state
    if with_packages:
        out["packages"] = packages()
    return out
