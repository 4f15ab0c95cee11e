"""Warnings that never stop training: one per cause, counted, or raised under strict mode."""

from __future__ import annotations

import threading
import warnings
from collections import Counter

from runwatch.errors import RunwatchError, RunwatchWarning


class Warner:
    """Emits each distinct warning once and counts every occurrence.

    Under ``strict`` a warning raised on the training thread becomes an exception
    at once; one raised on the writer thread is kept and raised by the next
    ``flush()`` or ``finish()``.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.counts: Counter[str] = Counter()
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.pending_error: RunwatchError | None = None

    def warn(self, cause: str, message: str, *, background: bool = False,
             every_time: bool = False) -> None:
        """Count ``cause``; show ``message`` the first time (every time with ``every_time``)."""
        cause = cause[:200]  # causes embed user keys; keep the bookkeeping small
        with self._lock:
            self.counts[cause] += 1
            first = cause not in self._seen
            self._seen.add(cause)
        if self.strict:
            err = RunwatchError(message)
            if background:
                if self.pending_error is None:
                    self.pending_error = err
                return
            raise err
        if first or every_time:
            # On the writer thread there is no user frame to point at.
            warnings.warn(message, RunwatchWarning, stacklevel=1 if background else 3)

    def raise_pending(self) -> None:
        err, self.pending_error = self.pending_error, None
        if err is not None:
            raise err
