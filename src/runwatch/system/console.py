"""Console capture: the run's stdout and stderr reach the terminal as before and are
stored line by line.

``redirect`` (the default where the process has real file descriptors 1 and 2)
points fds 1 and 2 at a pipe, or at a pseudo-terminal when they were a terminal so
``isatty()``, colours and the terminal size stay as they were. Output from Python,
from C extensions and from child processes is all captured. A small forwarder
process (``forwarder.py``) copies every byte to the original terminal at once and
sends the run a copy: the terminal never waits on runwatch, on the GIL, or on the
store, and output written just before the process is killed still reaches it.
When stdout and stderr are the same file (the usual terminal), they share one
channel, so their interleaving on screen is exactly the program's; lines are then
stored without telling which stream they came from.

``wrap`` (notebooks, or where ``sys.stdout`` is not fd 1) tees ``sys.stdout`` and
``sys.stderr`` writes inside Python; child processes are not captured.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from runwatch.system import forwarder
from runwatch.system.forwarder import ACK, DROPPED, HEADER
from runwatch.system.lines import LineAssembler

BOTH, STDOUT, STDERR = 0, 1, 2
TAIL_LINES = 1000
_FORWARDER = Path(forwarder.__file__)

Line = tuple[float, int, str]  # time, stream, text

_active: ConsoleCapture | None = None
_active_lock = threading.Lock()


def _same_file(a: int, b: int) -> bool:
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino, sa.st_rdev) == (sb.st_dev, sb.st_ino, sb.st_rdev)


def _real_fds() -> bool:
    """True when Python's stdout and stderr write to fds 1 and 2 (not a notebook's)."""
    try:
        return sys.stdout.fileno() == 1 and sys.stderr.fileno() == 2 and \
            os.fstat(1) is not None and os.fstat(2) is not None
    except (AttributeError, OSError, ValueError):
        return False


def _unread(fd: int) -> int:
    import termios

    buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    return int(struct.unpack("i", buf)[0])


def _channel(target: int) -> tuple[int, int]:
    """(read end, write end) standing in for ``target``: a pseudo-terminal shaped like it
    when it is a terminal, else a pipe."""
    if not os.isatty(target):
        return os.pipe()
    import termios

    master, slave = os.openpty()
    with contextlib.suppress(OSError, termios.error):
        attrs = termios.tcgetattr(target)
        attrs[1] &= ~termios.OPOST  # bytes pass unchanged; the real terminal translates
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        size = fcntl.ioctl(target, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    return master, slave


class _Tee:
    """``wrap`` mode: a text stream that also hands what it writes to the capture."""

    def __init__(self, inner: TextIO, feed: Callable[[str], None]) -> None:
        self._inner = inner
        self._feed: Callable[[str], None] | None = feed

    def write(self, text: str) -> int:
        n = self._inner.write(text)
        feed = self._feed
        if feed is not None and isinstance(text, str):
            feed(text)
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ConsoleCapture:
    """Captures the process's console for one run; ``emit`` receives finished lines on a
    background thread (or the writing thread, in ``wrap`` mode)."""

    def __init__(self, emit: Callable[[list[Line]], None], max_bytes: int,
                 warn: Callable[[str], None]) -> None:
        self._emit = emit
        self._warn = warn
        self._max = max_bytes
        self._lock = threading.Lock()
        self._assemblers = {s: LineAssembler() for s in (BOTH, STDOUT, STDERR)}
        self._stored = 0
        self._over = False
        self._skipped = 0
        self._tail: deque[Line] = deque(maxlen=TAIL_LINES)
        self._storing = True
        self.mode = "off"
        # redirect mode
        self._saved: tuple[int, int] | None = None
        self._reads: list[int] = []
        self._copy: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._eof = threading.Event()
        self._acked = threading.Event()
        self._control: int | None = None
        self._stopping = False
        self._winch: Any = None
        # wrap mode
        self._tees: tuple[_Tee, _Tee] | None = None

    # -- start --
    def start(self, mode: str) -> str:
        """Start capturing in ``mode`` (a ``console`` setting); returns the mode in effect
        (``off`` if another run of this process captures already)."""
        global _active
        if mode == "off":
            return "off"
        with _active_lock:
            if _active is not None:
                return "off"
            _active = self
        if mode == "auto":
            mode = "redirect" if os.name == "posix" and _real_fds() and sys.executable else "wrap"
        if mode == "redirect":
            try:
                self._start_redirect()
            except Exception as exc:  # noqa: BLE001 - fall back rather than lose the run
                self._warn(f"runwatch: could not redirect the console ({exc!r}); capturing "
                           "Python's own output only (console='wrap').")
                mode = "wrap"
        if mode == "wrap":
            self._start_wrap()
        self.mode = mode
        return mode

    def _start_wrap(self) -> None:
        out = _Tee(sys.stdout, lambda text: self._feed_text(STDOUT, text))
        err = _Tee(sys.stderr, lambda text: self._feed_text(STDERR, text))
        self._tees = (out, err)
        # No stream at all (pythonw, some daemons): nothing to tee, and print() must stay
        # the no-op it is.
        if sys.stdout is not None:
            sys.stdout = out  # type: ignore[assignment]
        if sys.stderr is not None:
            sys.stderr = err  # type: ignore[assignment]

    def _start_redirect(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        saved = (os.dup(1), os.dup(2))
        opened: list[int] = list(saved)  # closed again if the forwarder cannot start
        try:
            if _same_file(1, 2):
                pairs = {BOTH: _channel(1)}
                spec_out = {BOTH: saved[0]}
            else:
                pairs = {STDOUT: _channel(1), STDERR: _channel(2)}
                spec_out = {STDOUT: saved[0], STDERR: saved[1]}
            opened += [fd for pair in pairs.values() for fd in pair]
            copy_r, copy_w = os.pipe()
            opened += [copy_r, copy_w]
            control_r, control_w = os.pipe()
            opened += [control_r, control_w]
            spec = {"inputs": {str(r): s for s, (r, _w) in pairs.items()},
                    "outputs": {str(s): fd for s, fd in spec_out.items()}, "copy": copy_w,
                    "control": control_r}
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(_FORWARDER), json.dumps(spec)],
                pass_fds=(*(r for r, _w in pairs.values()), *saved, copy_w, control_r),
                stdin=subprocess.DEVNULL, start_new_session=True)
        except BaseException:
            for fd in opened:
                with contextlib.suppress(OSError):
                    os.close(fd)
            raise
        os.close(copy_w)
        os.close(control_r)
        self._saved = saved
        self._copy = copy_r
        self._control = control_w
        self._reads = [r for r, _w in pairs.values()]
        writes = {s: w for s, (_r, w) in pairs.items()}
        os.dup2(writes.get(STDOUT, writes.get(BOTH, -1)), 1)
        os.dup2(writes.get(STDERR, writes.get(BOTH, -1)), 2)
        for w in writes.values():
            os.close(w)
        threading.Thread(target=self._read_loop, name="runwatch-console", daemon=True).start()
        if os.isatty(saved[0]) and threading.current_thread() is threading.main_thread() \
                and hasattr(signal, "SIGWINCH") \
                and signal.getsignal(signal.SIGWINCH) in (signal.SIG_DFL, None):
            self._winch = signal.signal(signal.SIGWINCH, self._resized)

    def _resized(self, signum: int, frame: Any) -> None:
        import termios

        if self._saved is not None:
            with contextlib.suppress(OSError):
                size = fcntl.ioctl(self._saved[0], termios.TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(1, termios.TIOCSWINSZ, size)

    # -- intake --
    def _feed_text(self, stream: int, text: str) -> None:
        try:
            with self._lock:
                if self._storing:
                    self._deliver(stream, self._assemblers[stream].feed(text, time.time()))
        except Exception:  # noqa: BLE001, S110 - capture must never break a print()
            pass

    def _read_loop(self) -> None:
        copy = self._copy
        assert copy is not None
        buf = bytearray()
        while True:
            try:
                data = os.read(copy, 262144)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            pos, size = 0, len(buf)
            with self._lock:
                while size - pos >= HEADER.size:
                    stream, at, n = HEADER.unpack_from(buf, pos)
                    end = pos + HEADER.size + n
                    if end > size:
                        break
                    payload = bytes(buf[pos + HEADER.size:end])
                    pos = end
                    if stream == ACK:
                        self._acked.set()
                    elif not self._storing:
                        continue
                    elif stream == DROPPED:
                        lost = struct.unpack("<Q", payload)[0]
                        self._deliver(BOTH, [(at, f"[runwatch: {lost:,} bytes of output were "
                                                  "not stored because the run was not reading "
                                                  "them; the terminal showed them]")])
                    else:
                        self._deliver(stream, self._assemblers[stream].feed_bytes(payload, at))
            del buf[:pos]
        self._eof.set()
        with contextlib.suppress(OSError):
            os.close(copy)
        if not self._stopping:
            self._forwarder_died()

    def _forwarder_died(self) -> None:
        """Put the terminal back so the program's output keeps flowing."""
        code = self._proc.poll() if self._proc is not None else None
        self._restore_fds()
        self._warn(f"runwatch: the console forwarder stopped (exit code {code}); console "
                   "capture is off for the rest of this run. Terminal output is unaffected.")

    def _deliver(self, stream: int, pairs: list[tuple[float, str]]) -> None:
        """Hand finished lines on, within the size cap (called under the lock)."""
        if not pairs:
            return
        lines: list[Line] = []
        for at, text in pairs:
            size = len(text) + 1
            if self._stored + size > self._max:
                if not self._over:
                    self._over = True
                    lines.append((at, BOTH, f"[runwatch: console output reached the "
                                  f"{self._max / 1e6:g} MB cap (setting console_max_mb); "
                                  "later lines are not stored, except the last "
                                  f"{TAIL_LINES:,} at the end of the run]"))
                self._skipped += 1
                self._tail.append((at, stream, text))
                continue
            self._stored += size
            lines.append((at, stream, text))
        if lines:
            self._emit(lines)

    # -- stop --
    def stop(self, timeout: float = 2.0) -> None:
        """Stop capturing: the console is as it was, every line written so far is emitted."""
        global _active
        if self.mode == "off" or self._stopping:
            return
        self._stopping = True
        deadline = time.monotonic() + timeout
        if self.mode == "wrap":
            self._stop_wrap()
        else:
            self._stop_redirect(deadline)
        with self._lock:
            self._storing = False
            now = time.time()
            for stream, assembler in self._assemblers.items():
                self._deliver(stream, assembler.flush(now))
            if self._skipped:
                tail = list(self._tail)
                lines: list[Line] = []
                if self._skipped > len(tail):
                    lines.append((now, BOTH, f"[runwatch: {self._skipped - len(tail):,} lines "
                                  f"past the cap were not stored; the last {len(tail):,} "
                                  "follow]"))
                self._emit(lines + tail)
        with _active_lock:
            if _active is self:
                _active = None

    def _stop_wrap(self) -> None:
        if self._tees is None:
            return
        out, err = self._tees
        out._feed = err._feed = None
        if sys.stdout is out:
            sys.stdout = out._inner
        if sys.stderr is err:
            sys.stderr = err._inner

    def _restore_fds(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        if self._saved is not None:
            os.dup2(self._saved[0], 1)
            os.dup2(self._saved[1], 2)
        if self._winch is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGWINCH, self._winch)
            self._winch = None

    def _stop_redirect(self, deadline: float) -> None:
        self._restore_fds()
        # Our own writes are in the channel now; wait until the forwarder has read them.
        while time.monotonic() < deadline:
            try:
                if not any(_unread(fd) for fd in self._reads):
                    break
            except OSError:
                break
            time.sleep(0.002)
        for fd in self._reads:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._reads = []
        # The forwarder holds its copy back a moment: ask for all of it, and wait for its
        # ACK (it ends with EOF instead unless a child process still holds the console).
        if self._control is not None:
            with contextlib.suppress(OSError):
                os.write(self._control, b"F")
            while not (self._acked.is_set() or self._eof.is_set()) \
                    and time.monotonic() < deadline:
                self._acked.wait(0.01)
            with contextlib.suppress(OSError):
                os.close(self._control)  # the forwarder may go once its inputs close
            self._control = None
        # Without child processes holding the console the forwarder ends now: reap it.
        if self._eof.wait(max(0.0, min(0.2, deadline - time.monotonic()))) \
                and self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(max(0.0, min(0.2, deadline - time.monotonic())))
        if self._saved is not None:
            for fd in self._saved:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._saved = None
