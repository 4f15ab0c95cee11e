"""Console capture in real child processes: the terminal gets exactly what it got without
runwatch (same bytes, same order, nothing lost, even when the process is killed), and
the store gets the lines."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import textwrap
from pathlib import Path
from typing import Any

import pytest

import runwatch
from tests.integration._helpers import child_env, stored_run

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fd-level capture is POSIX")

# A training script's output: stdout and stderr interleaved, a child process, raw fd
# writes, a progress bar, markup and non-ASCII text, and enough lines to fill pipes.
NOISY = r"""
import os, subprocess, sys
import runwatch
run = runwatch.init(project="console", id=sys.argv[1])
print("<script>alert('x')</script> & <b>ünïcode ✓</b>")
for i in range(3000):
    print(f"out {i} " + "x" * (i % 50))
    if i % 7 == 0:
        print(f"err {i}", file=sys.stderr)
    if i % 500 == 0:
        run.log({"i": i})
subprocess.run([sys.executable, "-c",
                "import sys; print('child out'); print('child err', file=sys.stderr)"])
os.write(1, b"raw fd 1\n")
os.write(2, b"raw fd 2\n")
for p in range(0, 101, 5):
    print(f"\r{p:3d}%|{'#' * (p // 10):<10}|", end="", flush=True)
print()
print("the end")
run.finish()
"""


def _run(code: str, run_id: str, console: str, **popen: Any) -> subprocess.CompletedProcess:
    env = child_env({"RUNWATCH_CONSOLE": console, "PYTHONUNBUFFERED": "1"})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), run_id], env=env,
                          timeout=120, **popen)


def _lines(store: Path, run_id: str) -> list[str]:
    return stored_run(store, f"console/{run_id}").console_logs()


def _stored_rows(store: Path, run_id: str) -> list[tuple[int, int, str]]:
    from runwatch.store import console, open_store, read

    s = open_store(f"sqlite:///{store / 'runwatch.db'}")
    try:
        with s.read() as conn:
            r = read.get_run(conn, "console", run_id, 120.0)
            lines, _ = console.page(conn, r.pk, limit=100_000)
    finally:
        s.close()
    return [(line["n"], line["stream"], line["text"]) for line in lines]


def test_merged_output_is_byte_for_byte_what_the_terminal_got_without_runwatch(
        store_dir: Path) -> None:
    plain = _run(NOISY, "plain", "off", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    captured = _run(NOISY, "captured", "redirect", stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT)
    assert plain.returncode == captured.returncode == 0
    assert captured.stdout == plain.stdout  # same bytes, same interleaving
    assert b"out 2999" in captured.stdout and b"child err" in captured.stdout

    assert _lines(store_dir, "plain") == []  # console off: nothing stored
    rows = _stored_rows(store_dir, "captured")
    texts = [t for _n, _s, t in rows]
    assert [n for n, _s, _t in rows] == list(range(len(rows)))
    assert {s for _n, s, _t in rows} == {0}  # one shared channel: no stream told apart
    # Every terminal line is stored, in terminal order; the progress bar only as it ended.
    terminal = captured.stdout.decode().split("\n")[:-1]
    assert len(texts) == len(terminal)
    assert texts[0] == "<script>alert('x')</script> & <b>ünïcode ✓</b>"
    assert texts[-2:] == ["100%|##########|", "the end"]
    assert [t for t in texts if "\r" in t] == []
    no_bar = [t for t in terminal if "\r" not in t]
    assert [t for t in texts if not t.startswith("100%")] == [t.rstrip() for t in no_bar]


def test_separate_stdout_and_stderr_stay_separate_and_labelled(store_dir: Path) -> None:
    plain = _run(NOISY, "plain", "off", capture_output=True)
    captured = _run(NOISY, "captured", "redirect", capture_output=True)
    assert captured.stdout == plain.stdout
    assert captured.stderr == plain.stderr
    rows = _stored_rows(store_dir, "captured")
    err = [t for _n, s, t in rows if s == 2]
    out = [t for _n, s, t in rows if s == 1]
    assert err == [f"err {i}" for i in range(0, 3000, 7)] + ["child err", "raw fd 2"]
    assert out[-4:] == ["child out", "raw fd 1", "100%|##########|", "the end"]
    assert out[1:3001] == [(f"out {i} " + "x" * (i % 50)).rstrip() for i in range(3000)]
    assert len(rows) == len(out) + len(err)


def _pty_run(code: str, run_id: str, console: str) -> bytes:
    """Run ``code`` on a pseudo-terminal 100 columns wide; everything it showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = child_env({"RUNWATCH_CONSOLE": console})
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), run_id], env=env,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    out = bytearray()
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not data:
            break
        out += data
    os.close(master)
    assert proc.wait(60) == 0
    return bytes(out)


TTY = r"""
import os, shutil, sys
import runwatch
run = runwatch.init(project="console", id=sys.argv[1])
print("isatty", sys.stdout.isatty(), sys.stderr.isatty(), os.isatty(1))
print("columns", shutil.get_terminal_size().columns)
print("\x1b[1;32mgreen\x1b[0m")
for p in range(0, 101, 20):
    print(f"\r{p}%", end="", flush=True)
print()
print("to stderr", file=sys.stderr)
run.finish()
"""


def test_a_terminal_stays_a_terminal(store_dir: Path) -> None:
    plain = _pty_run(TTY, "plain", "off")
    captured = _pty_run(TTY, "captured", "redirect")
    assert b"isatty True True True" in plain
    assert captured == plain
    assert _lines(store_dir, "captured") == [
        "isatty True True True", "columns 100", "green", "100%", "to stderr"]


KILLED = r"""
import os, signal, sys, time
import runwatch
run = runwatch.init(project="console", id=sys.argv[1])
for i in range(500):
    print(f"line {i}")
sys.stdout.flush()
def stored():
    try:
        return runwatch.Api().run("console/" + run.id).console_logs()
    except Exception:  # the writer has not created the store yet
        return []
while "line 499" not in stored():
    time.sleep(0.05)
os.write(1, b"written just before SIGKILL\n")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_output_written_just_before_a_kill_still_reaches_the_terminal(store_dir: Path) -> None:
    out = _run(KILLED, "killed", "redirect", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert out.returncode == -signal.SIGKILL
    shown = out.stdout.decode().splitlines()
    assert shown == [f"line {i}" for i in range(500)] + ["written just before SIGKILL"]
    run = stored_run(store_dir, "console/killed")
    assert run.state == "crashed"  # its pid is dead on this host
    assert run.console_logs()[:500] == [f"line {i}" for i in range(500)]


FAILS = r"""
import sys
import runwatch
run = runwatch.init(project="console", id=sys.argv[1])
print("about to fail")
raise ValueError("<b>bad</b> value 42")
"""


def test_the_traceback_of_a_failed_run_is_in_its_console(store_dir: Path) -> None:
    out = _run(FAILS, "fails", "redirect", capture_output=True)
    assert out.returncode == 1
    assert b"ValueError: <b>bad</b> value 42" in out.stderr  # the terminal shows it as ever
    lines = _lines(store_dir, "fails")
    assert lines[0] == "about to fail"
    assert "Traceback (most recent call last):" in lines
    assert lines[-1] == "ValueError: <b>bad</b> value 42"
    assert stored_run(store_dir, "console/fails").state == "failed"


FLOOD = r"""
import sys
import runwatch
run = runwatch.init(project="console", id=sys.argv[1])
for i in range(40_000):
    print(f"{i:06d} " + "y" * 50)
run.finish()
"""


def test_the_size_cap_keeps_the_start_a_marker_and_the_end(store_dir: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", FLOOD, "flood"], capture_output=True, timeout=120,
        env=child_env({"RUNWATCH_CONSOLE": "redirect", "RUNWATCH_CONSOLE_MAX_MB": "1"}))
    assert out.returncode == 0
    assert len(out.stdout.splitlines()) == 40_000  # the terminal got everything
    lines = _lines(store_dir, "flood")
    line_chars = 58
    kept = 1_000_000 // line_chars
    assert lines[:kept] == [f"{i:06d} " + "y" * 50 for i in range(kept)]
    assert "reached the 1 MB cap" in lines[kept]
    assert "were not stored; the last 1,000 follow" in lines[kept + 1]
    assert lines[kept + 2:] == [f"{i:06d} " + "y" * 50 for i in range(39_000, 40_000)]


def test_wrap_mode_tees_python_output_and_puts_the_streams_back(
        store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sys.stdout, sys.stderr
    run = runwatch.init(project="console", id="wrapped", settings={"console": "wrap"})
    assert sys.stdout is not before[0]
    print("hello <i>wrap</i>")
    print("\r10%\r100%")
    print("oops", file=sys.stderr)
    run.finish()
    assert (sys.stdout, sys.stderr) == before
    seen = capsys.readouterr()
    assert "hello <i>wrap</i>" in seen.out and "oops" in seen.err  # still shown
    assert _stored_rows(store_dir, "wrapped") == [
        (0, 1, "hello <i>wrap</i>"), (1, 1, "100%"), (2, 2, "oops")]


def test_console_off_and_a_bad_setting(store_dir: Path) -> None:
    before = sys.stdout
    run = runwatch.init(project="console", id="off", settings={"console": "off"})
    assert sys.stdout is before
    print("not stored")
    run.finish()
    assert _lines(store_dir, "off") == []
    with pytest.raises(runwatch.errors.UsageError, match="'loud'.*auto, redirect, wrap, off"):
        runwatch.init(project="console", settings={"console": "loud"})
    with pytest.raises(runwatch.errors.UsageError, match="RUNWATCH_CONSOLE_MAX_MB"):
        os.environ["RUNWATCH_CONSOLE_MAX_MB"] = "-3"
        try:
            runwatch.init(project="console")
        finally:
            del os.environ["RUNWATCH_CONSOLE_MAX_MB"]


LINGER = r"""
import os, subprocess, sys
import runwatch
run = runwatch.init(project="console", id=sys.argv[1])
print("before finish")
flag = os.path.join(os.environ["RUNWATCH_DIR"], "finished.flag")
# A child that outlives the run and writes to the same stdout after the run finished.
orphan = ("import os, time\n"
          f"while not os.path.exists({flag!r}):\n"
          "    time.sleep(0.01)\n"
          "for i in range(3):\n"
          "    print('orphan', i, flush=True)\n")
subprocess.Popen([sys.executable, "-c", orphan])
run.finish()
print("after finish", flush=True)
open(flag, "w").close()
"""


def test_a_child_outliving_the_run_keeps_its_output(store_dir: Path) -> None:
    out = _run(LINGER, "linger", "redirect", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert out.returncode == 0
    shown = out.stdout.decode().splitlines()  # run() waits for the pipe to close
    assert shown[:2] == ["before finish", "after finish"]
    assert shown[2:] == ["orphan 0", "orphan 1", "orphan 2"]
    assert _lines(store_dir, "linger") == ["before finish"]


FORKS = r"""
import os, sys
import runwatch
run = runwatch.init(project="console", id=sys.argv[1])
pid = os.fork()
if pid == 0:
    print("in the forked child", flush=True)
    sys.exit(3)  # its exit must not finish (or fail) the parent's run
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status))
run.finish()
"""


def test_a_forked_child_prints_into_the_run_but_does_not_end_it(store_dir: Path) -> None:
    env = child_env({"RUNWATCH_CONSOLE": "redirect", "RUNWATCH_SILENT": "0"})
    out = subprocess.run([sys.executable, "-c", FORKS, "forks"], env=env, capture_output=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    said = out.stderr.decode()
    assert said.count("runwatch: run") == 1 and "forks) finished" in said  # the parent's only
    assert out.stdout.decode().splitlines() == ["in the forked child", "child exit 3"]
    assert _lines(store_dir, "forks") == ["in the forked child", "child exit 3"]
    assert stored_run(store_dir, "console/forks").state == "finished"


NO_FORWARDER = r"""
import os, sys, warnings
import runwatch
sys.executable = "/nonexistent/python"  # the forwarder cannot start
warnings.simplefilter("always")
run = runwatch.init(project="console", id=sys.argv[1])
print("python still captured")
os.write(1, b"fd output not captured\n")
run.finish()
"""


def test_without_a_forwarder_it_falls_back_to_wrap_and_says_so(store_dir: Path) -> None:
    out = _run(NO_FORWARDER, "nofwd", "redirect", capture_output=True)
    assert out.returncode == 0, out.stderr
    assert b"could not redirect the console" in out.stderr and b"console='wrap'" in out.stderr
    assert out.stdout.decode().splitlines()[:2] == ["python still captured",
                                                     "fd output not captured"]
    assert _lines(store_dir, "nofwd") == ["python still captured"]
