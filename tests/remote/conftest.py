"""Shared parts of the team-server tests: a real ``runwatch server`` process (killable and
restartable on the same port and folder), real client processes logging to it over HTTP,
the ``runwatch`` CLI run as a command, and readers of what the server holds.

Each test gets, from the autouse ``store_dir`` fixture of tests/conftest.py, its own
RUNWATCH_DIR: there the *client* keeps its spool, spill and offline files. The server keeps
its store in a folder of its own beside it (``<tmp>/server``).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

# The console script's entry point, run by this interpreter (no reliance on PATH).
RUNWATCH = [sys.executable, "-c", "import sys; from runwatch.cli import main; sys.exit(main())"]
KEY_RE = re.compile(r"\brw_[A-Za-z0-9]{40}\b")
START_TIMEOUT = 60.0
# Every server process started here, so none outlives the session even when a fixture
# fails between starting one and arranging its stop.
_STARTED: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(client_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """This test's environment (tests/conftest.py's store_dir already cleared RUNWATCH_URL,
    the key and the login file), quiet and fast-flushing, plus ``extra``."""
    env = dict(os.environ)
    for name in ("RUNWATCH_MODE", "RUNWATCH_STRICT", "RUNWATCH_URL", "RUNWATCH_API_KEY"):
        env.pop(name, None)
    env.update(RUNWATCH_SILENT="1", RUNWATCH_FLUSH_INTERVAL="0.1", RUNWATCH_SYSTEM_INTERVAL="0",
               RUNWATCH_CONSOLE="off", RUNWATCH_CAPTURE_GIT="0", PYTHONUNBUFFERED="1")
    if client_dir is not None:
        env["RUNWATCH_DIR"] = str(client_dir)
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """``runwatch ARGS`` in a child process; fails with its output when ``check`` and it fails."""
    proc = subprocess.run([*RUNWATCH, *args], env=env if env is not None else base_env(),
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"runwatch {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


# -- a real server process ---------------------------------------------------------------

class Server:
    """``runwatch server --dir DIR --port PORT`` as a child process.

    ``kill()`` ends it the hard way (SIGKILL to its process group, workers included);
    ``start()`` brings it back on the same port, over the same store, with the same key.
    """

    def __init__(self, root: Path, *, workers: int = 1, auth: bool = True,
                 port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.root = root
        self.dir = root / "server"
        self.logs = root / "server-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        self.auth = auth
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = extra_args
        self.key: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._http: httpx.Client | None = None

    # -- life --
    def start(self) -> Server:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        out = self.logs / f"out-{self.starts}.txt"
        err = self.logs / f"err-{self.starts}.txt"
        args = [*RUNWATCH, "server", "--dir", str(self.dir), "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(self.workers),
                "--auth" if self.auth else "--no-auth", *self.extra_args]
        with open(out, "wb") as fo, open(err, "wb") as fe:
            # A session of its own: kill() reaches the workers of --workers N too.
            self.proc = subprocess.Popen(args, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                                         env=base_env(self.dir), start_new_session=True)
        _STARTED.append(self.proc)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.auth and self.key is None:
                found = KEY_RE.search(out.read_text())
                if found:
                    self.key = found.group(0)
            if (not self.auth or self.key is not None) and self._answers():
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.kill()
                raise AssertionError(f"runwatch server did not start:\n{output}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            r = httpx.get(self.url + "/api/v1/server", headers=self.headers(), timeout=2.0)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    def kill(self) -> None:
        """SIGKILL, no goodbye: what a crash or a pulled plug does."""
        self._close_http()
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def restart(self) -> Server:
        self.kill()
        return self.start()

    def stop(self) -> None:
        """A polite stop (SIGINT, as Ctrl-C), then SIGKILL if it hangs."""
        self._close_http()
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        parts = []
        for n in range(1, self.starts + 1):
            for kind in ("out", "err"):
                p = self.logs / f"{kind}-{n}.txt"
                if p.exists():
                    parts.append(f"--- start {n} std{kind}\n{p.read_text(errors='replace')}")
        rc = None if self.proc is None else self.proc.poll()
        return f"rc={rc}\n" + "\n".join(parts)

    # -- talking to it --
    def headers(self, key: str | None = None) -> dict[str, str]:
        key = key or self.key
        return {"Authorization": f"Bearer {key}"} if key else {}

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(base_url=self.url, headers=self.headers(), timeout=60.0)
        return self._http

    def _close_http(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def get_json(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params or None)
        assert r.status_code == 200, f"GET {r.request.url}: {r.status_code} {r.text[:2000]}"
        return r.json()

    def run(self, project: str, run_id: str) -> dict[str, Any]:
        return self.get_json(f"/api/v1/projects/{quote(project, safe='')}/runs/"
                             f"{quote(run_id, safe='')}")

    def points(self, project: str, run_id: str, key: str) -> tuple[list[int], list[float]]:
        """Every point of ``key``: the series endpoint returns raw points for up to twice
        its width (10,000), i.e. 20,000 points."""
        body = self.get_json(f"/api/v1/projects/{quote(project, safe='')}/series",
                             key=key, runs=run_id, width=10_000)
        assert body["missing"] == [], body["missing"]
        (series,) = body["runs"]
        assert not series["sampled"], f"{series['points']} points came back sampled"
        assert len(series["x"]) == series["points"]
        return series["x"], series["y"]

    def blob_path(self, sha: str) -> Path:
        return self.dir / "blobs" / sha[:2] / sha[2:]

    def create_key(self, name: str, read_only: bool = False) -> str:
        args = ["keys", "create", name, "--dir", str(self.dir)]
        if read_only:
            args.append("--read-only")
        found = KEY_RE.search(cli(*args).stdout)
        assert found, f"no key printed by runwatch keys create {name}"
        return found.group(0)

    def revoke_key(self, name: str) -> None:
        cli("keys", "revoke", name, "--dir", str(self.dir))

    def client_env(self, client_dir: Path, key: str | None = None, **extra: str) -> dict[str, str]:
        """A training process's environment: RUNWATCH_URL and the key point at this server."""
        return base_env(client_dir, RUNWATCH_URL=self.url,
                        RUNWATCH_API_KEY=key if key is not None else (self.key or ""), **extra)


@pytest.fixture(scope="session", autouse=True)
def _no_server_outlives_the_session() -> Iterator[None]:
    yield
    for proc in _STARTED:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Builds servers (not started) under this test's tmp folder; kills them all at the end."""
    made: list[Server] = []

    def make(name: str = "srv", **kwargs: Any) -> Server:
        s = Server(tmp_path / name, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.kill()


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    """A started server with auth on: ``server.url``, ``server.key``, ``server.dir``."""
    return server_factory().start()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a whole module of tests that do not disturb each other."""
    s = Server(tmp_path_factory.mktemp("shared"))
    s.start()
    yield s
    s.kill()


# -- training processes ------------------------------------------------------------------

@dataclass
class Child:
    """A training script in its own interpreter; its stdout lines are read on a thread."""

    proc: subprocess.Popen[str]
    lines: list[str]
    err: list[str]
    _threads: list[threading.Thread]

    def wait_line(self, predicate: Callable[[str], bool], timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            while seen < len(self.lines):
                line = self.lines[seen]
                seen += 1
                if predicate(line):
                    return line
            if self.proc.poll() is not None and seen >= len(self.lines):
                for t in self._threads:
                    t.join(5)
                if seen >= len(self.lines):
                    break
            time.sleep(0.01)
        raise AssertionError(f"the child did not print the expected line in {timeout} s "
                             f"(rc={self.proc.poll()}); stdout:\n{''.join(self.lines)[-3000:]}"
                             f"\nstderr:\n{''.join(self.err)[-5000:]}")

    def finish(self, timeout: float = 120.0) -> tuple[int, str, str]:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"the child did not end in {timeout} s; stderr:\n"
                                 f"{''.join(self.err)[-5000:]}") from None
        for t in self._threads:
            t.join(10)
        return rc, "".join(self.lines), "".join(self.err)


def spawn(code: str, env: dict[str, str], cwd: Path | None = None) -> Child:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    err: list[str] = []

    def pump(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    threads = [threading.Thread(target=pump, args=(proc.stdout, lines), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, err), daemon=True)]
    for t in threads:
        t.start()
    return Child(proc, lines, err, threads)


def run_child(code: str, env: dict[str, str], timeout: float = 120.0,
              cwd: Path | None = None) -> tuple[str, str]:
    """Run a training script to its end; it must exit 0. Returns (stdout, stderr)."""
    rc, out, err = spawn(code, env, cwd).finish(timeout)
    assert rc == 0, f"child failed ({rc}):\n{out}\n{err}"
    return out, err


@pytest.fixture
def children() -> Iterator[list[Child]]:
    """Children a test spawns; any still alive at the end are killed."""
    started: list[Child] = []
    yield started
    for c in started:
        if c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait(10)


def files_under(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.rglob(pattern) if p.is_file()) if root.exists() else []
