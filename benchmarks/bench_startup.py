"""Start-up and shut-down: ``import runwatch``, ``init()``, ``finish()``.

Every sample is a fresh interpreter (nothing cached in ``sys.modules``; the OS
page cache is warm, as it is for any second run of a script). Figures are the
median of several processes.

- import: ``time.perf_counter`` around ``import runwatch`` inside the child, and
  which heavy libraries that import loaded (there should be none);
- init on an existing store: the store was created beforehand by another run;
  the child imports runwatch untimed, then times ``runwatch.init(...)``;
- init with ``id=`` and ``resume="allow"`` of a stored run: this one has to read
  the store on the training thread;
- finish of a short run (10 steps) right after init, and of the same run after
  the writer has had time to open the store in the background (1 s).

    python benchmarks/bench_startup.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import _common as c

SAMPLES = 9
HEAVY = ("numpy", "pandas", "sqlalchemy", "alembic", "psutil", "rich", "click")


def _child_import() -> dict[str, Any]:
    before = set(sys.modules)
    t0 = time.perf_counter()
    import runwatch  # noqa: F401

    t1 = time.perf_counter()
    loaded = {m.split(".")[0] for m in set(sys.modules) - before}
    return {"import_s": t1 - t0, "heavy_loaded": sorted(loaded & set(HEAVY)),
            "modules_loaded": len(set(sys.modules) - before)}


def _child_init(store: str, mode: str) -> dict[str, Any]:
    import runwatch

    kwargs: dict[str, Any] = {}
    if mode == "resume":
        kwargs = {"id": "resumeme", "resume": "allow"}
    t0 = time.perf_counter()
    run = runwatch.init(project="bench", dir=store, config=c.CONFIG, **kwargs)
    t1 = time.perf_counter()
    for i in range(10):
        run.log({"loss": 1.0 / (i + 1), "accuracy": 0.5, "lr": 1e-3, "grad_norm": 1.0,
                 "throughput": 100.0})
    if mode == "idle":
        time.sleep(1.0)  # a short training step: the writer opens the store meanwhile
    t2 = time.perf_counter()
    run.finish()
    t3 = time.perf_counter()
    return {"init_s": t1 - t0, "finish_s": t3 - t2,
            "heavy_after_init": sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))}


def _child_create(store: str) -> dict[str, Any]:
    import runwatch

    t0 = time.perf_counter()
    run = runwatch.init(project="bench", dir=store, id="resumeme", config=c.CONFIG)
    t1 = time.perf_counter()
    run.log({"loss": 1.0})
    run.finish()
    t2 = time.perf_counter()
    return {"init_s": t1 - t0, "finish_s": t2 - t1}


def _wall(args: list[str]) -> float:
    t0 = time.perf_counter()
    c.run_child(args)
    return time.perf_counter() - t0


def run(quick: bool = False) -> dict[str, Any]:
    n = 3 if quick else SAMPLES
    out: dict[str, Any] = {"samples": n}
    imports = [c.run_child([__file__, "--child", "import"]) for _ in range(n)]
    out["import_s"] = c.median([r["import_s"] for r in imports])
    out["import_s_all"] = [r["import_s"] for r in imports]
    out["import_heavy_loaded"] = imports[0]["heavy_loaded"]
    out["import_modules_loaded"] = imports[0]["modules_loaded"]
    # Whole-process figure: `python -c "import runwatch"` minus a bare interpreter.
    bare = [_wall(["-c", "print('{}')"]) for _ in range(n)]
    full = [_wall(["-c", "import runwatch; print('{}')"]) for _ in range(n)]
    out["python_startup_s"] = c.median(bare)
    out["process_import_overhead_s"] = c.median(full) - c.median(bare)

    store = c.scratch_dir("startup")
    try:
        created = c.run_child([__file__, "--child", "create", str(store)])
        out["new_store_init_s"] = created["init_s"]
        out["new_store_finish_s"] = created["finish_s"]
        for mode in ("existing", "idle", "resume"):
            res = [c.run_child([__file__, "--child", mode, str(store)]) for _ in range(n)]
            out[f"{mode}_init_s"] = c.median([r["init_s"] for r in res])
            out[f"{mode}_finish_s"] = c.median([r["finish_s"] for r in res])
            out[f"{mode}_init_s_all"] = [r["init_s"] for r in res]
            out[f"{mode}_finish_s_all"] = [r["finish_s"] for r in res]
            out[f"{mode}_heavy_after_init"] = res[0]["heavy_after_init"]
    finally:
        c.remove(store)
    return out


def report(res: dict[str, Any]) -> str:
    ms = 1000
    return "\n".join([
        f"import runwatch: {res['import_s'] * ms:.1f} ms median of {res['samples']} "
        f"(heavy libraries loaded: {res['import_heavy_loaded'] or 'none'}); whole process "
        f"+{res['process_import_overhead_s'] * ms:.0f} ms over a bare interpreter "
        f"({res['python_startup_s'] * ms:.0f} ms)",
        f"init() on an existing store: {res['existing_init_s'] * ms:.2f} ms; "
        f"finish() of a 10-step run right after: {res['existing_finish_s'] * ms:.0f} ms; "
        f"after 1 s of training: {res['idle_finish_s'] * ms:.0f} ms",
        f"init(id=..., resume='allow') of a stored run: {res['resume_init_s'] * ms:.0f} ms",
        f"first run on a new store: init {res['new_store_init_s'] * ms:.2f} ms, finish "
        f"{res['new_store_finish_s'] * ms:.0f} ms (creates the schema)",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        if mode == "import":
            c.emit(_child_import())
        elif mode == "create":
            c.emit(_child_create(rest[0]))
        else:
            c.emit(_child_init(rest[0], mode))
        return
    print(report(run(quick=args.quick)))


if __name__ == "__main__":
    sys.exit(main())
