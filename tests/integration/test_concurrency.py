"""Many processes logging into one store at once: no lock errors, nothing lost."""

from __future__ import annotations

import time
from pathlib import Path

import runwatch
from tests.integration._helpers import spawn, user_items

N_PROCS = 32
STEPS = 1500
OTHER_PROJECTS = {30: "other-a", 31: "other-b"}

# argv: index, project, go-file. Waits for the go-file so that all processes log at the
# same time; even indexes call finish(), odd ones leave it to atexit.
CHILD = f"""
    import os, sys, time
    import runwatch

    i, project, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    run = runwatch.init(project=project, id=f"w{{i}}", config={{"i": i}})
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.01)
    for step in range({STEPS}):
        row = {{"loss": 1.0 / (step + 1), "proc": i, "step_x": step * 3}}
        if step % 100 == 0:
            row["phase"] = f"p{{i}}-{{step}}"
        run.log(row)
        if step % 10 == 0:
            time.sleep(0.001)
    if i % 2 == 0:
        run.finish()
"""


def _expected_row(i: int, step: int) -> dict[str, object]:
    row: dict[str, object] = {"loss": 1.0 / (step + 1), "proc": i, "step_x": step * 3}
    if step % 100 == 0:
        row["phase"] = f"p{i}-{step}"
    return row


def test_32_processes_log_concurrently(store_dir: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    projects = {i: OTHER_PROJECTS.get(i, "shared") for i in range(N_PROCS)}
    procs = [spawn(CHILD, str(i), projects[i], str(go)) for i in range(N_PROCS)]
    try:
        for i, proc in enumerate(procs):
            line = proc.stdout.readline().strip()
            assert line == "ready", f"process {i} did not start: {line!r} {proc.stderr.read()}"
        go.touch()
        results = [(proc.communicate(timeout=240), proc.returncode) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    for i, ((_out, err), rc) in enumerate(results):
        assert "database is locked" not in err, f"process {i}:\n{err}"
        assert "Traceback" not in err, f"process {i}:\n{err}"
        assert "RunwatchWarning" not in err, f"process {i}:\n{err}"
        assert rc == 0, f"process {i} exited {rc}:\n{err}"

    per_step_points = 3 * STEPS + len(range(0, STEPS, 100))
    with runwatch.Api(dir=store_dir) as api:
        assert sorted(p.name for p in api.projects()) == ["other-a", "other-b", "shared"]
        assert len(api.runs("shared")) == N_PROCS - len(OTHER_PROJECTS)
        for i in range(N_PROCS):
            run = api.run(f"{projects[i]}/w{i}")
            assert run.state == "finished", (i, run.state)
            assert run.exit_code == 0
            assert run.config == {"i": i}
            rows = list(run.scan_history())
            assert sum(len(user_items(r)) for r in rows) == per_step_points, i
            assert [r["_step"] for r in rows] == list(range(STEPS))
            for r in rows:
                assert user_items(r) == _expected_row(i, r["_step"])
            assert run.summary["loss"] == 1.0 / STEPS
            assert run.summary["proc"] == i


def test_parallel_first_open_migrates_once(store_dir: Path) -> None:
    """Processes that open a store nobody created yet race on the migration: every one
    must come up with the schema (no 'table already exists', no lock errors)."""
    code = """
        import sys, runwatch
        run = runwatch.init(project="race", id=f"r{sys.argv[1]}")
        run.log({"a": 1})
        run.finish()
    """
    assert not store_dir.exists()
    procs = [spawn(code, str(i)) for i in range(8)]
    deadline = time.monotonic() + 120
    for i, proc in enumerate(procs):
        _out, err = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
        assert proc.returncode == 0, f"process {i}:\n{err}"
        assert "Traceback" not in err and "RunwatchWarning" not in err, f"process {i}:\n{err}"
    with runwatch.Api(dir=store_dir) as api:
        runs = api.runs("race")
        assert sorted(r.id for r in runs) == [f"r{i}" for i in range(8)]
        assert all(r.state == "finished" for r in runs)
        assert all([user_items(x) for x in r.scan_history()] == [{"a": 1}] for r in runs)
