"""``log()`` on the training thread, ``finish()``, memory and bytes on disk.

Figures (each from a fresh child interpreter):

- ``timing``: cost of one ``run.log(d)`` call, 5 scalars per step, timed call by
  call with ``time.perf_counter_ns`` around the call only (building the dict is
  outside the timed region). The same loop with nothing between the two timer
  reads gives the timer's own cost (its median), which is subtracted from every
  percentile. The baseline is plain Python doing the least a logger can do,
  ``lst.append(d.copy())``, timed the same way. Garbage collection stays on.
  The 100k-step case runs three times (fresh process each; median of each
  statistic); the 1M-step case once. A loop this tight fills the queue
  (``queue_limit`` rows) within milliseconds, so in both cases the writer works
  while ``log()`` is timed and the longest calls are waits for it to catch up.
- ``run``: the same run without per-call timers, for the amortized cost per step,
  peak RSS (``ru_maxrss``), ``finish()`` time, helper processes and threads left,
  and the store's size. For 100k and 1M steps, to show whether memory depends on
  run length.
- bytes per point: the store is first created by a run with the same config and
  no points; after the measured run, both sizes are taken after a
  ``PRAGMA wal_checkpoint(TRUNCATE)`` (db + ``-wal``); the difference divided by
  the points logged.

    python benchmarks/bench_log.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import _common as c

STEPS = 100_000
LONG_STEPS = 1_000_000


# -- children ----------------------------------------------------------------

def _child_timing(steps: int, store: str) -> dict[str, Any]:
    import random

    pc = time.perf_counter_ns
    r = random.random

    def summary(ns: list[int], overhead: float) -> dict[str, float]:
        s = sorted(ns)
        return {
            "median_us": (c.percentile(s, 50) - overhead) / 1000,
            "median_raw_us": c.percentile(s, 50) / 1000,
            "p90_us": (c.percentile(s, 90) - overhead) / 1000,
            "p99_us": (c.percentile(s, 99) - overhead) / 1000,
            "p999_us": (c.percentile(s, 99.9) - overhead) / 1000,
            "max_us": (s[-1] - overhead) / 1000,
            "mean_us": (sum(s) / len(s) - overhead) / 1000,
        }

    # 1. The timer alone: two perf_counter_ns() reads with nothing between.
    timer = [0] * steps
    for i in range(steps):
        d = {"loss": r(), "accuracy": r(), "lr": r(), "grad_norm": r(), "throughput": r()}
        t0 = pc()
        t1 = pc()
        timer[i] = t1 - t0
    timer_sorted = sorted(timer)
    overhead = c.percentile(timer_sorted, 50)

    # For scale: building the 5-scalar dict itself, which the training loop pays anyway.
    build = [0] * steps
    for i in range(steps):
        t0 = pc()
        d = {"loss": r(), "accuracy": r(), "lr": r(), "grad_norm": r(), "throughput": r()}
        t1 = pc()
        build[i] = t1 - t0

    # 2. Plain Python: copy the dict into a list (what log() must at least do).
    lst: list[dict[str, float]] = []
    append = lst.append
    base = [0] * steps
    for i in range(steps):
        d = {"loss": r(), "accuracy": r(), "lr": r(), "grad_norm": r(), "throughput": r()}
        t0 = pc()
        append(d.copy())
        t1 = pc()
        base[i] = t1 - t0
    del lst, append

    # 3. runwatch.
    import runwatch

    run = runwatch.init(project="bench", dir=store, config=c.CONFIG)
    log = run.log
    cost = [0] * steps
    loop0 = pc()
    for i in range(steps):
        d = {"loss": r(), "accuracy": r(), "lr": r(), "grad_norm": r(), "throughput": r()}
        t0 = pc()
        log(d)
        t1 = pc()
        cost[i] = t1 - t0
    loop1 = pc()
    stats_before_finish = dict(run.stats)
    f0 = pc()
    run.finish()
    f1 = pc()
    return {
        "steps": steps,
        "timer_overhead_ns": {"median": overhead, "p99": c.percentile(timer_sorted, 99)},
        "baseline": summary(base, overhead),
        "dict_build": summary(build, overhead),
        "log": summary(cost, overhead),
        "loop_s": (loop1 - loop0) / 1e9,
        "finish_s": (f1 - f0) / 1e9,
        "queued_at_finish": stats_before_finish.get("queued", 0),
        "batches_before_finish": stats_before_finish.get("batches", 0),
    }


def _child_run(steps: int, store: str, empty: bool = False) -> dict[str, Any]:
    import random
    import resource
    import threading

    import psutil

    proc = psutil.Process()
    r = random.random
    rss = {"start_mb": proc.memory_info().rss / 2**20}
    # What building the dicts alone costs, to take out of the amortized figure.
    g0 = time.perf_counter()
    for _ in range(steps):
        d = {"loss": r(), "accuracy": r(), "lr": r(), "grad_norm": r(), "throughput": r()}
    gen_s = time.perf_counter() - g0
    del d
    import runwatch

    rss["after_import_mb"] = proc.memory_info().rss / 2**20
    t0 = time.perf_counter()
    run = runwatch.init(project="bench", dir=store, config=c.CONFIG)
    t1 = time.perf_counter()
    rss["after_init_mb"] = proc.memory_info().rss / 2**20
    log = run.log
    if not empty:
        for _ in range(steps):
            log({"loss": r(), "accuracy": r(), "lr": r(), "grad_norm": r(), "throughput": r()})
    t2 = time.perf_counter()
    rss["after_loop_mb"] = proc.memory_info().rss / 2**20
    stats_before_finish = dict(run.stats)
    run.finish()
    t3 = time.perf_counter()
    rss["after_finish_mb"] = proc.memory_info().rss / 2**20
    # The threads are joined with a timeout; give a straggler a moment before counting.
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(
            t.name.startswith("runwatch") for t in threading.enumerate()):
        time.sleep(0.01)
    return {
        "steps": 0 if empty else steps,
        "init_s": t1 - t0,
        "loop_s": t2 - t1,
        "dict_build_s": gen_s,
        "finish_s": t3 - t2,
        "amortized_log_us": (t2 - t1 - gen_s) / steps * 1e6 if not empty else None,
        "amortized_total_us": (t3 - t1 - gen_s) / steps * 1e6 if not empty else None,
        "rss": rss,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_after_finish": [p.pid for p in proc.children(recursive=True)],
        "runwatch_threads_after_finish": [t.name for t in threading.enumerate()
                                          if t.name.startswith("runwatch")],
        "queued_at_finish": stats_before_finish.get("queued", 0),
        "batches_before_finish": stats_before_finish.get("batches", 0),
        "stats": dict(run.stats),
        "run_id": run.id,
    }


# -- the benchmark -------------------------------------------------------------

def _disk(steps: int) -> dict[str, Any]:
    """Peak RSS, finish time and bytes per point of a ``steps``-step run.

    The store is created first by a run with the same config and no points (its
    ``finish()`` includes creating the schema); its size is the baseline. The measured
    run then goes into that existing store.
    """
    store = c.scratch_dir(f"log{steps}")
    try:
        empty = c.run_child([__file__, "--child", "empty", "1", str(store)])
        base = c.store_size(store)
        res = c.run_child([__file__, "--child", "run", str(steps), str(store)])
        size = c.store_size(store)
        points = steps * len(c.KEYS)
        res["points"] = points
        res["store"] = size
        res["empty_store_bytes"] = base["bytes"]
        res["empty_run_finish_s_new_store"] = empty["finish_s"]
        res["empty_run_peak_rss_mb"] = empty["peak_rss_mb"]
        res["bytes_per_point"] = (size["bytes"] - base["bytes"]) / points
        res["bytes_per_point_before_checkpoint"] = (
            (size["bytes_before_checkpoint"] - base["bytes"]) / points)
        res["blob_bytes_per_point"] = size["blob_bytes"] / points
        res["stored_points"] = size["chunk_points"]
        return res
    finally:
        c.remove(store)


def _combine(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over trials of every per-call statistic; the trials themselves are kept."""
    out = dict(trials[0])
    if len(trials) > 1:
        for part in ("baseline", "dict_build", "log"):
            out[part] = {k: c.median([t[part][k] for t in trials]) for k in trials[0][part]}
            out[part + "_range"] = {k: [min(t[part][k] for t in trials),
                                        max(t[part][k] for t in trials)]
                                    for k in trials[0][part]}
        out["timer_overhead_ns"] = {k: c.median([t["timer_overhead_ns"][k] for t in trials])
                                    for k in trials[0]["timer_overhead_ns"]}
    out["trials"] = trials
    return out


def run(quick: bool = False) -> dict[str, Any]:
    steps = 20_000 if quick else STEPS
    long_steps = 100_000 if quick else LONG_STEPS
    out: dict[str, Any] = {}
    # The 100k-step timing three times (fresh process each): its p99 moves from run to
    # run, so every percentile is reported as the median of the three, with the range.
    repeats = 1 if quick else 3
    for name, n, times in (("timing", steps, repeats), ("timing_long", long_steps, 1)):
        trials = []
        for _ in range(times):
            d = c.scratch_dir(name)
            try:
                trials.append(c.run_child([__file__, "--child", "timing", str(n), str(d)]))
            finally:
                c.remove(d)
        out[name] = _combine(trials)
    out["run"] = _disk(steps)
    out["run_long"] = _disk(long_steps)
    return out


def report(res: dict[str, Any]) -> str:
    t, tl = res["timing"], res["timing_long"]
    lines = [
        f"timer overhead subtracted: {t['timer_overhead_ns']['median']:.0f} ns",
        f"{'':28} {'median':>8} {'p99':>8} {'p99.9':>8} {'max':>9}  (µs per step)",
    ]
    for label, s in ((f"build the dict, {t['steps']:,}", t["dict_build"]),
                     (f"dict copy, {t['steps']:,} steps", t["baseline"]),
                     (f"log(), {t['steps']:,} steps", t["log"]),
                     (f"log(), {tl['steps']:,} steps", tl["log"])):
        lines.append(f"{label:28} {s['median_us']:8.2f} {s['p99_us']:8.2f} "
                     f"{s['p999_us']:8.2f} {s['max_us']:9.1f}")
    for key in ("run", "run_long"):
        r = res[key]
        lines.append(
            f"{r['steps']:,} steps: amortized log() {r['amortized_log_us']:.2f} µs/step on the "
            f"training thread, {r['amortized_total_us']:.2f} µs/step incl. finish; peak RSS "
            f"{r['peak_rss_mb']:.1f} MB (after import {r['rss']['after_import_mb']:.1f}, after "
            f"loop {r['rss']['after_loop_mb']:.1f}); finish {r['finish_s']:.3f} s "
            f"({r['queued_at_finish']:,} rows still queued); {r['bytes_per_point']:.2f} B/point "
            f"(blobs {r['blob_bytes_per_point']:.2f}); spilled batches "
            f"{r['stats'].get('spilled_batches', 0)}/{r['stats'].get('batches', 0)}; children "
            f"left {len(r['children_after_finish'])}, threads left "
            f"{len(r['runwatch_threads_after_finish'])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "STEPS", "DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, steps, store = args.child
        if mode == "timing":
            c.emit(_child_timing(int(steps), store))
        else:
            c.emit(_child_run(int(steps), store, empty=mode == "empty"))
        return
    res = run(quick=args.quick)
    print(report(res))


if __name__ == "__main__":
    sys.exit(main())
