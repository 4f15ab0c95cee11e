"""A run's final state, as real processes end in each of the ways a process can end."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import run_python
from tests.integration._helpers import scan, spawn, stored_run, user_items

PRELUDE = """
    import sys, time
    import runwatch
"""


def _child(body: str) -> str:
    return PRELUDE + body


def _steps(store: Path, path: str) -> list[int]:
    return [r["_step"] for r in scan(store, path)]


def test_normal_exit_without_finish_is_finished(store_dir: Path) -> None:
    proc = run_python(_child("""
    run = runwatch.init(project="states", id="normal")
    for i in range(5):
        run.log({"i": i})
    """))
    assert proc.returncode == 0
    run = stored_run(store_dir, "states/normal")
    assert run.state == "finished"
    assert run.exit_code == 0
    assert run.traceback is None
    assert run.finished_at is not None
    assert [user_items(r) for r in scan(store_dir, "states/normal")] == [{"i": i} for i in range(5)]


def test_uncaught_exception_is_failed_with_traceback(store_dir: Path) -> None:
    proc = run_python(_child("""
    run = runwatch.init(project="states", id="exc")
    for i in range(3):
        run.log({"i": i})
    def train():
        raise ValueError("exploded at step 3: unmistakable-7b1f")
    train()
    """), check=False)
    assert proc.returncode == 1
    assert "unmistakable-7b1f" in proc.stderr  # the user still sees their traceback
    run = stored_run(store_dir, "states/exc")
    assert run.state == "failed"
    assert run.exit_code not in (None, 0)
    assert run.traceback is not None
    assert "ValueError: exploded at step 3: unmistakable-7b1f" in run.traceback
    assert "in train" in run.traceback
    assert _steps(store_dir, "states/exc") == [0, 1, 2]


def test_keyboard_interrupt_is_killed(store_dir: Path) -> None:
    proc = run_python(_child("""
    run = runwatch.init(project="states", id="ctrlc")
    run.log({"i": 0})
    raise KeyboardInterrupt
    """), check=False)
    assert proc.returncode != 0
    run = stored_run(store_dir, "states/ctrlc")
    assert run.state == "killed"
    assert _steps(store_dir, "states/ctrlc") == [0]


def test_sigterm_is_killed_and_child_dies_of_sigterm(store_dir: Path) -> None:
    proc = spawn(_child("""
    run = runwatch.init(project="states", id="term")
    step = 0
    while True:
        run.log({"i": step})
        if step == 50:
            print("logging", flush=True)
        step += 1
        time.sleep(0.002)
    """))
    try:
        assert proc.stdout.readline().strip() == "logging", proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGTERM, err
    run = stored_run(store_dir, "states/term")
    assert run.state == "killed"
    assert run.finished_at is not None
    steps = _steps(store_dir, "states/term")
    # Everything logged before the signal was written out by the SIGTERM handler.
    assert len(steps) >= 51
    assert steps == list(range(len(steps)))


def test_sigterm_while_blocked_in_pure_python_loop(store_dir: Path) -> None:
    proc = spawn(_child("""
    run = runwatch.init(project="states", id="busy")
    run.log({"i": 0})
    print("spinning", flush=True)
    x = 0
    while True:
        x += 1
    """))
    try:
        assert proc.stdout.readline().strip() == "spinning", proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGTERM, err
    assert stored_run(store_dir, "states/busy").state == "killed"
    assert _steps(store_dir, "states/busy") == [0]


@pytest.mark.parametrize(("code", "state"), [(3, "failed"), (0, "finished")])
def test_sys_exit(store_dir: Path, code: int, state: str) -> None:
    proc = run_python(_child(f"""
    run = runwatch.init(project="states", id="exit{code}")
    run.log({{"i": 0}})
    sys.exit({code})
    """), check=False)
    assert proc.returncode == code, proc.stderr
    run = stored_run(store_dir, f"states/exit{code}")
    assert run.state == state
    if code:
        assert run.exit_code not in (None, 0)
    else:
        assert run.exit_code == 0
    assert _steps(store_dir, f"states/exit{code}") == [0]


def test_context_manager_exception_is_failed(store_dir: Path) -> None:
    proc = run_python(_child("""
    with runwatch.init(project="states", id="ctx") as run:
        run.log({"i": 0})
        raise RuntimeError("inside the with block: marker-42x")
    """), check=False)
    assert proc.returncode == 1
    run = stored_run(store_dir, "states/ctx")
    assert run.state == "failed"
    assert "RuntimeError: inside the with block: marker-42x" in (run.traceback or "")
    assert _steps(store_dir, "states/ctx") == [0]


def test_context_manager_normal_exit_is_finished_and_next_run_independent(
        store_dir: Path) -> None:
    run_python(_child("""
    with runwatch.init(project="states", id="ctx-ok") as run:
        run.log({"i": 0})
    assert runwatch.run is None
    run2 = runwatch.init(project="states", id="after")
    run2.log({"j": 1})
    """))
    assert stored_run(store_dir, "states/ctx-ok").state == "finished"
    assert stored_run(store_dir, "states/after").state == "finished"
    assert _steps(store_dir, "states/after") == [0]


def test_sys_exit_inside_context_manager_is_failed(store_dir: Path) -> None:
    proc = run_python(_child("""
    with runwatch.init(project="states", id="ctx-exit") as run:
        run.log({"i": 0})
        sys.exit(4)
    """), check=False)
    assert proc.returncode == 4
    run = stored_run(store_dir, "states/ctx-exit")
    assert run.state == "failed"
    assert run.exit_code not in (None, 0)
