"""Batches waiting for the sink, in order: in memory up to a limit, then on disk.

Memory stays bounded however long the store is slow or away: past
``memory_limit`` bytes every new batch is appended to a spill file (framed
msgpack with a CRC) and read back in order. Once anything is on disk, later
batches go there too, so order never changes. A live owner holds an exclusive
``flock`` on its spill file; a file nobody holds belongs to a process that died
and is replayed by the next writer that opens the same store (see
:func:`replay_orphans`).
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import msgspec

from runwatch import records
from runwatch.errors import SeqGapError
from runwatch.records import Batch

_HEADER = struct.Struct("<II")  # payload length, crc32


def _estimate(batch: Batch) -> int:
    # Measured: a point held in a batch's Python lists costs about 62 bytes.
    return (256 + 64 * batch.point_count() + 64 * (len(batch.config) + len(batch.summary))
            + sum(len(b.data) for b in batch.blobs))


def write_frame(fh: BinaryIO, batch: Batch) -> None:
    payload = records.encode(batch)
    fh.write(_HEADER.pack(len(payload), zlib.crc32(payload)) + payload)


def read_frame(fh: BinaryIO) -> Batch | None:
    """The next batch of a spill file; None at the end or at a torn or corrupt tail."""
    header = fh.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    size, crc = _HEADER.unpack(header)
    payload = fh.read(size)
    if len(payload) < size or zlib.crc32(payload) != crc:
        return None
    return records.decode(payload)


def read_frames(fh: BinaryIO) -> Iterator[Batch]:
    while (batch := read_frame(fh)) is not None:
        yield batch


class Outbox:
    def __init__(self, spill_dir: Path, name: str, memory_limit: int) -> None:
        self.spill_dir = spill_dir
        self.name = name
        self.memory_limit = memory_limit
        self._mem: deque[tuple[Batch, int]] = deque()
        self._mem_bytes = 0
        self._cond = threading.Condition()
        self._spill: BinaryIO | None = None
        self._spill_path: Path | None = None
        self._spill_pending = 0       # frames on disk not yet handed out
        self._reader: BinaryIO | None = None
        self._head: Batch | None = None
        self._head_from_disk = False
        self.spilled_total = 0

    # -- producer side --
    def put(self, batch: Batch) -> None:
        size = _estimate(batch)
        with self._cond:
            if self._spill_pending or self._mem_bytes + size > self.memory_limit:
                self._append_to_disk(batch)
            else:
                self._mem.append((batch, size))
                self._mem_bytes += size
            self._cond.notify_all()

    def _open_spill(self) -> BinaryIO:
        if self._spill is None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            final = self.spill_dir / f"{self.name}-{os.getpid()}.spill"
            tmp = final.with_suffix(".tmp")
            fh = open(tmp, "w+b")  # noqa: SIM115 - held open for the writer's life
            fcntl.flock(fh, fcntl.LOCK_EX)
            os.replace(tmp, final)  # locked before replayers can see it
            self._spill, self._spill_path = fh, final
        return self._spill

    def _append_to_disk(self, batch: Batch) -> None:
        fh = self._open_spill()
        fh.seek(0, os.SEEK_END)
        write_frame(fh, batch)
        fh.flush()
        self._spill_pending += 1
        self.spilled_total += 1

    # -- consumer side --
    def peek(self, timeout: float) -> Batch | None:
        """The oldest batch not yet acknowledged, waiting up to ``timeout`` for one."""
        with self._cond:
            if self._head is None and not self._mem and not self._spill_pending:
                self._cond.wait(timeout)
            if self._head is not None:
                return self._head
            if self._mem:
                self._head, self._head_from_disk = self._mem[0][0], False
            elif self._spill_pending:
                self._head, self._head_from_disk = self._next_from_disk(), True
            return self._head

    def _next_from_disk(self) -> Batch:
        assert self._spill is not None
        if self._reader is None:
            self._reader = open(self._spill_path, "rb")  # noqa: SIM115 - closed at reset
        batch = read_frame(self._reader)
        if batch is None:
            raise OSError(f"spill file {self._spill_path} ended before its last batch")
        return batch

    def ack(self) -> None:
        """The head batch was applied: drop it."""
        with self._cond:
            if self._head is None:
                return
            if self._head_from_disk:
                self._spill_pending -= 1
                if not self._spill_pending:
                    self._reset_spill()
            else:
                _batch, size = self._mem.popleft()
                self._mem_bytes -= size
            self._head = None
            self._cond.notify_all()

    def _reset_spill(self) -> None:
        # Everything on disk was applied: start the file over instead of growing it.
        assert self._spill is not None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._spill.truncate(0)

    def wake(self) -> None:
        """Release a consumer waiting in :meth:`peek` (at shutdown)."""
        with self._cond:
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._mem) + self._spill_pending

    def wait_empty(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._mem and not self._spill_pending, timeout)

    def persist(self) -> Path | None:
        """Put every unacknowledged batch on disk, in order, for a later replay."""
        with self._cond:
            if not self._mem and not self._spill_pending:
                self._close_spill(delete=True)
                return None
            pending_disk: list[Batch] = []
            if self._spill_pending:
                if self._head is not None and self._head_from_disk:
                    pending_disk.append(self._head)
                    self._spill_pending -= 1
                while self._spill_pending:
                    pending_disk.append(self._next_from_disk())
                    self._spill_pending -= 1
            fh = self._open_spill()
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            fh.seek(0)
            fh.truncate(0)
            for batch, _size in self._mem:
                write_frame(fh, batch)
            for batch in pending_disk:
                write_frame(fh, batch)
            fh.flush()
            os.fsync(fh.fileno())
            path = self._spill_path
            self._mem.clear()
            self._mem_bytes = 0
            self._head = None
            self._spill.close()  # releases the lock: the file is now an orphan to replay
            self._spill = None
            return path

    def close(self) -> None:
        with self._cond:
            self._close_spill(delete=not self._spill_pending and not self._mem)

    def _close_spill(self, delete: bool) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._spill is not None:
            if delete and self._spill_path is not None:
                self._spill_path.unlink(missing_ok=True)
            self._spill.close()
            self._spill = None


def replay_orphans(spill_dir: Path, apply: Callable[[Batch], object],
                   on_bad_file: Callable[[Path, Exception], None] | None = None) -> int:
    """Apply the batches of spill files whose writers died; returns batches applied.

    A file is deleted only after all of its batches were applied; ``apply`` skips
    the ones the store already has, so a replay interrupted halfway is safe to redo.
    A file the store refuses (:class:`SeqGapError`: its first batches died with its
    process) is renamed ``*.spill.bad`` and reported, so it never blocks the others.
    Any other error (the store is away) stops the replay for a later try.
    """
    if not spill_dir.is_dir():
        return 0
    applied = 0
    for path in sorted(spill_dir.glob("*.spill")):
        try:
            fh = open(path, "rb")  # noqa: SIM115
        except OSError:
            continue
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its writer is alive
            if not path.exists():
                continue  # another replayer finished it while we waited
            try:
                for batch in read_frames(fh):
                    apply(batch)
                    applied += 1
            except (SeqGapError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                bad = path.with_suffix(".spill.bad")
                os.replace(path, bad)
                if on_bad_file is not None:
                    on_bad_file(bad, exc)
                continue
            path.unlink(missing_ok=True)
    return applied
