"""run.alert: levels, wait_duration, bad input; runwatch's own NaN/Inf alert."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import runwatch
from runwatch.errors import UsageError
from runwatch.sdk.alerts import make_alert
from runwatch.store import open_store, read


def test_levels_and_wait_duration_with_a_fake_clock():
    sent: dict[str, float] = {}
    a = make_alert("t", "x", None, sent, None, now=100.0)
    assert a is not None and a.level == "INFO" and a.at == 100.0
    assert make_alert("t", "again", "WARN", sent, None, now=159.0) is None  # within 60 s
    assert make_alert("other", "x", "error", sent, None, now=159.0).level == "ERROR"
    assert make_alert("t", "x", runwatch.AlertLevel.WARN, sent, None, now=160.0) is not None
    assert make_alert("t", "x", None, sent, dt.timedelta(seconds=5), now=166.0) is not None
    assert make_alert("t", "x", None, sent, 0, now=166.0) is not None


@pytest.mark.parametrize("args, says", [
    (("", "x", None, None), "title"),
    (("t", 5, None, None), "text"),
    (("t", "x", "LOUD", None), "LOUD"),
    (("t", "x", None, -1), "wait_duration"),
])
def test_bad_alerts_say_what_is_wrong(args, says):
    with pytest.raises(UsageError, match=says):
        make_alert(args[0], args[1], args[2], {}, args[3], now=0.0)


def test_alerts_are_stored_with_the_run_and_nan_is_reported_once(store_dir: Path):
    run = runwatch.init(project="alerts")
    run.log({"loss": 1.0, "acc": 0.5})
    run.log({"loss": float("nan"), "acc": 0.6})
    run.log({"loss": float("nan"), "acc": float("-inf")})
    run.log({"loss": 2.0, "acc": 0.7})
    runwatch.alert("<b>done</b>", "all good <i>really</i>", level="ERROR")
    run.alert("<b>done</b>", "dropped: same title within a minute")
    run_id = run.id
    run.finish()
    store = open_store(f"sqlite:///{store_dir / 'runwatch.db'}")
    try:
        with store.read() as conn:
            found = read.list_alerts(conn, "alerts", run_id)
    finally:
        store.close()
    by_title = {a["title"]: a for a in found}
    assert set(by_title) == {"loss is NaN", "acc is -Inf", "<b>done</b>"}
    assert by_title["loss is NaN"]["step"] == 1 and by_title["loss is NaN"]["key"] == "loss"
    assert by_title["acc is -Inf"]["step"] == 2 and by_title["acc is -Inf"]["level"] == "WARN"
    assert by_title["<b>done</b>"]["text"] == "all good <i>really</i>"
    assert by_title["<b>done</b>"]["level"] == "ERROR"


def test_disabled_runs_accept_alerts(store_dir: Path):
    run = runwatch.init(project="alerts", mode="disabled")
    run.alert("t", "x")
    run.finish()
