"""A store that cannot keep up: batches wait in memory, then spill to disk; none is lost."""

from __future__ import annotations

import inspect
import json
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import runwatch
from runwatch.errors import RunNotFoundError
from tests.conftest import run_python
from tests.integration._helpers import scan, spawn, stored_run, user_items

ROWS = 50_000  # x 2 keys: ~4 MB by the outbox's estimate, well past a 1 MB memory limit
SHORT_FINISH = {"RUNWATCH_FINISH_TIMEOUT": "1", "RUNWATCH_MEMORY_LIMIT_MB": "1"}


def log_in_batches(run, rows, chunk=10_000):  # noqa: ANN001, ANN201 - also sent to children
    """Row 0 alone, then chunks a flush interval apart: several batches, the first ones
    waiting in memory, the later ones (past a 1 MB memory limit) on disk."""
    import time

    run.log({"a": 0.0, "b": 0})
    deadline = time.monotonic() + 60
    while run.stats.get("batches", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    for start in range(1, rows, chunk):
        for step in range(start, min(start + chunk, rows)):
            run.log({"a": float(step), "b": step})
        time.sleep(0.15)


def _create_store(store: Path) -> None:
    run = runwatch.init(project="warmup", dir=store)
    run.log({"w": 1})
    run.finish()
    assert (store / "runwatch.db").exists()


@contextmanager
def _locked(store: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the store's write lock (runwatch's writers wait on it:
    its busy timeout is 120 s)."""
    conn = sqlite3.connect(store / "runwatch.db", isolation_level=None, timeout=30,
                           check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield conn
    finally:
        conn.close()  # rolls back: releases the lock if still held


def _release(conn: sqlite3.Connection) -> None:
    conn.execute("ROLLBACK")


def _wait_for(what: Callable[[], Any], timeout: float = 60, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        assert time.monotonic() < deadline, message or "timed out"
        time.sleep(0.02)


def _spill_files(store: Path) -> list[Path]:
    spill = store / "spill"
    return sorted(spill.glob("*.spill")) if spill.is_dir() else []


def _check_all_rows(store: Path, path: str, rows: int) -> None:
    got = scan(store, path)
    assert len(got) == rows
    assert [r["_step"] for r in got] == list(range(rows))
    for r in got:
        assert user_items(r) == {"a": float(r["_step"]), "b": r["_step"]}


def _next_process_opens_store() -> subprocess.CompletedProcess[str]:
    """A new process that opens the store (it replays orphaned spill files first)."""
    return run_python("""
        import runwatch
        run = runwatch.init(project="other", id="next")
        run.log({"z": 1})
        run.finish()
    """)


def test_slow_store_spills_then_finish_writes_everything(
        store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWATCH_MEMORY_LIMIT_MB", "1")
    _create_store(store_dir)
    with _locked(store_dir) as lock:
        run = runwatch.init(project="spill", id="slow")
        log_in_batches(run, ROWS)
        files = _wait_for(lambda: [f for f in _spill_files(store_dir) if f.stat().st_size],
                          message="no batch spilled to <dir>/spill/ under a 1 MB memory limit")
        assert len(files) == 1 and files[0].name.startswith("slow-")
        # The lock really kept everything out of the store so far.
        with runwatch.Api(dir=store_dir) as api, pytest.raises(RunNotFoundError):
            api.run("spill/slow")
        # Release the lock while finish() waits for the store.
        timer = threading.Timer(1.0, _release, args=(lock,))
        timer.start()
        try:
            run.finish()
        finally:
            timer.join()
    assert run.stats["spilled_batches"] > 0
    assert run.stats["batches_written"] == run.stats["batches"]
    assert _spill_files(store_dir) == []
    assert not any((store_dir / "spill").iterdir()), list((store_dir / "spill").iterdir())
    assert stored_run(store_dir, "spill/slow").state == "finished"
    _check_all_rows(store_dir, "spill/slow", ROWS)


SLOW_FINISH_CHILD = inspect.getsource(log_in_batches) + """
import json, sys, time, warnings
import runwatch

run_id, rows = sys.argv[1], int(sys.argv[2])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    run = runwatch.init(project="spill", id=run_id)
    log_in_batches(run, rows)
    t0 = time.monotonic()
    run.finish()
    took = time.monotonic() - t0
print(json.dumps({"took": took, "stats": dict(run.stats),
                  "warnings": [str(w.message) for w in caught
                               if issubclass(w.category, runwatch.RunwatchWarning)]}))
"""


def _slow_finish(run_id: str, rows: int) -> dict[str, Any]:
    """Run SLOW_FINISH_CHILD (finish timeout 1 s, 1 MB memory); returns its report."""
    proc = spawn(SLOW_FINISH_CHILD, run_id, str(rows), env_extra=SHORT_FINISH)
    try:
        out, err = proc.communicate(timeout=100)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("rows", [ROWS, 10])
def test_finish_timeout_leaves_spill_file_that_next_process_replays(
        store_dir: Path, rows: int) -> None:
    _create_store(store_dir)
    with _locked(store_dir):
        report = _slow_finish("late", rows)
        # finish() gave up after about its timeout, not SQLite's 120 s busy timeout.
        assert report["took"] < 30, report
        files = _spill_files(store_dir)
        assert len(files) == 1, files
        unsent = [w for w in report["warnings"] if ".spill" in w]
        assert len(unsent) == 1, report["warnings"]
        assert str(files[0]) in unsent[0]
        assert files[0].stat().st_size > 0
        if rows == ROWS:
            assert report["stats"]["spilled_batches"] > 0  # some were on disk before finish
        with runwatch.Api(dir=store_dir) as api, pytest.raises(RunNotFoundError):
            api.run("spill/late")  # still nothing in the store
    # Lock gone: the next process to open the store replays the orphaned spill file.
    _next_process_opens_store()
    assert _spill_files(store_dir) == []
    late = stored_run(store_dir, "spill/late")
    assert late.state == "finished"
    assert late.exit_code == 0
    _check_all_rows(store_dir, "spill/late", rows)
    assert [user_items(r) for r in scan(store_dir, "other/next")] == [{"z": 1}]


def test_unreplayable_orphan_does_not_block_other_orphans(store_dir: Path) -> None:
    """A process SIGKILLed while its store was locked leaves a spill file whose first
    batches died with it (they were in memory). That file can never be applied in full;
    it must not stop the replay of a good orphan sorted after it."""
    _create_store(store_dir)
    with _locked(store_dir):
        victim = spawn(inspect.getsource(log_in_batches) + """
import os, time
import runwatch
run = runwatch.init(project="spill", id="a-killed")
log_in_batches(run, 50_000)  # batch 0, which starts the run, waits in memory
while not any(
        f.endswith(".spill") and os.path.getsize(os.path.join(spill, f))
        for spill in [os.path.join(os.environ["RUNWATCH_DIR"], "spill")]
        for f in (os.listdir(spill) if os.path.isdir(spill) else [])):
    time.sleep(0.02)
print("spilled", flush=True)
time.sleep(600)
""", env_extra={"RUNWATCH_MEMORY_LIMIT_MB": "1"})
        try:
            assert victim.stdout.readline().strip() == "spilled", victim.stderr.read()
        finally:
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=30)
        _slow_finish("b-good", 10)
        names = [f.name for f in _spill_files(store_dir)]
        assert len(names) == 2 and names[0].startswith("a-killed-"), names
    proc = _next_process_opens_store()
    _check_all_rows(store_dir, "spill/b-good", 10)
    assert stored_run(store_dir, "spill/b-good").state == "finished"
    assert [user_items(r) for r in scan(store_dir, "other/next")] == [{"z": 1}]
    assert not [f for f in _spill_files(store_dir) if f.name.startswith("b-good-")]
    assert "Traceback" not in proc.stderr
