"""Shared parts of the server tests: real stores logged with the SDK, the real app
in-process (httpx over ASGI), and a real ``runwatch server`` process with an SSE reader.

Stores shared by many tests are built once per session in folders of their own and
are only read afterwards; a test that writes uses the autouse ``store_dir``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

import runwatch
from runwatch.records import Batch
from runwatch.sdk.sinks import LocalSink
from runwatch.server import create_app, models
from runwatch.store import open_store
from tests.pg import copy_store, new_store_url

# Every JSON route of the API, as the OpenAPI document must list them.
API_ROUTES = {
    "/api/v1/projects",
    "/api/v1/projects/{project}",
    "/api/v1/projects/{project}/runs",
    "/api/v1/projects/{project}/runs/{run_id}",
    "/api/v1/projects/{project}/keys",
    "/api/v1/projects/{project}/series",
    "/api/v1/events",
    "/api/v1/projects/{project}/media/steps",
    "/api/v1/projects/{project}/runs/{run_id}/media",
    "/api/v1/projects/{project}/runs/{run_id}/table",
    "/api/v1/projects/{project}/runs/{run_id}/values",
    "/api/v1/tables/{sha}",
    "/api/v1/blobs/{sha}",
    "/api/v1/projects/{project}/artifacts",
    "/api/v1/projects/{project}/artifacts/{name}",
    "/api/v1/projects/{project}/artifacts/{name}/{version}",
    "/api/v1/projects/{project}/lineage",
    "/api/v1/projects/{project}/runs/{run_id}/files",
    "/api/v1/projects/{project}/runs/{run_id}/files/{name}",
    "/api/v1/projects/{project}/alerts",
    "/api/v1/projects/{project}/runs/{run_id}/console",
    "/api/v1/projects/{project}/runs/{run_id}/console.txt",
    "/api/v1/projects/{project}/runs/{run_id}/history",
    "/api/v1/batches",
    "/api/v1/uploads/{sha}",
    "/api/v1/session",
    "/api/v1/server",
}
# The routes that change something; every other one answers GET only.
WRITE_ROUTES = {"/api/v1/batches": {"post"}, "/api/v1/uploads/{sha}": {"get", "put"},
                "/api/v1/session": {"post", "delete"}}

# Seconds a live update may take to reach an open event stream (the target is 2 s).
LIVE_TIMEOUT = 10.0


# -- logging with the SDK --------------------------------------------------------------

def start_run(store: Path, project: str, **kwargs: Any) -> Any:
    """A real run in ``store`` (this process, quiet), independent of ``runwatch.run``."""
    settings = {"silent": True, **kwargs.pop("settings", {})}
    return runwatch.init(project=project, dir=str(store), settings=settings,
                         reinit="create_new", **kwargs)


def child_env(store: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("RUNWATCH_MODE", "RUNWATCH_STRICT"):
        env.pop(name, None)
    env.update(RUNWATCH_DIR=str(store), RUNWATCH_SILENT="1", RUNWATCH_FLUSH_INTERVAL="0.1",
               RUNWATCH_SYSTEM_INTERVAL="0", RUNWATCH_CONSOLE="off",
               PYTHONUNBUFFERED="1")
    return env


def spawn(code: str, store: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """``code`` in a fresh interpreter logging to ``store``; stdin and stdout are pipes."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            env=child_env(store), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def read_line(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    """The child's next stdout line; fails with its stderr if it dies or stays silent."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box or not box[0]:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"child said nothing within {timeout} s (rc={proc.returncode}):\n"
                             f"{err}")
    return box[0].strip()


# -- the app in-process ----------------------------------------------------------------

class ApiClient:
    """The real ASGI app over httpx, driven from sync tests on a private event loop in its
    own thread (the main thread may already run one: Playwright's, in the browser suite)."""

    def __init__(self, store: Path, url: str | None = None) -> None:
        """The app over the store folder ``store``, or over the database at ``url`` (with
        the blobs of ``store``)."""
        settings = runwatch.settings.resolve({"dir": str(store)})
        opened = None if url is None else open_store(url, Path(store) / "blobs")
        self.app = create_app(settings, store=opened)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        # The app's own error handler answers crashes (500 with the error shape); the tests
        # assert on that answer rather than on a re-raised exception.
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://test")

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=120)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._run(self._client.request(method, path, **kwargs))

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params or None)

    def ok(self, path: str, model: type[BaseModel], **params: Any) -> Any:
        """GET ``path``: 200, JSON, and exactly the shape of ``model``."""
        resp = self.get(path, **params)
        assert resp.status_code == 200, f"GET {resp.request.url}: {resp.status_code} {resp.text}"
        assert resp.headers["content-type"].startswith("application/json")
        data = resp.json()
        validate(model, data)
        return data

    def close(self) -> None:
        self._run(self._client.aclose())
        self.app.state.runwatch.store.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def client_for() -> Iterator[Callable[[Path], ApiClient]]:
    """Opens an :class:`ApiClient` on a store; closes them all after the test."""
    opened: list[ApiClient] = []

    def open_(store: Path) -> ApiClient:
        c = ApiClient(store)
        opened.append(c)
        return c

    yield open_
    for c in opened:
        c.close()


def api_on(request: pytest.FixtureRequest, backend: str, store: Path) -> ApiClient:
    """An :class:`ApiClient` over the SDK-logged store folder ``store`` (``backend``
    "sqlite"), or over a copy of it in a fresh PostgreSQL database ("postgresql")."""
    if backend == "sqlite":
        return ApiClient(store)
    url = new_store_url(request, backend, store)
    copy_store(f"sqlite:///{store / 'runwatch.db'}", url)
    return ApiClient(store, url)


class Tee:
    """While open, every batch the SDK in this process applies to its store is applied to
    the store at ``url`` as well (the same batches in the same order, so the same runs):
    runs logged with the SDK, written through the store's write path on PostgreSQL.
    Files are shared: ``url``'s blobs are ``blobs``."""

    def __init__(self, url: str, blobs: Path) -> None:
        self.url = url
        self.store = open_store(url, blobs)
        self.errors: list[str] = []
        self.batches = 0
        self._patch = pytest.MonkeyPatch()

    def __enter__(self) -> Tee:
        original = LocalSink.apply

        def apply(sink: LocalSink, batch: Batch) -> list[str]:
            problems = original(sink, batch)
            mine: list[str] = []
            try:
                self.store.write(batch, mine)
                self.batches += 1
            except Exception as exc:  # reported by __exit__
                self.errors.append(f"batch {batch.seq} of {batch.run_id}: {exc!r}")
            if mine != problems:
                self.errors.append(f"batch {batch.seq} of {batch.run_id}: problems {mine} "
                                   f"here, {problems} in the SDK's store")
            return problems

        self._patch.setattr(LocalSink, "apply", apply)
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._patch.undo()
        self.store.close()
        if exc_type is None:
            assert not self.errors, "\n".join(self.errors)
            assert self.batches, "no batch reached the tee: LocalSink.apply is not the SDK's path"


@contextlib.contextmanager
def tee_for(request: pytest.FixtureRequest, backend: str, store: Path) -> Iterator[Tee | None]:
    """The SDK logs to the store folder ``store``; on ``backend`` "postgresql" also (a
    :class:`Tee`) to a fresh database, whose ``url`` then serves the reads."""
    if backend == "sqlite":
        yield None
        return
    with Tee(new_store_url(request, backend, store), store / "blobs") as tee:
        yield tee


def validate(model: type[BaseModel], data: Any) -> BaseModel:
    """``data`` is valid for ``model`` and has no field the model does not declare."""
    parsed = model.model_validate(data)
    assert parsed.model_dump(exclude_unset=True) == data, (
        f"response differs from its model {model.__name__} (undeclared or mistyped fields)")
    return parsed


def assert_error(resp: httpx.Response, status: int, code: str, *mentions: str) -> dict[str, Any]:
    """The one error shape, with ``status``, ``code`` and a message naming ``mentions``."""
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert list(body) == ["error"], body
    validate(models.Error, body)
    err = body["error"]
    assert err["status"] == status and err["code"] == code, err
    for m in mentions:
        assert m in err["message"], f"message does not name {m!r}: {err['message']!r}"
    return err


# -- a real server process -------------------------------------------------------------

def runwatch_command() -> list[str]:
    """The installed ``runwatch`` console script next to this interpreter, else the same
    entry point through ``-c``."""
    script = Path(sys.executable).with_name("runwatch")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from runwatch.cli import main; sys.exit(main())"]


class ServerProcess:
    """``runwatch server --port 0 --dir STORE``; its output goes to files for diagnosis."""

    def __init__(self, store: Path, logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = logs / "server.out", logs / "server.err"
        self._out = open(self.out_path, "w")  # closed in stop()
        self._err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            [*runwatch_command(), "server", "--port", "0", "--dir", str(store)],
            env=child_env(store), stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            found = re.search(r"serving (.+) at (http://127\.0\.0\.1:\d+/)", self.out_path.read_text())
            if found:
                assert Path(found.group(1)) == store, found.group(0)
                self.url = found.group(2)
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"runwatch server did not start:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return (f"rc={self.proc.poll()}\n--- stdout\n{self.out_path.read_text()}"
                f"--- stderr\n{self.err_path.read_text()}")

    def alive(self) -> None:
        assert self.proc.poll() is None, f"the server died:\n{self.output()}"

    def stop(self, sig: int = signal.SIGINT) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        self._out.close()
        self._err.close()
        return self.output()


@dataclass
class Event:
    name: str
    data: Any


@dataclass
class EventStream:
    """Reads a Server-Sent Events stream on a thread, as a browser would (gzip accepted)."""

    url: str
    # Called when an expected event does not come, for more to show (the server's log).
    diagnose: Callable[[], str] | None = None
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    seen: list[Event] = field(default_factory=list)
    status: int | None = None
    headers: httpx.Headers | None = None
    error: BaseException | None = None
    ended: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(30.0, read=120.0))
        self._socket: socket.socket | None = None
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._opened.wait(30), "the event stream did not open"
        if self.error is not None:
            raise AssertionError(f"the event stream failed: {self.error!r}")

    def _read(self) -> None:
        try:
            with self._client.stream("GET", self.url,
                                     headers={"Accept": "text/event-stream",
                                              "Accept-Encoding": "gzip"}) as resp:
                self.status, self.headers = resp.status_code, resp.headers
                self._socket = resp.extensions["network_stream"].get_extra_info("socket")
                self._opened.set()
                buf = b""
                # Bytes, not iter_lines(): SSE frames end only at \n, while httpx's line
                # splitting also breaks at U+2028 and friends, which JSON strings may hold.
                for chunk in resp.iter_bytes():
                    buf += chunk
                    while b"\n\n" in buf:
                        block, buf = buf.split(b"\n\n", 1)
                        event = _parse_block(block)
                        if event is not None:
                            self.events.put(event)
        except BaseException as exc:  # reported to the test
            self.error = exc
        finally:
            self._opened.set()
            self.ended.set()

    def next(self, timeout: float = LIVE_TIMEOUT) -> Event:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s; error={self.error!r}; "
                                 f"seen: {self._summary()}") from None
        self.seen.append(event)
        return event

    def wait_for(self, what: str, predicate: Callable[[Event], bool],
                 timeout: float = LIVE_TIMEOUT) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no event with {what} within {timeout} s; "
                                     f"error={self.error!r}; seen: {self._summary()}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(event)
            if predicate(event):
                return event

    def _summary(self) -> str:
        seen = "; ".join(f"{e.name}: {json.dumps(e.data)[:300]}" for e in self.seen) or "none"
        return seen + ("\n" + self.diagnose() if self.diagnose is not None else "")

    def close(self) -> None:
        # Closing the client does not wake a thread blocked reading; shutting the socket does.
        if self._socket is not None and not self.ended.is_set():
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        self._client.close()
        assert not self._thread.is_alive(), "the event stream reader did not stop"


def _parse_block(block: bytes) -> Event | None:
    name, data = "message", []
    for line in block.decode("utf-8").split("\n"):
        if not line or line.startswith(":"):
            continue  # a comment: the keep-alive
        field_, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field_ == "event":
            name = value
        elif field_ == "data":
            data.append(value)
    if not data:
        return None
    return Event(name, json.loads("\n".join(data)))


def runs_in(event: Event) -> dict[str, dict[str, Any]]:
    """The runs of an ``event: runs`` by id (empty for other events)."""
    if event.name != "runs":
        return {}
    validate(models.RunList, {"project": "-", **event.data})
    return {r["id"]: r for r in event.data["runs"]}


# -- the shared "world" store ----------------------------------------------------------

BETA_SCRIPT = """
import runwatch

run = runwatch.init(project="vision", name="beta", tags=["exp"], config={"lr": 0.1},
                    job_type="eval")
# Redefines "shared": the latest run's definition wins in the project's key list.
run.define_metric("shared", step_metric="batch", hidden=True)
for i in range(20):
    run.log({"loss": 2.0 / (i + 1), "shared": i})
raise RuntimeError("boom-beta")
"""


@dataclass
class World:
    """Two projects: ``vision`` (alpha: finished in this process; beta: failed in a child
    script) and ``audio`` (gamma: finished)."""

    store: Path
    alpha: str
    beta: str
    gamma: str
    beta_script: Path


def _build_world(root: Path) -> World:
    store = root / "store"
    alpha = start_run(store, "vision", name="alpha", tags=["baseline", "cnn"],
                      config={"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam"}},
                      notes="first try", group="sweep-1", job_type="train")
    alpha.define_metric("train/*", step_metric="epoch")
    alpha.define_metric("train/top5", step_metric="batch")  # exact name beats the glob
    alpha.define_metric("debug/*", hidden=True)
    alpha.define_metric("shared", step_metric="epoch")
    for i in range(50):
        row: dict[str, Any] = {"loss": 1.0 / (i + 1), "train/acc": i / 50,
                               "train/top5": i / 40, "debug/grad": 0.5, "caption": f"c{i}",
                               "count": i, "shared": i}
        if i % 10 == 0:
            row.update(epoch=i // 10, batch=i)
        alpha.log(row)
    alpha.summary["best_acc"] = 0.98
    alpha.finish()

    script = root / "train_beta.py"
    script.write_text(textwrap.dedent(BETA_SCRIPT))
    proc = subprocess.run([sys.executable, str(script)], env=child_env(store), cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "boom-beta" in proc.stderr, proc.stderr
    with runwatch.Api(dir=store) as api:
        (beta,) = [r.id for r in api.runs("vision") if r.name == "beta"]

    gamma = start_run(store, "audio", name="gamma")
    gamma.log({"wer": 0.3})
    gamma.finish()
    return World(store=store, alpha=alpha.id, beta=beta, gamma=gamma.id, beta_script=script)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return _build_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def world_api(world: World) -> Iterator[ApiClient]:
    c = ApiClient(world.store)
    yield c
    c.close()
