"""Alert webhooks: POST each alert as Slack-compatible JSON to ``alert_webhook``.

The writer's sender hands over a batch's alerts only after the sink wrote the batch,
so an alert is in the store before anyone is told about it. :meth:`WebhookSender.send`
only puts them in a bounded queue; a daemon thread posts them with httpx (imported
there, not at ``import runwatch``), retrying connection errors, timeouts, HTTP 429
(honouring ``Retry-After``) and 5xx with backoff. Nothing here waits on the network
on the caller's thread, and nothing raises: failures become warnings and counters.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from runwatch.records import Alert
from runwatch.sdk.warn import Warner

# Seconds to wait before the 2nd, 3rd, ... attempt: 5 attempts in all.
BACKOFF: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
# Longest wait a ``Retry-After`` header may ask for.
RETRY_AFTER_MAX = 30.0
# Seconds per request (connect, read, write, pool).
REQUEST_TIMEOUT = 5.0
# Alerts waiting for delivery at most; more are dropped (they stay in the store).
QUEUE_LIMIT = 1000
USERNAME = "runwatch"
_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def redact_url(url: str) -> str:
    """``url`` fit for a warning: no user or password, query or fragment, and only the
    first path segment (a Slack webhook's path is its secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<the alert_webhook URL>"
    if ":" in host:
        host = f"[{host}]"
    where = f"{parts.scheme}://{host}{f':{port}' if port else ''}"
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) > 1:
        return f"{where}/{segments[0]}/…"
    return f"{where}/{segments[0]}" if segments else where


def payload(alert: Alert, project: str, run_id: str, run_name: str) -> dict[str, Any]:
    """The JSON body for one alert: Slack's ``text`` and ``username``, and the alert as
    data under ``runwatch`` for receivers that are not Slack (its strings as they are).

    Slack reads ``<...>`` in ``text`` as a link or mention, so ``text`` escapes ``&``,
    ``<`` and ``>`` the way Slack asks; a user's ``<!channel>`` cannot ping anyone."""
    text = f"[{alert.level}] {alert.title} — {alert.text} — run {project}/{run_id} ({run_name})"
    if alert.step is not None:
        text += f", step {alert.step}"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {
        "text": text,
        "username": USERNAME,
        "runwatch": {
            "level": alert.level, "title": alert.title, "text": alert.text,
            "project": project, "run_id": run_id, "run_name": run_name,
            "key": alert.key, "step": alert.step, "at": alert.at,
        },
    }


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (capped), or None (an HTTP date, or junk)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not seconds >= 0:
        return None
    return min(seconds, RETRY_AFTER_MAX)


class WebhookSender:
    """Delivers alerts to one URL on a daemon thread; :meth:`send` never blocks."""

    def __init__(self, url: str, warner: Warner, *, project: str, run_id: str,
                 run_name: Callable[[], str], stats: Counter[str] | None = None) -> None:
        self.url = url
        self.where = redact_url(url)
        self.warner = warner
        self.project = project
        self.run_id = run_id
        self.run_name = run_name
        self.stats: Counter[str] = stats if stats is not None else Counter()
        self._queue: queue.Queue[Alert | None] = queue.Queue(QUEUE_LIMIT)
        self._lock = threading.Lock()
        self._unfinished = 0          # queued or being delivered
        self._idle = threading.Condition(self._lock)
        self._closed = False
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runwatch-webhook", daemon=True)
        self._thread.start()

    # -- the caller's side: never waits --
    def send(self, alerts: Sequence[Alert]) -> None:
        """Queue ``alerts`` for delivery; when the queue is full they are dropped."""
        for alert in alerts:
            with self._lock:
                if self._closed:
                    self.stats["alerts_not_delivered"] += 1
                    continue
                try:
                    self._queue.put_nowait(alert)
                except queue.Full:
                    full = True
                else:
                    full = False
                    self._unfinished += 1
            if full:
                self.stats["alerts_dropped"] += 1
                self.warner.warn(
                    "webhook-queue-full",
                    f"runwatch: {QUEUE_LIMIT} alerts are already waiting for {self.where}; "
                    f"alert {alert.title!r} (and any more while the queue is full) is not sent "
                    "there. It is still stored with the run.", background=True)

    # -- the delivery thread --
    def _loop(self) -> None:
        client = None
        try:
            while True:
                alert = self._queue.get()
                if alert is None:  # close()'s sentinel
                    return
                if self._abandon.is_set():  # close() gave up: skip the rest, then end
                    self._done()
                    if self._queue.empty():
                        return
                    continue
                try:
                    if client is None:
                        import httpx

                        client = httpx.Client(timeout=REQUEST_TIMEOUT)
                    self._deliver(client, alert)
                except Exception as exc:  # noqa: BLE001 - never let the thread die silently
                    self._failed(alert, repr(exc))
                finally:
                    self._done()
        finally:
            if client is not None:
                client.close()

    def _done(self) -> None:
        with self._lock:
            self._unfinished -= 1
            if self._unfinished <= 0:
                self._idle.notify_all()

    def _deliver(self, client: Any, alert: Alert) -> None:
        import httpx

        body = json.dumps(payload(alert, self.project, self.run_id, self.run_name()),
                          ensure_ascii=False).encode()
        problem = ""
        for attempt in range(len(BACKOFF) + 1):
            if attempt:
                self.stats["alert_delivery_retries"] += 1
            wait: float | None = None
            try:
                response = client.post(self.url, content=body, headers=_HEADERS)
            except (httpx.TransportError, OSError) as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                status = response.status_code
                if 200 <= status < 300:
                    self.stats["alerts_delivered"] += 1
                    return
                problem = f"HTTP {status}"
                if status != 429 and status < 500:
                    break  # the receiver refuses this request: asking again will not help
                if status == 429:
                    wait = _retry_after(response.headers.get("retry-after"))
            if attempt >= len(BACKOFF):
                break
            if self._abandon.wait(BACKOFF[attempt] if wait is None else wait):
                return  # close() gave up; it counts and reports what was left
        self._failed(alert, problem)

    def _failed(self, alert: Alert, problem: str) -> None:
        self.stats["alerts_not_delivered"] += 1
        problem = problem.replace(self.url, self.where)  # an error may quote the whole URL
        self.warner.warn(
            f"webhook-failed:{problem[:60]}",
            f"runwatch could not deliver alert {alert.title!r} to {self.where} ({problem}); "
            "it is stored with the run and shown on the run page.", background=True)

    # -- shutdown --
    def pending(self) -> int:
        """Alerts queued or being delivered."""
        with self._lock:
            return max(self._unfinished, 0)

    def close(self, timeout: float) -> int:
        """Wait at most ``timeout`` seconds for pending deliveries, then give up on the
        rest (with one warning); returns how many were not delivered."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._lock:
            self._closed = True
            while self._unfinished > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._idle.wait(left)
            left_over = max(self._unfinished, 0)
        self._abandon.set()
        try:
            self._queue.put_nowait(None)  # wakes the thread and ends it
        except queue.Full:
            pass  # the thread skips what is queued (abandon is set) and ends after it
        if left_over:
            self.stats["alerts_not_delivered"] += left_over
            self.warner.warn(
                "webhook-gave-up",
                f"runwatch gave up delivering {left_over} alert(s) to {self.where} after "
                f"waiting {timeout:g} s at finish; they are stored with the run.",
                background=True)
        return left_over
