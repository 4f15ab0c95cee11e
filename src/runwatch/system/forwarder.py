"""The console forwarder: a small process that stands between a run's stdout/stderr and
the terminal (see ``console.py``).

It runs as ``python -I -S forwarder.py SPEC`` (standard library only, no runwatch
import) in its own session, so Ctrl-C does not reach it and the run's death does not
stop it. It copies every byte it reads to the original terminal or file at once, in
the order read, then sends a framed copy to the run over the copy pipe without ever
waiting on it: the copy is held for up to a quarter of a second so the run wakes a few
times a second rather than once per print, and if the run stops reading, it is queued
in memory up to a limit, then counted as dropped. It exits when every writer (the run and its children) has
closed its end.

SPEC is JSON: ``{"inputs": {fd: stream}, "outputs": {stream: fd}, "copy": fd,
"control": fd}``. Frames are ``<B d I`` (stream, time, length) followed by the bytes;
stream 255 carries the number of bytes dropped (``<Q``). A byte on the control pipe
asks for everything held back at once, followed by an ACK frame (stream 254).
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import struct
import sys
import time

HEADER = struct.Struct("<BdI")
DROPPED = 255   # payload: bytes the run was not sent (<Q)
ACK = 254       # "everything read before the run's flush request is above"
BACKLOG_LIMIT = 64 * 1024 * 1024
READ_SIZE = 65536
COALESCE_S = 0.25
SEND_NOW_BYTES = 256 * 1024


def _write_all(fd: int, data: bytes) -> bool:
    """Write everything (the terminal may be non-blocking); False if it is gone."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        except InterruptedError:
            continue
        except OSError:
            return False
        view = view[n:]
    return True


def main(spec_text: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    spec = json.loads(spec_text)
    inputs = {int(fd): int(stream) for fd, stream in spec["inputs"].items()}
    outputs: dict[int, int | None] = {int(s): int(fd) for s, fd in spec["outputs"].items()}
    copy_fd = int(spec["copy"])
    control: int | None = int(spec["control"])
    os.set_blocking(copy_fd, False)
    state = _Copy(copy_fd)
    poller = select.poll()
    for fd in inputs:
        poller.register(fd, select.POLLIN)
    poller.register(control, select.POLLIN)
    watching_copy = False

    while inputs:
        want_copy = state.blocked and state.open
        if want_copy != watching_copy:
            if want_copy:
                poller.register(copy_fd, select.POLLOUT)
            else:
                poller.unregister(copy_fd)
            watching_copy = want_copy
        timeout = None
        if state.due is not None and not state.blocked:
            timeout = max(0, int((state.due - time.monotonic()) * 1000) + 1)
        try:
            events = poller.poll(timeout)
        except InterruptedError:
            continue
        for fd, _event in events:
            if fd == copy_fd:
                state.send()
            elif fd == control:
                if not _read_or_eof(fd):  # the run is gone
                    poller.unregister(fd)
                    os.close(fd)
                    control = None
                else:  # the run is stopping: everything read so far, then an ack
                    state.add(ACK, b"")
                    state.send()
            elif fd in inputs:
                data = _read_or_eof(fd)
                if not data:
                    poller.unregister(fd)
                    del inputs[fd]
                    os.close(fd)
                    continue
                stream = inputs[fd]
                out = outputs.get(stream)
                if out is not None and not _write_all(out, data):
                    outputs[stream] = None  # the terminal went away; keep the copy going
                state.add(stream, data)
        if state.due is not None and time.monotonic() >= state.due:
            state.send()
    state.finish()
    return 0


def _read_or_eof(fd: int) -> bytes:
    try:
        return os.read(fd, READ_SIZE)
    except OSError as exc:  # a pty whose every slave closed reads EIO
        if exc.errno not in (errno.EIO, errno.EBADF):
            raise
        return b""


class _Copy:
    """The copy for the run: framed, held for up to COALESCE_S so the run wakes a few
    times a second rather than once per write, never waited on."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.open = True
        self.backlog = bytearray()
        self.dropped = 0
        self.due: float | None = None   # when the held copy must go
        self.blocked = False            # the pipe was full at the last try

    def add(self, stream: int, data: bytes) -> None:
        if not self.open:
            return
        if len(self.backlog) + len(data) > BACKLOG_LIMIT and stream != ACK:
            self.dropped += len(data)
            return
        if self.dropped:
            self.backlog += HEADER.pack(DROPPED, time.time(), 8) + struct.pack("<Q", self.dropped)
            self.dropped = 0
        self.backlog += HEADER.pack(stream, time.time(), len(data))
        self.backlog += data
        if self.due is None:
            self.due = time.monotonic() + COALESCE_S
        if len(self.backlog) >= SEND_NOW_BYTES:
            self.send()

    def send(self) -> None:
        while self.open and self.backlog:
            try:
                n = os.write(self.fd, self.backlog)
            except BlockingIOError:
                self.blocked = True
                return
            except InterruptedError:
                continue
            except OSError:  # the run is gone: forward only, from now on
                os.close(self.fd)
                self.open = False
                self.backlog = bytearray()
                break
            del self.backlog[:n]
        self.blocked = False
        self.due = None

    def finish(self) -> None:
        if self.open:
            os.set_blocking(self.fd, True)
            self.send()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
