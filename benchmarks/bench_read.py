"""Reading history back: ``scan_history()`` and ``history(samples=500)``.

A run of 200k steps x 5 scalars (1M points) is logged into a fresh store, then a
fresh reader process opens it with ``runwatch.Api`` and times:

- ``scan_history()`` iterated to the end (every row touched), the first call and
  the median of the next calls;
- ``history(samples=500)``: the first call separately (it imports pandas), then
  the median of the next calls; also with ``pandas=False``.

A second run of 20k steps (100k points) is read back cold, in one more fresh
process, from before ``import runwatch`` to the last row: the peers' "reading back
100k points" figure.

    python benchmarks/bench_read.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import _common as c

BIG_STEPS = 200_000    # x 5 keys = 1M points
SMALL_STEPS = 20_000   # x 5 keys = 100k points
REPEATS = 5


def _child_build(store: str, run_id: str, steps: int) -> dict[str, Any]:
    import random

    import runwatch

    r = random.random
    run = runwatch.init(project="read", id=run_id, dir=store)
    log = run.log
    for _ in range(steps):
        log({"loss": r(), "accuracy": r(), "lr": r(), "grad_norm": r(), "throughput": r()})
    run.finish()
    return {}


def _scan(run: Any) -> tuple[int, int]:
    rows = points = 0
    for row in run.scan_history():
        rows += 1
        points += len(row) - 3  # _step, _runtime, _timestamp
    return rows, points


def _child_read(store: str, repeats: int) -> dict[str, Any]:
    import resource

    pc = time.perf_counter
    t0 = pc()
    import runwatch

    t1 = pc()
    api = runwatch.Api(dir=store)
    run = api.run("read/big")
    t2 = pc()
    out: dict[str, Any] = {"import_s": t1 - t0, "open_s": t2 - t1}

    scans = []
    for _ in range(repeats + 1):
        s0 = pc()
        rows, points = _scan(run)
        scans.append(pc() - s0)
    out.update(scan_rows=rows, scan_points=points, scan_first_s=scans[0],
               scan_s=c.median(scans[1:]), scan_s_all=scans)

    had_pandas = "pandas" in sys.modules
    h0 = pc()
    df = run.history(samples=500)
    out["history_first_s"] = pc() - h0
    out["history_first_imported_pandas"] = not had_pandas
    out["history_rows"] = len(df)
    hist = []
    for _ in range(max(repeats, 5) * 2):
        h0 = pc()
        run.history(samples=500)
        hist.append(pc() - h0)
    out.update(history_s=c.median(hist), history_s_all=hist)
    raw = []
    for _ in range(max(repeats, 5) * 2):
        h0 = pc()
        run.history(samples=500, pandas=False)
        raw.append(pc() - h0)
    out["history_dicts_s"] = c.median(raw)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    api.close()
    return out


def _child_cold(store: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    import runwatch

    api = runwatch.Api(dir=store)
    rows = list(api.run("read/small").scan_history())
    t1 = time.perf_counter()
    api.close()
    return {"cold_read_s": t1 - t0, "rows": len(rows),
            "points": sum(len(r) - 3 for r in rows)}


def run(quick: bool = False) -> dict[str, Any]:
    big = 40_000 if quick else BIG_STEPS
    repeats = 2 if quick else REPEATS
    store = c.scratch_dir("read")
    try:
        t0 = time.perf_counter()
        c.run_child([__file__, "--child", "build", str(store), "big", str(big)])
        c.run_child([__file__, "--child", "build", str(store), "small", str(SMALL_STEPS)])
        build_s = time.perf_counter() - t0
        res = c.run_child([__file__, "--child", "read", str(store), str(repeats)])
        cold = [c.run_child([__file__, "--child", "cold", str(store)]) for _ in range(3)]
    finally:
        c.remove(store)
    res["steps"] = big
    res["points"] = big * len(c.KEYS)
    res["build_s"] = build_s
    res["cold_read_100k_s"] = c.median([x["cold_read_s"] for x in cold])
    res["cold_read_100k_points"] = cold[0]["points"]
    if res["scan_points"] != res["points"]:
        raise AssertionError(f"scan_history returned {res['scan_points']} points, "
                             f"logged {res['points']}")
    return res


def report(res: dict[str, Any]) -> str:
    return "\n".join([
        f"scan_history() of {res['scan_points']:,} points ({res['scan_rows']:,} rows): "
        f"{res['scan_s']:.3f} s median (first call {res['scan_first_s']:.3f} s)",
        f"history(samples=500): {res['history_s'] * 1000:.1f} ms median; pandas=False "
        f"{res['history_dicts_s'] * 1000:.1f} ms; first call {res['history_first_s'] * 1000:.0f} "
        f"ms (imports pandas: {res['history_first_imported_pandas']})",
        f"Api open (imports SQLAlchemy): {res['open_s'] * 1000:.0f} ms; reader peak RSS "
        f"{res['peak_rss_mb']:.0f} MB",
        f"read back {res['cold_read_100k_points']:,} points cold (fresh process, from import "
        f"to last row): {res['cold_read_100k_s']:.3f} s",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, store, *rest = args.child
        if mode == "build":
            c.emit(_child_build(store, rest[0], int(rest[1])))
        elif mode == "read":
            c.emit(_child_read(store, int(rest[0])))
        else:
            c.emit(_child_cold(store))
        return
    print(report(run(quick=args.quick)))


if __name__ == "__main__":
    sys.exit(main())
