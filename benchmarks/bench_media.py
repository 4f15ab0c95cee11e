"""Rich values: Image construction, logging a 100k-row table, paging a 1M-row table.

- Image construction (encode to PNG + sha256, on the caller's thread, as in wandb):
  a 28x28 grayscale uint8 array and a 512x512 RGB uint8 array, median of many.
- A 100k-row table (int, float, str columns): building the Table from rows, the
  ``log()`` call itself (what the training thread waits for; the issue's target is
  under 50 ms), and the time until ``run.flush()`` has it encoded and stored.
- A 1M-row table (int, float, str): rows 50,000-50,100 sorted by each column,
  ascending and descending, through ``Api().run(...).table_page`` in a fresh
  reader process (median of several; the first call is reported apart).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402


def _images() -> dict:
    import numpy as np

    import runwatch

    rng = np.random.default_rng(0)
    out = {}
    for name, shape, reps in (("28x28 L", (28, 28), 2000), ("512x512 RGB", (512, 512, 3), 40)):
        arrays = [rng.integers(0, 255, shape, dtype=np.uint8) for _ in range(8)]
        times = []
        for i in range(reps):
            t0 = time.perf_counter()
            runwatch.Image(arrays[i % 8])
            times.append(time.perf_counter() - t0)
        out[name] = c.median(times)
    return out


def _table_log(store: str, rows: int) -> dict:
    import runwatch

    data = [[i, i / 7, f"row {i}"] for i in range(rows)]
    t0 = time.perf_counter()
    table = runwatch.Table(columns=["i", "x", "s"], data=data)
    build = time.perf_counter() - t0
    run = runwatch.init(project="bench-media", dir=store)
    run.log({"warm": 1.0})
    run.flush()
    t0 = time.perf_counter()
    run.log({"table": table})
    log_call = time.perf_counter() - t0
    run.flush()
    stored = time.perf_counter() - t0
    run.finish()
    return {"rows": rows, "build_s": build, "log_call_s": log_call, "until_stored_s": stored}


def _make_big(store: str, rows: int) -> dict:
    import numpy as np
    import pandas as pd

    import runwatch

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"id": np.arange(rows), "score": rng.normal(size=rows),
                       "name": [f"item-{v:08d}" for v in rng.integers(0, rows, rows)]})
    run = runwatch.init(project="bench-media", name="big", dir=store)
    run.log({"big": runwatch.Table(dataframe=df)})
    run.finish()
    return {"run_id": run.id}


def _pages(store: str, run_id: str) -> dict:
    import runwatch

    api = runwatch.Api(dir=store)
    r = api.run(f"bench-media/{run_id}")
    t0 = time.perf_counter()
    r.table_page("big", offset=50_000, limit=100, sort="id")
    first = time.perf_counter() - t0
    out = {"first_call_s": first, "pages": {}}
    for column in ("id", "score", "name"):
        for descending in (False, True):
            times = []
            for _ in range(7):
                t0 = time.perf_counter()
                page = r.table_page("big", offset=50_000, limit=100, sort=column,
                                    descending=descending)
                times.append(time.perf_counter() - t0)
            assert len(page["rows"]) == 100
            out["pages"][f"{column} {'desc' if descending else 'asc'}"] = c.median(times)
    return out


def run(quick: bool = False) -> dict:
    store = c.scratch_dir("media")
    try:
        images = c.run_child([__file__, "--child", "images", str(store)])
        table = c.run_child([__file__, "--child", "table", str(store),
                             str(20_000 if quick else 100_000)])
        big = c.run_child([__file__, "--child", "big", str(store),
                           str(100_000 if quick else 1_000_000)], timeout=900)
        pages = c.run_child([__file__, "--child", "pages", str(store), big["run_id"]])
    finally:
        c.remove(store)
    return {"images_s": images, "table_log": table, "big_rows": 100_000 if quick else 1_000_000,
            "pages": pages}


def report(r: dict) -> str:
    lines = [f"Image() {name}: {t * 1e3:.2f} ms" for name, t in r["images_s"].items()]
    t = r["table_log"]
    lines.append(f"{t['rows']:,}-row table: Table() {t['build_s'] * 1e3:.0f} ms; log() call "
                 f"{t['log_call_s'] * 1e3:.3f} ms; stored {t['until_stored_s'] * 1e3:.0f} ms "
                 "after log()")
    p = r["pages"]
    lines.append(f"{r['big_rows']:,}-row table, rows 50,000-50,100: first call "
                 f"{p['first_call_s'] * 1e3:.1f} ms (imports, opens the store); then " + ", ".join(
                     f"{k} {v * 1e3:.1f} ms" for k, v in p["pages"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, store, *rest = args.child
        if kind == "images":
            c.emit(_images())
        elif kind == "table":
            c.emit(_table_log(store, int(rest[0])))
        elif kind == "big":
            c.emit(_make_big(store, int(rest[0])))
        else:
            c.emit(_pages(store, rest[0]))
        return
    print(report(run(quick=args.quick)))


if __name__ == "__main__":
    main()
