"""Running the app: bind first (so a taken port is a clear error), print the URL, serve."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runwatch.errors import UsageError
from runwatch.settings import Settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets created with it,
    # and without it every small answer on a kept-alive connection waits ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror}. "
                         "Choose another port with --port (0 picks a free one).") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class _Server:
    """uvicorn's server, ending open event streams as soon as shutdown starts: uvicorn
    waits for connections before the app's own shutdown runs, and a dashboard tab's
    stream would otherwise hold Ctrl-C up and then be cut mid-message."""

    def __new__(cls, config: Any, stopping: asyncio.Event) -> Any:
        import uvicorn

        class Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: Any) -> None:
                loop = getattr(self, "_loop", None)
                if loop is not None:
                    loop.call_soon_threadsafe(stopping.set)
                super().handle_exit(sig, frame)

            async def serve(self, sockets: Any = None) -> None:
                self._loop = asyncio.get_running_loop()
                await super().serve(sockets)

        return Server(config)


def open_server_store(settings: Settings, store_url: str | None, blobs: str | None) -> Any:
    """The store a server serves: ``store_url`` (default: the one in ``settings.dir``) with
    its blobs in ``blobs`` (a folder or s3:// URL; default: ``blobs/`` in ``settings.dir``).
    Migrations run here, under a lock, before any worker starts."""
    from runwatch.store import open_store

    store = open_store(store_url or settings.store_url,
                       blobs or str(Path(settings.dir) / "blobs"))
    if store.blobs is not None and store.blobs.local_path("0" * 64) is None:
        # Object storage: a wrong bucket or missing credentials fail now, not at the first
        # image a client logs.
        try:
            store.blobs.has("0" * 64)
        except Exception as exc:  # noqa: BLE001 - any failure here is the same answer
            store.close()
            raise UsageError(f"Cannot reach the blob store {blobs!r}: {exc!r}. Check the "
                             "bucket, the AWS_* credentials and AWS_ENDPOINT_URL.") from None
    return store


def first_key(store: Any) -> str | None:
    """A key named ``admin`` when a server that requires keys has none yet (printed once,
    as Jupyter prints its token), so a fresh server is never locked to everyone."""
    from runwatch.store import keys

    with store.engine.begin() as conn:
        if keys.any_active(conn):
            return None
        name = "admin"
        taken = {k.name for k in keys.listing(conn)}
        n = 1
        while name in taken:
            n += 1
            name = f"admin-{n}"
        return keys.create(conn, name)


def app_from_env() -> Any:
    """The app of one worker process of ``runwatch server --workers N`` (uvicorn's factory:
    each worker opens its own connections to the store the parent migrated)."""
    from runwatch.server.app import create_app
    from runwatch.settings import resolve

    settings = resolve()
    store = open_server_store(settings, os.environ.get(_ENV_STORE) or None,
                              os.environ.get(_ENV_BLOBS) or None)
    return create_app(settings, store, require_keys=os.environ.get(_ENV_AUTH) == "1")


_ENV_STORE, _ENV_BLOBS, _ENV_AUTH = ("RUNWATCH_SERVER_STORE", "RUNWATCH_SERVER_BLOBS",
                                     "RUNWATCH_SERVER_AUTH")


def serve(settings: Settings, host: str, port: int,
          on_ready: Callable[[str], None] | None = None, *, store_url: str | None = None,
          blobs: str | None = None, require_keys: bool | None = None, workers: int = 1,
          on_new_key: Callable[[str], None] | None = None) -> None:
    """Serve a store until interrupted. Keys are required by default whenever ``host``
    is not loopback; ``workers`` > 1 runs that many processes on one listening socket."""
    import uvicorn

    from runwatch.server.app import create_app

    if require_keys is None:
        require_keys = not is_loopback(host)
    if workers < 1:
        raise UsageError(f"--workers {workers}: a server needs at least 1 worker.")
    sock = bind(host, port)
    store = open_server_store(settings, store_url, blobs)
    try:
        if require_keys:
            key = first_key(store)
            if key is not None and on_new_key is not None:
                on_new_key(key)
        if workers == 1:
            app = create_app(settings, store, require_keys=require_keys)
            config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2,
                                    access_log=False)
            server = _Server(config, app.state.runwatch.stopping)
            if on_ready is not None:
                on_ready(url_of(sock))
            server.run(sockets=[sock])
            return
    finally:
        store.close()
    from uvicorn.supervisors import Multiprocess

    os.environ.update({_ENV_STORE: store_url or "", _ENV_BLOBS: blobs or "",
                       _ENV_AUTH: "1" if require_keys else "0", "RUNWATCH_DIR": settings.dir})
    config = uvicorn.Config("runwatch.server.serve:app_from_env", factory=True,
                            workers=workers, log_level="warning", timeout_graceful_shutdown=2,
                            access_log=False)
    if on_ready is not None:
        on_ready(url_of(sock))
    Multiprocess(config, sockets=[sock]).run()
