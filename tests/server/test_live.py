"""Live updates over a real ``runwatch server`` process: Server-Sent Events read as a
browser reads them, while child processes log, finish and get killed."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runwatch.server import models
from tests.server.conftest import (
    EventStream,
    ServerProcess,
    assert_error,
    read_line,
    runs_in,
    spawn,
    start_run,
    validate,
)

HOSTILE_NOTES = "<script>alert(1)</script>\n\nevent: projects\ndata: {}\n\r\u2028\u0085 \"'漢🙂"

# Logs steps 0..4, then waits for a line on stdin before each further stage.
LOGGER = """
import sys
import runwatch

project, notes = sys.argv[1], sys.argv[2]
run = runwatch.init(project=project, name="live-run", notes=notes)
for i in range(5):
    run.log({"loss": 1.0 / (i + 1)})
assert run.flush(30)
print(run.id, flush=True)
sys.stdin.readline()
for i in range(5, 12):
    run.log({"loss": 1.0 / (i + 1)})
assert run.flush(30)
print("more", flush=True)
sys.stdin.readline()
run.finish()
print("finished", flush=True)
"""

# Logs, commits, says so, then hangs until killed.
VICTIM = """
import sys
import time
import runwatch

run = runwatch.init(project=sys.argv[1], name="victim")
for i in range(3):
    run.log({"loss": float(i)})
assert run.flush(30)
print(run.id, flush=True)
time.sleep(600)
"""


@dataclass
class Live:
    store: Path
    server: ServerProcess

    def stream(self, query: str = "") -> EventStream:
        self.server.alive()
        s = EventStream(self.server.url + "api/v1/events" + query, self.server.output)
        assert s.status == 200, s.status
        assert s.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in s.headers  # never buffered in a compressor
        return s


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    store = root / "store"
    seed = start_run(store, "seed")
    seed.log({"x": 1.0})
    seed.finish()
    server = ServerProcess(store, root / "logs")
    yield Live(store, server)
    out = server.stop()
    assert server.proc.returncode is not None, out


@pytest.fixture
def children() -> Iterator[list]:
    procs: list = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=30)


def test_ready_first_then_runs_with_a_higher_last_step(live: Live, children: list) -> None:
    child = spawn(LOGGER, live.store, "live-a", HOSTILE_NOTES)
    children.append(child)
    run_id = read_line(child)
    stream = live.stream("?project=live-a")
    try:
        first = stream.next()
        assert first.name == "ready" and first.data["poll_interval"] == 0.5
        # The first look's [seq, state] of every run: the page's check for a missed change.
        seq, state = first.data["runs"][run_id]
        assert isinstance(seq, int) and seq >= 0 and state == "running"
        assert set(first.data["runs"]) == {run_id}

        child.stdin.write("\n")
        child.stdin.flush()
        assert read_line(child) == "more"
        event = stream.wait_for(f"run {run_id} at step 11",
                                lambda e: runs_in(e).get(run_id, {}).get("last_step") == 11)
        run = runs_in(event)[run_id]
        assert run["state"] == "running" and run["name"] == "live-run"
        # The stream's JSON carries any string intact: no line break can end the frame.
        assert run["notes"] == HOSTILE_NOTES
        assert run["summary"]["loss"] == 1.0 / 12

        child.stdin.write("\n")
        child.stdin.flush()
        assert read_line(child) == "finished"
        event = stream.wait_for(f"run {run_id} finished",
                                lambda e: runs_in(e).get(run_id, {}).get("state") == "finished")
        assert runs_in(event)[run_id]["finished_at"] is not None
        assert all(e.name in ("ready", "runs") for e in stream.seen)
    finally:
        stream.close()


def test_killed_run_turns_crashed(live: Live, children: list) -> None:
    child = spawn(VICTIM, live.store, "live-b")
    children.append(child)
    run_id = read_line(child)
    stream = live.stream("?project=live-b")
    try:
        assert stream.next().name == "ready"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        event = stream.wait_for(f"run {run_id} crashed",
                                lambda e: runs_in(e).get(run_id, {}).get("state") == "crashed")
        run = runs_in(event)[run_id]
        assert run["last_step"] == 2 and run["finished_at"] is None
    finally:
        stream.close()
    # The REST view agrees, over the same real server.
    with httpx.Client(base_url=live.server.url, timeout=30) as c:
        resp = c.get(f"api/v1/projects/live-b/runs/{run_id}")
        assert resp.status_code == 200
        assert validate(models.RunDetail, resp.json()).state == "crashed"
        project = c.get("api/v1/projects/live-b").json()
        assert (project["run_count"], project["running_count"]) == (1, 0)


def test_new_project_sends_projects_event(live: Live) -> None:
    stream = live.stream()
    try:
        assert stream.next().name == "ready"
        run = start_run(live.store, "live-new-project")
        run.log({"x": 1.0})
        assert run.flush(30)

        def has_it(e) -> bool:
            return e.name == "projects" and "live-new-project" in {
                p["name"] for p in e.data["projects"]}

        event = stream.wait_for("the new project", has_it)
        validate(models.ProjectList, event.data)
        (p,) = [p for p in event.data["projects"] if p["name"] == "live-new-project"]
        assert (p["run_count"], p["running_count"]) == (1, 1)
        run.finish()
        assert all(e.name in ("ready", "projects") for e in stream.seen)
    finally:
        stream.close()


def test_events_of_a_missing_project_is_404(live: Live) -> None:
    with httpx.Client(base_url=live.server.url, timeout=30) as c:
        assert_error(c.get("api/v1/events", params={"project": "missing"}), 404, "not_found",
                     "'missing'")
    live.server.alive()


def test_first_run_of_a_runless_project_is_sent(live: Live, tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00" * 16)
    maker = start_run(live.store, "live-models")
    maker.link_model(str(weights), "registered")  # makes project "model-registry", no runs
    maker.finish()
    stream = live.stream("?project=model-registry")
    try:
        assert stream.next().name == "ready"
        # Started, logged and finished in one commit (flush interval 1 s), so the stream
        # never sees it half-way.
        first = start_run(live.store, "model-registry", settings={"flush_interval": 1.0})
        first.log({"x": 1.0})
        first.finish()
        time.sleep(1.5)  # three polls: the stream has looked at the store since
        second = start_run(live.store, "model-registry")
        second.log({"x": 2.0})
        second.finish()
        stream.wait_for("the second run", lambda e: second.id in runs_in(e))
        sent = {run_id for e in stream.seen for run_id in runs_in(e)}
        assert first.id in sent, f"never sent: {first.id}; sent: {sent}"
    finally:
        stream.close()


def test_ctrl_c_ends_open_streams_cleanly(live: Live, tmp_path: Path) -> None:
    server = ServerProcess(live.store, tmp_path / "logs")
    try:
        stream = EventStream(server.url + "api/v1/events?project=seed", server.output)
        assert stream.next().name == "ready"
        server.proc.send_signal(signal.SIGINT)
        assert stream.ended.wait(30), "the stream did not end"
        stream.close()
        server.proc.wait(30)  # one Ctrl-C only: stop() must not send a second
    finally:
        out = server.stop()
    assert stream.error is None, f"stream cut off: {stream.error!r}\n{out}"
    assert "ERROR" not in out and "Traceback" not in out, out
