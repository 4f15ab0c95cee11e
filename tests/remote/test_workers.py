"""``runwatch server --workers 2`` on SQLite: several training processes log to it at once
and every point of every run arrives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.remote.conftest import Child, Server, spawn

STEPS = 2000
RUNS = 4

LOGGER = """
import sys
import runwatch

n = int(sys.argv[1]) if len(sys.argv) > 1 else 0
run = runwatch.init(project="many", id=f"worker-run-{NUMBER}", config={"n": NUMBER})
for i in range(2000):
    run.log({"v": i + NUMBER / 10, "i": i})
run.summary["who"] = NUMBER
run.finish()
print("done", flush=True)
"""


def test_four_clients_log_at_once_to_two_server_workers(
        server_factory: Callable[..., Server], tmp_path: Path,
        children: list[Child]) -> None:
    server = server_factory("multi", workers=2).start()
    assert server.get_json("/api/v1/server")["auth"] is True
    for n in range(RUNS):
        client_dir = tmp_path / f"client-{n}"
        child = spawn(LOGGER.replace("NUMBER", str(n)), server.client_env(client_dir),
                      cwd=tmp_path)
        children.append(child)
    for child in children:
        rc, out, err = child.finish(timeout=120)
        assert rc == 0 and "done" in out, f"rc={rc}\n{out}\n{err}"
        assert "RunwatchWarning" not in err, err

    runs = {r["id"]: r for r in server.get_json("/api/v1/projects/many/runs")["runs"]}
    assert sorted(runs) == [f"worker-run-{n}" for n in range(RUNS)]
    for n in range(RUNS):
        run = server.run("many", f"worker-run-{n}")
        assert run["state"] == "finished", run["state"]
        assert run["config"] == {"n": n} and run["summary"]["who"] == n
        steps, values = server.points("many", f"worker-run-{n}", "v")
        assert steps == list(range(STEPS))
        assert values == [i + n / 10 for i in range(STEPS)]
        assert server.points("many", f"worker-run-{n}", "i")[1] == list(range(STEPS))
    # Both workers are processes of the server: one killed group, nothing left behind.
    server.kill()
    assert not server.alive()
