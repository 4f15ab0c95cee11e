"""The console forwarder: a small process that stands between a run's stdout/stderr and
the terminal (see ``console.py``).

It runs as ``python -I -S forwarder.py SPEC`` (standard library only, no runwatch
import) in its own session, so Ctrl-C does not reach it and the run's death does not
stop it. It copies every byte it reads to the original terminal or file at once, in
the order read, then sends a framed copy to the run over the copy pipe without ever
waiting on it: if the run stops reading, the copy is queued in memory up to a limit,
then counted as dropped. It exits when every writer (the run and its children) has
closed its end.

SPEC is JSON: ``{"inputs": {fd: stream}, "outputs": {stream: fd}, "copy": fd}``.
Frames are ``<B d I`` (stream, time, length) followed by the bytes; stream 255 carries
the number of bytes dropped (``<Q``).
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
DROPPED = 255
BACKLOG_LIMIT = 64 * 1024 * 1024
READ_SIZE = 65536


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
    copy: int | None = int(spec["copy"])
    os.set_blocking(copy, False)
    backlog = bytearray()
    dropped = 0
    poller = select.poll()
    for fd in inputs:
        poller.register(fd, select.POLLIN)
    watching_copy = False

    def send_copy() -> None:
        nonlocal copy, backlog, dropped
        if copy is None:
            return
        if dropped:
            frame = HEADER.pack(DROPPED, time.time(), 8) + struct.pack("<Q", dropped)
            if len(backlog) + len(frame) <= BACKLOG_LIMIT + 64:
                backlog += frame
                dropped = 0
        while backlog:
            try:
                n = os.write(copy, backlog)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError:  # the run is gone: forward only, from now on
                os.close(copy)
                copy = None
                backlog = bytearray()
                return
            del backlog[:n]

    copy_fd = copy
    while inputs:
        want_copy = bool(backlog) and copy is not None
        if want_copy != watching_copy:
            if want_copy:
                poller.register(copy_fd, select.POLLOUT)
            else:
                poller.unregister(copy_fd)
            watching_copy = want_copy
        try:
            events = poller.poll()
        except InterruptedError:
            continue
        for fd, _event in events:
            if fd == copy_fd:
                send_copy()
                continue
            stream = inputs.get(fd)
            if stream is None:
                continue
            try:
                data = os.read(fd, READ_SIZE)
            except OSError as exc:  # a pty whose every slave closed reads EIO
                if exc.errno not in (errno.EIO, errno.EBADF):
                    raise
                data = b""
            if not data:
                poller.unregister(fd)
                del inputs[fd]
                os.close(fd)
                continue
            out = outputs.get(stream)
            if out is not None and not _write_all(out, data):
                outputs[stream] = None  # the terminal went away; keep the copy going
            if copy is not None:
                if len(backlog) + len(data) > BACKLOG_LIMIT:
                    dropped += len(data)
                else:
                    backlog += HEADER.pack(stream, time.time(), len(data))
                    backlog += data
                send_copy()
    if copy is not None:
        os.set_blocking(copy, True)
        send_copy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
