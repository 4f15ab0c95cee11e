"""System metrics and console capture: what they add to a training loop printing 1,000
lines a second.

The loop: STEPS steps; each does about 1 ms of numpy work (a 1-thread BLAS matmul
repeated, calibrated once per benchmark run), logs 5 scalars (runwatch variants only)
and prints one 70-character line, so it prints about 1,000 lines/s. Each variant runs
in a fresh child whose stdout and stderr are a pseudo-terminal the harness drains, as
a terminal would. Variants, interleaved over ROUNDS rounds:

- ``plain``: no runwatch at all;
- ``bare``: runwatch with console capture and system metrics off (log() alone);
- ``default``: runwatch as it ships: console capture (redirect, through the forwarder)
  and system metrics every 10 s;
- ``stress``: console capture and system metrics every 1 s (10x the default).

The loop starts once ``init()`` returned and the store is open (``run.flush()``): the
one-time start (imports, opening the store) is reported apart, so the figures are the
steady state of a long training loop. Figures: the loop's wall time per variant
(median over rounds, and the spread);
``default`` against ``bare`` is what capture and sampling add, ``default`` against
``plain`` is all of runwatch; the CPU seconds of the training process and of the
forwarder process; and that every printed line reached the terminal and the store.

    python benchmarks/bench_console.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

FULL = {"steps": 20_000, "rounds": 5}
QUICK = {"steps": 2_000, "rounds": 2}
VARIANTS = {
    "plain": None,
    "bare": {"RUNWATCH_CONSOLE": "off", "RUNWATCH_SYSTEM_INTERVAL": "0"},
    "default": {},
    "stress": {"RUNWATCH_SYSTEM_INTERVAL": "1"},
}
STEP_MS = 1.0
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

LOOP = textwrap.dedent(r"""
    import json, sys, time
    import numpy as np

    variant, steps, reps, out_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = np.random.default_rng(0)
    a = rng.random((64, 64), dtype=np.float32)
    b = rng.random((64, 64), dtype=np.float32)
    run = None
    startup_s = 0.0
    if variant != "plain":
        import runwatch
        t = time.perf_counter()
        run = runwatch.init(project="bench-console", name=variant)
        # The writer opens the store in the background (imports, migrations check): a
        # one-time cost, measured here and kept out of the loop's steady state.
        run.flush()
        startup_s = time.perf_counter() - t
    log = run.log if run is not None else None
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(steps):
        for _ in range(reps):
            x = a @ b
        loss = float(x[0, 0]) / (step + 1)
        if log is not None:
            log({"loss": loss, "acc": 1 - loss, "lr": 3e-4, "grad_norm": loss * 2,
                 "throughput": 1234.5})
        print(f"step {step:6d} loss {loss:.6f} lr 0.000300 throughput 1234.5 samples/s")
    loop_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    forwarder_cpu_s = None
    if run is not None and run._console is not None and run._console._proc is not None:
        import psutil
        t = psutil.Process(run._console._proc.pid).cpu_times()
        forwarder_cpu_s = t.user + t.system
    run_id = run.id if run is not None else None
    if run is not None:
        run.finish()
    with open(out_path, "w") as f:
        json.dump({"loop_s": loop_s, "cpu_s": cpu_s, "forwarder_cpu_s": forwarder_cpu_s,
                   "run_id": run_id, "startup_s": startup_s}, f)
""")

CALIBRATE = textwrap.dedent(r"""
    import json, time
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.random((64, 64), dtype=np.float32)
    b = rng.random((64, 64), dtype=np.float32)
    for _ in range(2000):
        x = a @ b
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(2000):
            x = a @ b
        best = min(best, (time.perf_counter() - t) / 2000)
    print(json.dumps({"matmul_s": best}))
""")


def _calibrate() -> int:
    res = c.run_child(["-c", CALIBRATE], env=c.child_env(**ONE_THREAD))
    return max(1, round(STEP_MS / 1000 / res["matmul_s"]))


def _on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Run ``python args`` with a pseudo-terminal as stdout and stderr; its exit status and
    the last bytes it showed, counting every newline."""
    import subprocess

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave)
    os.close(slave)
    newlines = 0
    tail = b""

    def drain() -> None:
        nonlocal newlines, tail
        while True:
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            newlines += data.count(b"\n")
            tail = (tail + data)[-4000:]

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    code = proc.wait(timeout=1200)
    reader.join(30)
    os.close(master)
    if code != 0:
        raise RuntimeError(f"benchmark child failed ({code}): {tail.decode(errors='replace')}")
    return newlines, tail


def _stored_lines(store: Path, run_id: str) -> int:
    import sqlite3

    conn = sqlite3.connect(store / "runwatch.db")
    try:
        return int(conn.execute(
            "SELECT COUNT(*) FROM console_lines JOIN runs ON runs.pk = console_lines.run_pk "
            "WHERE runs.run_id = ?", (run_id,)).fetchone()[0])
    finally:
        conn.close()


def run(quick: bool = False, steps: int | None = None, rounds: int | None = None
        ) -> dict[str, Any]:
    size = dict(QUICK if quick else FULL)
    size.update({k: v for k, v in (("steps", steps), ("rounds", rounds)) if v})
    reps = _calibrate()
    store = c.scratch_dir("console")
    out: dict[str, Any] = {"sizes": size, "matmul_reps_per_step": reps, "step_ms": STEP_MS,
                           "rounds": []}
    try:
        out["waited_before_s"] = c.wait_until_idle(10 if quick else 30)
        with c.ForeignLoad() as fl:
            for _ in range(size["rounds"]):
                row: dict[str, Any] = {}
                for name, extra in VARIANTS.items():
                    result_path = store / f"{name}.json"
                    env = c.child_env(RUNWATCH_DIR=str(store), **ONE_THREAD, **(extra or {}))
                    shown, _tail = _on_terminal(
                        ["-c", LOOP, name, str(size["steps"]), str(reps), str(result_path)], env)
                    res = json.loads(result_path.read_text())
                    res["terminal_lines"] = shown
                    if res["run_id"] is not None:
                        res["stored_lines"] = _stored_lines(store, res["run_id"])
                    row[name] = res
                out["rounds"].append(row)
        out["foreign_load"] = fl.result
    finally:
        c.remove(store)
    out["summary"] = _summarize(out)
    return out


def _summarize(out: dict[str, Any]) -> dict[str, Any]:
    steps = out["sizes"]["steps"]
    summary: dict[str, Any] = {}
    for name in VARIANTS:
        loops = [r[name]["loop_s"] for r in out["rounds"]]
        summary[name] = {
            "loop_s": c.median(loops), "min_s": min(loops), "max_s": max(loops),
            "lines_per_s": steps / c.median(loops),
            "cpu_s": c.median([r[name]["cpu_s"] for r in out["rounds"]]),
            "startup_s": c.median([r[name]["startup_s"] for r in out["rounds"]]),
            "forwarder_cpu_s": c.median([r[name]["forwarder_cpu_s"] or 0.0
                                         for r in out["rounds"]]),
            "terminal_lines_ok": all(r[name]["terminal_lines"] >= steps for r in out["rounds"]),
            "stored_lines": [r[name].get("stored_lines") for r in out["rounds"]],
        }
    base, bare = summary["plain"]["loop_s"], summary["bare"]["loop_s"]
    for name in ("default", "stress"):
        s = summary[name]
        s["vs_bare_pct"] = 100 * (s["loop_s"] / bare - 1)
        s["vs_plain_pct"] = 100 * (s["loop_s"] / base - 1)
        # Paired per round (same conditions), then the median: less noise than the ratio of
        # medians on a shared machine.
        s["vs_bare_paired_pct"] = c.median([100 * (r[name]["loop_s"] / r["bare"]["loop_s"] - 1)
                                            for r in out["rounds"]])
        s["lost_lines"] = (sum(max(0, steps - n) for n in s["stored_lines"] if n is not None)
                           + sum(max(0, steps - r[name]["terminal_lines"])
                                 for r in out["rounds"]))
    summary["bare"]["vs_plain_pct"] = 100 * (bare / base - 1)
    return summary


def report(res: dict[str, Any]) -> str:
    s = res["summary"]
    steps = res["sizes"]["steps"]
    lines = [f"{steps:,} steps of ~{res['step_ms']} ms ({res['matmul_reps_per_step']} 64x64 "
             f"matmuls) each printing a line, {res['sizes']['rounds']} rounds, stdout on a "
             f"pseudo-terminal; other processes {res['foreign_load']['foreign_cores']:.2f} cores"]
    for name in VARIANTS:
        x = s[name]
        extra = ""
        if name in ("default", "stress"):
            extra = (f"; vs bare {x['vs_bare_pct']:+.2f}% (paired {x['vs_bare_paired_pct']:+.2f}%)"
                     f", vs plain {x['vs_plain_pct']:+.2f}%; forwarder CPU "
                     f"{x['forwarder_cpu_s']:.2f} s; lines lost {x['lost_lines']}")
        elif name == "bare":
            extra = f"; vs plain {x['vs_plain_pct']:+.2f}%"
        lines.append(f"  {name:8} loop {x['loop_s']:.3f} s (min {x['min_s']:.3f}, max "
                     f"{x['max_s']:.3f}), {x['lines_per_s']:,.0f} lines/s, CPU {x['cpu_s']:.2f} s"
                     f"{extra}; init until the store is open {x['startup_s'] * 1000:.0f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short loops (a smoke test)")
    parser.add_argument("--steps", type=int, help=f"steps per loop (default {FULL['steps']:,})")
    parser.add_argument("--rounds", type=int, help=f"rounds (default {FULL['rounds']})")
    args = parser.parse_args()
    res = run(quick=args.quick, steps=args.steps, rounds=args.rounds)
    print(report(res))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
