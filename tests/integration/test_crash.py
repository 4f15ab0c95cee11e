"""``kill -9`` of a logging process: what was committed survives, the run reads ``crashed``."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.integration._helpers import scan, spawn, stored_run, user_items

PRINT_EVERY = 20

# Logs a known pattern as fast as a 1 ms sleep allows and reports progress after each
# PRINT_EVERY-th step: "<step> <time>" means steps 0..step were passed to log().
CHILD = f"""
    import time
    import runwatch

    run = runwatch.init(project="crash", id="victim")
    print("ready", flush=True)
    step = 0
    while True:
        run.log({{"x": float(step), "sq": step * step, "tag": f"s{{step}}"}})
        if step % {PRINT_EVERY} == 0:
            print(step, time.time(), flush=True)
        step += 1
        time.sleep(0.001)
"""


def _expected(step: int) -> dict[str, object]:
    return {"x": float(step), "sq": step * step, "tag": f"s{step}"}


def _run_and_kill(seconds: float, reap: bool = True, flush_interval: str | None = None):
    # The promise under test is "committed at least once per second" with the settings a
    # user gets (default flush interval 0.5 s, or any larger one, capped at 1 s), not the
    # fast one the fixture sets.
    env = {"RUNWATCH_FLUSH_INTERVAL": flush_interval} if flush_interval else None
    proc = spawn(CHILD, drop=["RUNWATCH_FLUSH_INTERVAL"], env_extra=env)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    reports: list[tuple[int, float]] = []

    def reader() -> None:
        for line in proc.stdout:
            step, at = line.split()
            reports.append((int(step), float(at)))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not reports and time.monotonic() < deadline:  # logging has begun
        time.sleep(0.01)
    assert reports, "child never reported progress"
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    if reap:
        assert proc.wait(timeout=30) == -signal.SIGKILL
        thread.join(timeout=30)
        proc.stderr.close()
    return proc, thread, reports


@pytest.mark.parametrize("flush_interval", [None, "30"], ids=["default", "capped"])
def test_kill_9_leaves_committed_prefix_and_crashed_state(
        store_dir: Path, flush_interval: str | None) -> None:
    _proc, _thread, reports = _run_and_kill(4.0, flush_interval=flush_interval)
    last_reported, last_at = reports[-1]
    first_step, first_at = reports[0]
    assert last_reported >= 500, f"child logged too little to judge ({last_reported} steps)"
    rate = (last_reported - first_step) / (last_at - first_at)  # steps per second

    run = stored_run(store_dir, "crash/victim")
    assert run.state == "crashed"
    assert run.finished_at is None

    rows = scan(store_dir, "crash/victim")
    steps = [r["_step"] for r in rows]
    assert steps, "nothing was committed before the kill"
    n = steps[-1]
    # A contiguous prefix 0..N, every row complete and exactly as logged.
    assert steps == list(range(n + 1))
    for row in rows:
        assert user_items(row) == _expected(row["_step"])
    assert run.last_step == n

    # Committed at least once per second: at most ~1 s of logging is lost. Tolerance: the
    # promised 1 s plus 0.75 s of logging at the child's own measured rate, plus one
    # progress report.
    behind = last_reported - n
    allowed = rate * 1.75 + PRINT_EVERY
    print(f"lag: {behind} steps = {behind / rate:.3f} s at {rate:.0f} steps/s")
    assert behind <= allowed, (
        f"stored up to step {n} but the child had reported {last_reported} "
        f"({behind} steps = {behind / rate:.2f} s of logging behind; allowed {allowed:.0f})")


def test_killed_but_unreaped_child_reads_crashed(store_dir: Path) -> None:
    """A SIGKILLed process is dead even while its parent has not yet wait()ed for it
    (a zombie); a reader on the same host must not report the run as ``running``."""
    proc, thread, _reports = _run_and_kill(1.0, reap=False)
    try:
        # Wait for the kernel to make it a zombie, without reaping it (no poll()/wait()).
        deadline = time.monotonic() + 30
        while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "SIGKILLed child never died"
            time.sleep(0.01)
        assert stored_run(store_dir, "crash/victim").state == "crashed"
    finally:
        proc.wait(timeout=30)
        thread.join(timeout=30)
        proc.stderr.close()
