"""Running the app: bind first (so a taken port is a clear error), print the URL, serve."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
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


def serve(settings: Settings, host: str, port: int,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the store of ``settings`` until interrupted."""
    if not is_loopback(host):
        # DESIGN: a host other than loopback requires API keys, which arrive with the
        # team server; until then the dashboard is reachable only from this machine.
        raise UsageError(
            f"Refusing to serve on {host!r}: runwatch has no API keys yet, so anyone who "
            "can reach that address could read every run. Serve on 127.0.0.1 and reach it "
            "from elsewhere through an SSH tunnel (ssh -L 8080:127.0.0.1:8080 host).")
    import uvicorn

    from runwatch.server.app import create_app

    sock = bind(host, port)
    app = create_app(settings)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2,
                            access_log=False)
    server = _Server(config, app.state.runwatch.stopping)
    if on_ready is not None:
        on_ready(url_of(sock))
    server.run(sockets=[sock])
