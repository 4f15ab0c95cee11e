"""Process hooks that give every run an ending: atexit, the excepthook, SIGTERM.

- uncaught exception: the excepthook marks active runs ``failed`` with the
  traceback (``killed`` for KeyboardInterrupt), then atexit finishes them;
- SIGTERM: runs are marked ``killed`` and finished, then the previous handler
  (by default: die of SIGTERM) runs;
- ``sys.exit(n)``: Python never shows SystemExit to the excepthook, so
  ``sys.exit`` is wrapped (as wandb does) to note ``n``; non-zero means ``failed``;
- normal exit: atexit finishes whatever is still running.
A ``kill -9`` leaves the run ``running`` in the store; readers see ``crashed``.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import weakref
from types import FrameType, TracebackType
from typing import Any

_active: weakref.WeakSet[Any] = weakref.WeakSet()
_installed = False
_previous_excepthook = sys.excepthook
_previous_sigterm: Any = None
_original_exit = sys.exit


def track(run: Any) -> None:
    _install()
    _active.add(run)


def untrack(run: Any) -> None:
    _active.discard(run)


def _install() -> None:
    global _installed, _previous_excepthook, _previous_sigterm
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    if hasattr(os, "register_at_fork"):
        # A forked child has none of the run's threads (writer, console reader): the run
        # is the parent's to finish, not the child's at its exit.
        os.register_at_fork(after_in_child=_active.clear)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    sys.exit = _exit
    if threading.current_thread() is threading.main_thread():
        current = signal.getsignal(signal.SIGTERM)
        if current is not signal.SIG_IGN and current is not None:
            _previous_sigterm = current
            signal.signal(signal.SIGTERM, _on_sigterm)


def _excepthook(exc_type: type[BaseException], exc: BaseException,
                tb: TracebackType | None) -> None:
    for run in list(_active):
        run.mark_exit(exc_type, exc, tb)
    _previous_excepthook(exc_type, exc, tb)


def _exit(code: Any = None) -> None:
    if threading.current_thread() is threading.main_thread():  # elsewhere it ends a thread only
        exc = SystemExit(code)
        for run in list(_active):
            run.mark_exit(SystemExit, exc, None)
    _original_exit(code)


def _at_exit() -> None:
    for run in list(_active):
        try:
            run.finish()
        except Exception as exc:  # noqa: BLE001 - exiting anyway; say why
            print(f"runwatch: finishing run {run.id} at exit failed: {exc!r}", file=sys.stderr)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    for run in list(_active):
        run.mark_killed()
        try:
            run.finish()
        except Exception as exc:  # noqa: BLE001
            print(f"runwatch: finishing run {run.id} on SIGTERM failed: {exc!r}", file=sys.stderr)
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
