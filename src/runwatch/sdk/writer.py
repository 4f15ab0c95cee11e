"""The writer: turns the run's queue into batches and delivers them to the sink.

Two daemon threads, so a slow store never stalls batching:

- the *batcher* wakes every ``flush_interval`` (or when ``log()`` reports a full
  queue), drains the queue into a :class:`Batch` and puts it in the outbox;
- the *sender* applies outbox batches to the sink in order, retrying failures
  with backoff. Batches it cannot deliver wait in memory, then on disk. Once a
  batch is written, its alerts go to :attr:`Writer.on_alerts` (the alert webhook,
  which only queues them), so the store has every alert before anyone is told.

Nothing here raises into the training loop: failures become one warning each
and a counter in :attr:`Writer.stats`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runwatch.errors import SeqGapError
from runwatch.records import Alert
from runwatch.sdk.batcher import Batcher
from runwatch.sdk.outbox import Outbox, replay_orphans
from runwatch.sdk.sinks import Sink
from runwatch.sdk.warn import Warner

# Points in one batch at most, so a batch of Python lists stays a few MB.
_MAX_POINTS_PER_BATCH = 50_000
# At close, a sink that has failed every try for this long (a server that is away) is
# not waited for any longer: its batches go to the spill file at once.
_STALLED_AFTER = 10.0


class Writer:
    def __init__(self, queue: deque[Any], batcher: Batcher, sink: Sink, warner: Warner, *,
                 spill_dir: Path, name: str, flush_interval: float, heartbeat_interval: float,
                 memory_limit: int, first_seq: int = 0) -> None:
        self.queue = queue
        self.batcher = batcher
        self.sink = sink
        self.warner = warner
        self.flush_interval = flush_interval
        self.heartbeat_interval = heartbeat_interval
        self.outbox = Outbox(spill_dir, name, memory_limit)
        self.spill_dir = spill_dir
        self.lock = threading.RLock()
        self.stats: Counter[str] = Counter()
        self._seq = first_seq
        self._last_batch_at = 0.0
        self._failing_since: float | None = None
        # Called with a written batch's alerts (replayed spill files are not re-announced).
        self.on_alerts: Callable[[list[Alert]], None] | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._sender_stop = threading.Event()
        self._batch_thread = threading.Thread(target=self._batch_loop, name="runwatch-batcher",
                                              daemon=True)
        self._send_thread = threading.Thread(target=self._send_loop, name="runwatch-sender",
                                             daemon=True)

    def start(self) -> None:
        self._batch_thread.start()
        self._send_thread.start()

    # -- batching --
    def _batch_loop(self) -> None:
        due = time.monotonic() + self.flush_interval
        while not self._stopping.is_set():
            # A fixed schedule: a slow flush does not push the next one later.
            self._wake.wait(max(due - time.monotonic(), 0.0))
            self._wake.clear()
            due = max(due + self.flush_interval, time.monotonic())
            self._safe_flush()
        self._safe_flush()

    def _safe_flush(self) -> None:
        try:
            self.flush_queue()
        except Exception as exc:  # noqa: BLE001 - never let the thread die silently
            self.stats["batch_failures"] += 1
            self.warner.warn("batcher", f"runwatch's writer failed to batch data: {exc!r}. "
                             "Data logged afterwards is still written.", background=True)

    def drain(self) -> None:
        """Move everything queued into the batcher (caller holds the lock)."""
        pop = self.queue.popleft
        batcher = self.batcher
        add_row, add = batcher.add_row, batcher.add
        while True:
            try:
                head = pop()
            except IndexError:
                return
            # log() appends each triple in one deque.extend: the other two are there.
            second, third = pop(), pop()
            if type(head) is int:
                add_row(head, second, third)
            else:
                add(head, second)
            if batcher.points >= _MAX_POINTS_PER_BATCH:
                self._emit(time.time())

    def flush_queue(self) -> None:
        """Batch everything queued (or send a heartbeat when it is due)."""
        with self.lock:
            self.drain()
            now = time.time()
            if not self.batcher.empty() or now - self._last_batch_at >= self.heartbeat_interval:
                self._emit(now)

    def _emit(self, now: float) -> None:
        batch = self.batcher.take(self._seq, now)
        self._seq += 1
        self._last_batch_at = now
        self.stats["batches"] += 1
        self.outbox.put(batch)

    def wake(self) -> None:
        self._wake.set()

    def sync_summary(self) -> None:
        """Fold queued rows into the summary now (for a read on the training thread)."""
        with self.lock:
            self.drain()
            self.batcher.fold_summary()

    # -- sending --
    def _send_loop(self) -> None:
        # Open the store while training runs, not when the first batch is due, and
        # replay what dead writers left; a busy store gets a few tries before a warning.
        for attempt in range(8):
            try:
                self.sink.open()
                replayed = replay_orphans(self.spill_dir, self.sink.apply, self._bad_spill)
                self.stats["replayed_batches"] += replayed
                break
            except Exception as exc:  # noqa: BLE001
                if attempt == 7:
                    self.warner.warn("replay", f"runwatch could not replay spill files in "
                                     f"{self.spill_dir}: {exc!r}. They are kept for the next "
                                     "try.", background=True)
                elif self._sender_stop.wait(0.05 * 2 ** attempt):
                    break
        backoff = 0.05
        while True:
            batch = self.outbox.peek(timeout=0.2)
            if batch is None:
                if self._sender_stop.is_set():
                    return
                continue
            try:
                problems = self.sink.apply(batch)
            except SeqGapError as exc:
                self._failing_since = self._failing_since or time.monotonic()
                self.stats["write_failures"] += 1
                self.warner.warn("seq-gap", f"runwatch: {exc}", background=True)
                if self._sender_stop.wait(backoff):
                    return
                backoff = min(backoff * 2, 2.0)
                continue
            except Exception as exc:  # noqa: BLE001 - retried; the batch is kept
                self._failing_since = self._failing_since or time.monotonic()
                self.stats["write_failures"] += 1
                self.warner.warn(
                    "store-write",
                    f"runwatch could not write to {self.sink.description}: {exc!r}. Retrying; "
                    "nothing is lost (batches wait in memory, then on disk in "
                    f"{self.spill_dir}).", background=True)
                if self._sender_stop.wait(backoff):
                    return
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            self._failing_since = None
            self.outbox.ack()
            self.stats["batches_written"] += 1
            if batch.alerts and self.on_alerts is not None:
                try:
                    self.on_alerts(batch.alerts)
                except Exception as exc:  # noqa: BLE001 - the alerts are stored already
                    self.warner.warn("alert-hook", f"runwatch could not hand alerts to the "
                                     f"webhook: {exc!r}.", background=True)
            for problem in problems:
                self.stats["refused_records"] += 1
                self.warner.warn(f"refused:{problem}", f"runwatch: {problem}", background=True)

    def _bad_spill(self, path: Path, exc: Exception) -> None:
        self.stats["bad_spill_files"] += 1
        self.warner.warn(f"bad-spill:{path.name}", f"runwatch could not replay {path}: {exc} "
                         "It was left by a process that died before its first batches were "
                         "written; it is kept aside and the other spill files were replayed.",
                         background=True)

    # -- shutdown --
    def flush(self, timeout: float) -> bool:
        """Write out everything queued so far; True if it all reached the sink in time."""
        self.flush_queue()
        return self.outbox.wait_empty(timeout)

    def close(self, timeout: float) -> Path | None:
        """Stop both threads; returns the spill file left behind if the sink was too slow."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        self._batch_thread.join(max(deadline - time.monotonic(), 0.1))
        if self._batch_thread.is_alive():
            # Batcher stuck (should not happen): batch what is queued ourselves.
            self.flush_queue()
        while not self.outbox.wait_empty(min(max(deadline - time.monotonic(), 0.0), 0.25)):
            failing = self._failing_since
            if time.monotonic() >= deadline or (
                    failing is not None and time.monotonic() - failing > _STALLED_AFTER):
                break
        self._sender_stop.set()
        self.outbox.wake()
        self._send_thread.join(max(deadline - time.monotonic(), 0.5))
        self.stats["spilled_batches"] = self.outbox.spilled_total
        left = None
        if self.outbox.pending():
            left = self.outbox.persist()
        else:
            self.outbox.close()
        try:
            self.sink.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        return left
