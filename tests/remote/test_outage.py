"""The server goes away: killed (SIGKILL) and restarted while a run logs to it, or down
for the whole run. Training never breaks, and every point arrives exactly once, at the
latest through ``runwatch sync``."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from tests.remote.conftest import Child, Server, cli, files_under, run_child, spawn

STEPS = 20_000

# Logs 20,000 steps with small sleeps (about 10 s); says where it is every 1,000 steps.
# At step 15,000 it waits for the gate file, so the test's two kills surely happen while
# the run is still logging, however slow this machine is.
OUTAGE_LOGGER = """
import os, sys, time
import runwatch

gate = sys.argv[1] if len(sys.argv) > 1 else os.environ["GATE"]
run = runwatch.init(project="outage", id="run-outage")
t0 = time.perf_counter()
for i in range(20000):
    run.log({"v": i * 0.5, "sq": float(i * i)})
    if i % 10 == 0:
        time.sleep(0.004)
    if i % 1000 == 0:
        print("step", i, flush=True)
    if i == 15000:
        deadline = time.monotonic() + 120
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
loop = time.perf_counter() - t0
run.finish()
print("done", round(loop, 2), run.stats["write_failures"], flush=True)
"""


def _at_step(n: int) -> Callable[[str], bool]:
    def seen(line: str) -> bool:
        parts = line.split()
        return len(parts) == 2 and parts[0] == "step" and int(parts[1]) >= n

    return seen


def _check_every_point(server: Server, project: str, run_id: str, steps: int) -> None:
    xs, vs = server.points(project, run_id, "v")
    assert len(xs) == len(set(xs)), "a step is there twice"
    assert xs == list(range(steps)), (f"{steps - len(set(xs))} steps missing; first gaps: "
                                      f"{sorted(set(range(steps)) - set(xs))[:10]}")
    assert vs == [i * 0.5 for i in range(steps)]
    xs, sq = server.points(project, run_id, "sq")
    assert xs == list(range(steps))
    assert sq == [float(i * i) for i in range(steps)]


def test_server_killed_and_restarted_twice_mid_run_loses_and_duplicates_nothing(
        server: Server, store_dir: Path, tmp_path: Path, children: list[Child]) -> None:
    gate = tmp_path / "gate"
    # A small memory limit, so batches also go through the spill file while it is away.
    env = server.client_env(store_dir, GATE=str(gate), RUNWATCH_MEMORY_LIMIT_MB="1")
    child = spawn(OUTAGE_LOGGER, env, cwd=tmp_path)
    children.append(child)

    child.wait_line(_at_step(3000))
    server.kill()
    time.sleep(0.5)           # the run keeps logging into a dead server
    server.start()
    child.wait_line(_at_step(9000))
    server.kill()
    time.sleep(0.5)
    server.start()
    assert child.proc.poll() is None, "the run ended before the second outage was over"
    gate.touch()

    rc, out, err = child.finish(timeout=120)
    assert rc == 0, f"the training script failed ({rc}):\n{out}\n{err}"
    done = [line for line in out.splitlines() if line.startswith("done")]
    assert done, out
    # The sender noticed the outages (else the kills missed the run) and recovered.
    assert int(done[0].split()[2]) > 0, f"no write failed: the kills missed the run\n{out}"

    run = server.run("outage", "run-outage")
    assert run["state"] == "finished" and run["exit_code"] == 0
    assert run["last_step"] == STEPS - 1
    _check_every_point(server, "outage", "run-outage", STEPS)
    assert files_under(store_dir, "*.spill") == [], "batches were left behind"


DOWN_LOGGER = """
import runwatch

# No id: with an explicit id, init() asks the server whether the run exists (and refuses
# to start while it cannot tell).
run = runwatch.init(project="down", config={"lr": 0.5})
for i in range(2000):
    run.log({"v": i * 0.5, "sq": float(i * i)})
run.summary["final"] = "yes"
run.finish()
print("training done", run.id, flush=True)
"""


def test_server_down_for_the_whole_run_then_runwatch_sync_delivers_once(
        server_factory: Callable[..., Server], store_dir: Path, tmp_path: Path) -> None:
    server = server_factory()
    # Never started yet: the key is made beforehand, as an admin would.
    server.key = server.create_key("trainer")
    # run_child's own timeout is the only clock here: finish() must give up, not hang.
    out, err = run_child(DOWN_LOGGER, server.client_env(store_dir,
                                                        RUNWATCH_FINISH_TIMEOUT="3"),
                         cwd=tmp_path, timeout=60)
    assert "training done" in out
    run_id = out.split()[-1]
    assert "runwatch sync" in err, f"no word on what to do with the unsent data:\n{err}"
    spills = files_under(store_dir / "spool", "*.spill")
    assert len(spills) == 1, (spills, err)
    assert str(spills[0]) in err, "the warning does not say where the data is"
    keep = tmp_path / "kept" / "again.spill"
    keep.parent.mkdir()
    shutil.copy(spills[0], keep)

    server.start()
    env = server.client_env(store_dir)
    synced = cli("sync", env=env)
    assert "synced" in synced.stdout and "1 runs" in synced.stdout, synced.stdout
    assert files_under(store_dir / "spool", "*.spill") == [], "a sent spill file was kept"
    run = server.run("down", run_id)
    assert run["state"] == "finished"
    assert run["config"] == {"lr": 0.5}
    assert run["summary"]["final"] == "yes"
    _check_every_point(server, "down", run_id, 2000)

    again = cli("sync", env=env)
    assert "nothing to sync" in again.stdout, again.stdout
    # The same batches once more (a copy of the spill file): acknowledged, not applied.
    replay = cli("sync", str(keep), env=env)
    assert replay.returncode == 0, replay.stderr
    _check_every_point(server, "down", run_id, 2000)
    assert server.run("down", run_id)["seq"] == run["seq"]
