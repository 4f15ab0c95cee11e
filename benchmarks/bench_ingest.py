"""Ingest: points per second into one store, from 1 and from 32 processes at once.

Each worker process starts a run, logs one step and calls ``run.flush()`` (so the
store is open and the run exists before the clock starts), says it is ready and
waits. When every worker is ready the parent releases them all at once; each then
logs ``STEPS`` steps of 5 scalars as fast as it can and calls ``finish()``. The
figure is points logged / (last ``finish()`` returning - release), on
``time.monotonic`` (one clock for all processes on Linux). Afterwards every run
is read back through ``runwatch.Api`` and every point must be there. Each case
runs three times in a fresh store; the trial with the median rate is reported.

    python benchmarks/bench_ingest.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import _common as c

SINGLE_STEPS = 200_000   # 1M points
MULTI_PROCS = 32
MULTI_STEPS = 25_000     # x 32 processes = 4M points
REPEATS = 3              # the 32-process figure varies a lot from trial to trial


def _worker(store: str, steps: int, name: str) -> dict[str, Any]:
    import random
    import resource

    import runwatch

    r = random.random
    run = runwatch.init(project="ingest", dir=store, name=name)
    log = run.log
    log({"loss": r(), "accuracy": r(), "lr": r(), "grad_norm": r(), "throughput": r()})
    if not run.flush(timeout=300):
        raise RuntimeError("the warm-up step did not reach the store")
    print("ready", flush=True)
    sys.stdin.readline()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    for _ in range(steps):
        log({"loss": r(), "accuracy": r(), "lr": r(), "grad_norm": r(), "throughput": r()})
    t1 = time.monotonic()
    run.finish()
    t2 = time.monotonic()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"run_id": run.id, "start": t0, "loop_end": t1, "end": t2,
            "cpu_s": ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime,
            "peak_rss_mb": ru.ru_maxrss / 1024,
            "stats": dict(run.stats)}


def _count(store: str) -> dict[str, Any]:
    """Points and rows of every run in project ``ingest``, read through the Api."""
    import runwatch

    api = runwatch.Api(dir=store)
    try:
        out = {}
        for r in api.runs("ingest"):
            rows = points = 0
            for row in r.scan_history():
                rows += 1
                points += len(row) - 3  # _step, _runtime, _timestamp
            out[r.id] = {"rows": rows, "points": points, "state": r.state}
        return out
    finally:
        api.close()


def _ingest(procs: int, steps: int) -> dict[str, Any]:
    store = c.scratch_dir(f"ingest{procs}")
    try:
        # Create the store (schema) first, outside the measurement.
        c.run_child(["-c", f"import runwatch; runwatch.init(project='setup', dir={str(store)!r})"
                     ".finish(); print('{}')"])
        env = c.child_env()
        workers = []
        for i in range(procs):
            err = tempfile.TemporaryFile(mode="w+")
            p = subprocess.Popen(
                [sys.executable, __file__, "--worker", str(store), str(steps), f"w{i}"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
            workers.append((p, err))
        for p, err in workers:
            line = p.stdout.readline() if p.stdout else ""
            if line.strip() != "ready":
                err.seek(0)
                raise RuntimeError(f"ingest worker did not start: {line!r}\n{err.read()[-3000:]}")
        go = time.monotonic()
        for p, _err in workers:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p, err in workers:
            out, _ = p.communicate(timeout=900)
            if p.returncode != 0:
                err.seek(0)
                raise RuntimeError(f"ingest worker failed ({p.returncode}):\n{err.read()[-3000:]}")
            err.close()
            results.append(json.loads(out.strip().splitlines()[-1]))
        end = max(r["end"] for r in results)
        wall = end - go
        points = procs * steps * len(c.KEYS)
        t0 = time.perf_counter()
        counted = _count(str(store))
        count_s = time.perf_counter() - t0
        expected = (steps + 1) * len(c.KEYS)  # + the warm-up step
        lost = {rid: expected - counted.get(rid, {"points": 0})["points"]
                for rid in (r["run_id"] for r in results)}
        bad_state = {rid: v["state"] for rid, v in counted.items() if v["state"] != "finished"}
        size = c.store_size(store)
        return {
            "processes": procs,
            "steps_per_process": steps,
            "points": points,
            "wall_s": wall,
            "points_per_s": points / wall,
            "release_skew_s": max(r["start"] for r in results) - go,
            "loop_s_median": c.median([r["loop_end"] - r["start"] for r in results]),
            "finish_s_median": c.median([r["end"] - r["loop_end"] for r in results]),
            "finish_s_max": max(r["end"] - r["loop_end"] for r in results),
            "cpu_s_total": sum(r["cpu_s"] for r in results),  # from release to finish
            "cpu_utilisation": sum(r["cpu_s"] for r in results) / wall / (os.cpu_count() or 1),
            "peak_rss_mb_max": max(r["peak_rss_mb"] for r in results),
            "write_failures": sum(r["stats"].get("write_failures", 0) for r in results),
            "spilled_batches": sum(r["stats"].get("spilled_batches", 0) for r in results),
            "batches": sum(r["stats"].get("batches", 0) for r in results),
            "points_lost": sum(lost.values()),
            "runs_not_finished": bad_state,
            "stored_points": sum(v["points"] for v in counted.values()),
            "readback_s": count_s,
            "store_bytes": size["bytes"],
        }
    finally:
        c.remove(store)


def _repeat(procs: int, steps: int, repeats: int) -> dict[str, Any]:
    """The trial with the median points/s, plus every trial's points/s."""
    trials = sorted((_ingest(procs, steps) for _ in range(repeats)),
                    key=lambda t: t["points_per_s"])
    out = dict(trials[len(trials) // 2])
    out["points_per_s_all"] = [t["points_per_s"] for t in trials]
    out["points_lost"] = sum(t["points_lost"] for t in trials)
    out["runs_not_finished"] = {k: v for t in trials for k, v in t["runs_not_finished"].items()}
    out["repeats"] = repeats
    return out


def run(quick: bool = False) -> dict[str, Any]:
    single = 40_000 if quick else SINGLE_STEPS
    multi = 4_000 if quick else MULTI_STEPS
    repeats = 1 if quick else REPEATS
    out = {"single": _repeat(1, single, repeats), "multi": _repeat(MULTI_PROCS, multi, repeats)}
    for key in ("single", "multi"):
        if out[key]["points_lost"] or out[key]["runs_not_finished"]:
            raise AssertionError(f"ingest lost data: {out[key]}")
    return out


def report(res: dict[str, Any]) -> str:
    lines = []
    for key in ("single", "multi"):
        r = res[key]
        lines.append(
            f"{r['processes']:>2} process(es) x {r['steps_per_process']:,} steps: "
            f"{r['points']:,} points in {r['wall_s']:.2f} s = {r['points_per_s'] / 1e6:.2f} M "
            f"points/s (loop {r['loop_s_median']:.2f} s, finish {r['finish_s_median']:.2f} s "
            f"median / {r['finish_s_max']:.2f} s max; CPU {r['cpu_s_total']:.1f} s = "
            f"{r['cpu_utilisation']:.0%} of the cores; spilled "
            f"{r['spilled_batches']}/{r['batches']} batches; write failures "
            f"{r['write_failures']}; lost {r['points_lost']}); all trials: "
            + ", ".join(f"{x / 1e6:.2f}" for x in r["points_per_s_all"]) + " M points/s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps per process")
    parser.add_argument("--worker", nargs=3, metavar=("DIR", "STEPS", "NAME"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        store, steps, name = args.worker
        c.emit(_worker(store, int(steps), name))
        return
    print(report(run(quick=args.quick)))


if __name__ == "__main__":
    sys.exit(main())
