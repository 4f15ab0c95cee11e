"""Alert webhooks against a real local HTTP server and real runs: payload, retries,
refusals, an unreachable receiver, automatic NaN alerts, offline mode, a full queue,
and the setting's validation."""

from __future__ import annotations

import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import runwatch
from runwatch.errors import RunwatchWarning, UsageError
from runwatch.sdk import webhook
from runwatch.settings import resolve
from runwatch.store import open_store, read


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers from a script, then 200."""

    def __init__(self, store_dir: Path) -> None:
        self.store_url = f"sqlite:///{store_dir / 'runwatch.db'}"
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.release.set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.release.wait(30)
                data = json.loads(body)
                with receiver.lock:
                    receiver.requests.append({
                        "path": self.path, "raw": body,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "json": data, "stored": receiver.stored_titles(data),
                    })
                    status, headers = (receiver.answers.pop(0) if receiver.answers
                                       else (200, {}))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stored_titles(self, data: dict[str, Any]) -> list[str]:
        """The alert titles the store holds for the run, at the moment of the request."""
        info = data.get("runwatch") or {}
        store = open_store(self.store_url)
        try:
            with store.read() as conn:
                return [a["title"] for a in read.list_alerts(conn, info["project"],
                                                             info["run_id"])]
        finally:
            store.close()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RUNWATCH_ALERT_WEBHOOK", raising=False)
    # Retries in milliseconds, not seconds: the tests count attempts, not time.
    monkeypatch.setattr(webhook, "BACKOFF", (0.01, 0.02, 0.04, 0.08))
    r = Receiver(store_dir)
    yield r
    r.close()


def stored_alerts(store_dir: Path, project: str, run_id: str) -> list[dict[str, Any]]:
    store = open_store(f"sqlite:///{store_dir / 'runwatch.db'}")
    try:
        with store.read() as conn:
            return read.list_alerts(conn, project, run_id)
    finally:
        store.close()


def webhook_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, RunwatchWarning)]


def test_an_alert_is_posted_once_as_slack_json_after_it_is_stored(receiver, store_dir):
    run = runwatch.init(project="hooks", name="night <b>run</b>",
                        settings={"alert_webhook": receiver.url})
    title = "<script>alert(1)</script>"
    text = 'loss & "accuracy" <img src=x onerror=alert(2)>'
    run.alert(title, text, level="error")
    run_id = run.id
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.finish()
    assert webhook_warnings(caught) == []
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert req["path"] == "/hook"
    assert req["headers"]["content-type"].startswith("application/json")
    body = req["json"]
    assert set(body) == {"text", "username", "runwatch"}
    assert body["username"] == "runwatch"
    # Slack's text escaping: & < > only (so markup cannot become links or mentions).
    assert body["text"] == (f"[ERROR] &lt;script&gt;alert(1)&lt;/script&gt; — loss &amp; "
                            f'"accuracy" &lt;img src=x onerror=alert(2)&gt; — run hooks/{run_id} '
                            "(night &lt;b&gt;run&lt;/b&gt;)")
    info = body["runwatch"]
    assert info["level"] == "ERROR" and info["title"] == title and info["text"] == text
    assert (info["project"], info["run_id"], info["run_name"]) == ("hooks", run_id,
                                                                   "night <b>run</b>")
    assert info["key"] is None and info["step"] is None
    assert abs(info["at"] - time.time()) < 600
    # Under "runwatch" markup travels as JSON string data, verbatim.
    assert b"<script>alert(1)</script>" in req["raw"]
    # The store had the alert before the receiver heard of it, and keeps it.
    assert req["stored"] == [title]
    assert [a["title"] for a in stored_alerts(store_dir, "hooks", run_id)] == [title]
    assert run.stats["alerts_delivered"] == 1


def test_server_errors_are_retried_until_delivered_exactly_once(receiver):
    receiver.answers = [(500, {}), (503, {})]
    run = runwatch.init(project="hooks", settings={"alert_webhook": receiver.url})
    run.alert("flaky", "the receiver fails twice")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.finish()
    assert len(receiver.requests) == 3
    assert all(r["json"]["runwatch"]["title"] == "flaky" for r in receiver.requests)
    assert len({r["raw"] for r in receiver.requests}) == 1  # the same alert, resent
    assert run.stats["alerts_delivered"] == 1
    assert run.stats["alert_delivery_retries"] == 2
    assert run.stats.get("alerts_not_delivered", 0) == 0
    assert webhook_warnings(caught) == []


def test_429_waits_for_retry_after_capped(receiver, monkeypatch):
    # The receiver asks for an hour; the cap (made tiny here) wins.
    monkeypatch.setattr(webhook, "RETRY_AFTER_MAX", 0.05)
    receiver.answers = [(429, {"Retry-After": "3600"})]
    run = runwatch.init(project="hooks", settings={"alert_webhook": receiver.url})
    run.alert("slow down", "rate limited once")
    started = time.monotonic()
    run.finish()
    assert time.monotonic() - started < 30
    assert len(receiver.requests) == 2
    assert run.stats["alerts_delivered"] == 1


def test_a_refused_alert_is_not_retried_and_warns_once(receiver, store_dir):
    receiver.answers = [(400, {}), (400, {})]
    run = runwatch.init(project="hooks", settings={"alert_webhook": receiver.url})
    run.alert("refused", "the receiver says 400")
    run_id = run.id
    with pytest.warns(RunwatchWarning) as caught:
        run.finish()
    assert len(receiver.requests) == 1
    messages = [m for m in webhook_warnings(caught.list) if "could not deliver" in m]
    assert len(messages) == 1
    assert "HTTP 400" in messages[0] and receiver.url in messages[0]
    assert "'refused'" in messages[0]
    assert run.stats["alerts_not_delivered"] == 1
    assert run.stats.get("alerts_delivered", 0) == 0
    assert [a["title"] for a in stored_alerts(store_dir, "hooks", run_id)] == ["refused"]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_receiver_never_blocks_training(receiver, store_dir):
    port = _closed_port()
    url = f"http://someone:hunter2@127.0.0.1:{port}/hook?token=s3cret"
    run = runwatch.init(project="hooks", settings={"alert_webhook": url})
    started = time.monotonic()
    run.alert("nobody listens", "connection refused")
    for i in range(100):
        run.log({"x": i})
    assert time.monotonic() - started < 1.0  # queued, never sent on this thread
    run_id = run.id
    with pytest.warns(RunwatchWarning) as caught:
        started = time.monotonic()
        run.finish()
    assert time.monotonic() - started < 30
    messages = [m for m in webhook_warnings(caught.list) if "could not deliver" in m]
    assert len(messages) == 1, webhook_warnings(caught.list)
    assert f"http://127.0.0.1:{port}/hook" in messages[0]
    assert "Connect" in messages[0]
    assert "hunter2" not in messages[0] and "s3cret" not in messages[0]
    assert run.stats["alert_delivery_retries"] == len(webhook.BACKOFF)
    assert [a["title"] for a in stored_alerts(store_dir, "hooks", run_id)] == ["nobody listens"]
    assert receiver.requests == []


def test_finish_gives_up_on_pending_deliveries(receiver, monkeypatch, store_dir):
    # Always 503 with a long backoff: finish waits at most finish_timeout, then gives up.
    monkeypatch.setattr(webhook, "BACKOFF", (60.0,) * 4)
    receiver.answers = [(503, {})] * 10
    run = runwatch.init(project="hooks", settings={"alert_webhook": receiver.url,
                                                   "finish_timeout": 1.0})
    run.alert("pending", "never answered with 200")
    run_id = run.id
    with pytest.warns(RunwatchWarning) as caught:
        started = time.monotonic()
        run.finish()
    assert time.monotonic() - started < 20
    messages = [m for m in webhook_warnings(caught.list) if "gave up" in m]
    assert len(messages) == 1 and "1 alert(s)" in messages[0] and receiver.url in messages[0]
    assert len(receiver.requests) == 1
    assert [a["title"] for a in stored_alerts(store_dir, "hooks", run_id)] == ["pending"]


def test_the_automatic_nan_alert_is_delivered_with_key_and_step(receiver):
    run = runwatch.init(project="hooks", settings={"alert_webhook": receiver.url})
    run.log({"loss": 1.0})
    run.log({"loss": 0.5})
    run.log({"loss": float("nan")})
    run.log({"loss": float("nan")})
    run_id = run.id
    run.finish()
    assert len(receiver.requests) == 1
    body = receiver.requests[0]["json"]
    info = body["runwatch"]
    assert (info["level"], info["title"], info["key"], info["step"]) == (
        "WARN", "loss is NaN", "loss", 2)
    assert body["text"].startswith("[WARN] loss is NaN — ")
    assert body["text"].endswith(f"run hooks/{run_id} ({run.name}), step 2")
    assert receiver.requests[0]["stored"] == ["loss is NaN"]


def _webhook_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "runwatch-webhook" and t.is_alive()]


def test_offline_runs_and_runs_without_the_setting_start_no_sender(receiver, store_dir):
    before = len(_webhook_threads())
    run = runwatch.init(project="hooks", mode="offline",
                        settings={"alert_webhook": receiver.url})
    run.alert("offline", "stored, not sent")
    assert len(_webhook_threads()) == before
    run_id = run.id
    run.finish()
    plain = runwatch.init(project="hooks")
    plain.alert("plain", "no webhook set")
    assert len(_webhook_threads()) == before
    plain.finish()
    online = runwatch.init(project="hooks", settings={"alert_webhook": receiver.url})
    assert len(_webhook_threads()) == before + 1
    online.finish()
    # The offline run's spool, synced into the store: the alert is stored, never sent.
    from runwatch.sdk import sync
    from runwatch.sdk.sinks import LocalSink

    sink = LocalSink(f"sqlite:///{store_dir / 'runwatch.db'}")
    report = sync.sync_files(sync.find_files([store_dir / "offline"]), sink.apply)
    sink.close()
    assert report.batches >= 1 and report.files == 1 and not report.failed
    assert receiver.requests == []  # the online run raised no alert; sync sends none
    assert [a["title"] for a in stored_alerts(store_dir, "hooks", run_id)] == ["offline"]


def test_a_full_queue_drops_alerts_with_one_warning(receiver, monkeypatch):
    monkeypatch.setattr(webhook, "QUEUE_LIMIT", 2)
    receiver.release.clear()  # the receiver holds the first request until released
    run = runwatch.init(project="hooks", settings={"alert_webhook": receiver.url})
    with pytest.warns(RunwatchWarning) as caught:
        for i in range(6):
            run.alert(f"alert {i}", "many at once")
        deadline = time.monotonic() + 20
        while run.stats.get("alerts_dropped", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        receiver.release.set()
        run.finish()
    full = [m for m in webhook_warnings(caught.list) if "already waiting" in m]
    assert len(full) == 1 and receiver.url in full[0]
    stats = run.stats
    assert stats["alerts_dropped"] >= 1
    assert stats["alerts_delivered"] + stats["alerts_dropped"] == 6
    assert len(receiver.requests) == stats["alerts_delivered"]


@pytest.mark.parametrize("bad", [
    "ftp://example.com/hook", "hooks.slack.com/services/x", "http://", "https:///path",
    "javascript:alert(1)", "http://example.com:99999/hook", "http://exa mple.com/hook",
])
def test_bad_webhook_urls_are_refused_with_the_value(bad, monkeypatch):
    monkeypatch.setenv("RUNWATCH_ALERT_WEBHOOK", bad)
    with pytest.raises(UsageError, match="RUNWATCH_ALERT_WEBHOOK") as from_env:
        runwatch.init(project="hooks")
    assert repr(bad) in str(from_env.value)
    monkeypatch.delenv("RUNWATCH_ALERT_WEBHOOK")
    with pytest.raises(UsageError, match="alert_webhook") as from_init:
        runwatch.init(project="hooks", settings={"alert_webhook": bad})
    assert repr(bad) in str(from_init.value)
    assert runwatch.run is None


def test_webhook_setting_sources():
    url = "https://hooks.example.com/services/T0/B0/xyz"
    assert resolve({}, {}).alert_webhook is None
    assert resolve({}, {"RUNWATCH_ALERT_WEBHOOK": url}).alert_webhook == url
    assert resolve({}, {"RUNWATCH_ALERT_WEBHOOK": ""}).alert_webhook is None
    # An empty override turns off what the environment set; a URL overrides it.
    assert resolve({"alert_webhook": ""},
                   {"RUNWATCH_ALERT_WEBHOOK": url}).alert_webhook is None
    assert resolve({"alert_webhook": "http://127.0.0.1:9/x"},
                   {"RUNWATCH_ALERT_WEBHOOK": url}).alert_webhook == "http://127.0.0.1:9/x"
    with pytest.raises(UsageError, match="alert_webhook=42"):
        resolve({"alert_webhook": 42}, {})


def test_redacted_urls_keep_no_secrets():
    assert webhook.redact_url("https://hooks.slack.com/services/T0/B0/secret") == \
        "https://hooks.slack.com/services/…"
    assert webhook.redact_url("http://u:p@10.0.0.1:8080/hook?key=k#f") == "http://10.0.0.1:8080/hook"
    assert webhook.redact_url("https://[::1]:9000") == "https://[::1]:9000"
