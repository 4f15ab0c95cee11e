"""``run.alert(title, text, level, wait_duration)``: wandb's alerts, kept in the store.

Alerts with the same title within ``wait_duration`` seconds (default 60, as in wandb)
are dropped, so an alert in a training loop does not flood anyone.
"""

from __future__ import annotations

import time
from typing import Any

from runwatch.errors import UsageError
from runwatch.records import ALERT_LEVELS, Alert


class AlertLevel:
    """``wandb.AlertLevel``: the levels, as the strings the store keeps."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def make_alert(title: Any, text: Any, level: Any, last_sent: dict[str, float],
               wait_duration: Any, now: float | None = None) -> Alert | None:
    """The alert to record, or None while ``title`` is inside its ``wait_duration``."""
    if not isinstance(title, str) or not title.strip():
        raise UsageError(f"alert title must be a non-empty string, got {title!r}.")
    if not isinstance(text, str):
        raise UsageError(f"alert text must be a string, got {type(text).__name__}: {text!r:.80}.")
    name = getattr(level, "value", level) if level is not None else "INFO"
    name = str(name).upper()
    if name not in ALERT_LEVELS:
        raise UsageError(f"alert level {level!r} is not one of {', '.join(ALERT_LEVELS)}.")
    if wait_duration is None:
        wait = 60.0
    elif hasattr(wait_duration, "total_seconds"):
        wait = float(wait_duration.total_seconds())
    elif isinstance(wait_duration, (int, float)) and wait_duration >= 0:
        wait = float(wait_duration)
    else:
        raise UsageError(f"wait_duration must be seconds >= 0 or a timedelta, got {wait_duration!r}.")
    now = time.time() if now is None else now
    last = last_sent.get(title)
    if last is not None and now - last < wait:
        return None
    last_sent[title] = now
    return Alert(title=title[:1000], text=text[:10_000], level=name, at=now)
