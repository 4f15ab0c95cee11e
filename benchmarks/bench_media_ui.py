"""The dashboard's media (issue 6): pages of a 1M-row table over HTTP, and scrubbing an image panel.

One store is logged through the SDK (two child processes at once):

- project ``bench-table``: run ``table`` logs one ``runwatch.Table`` (from a pandas
  DataFrame) of 1,000,000 rows under ``big``, columns ``id`` (int), ``label`` (str,
  ``class-{i % 1000}``), ``score`` (float, random) and ``flag`` (bool);
- project ``bench-images``: run ``images`` logs ``{"examples": [4 x runwatch.Image]}`` at
  each of 1,000 steps, every image a distinct random 64x64 uint8 array with a caption.

Then a real ``runwatch server --port 0 --dir STORE`` is started as a subprocess, and:

1. table (a fresh child with httpx, one keep-alive connection, a fresh server):
   ``GET /api/v1/projects/bench-table/runs/table/table?key=big&limit=100&offset=O
   &sort=C&desc=D`` for every column ascending and descending at offsets 0 and 500,000,
   plus unsorted at both offsets. Per case the first request ("cold": the first time
   that column order and those rows are read) and the median of the next 5 ("warm"),
   as the client's wall time; the very first request of the fresh server apart.
2. scrub (a fresh child with Playwright and Debian's Chromium, viewport 1600x1000; a
   fresh server; the store's thumbnail cache emptied first): ``/p/bench-images``; wait
   for the image panel and scroll it into view; wait for the thumbnails at the last
   step. Then the slider is set (value + an ``input`` event) to each index from 998 down
   to 900 (99 moves; the panel opens at 999), one move every 50 ms; for each, page JS
   polls every animation frame until the panel shows that step and every ``figure.thumb
   img`` is ``complete && naturalWidth > 0``. A move that is not ready within 50 ms holds
   the next one back until it is (so every position is measured; the scrub then takes
   longer than 99 x 50 ms). Then a jump from 900 to 300 (not prefetched).

    python benchmarks/bench_media_ui.py [--quick] [--store DIR]

``--quick``: a 100k-row table and 200 image steps (scrub 198..100, jump to 60).
``--store DIR`` keeps the built store in DIR and reuses it on the next run with the
same sizes (without it the store is built under results/tmp-* and deleted).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402
from bench_server import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    Server,
    _adopt_orphans,
    _reap_orphans,
    _runwatch_file,
)

TABLE_PROJECT, TABLE_RUN, TABLE_KEY = "bench-table", "table", "big"
IMAGE_PROJECT, IMAGE_RUN, IMAGE_KEY = "bench-images", "images", "examples"
COLUMNS = ("id", "label", "score", "flag")
PAGE = 100
WARM = 5
IMAGES_PER_STEP = 4
SIDE = 64
MOVE_MS = 50
SCRUB_MOVES = 99  # from last-1 down to last-99 (the panel opens at the last index)
MANIFEST = "bench-media-ui.json"  # in a --store folder: the sizes it was built with

FULL = {"table_rows": 1_000_000, "image_steps": 1000}
QUICK = {"table_rows": 100_000, "image_steps": 200}


def _jump_index(steps: int) -> int:
    return (3 * steps) // 10  # 300 of 1,000


# ----------------------------------------------------------------------------- build


def _child_build_table(store: str, rows: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    import runwatch

    rng = np.random.default_rng(6)
    ids = np.arange(rows, dtype=np.int64)
    df = pd.DataFrame({"id": ids,
                       "label": [f"class-{i % 1000}" for i in range(rows)],
                       "score": rng.random(rows),
                       "flag": rng.random(rows) < 0.5})
    t0 = time.perf_counter()
    table = runwatch.Table(dataframe=df)
    build = time.perf_counter() - t0
    run = runwatch.init(project=TABLE_PROJECT, id=TABLE_RUN, dir=store)
    t0 = time.perf_counter()
    run.log({TABLE_KEY: table})
    log_call = time.perf_counter() - t0
    run.finish()
    return {"rows": rows, "table_s": build, "log_call_s": log_call,
            "until_finished_s": time.perf_counter() - t0}


def _child_build_images(store: str, steps: int) -> dict[str, Any]:
    import numpy as np

    import runwatch

    rng = np.random.default_rng(7)
    run = runwatch.init(project=IMAGE_PROJECT, id=IMAGE_RUN, dir=store)
    t0 = time.perf_counter()
    for s in range(steps):
        arrays = rng.integers(0, 256, (IMAGES_PER_STEP, SIDE, SIDE), dtype=np.uint8)
        run.log({IMAGE_KEY: [runwatch.Image(a, caption=f"step {s} #{k}")
                             for k, a in enumerate(arrays)]})
    logged = time.perf_counter() - t0
    run.finish()
    return {"steps": steps, "images": steps * IMAGES_PER_STEP, "log_s": logged,
            "until_finished_s": time.perf_counter() - t0}


def build(store: Path, size: dict[str, int]) -> dict[str, Any]:
    t0 = time.perf_counter()
    # Both at once; the store's migration lock lets the first create the schema.
    with ThreadPoolExecutor(2) as pool:
        table = pool.submit(c.run_child, [__file__, "--child", "table", str(store),
                                          str(size["table_rows"])], timeout=900)
        images = pool.submit(c.run_child, [__file__, "--child", "images", str(store),
                                           str(size["image_steps"])], timeout=900)
        out = {"table": table.result(), "images": images.result()}
    out["wall_s"] = time.perf_counter() - t0
    out["store_bytes"] = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    return out


# ----------------------------------------------------------------------------- table


def _table_cases(rows: int) -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    for offset in (0, rows // 2):
        cases[f"unsorted @{offset}"] = {"offset": offset}
        for col in COLUMNS:
            for desc in (False, True):
                cases[f"{col} {'desc' if desc else 'asc'} @{offset}"] = {
                    "offset": offset, "sort": col, "desc": "true" if desc else "false"}
    return cases


def _child_table(store: str, size: dict[str, int], logs: str) -> dict[str, Any]:
    import httpx

    path = f"/api/v1/projects/{TABLE_PROJECT}/runs/{TABLE_RUN}/table"
    cases = _table_cases(size["table_rows"])
    out: dict[str, Any] = {"cases": {}}

    def get(client: Any, params: dict[str, Any]) -> tuple[float, dict[str, Any], int]:
        t0 = time.perf_counter()
        resp = client.get(path, params={"key": TABLE_KEY, "limit": PAGE, **params})
        wall = (time.perf_counter() - t0) * 1000
        if resp.status_code != 200:
            raise RuntimeError(f"GET {path} {params} -> {resp.status_code}: {resp.text[:500]}")
        return wall, resp.json(), len(resp.content)

    with Server(store, Path(logs) / "server-table.log") as srv, \
            httpx.Client(base_url=srv.url, timeout=300) as client:
        out["server_start_s"] = srv.start_s
        for n, (name, params) in enumerate(cases.items()):
            calls = [get(client, params) for _ in range(WARM + 1)]
            body = calls[0][1]
            rows = body["rows"]
            if len(rows) != PAGE or body["nrows"] != size["table_rows"]:
                raise RuntimeError(f"{name}: {len(rows)} rows of {body['nrows']}")
            if "sort" in params:  # the page really is in order
                j = body["columns"].index(params["sort"])
                vals = [r[j] for r in rows]
                want = sorted(vals, reverse=params["desc"] == "true")
                if vals != want:
                    raise RuntimeError(f"{name}: page not sorted: {vals[:5]}...")
            if n == 0:
                out["first_request_ms"] = calls[0][0]
            out["cases"][name] = {"cold_ms": calls[0][0],
                                  "warm_ms": c.median([x[0] for x in calls[1:]]),
                                  "warm_ms_all": [round(x[0], 2) for x in calls[1:]],
                                  "bytes": calls[0][2], "first_row": rows[0]}
    warm = [x["warm_ms"] for x in out["cases"].values()]
    cold = [x["cold_ms"] for n, x in enumerate(out["cases"].values()) if n > 0]
    out.update(warm_max_ms=max(warm), warm_median_ms=c.median(warm), cold_max_ms=max(cold),
               cold_median_ms=c.median(cold), runwatch_file=_runwatch_file())
    return out


# ----------------------------------------------------------------------------- scrub

PANEL = f'section.media-panel[data-key="{IMAGE_KEY}"][data-kind="image"]'

# Runs in the page: moves the slider through `indices` and times each position until
# the panel shows its step with every thumbnail decoded.
SCRUB_JS = """
async ([panelSel, indices, steps, moveMs, timeoutMs]) => {
  const panel = document.querySelector(panelSel);
  const input = panel.querySelector(".step-slider input[type=range]");
  const output = panel.querySelector(".step-slider output");
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const imgs = () => [...panel.querySelectorAll("figure.thumb img")];
  const ready = (step) => output.textContent === String(step) && imgs().length > 0
    && imgs().every((i) => i.complete && i.naturalWidth > 0);
  const out = [];
  const start = performance.now();
  for (const idx of indices) {
    const step = steps[idx];
    const t0 = performance.now();
    input.value = String(idx);
    input.dispatchEvent(new Event("input", { bubbles: true }));
    let frames = 0;
    let ms = null;
    while (performance.now() - t0 < timeoutMs) {
      await frame();
      frames += 1;
      if (ready(step)) { ms = performance.now() - t0; break; }
    }
    out.push({ index: idx, step, ms, frames, thumbs: imgs().length,
               srcs: imgs().map((i) => i.src.split("/blobs/")[1].slice(0, 12)) });
    if (ms === null) break;
    const left = moveMs - (performance.now() - t0);
    if (left > 0) await sleep(left);
  }
  return { positions: out, total_ms: performance.now() - start };
}
"""

THUMB_TIMINGS_JS = """
() => performance.getEntriesByType("resource")
  .filter((e) => e.name.includes("/blobs/") && e.name.includes("thumb="))
  .map((e) => ({ start: e.startTime, end: e.responseEnd, dur: e.responseEnd - e.startTime }))
"""


def _stats(positions: list[dict[str, Any]]) -> dict[str, Any]:
    ms = sorted(p["ms"] for p in positions)
    first = sum(1 for p in positions if p["frames"] == 1)
    return {"n": len(ms), "median_ms": c.median(ms), "p95_ms": c.percentile(ms, 95),
            "max_ms": ms[-1], "first_frame": first, "first_frame_share": first / len(ms),
            "over_move_ms": sum(1 for v in ms if v > MOVE_MS)}


def _child_scrub(store: str, size: dict[str, int], logs: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    c.remove(Path(store) / "thumbs")  # the server's thumbnail cache: start cold
    steps_n = size["image_steps"]
    last = steps_n - 1
    indices = list(range(last - 1, last - 1 - SCRUB_MOVES, -1))
    jump = _jump_index(steps_n)
    problems: list[str] = []
    subreaper = _adopt_orphans()
    with Server(store, Path(logs) / "server-scrub.log") as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            # Room for every thumbnail request (the default keeps 250 entries).
            context.add_init_script("performance.setResourceTimingBufferSize(100000)")
            page = context.new_page()
            page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
            page.on("console", lambda m: problems.append(f"console: {m.text}")
                    if m.type == "error" else None)
            page.goto("about:blank")
            page.goto(f"{srv.url}/p/{IMAGE_PROJECT}", wait_until="commit")
            panel = page.wait_for_selector(PANEL, timeout=60_000, state="attached")
            panel.scroll_into_view_if_needed()
            page.wait_for_function(
                "(sel) => { const p = document.querySelector(sel); const i = p &&"
                " [...p.querySelectorAll('figure.thumb img')];"
                " return i && i.length > 0 && i.every((x) => x.complete && x.naturalWidth > 0); }",
                arg=PANEL, timeout=60_000, polling="raf")
            shown_ms = page.evaluate("() => performance.now()")
            steps = page.evaluate(
                "async ([p, r, k]) => (await (await fetch(`/api/v1/projects/${p}/media/steps"
                "?key=${k}&runs=${r}`)).json()).runs[0].steps",
                [IMAGE_PROJECT, IMAGE_RUN, IMAGE_KEY])
            if len(steps) != steps_n:
                raise RuntimeError(f"{len(steps)} image steps, expected {steps_n}")
            page.wait_for_timeout(1000)  # a user looks at the panel before dragging
            before = len(page.evaluate(THUMB_TIMINGS_JS))
            scrub = page.evaluate(SCRUB_JS, [PANEL, indices, steps, MOVE_MS, 30_000])
            page.wait_for_timeout(300)
            jumped = page.evaluate(SCRUB_JS, [PANEL, [jump], steps, MOVE_MS, 30_000])
            thumbs = page.evaluate(THUMB_TIMINGS_JS)
        finally:
            browser.close()
    orphans = _reap_orphans() if subreaper else 0
    if problems:
        raise RuntimeError("the page reported errors:\n" + "\n".join(problems[:20]))
    pos = scrub["positions"]
    if len(pos) != len(indices) or any(p["ms"] is None for p in pos):
        raise RuntimeError(f"a slider position never showed its thumbnails: {pos[-1]}")
    if any(p["thumbs"] != IMAGES_PER_STEP for p in pos):
        raise RuntimeError("a slider position did not show 4 thumbnails")
    if any(a["srcs"] == b["srcs"] for a, b in zip(pos, pos[1:])):
        raise RuntimeError("two slider positions showed the same thumbnails")
    durs = sorted(t["dur"] for t in thumbs)
    for p_ in pos:
        del p_["srcs"]
    j = jumped["positions"][0]
    return {"chromium": CHROMIUM, "viewport": VIEWPORT, "moves": len(indices),
            "move_ms": MOVE_MS, "from_index": indices[0], "to_index": indices[-1],
            "panel_thumbs_shown_ms": shown_ms, "scrub": _stats(pos),
            "scrub_total_ms": scrub["total_ms"], "positions": pos,
            "jump": {"index": jump, "ms": j["ms"], "frames": j["frames"]},
            "thumb_requests": len(thumbs), "thumb_requests_before_scrub": before,
            "thumb_request_ms_median": c.median(durs),
            "thumb_request_ms_p95": c.percentile(durs, 95),
            "orphans_reaped": orphans}


# ------------------------------------------------------------------------------ main


def _store_ready(store: Path, size: dict[str, int]) -> bool:
    try:
        return json.loads((store / MANIFEST).read_text()) == size
    except (OSError, ValueError):
        return False


def run(quick: bool = False, store_dir: str | None = None) -> dict[str, Any]:
    size = QUICK if quick else FULL
    keep = store_dir is not None
    store = Path(store_dir) if keep else c.scratch_dir("media-ui")
    out: dict[str, Any] = {"sizes": size, "page": PAGE, "warm_calls": WARM}
    try:
        if keep and _store_ready(store, size):
            out["build"] = {"reused": str(store)}
        else:
            if keep:
                if (store / MANIFEST).exists():  # ours, built with other sizes
                    c.remove(store)
                elif store.exists() and any(store.iterdir()):
                    raise SystemExit(f"--store {store}: not empty and not a store this "
                                     "benchmark built; give a new or empty folder")
                store.mkdir(parents=True, exist_ok=True)
            out["build"] = build(store, size)
            if keep:
                (store / MANIFEST).write_text(json.dumps(size))
        logs = c.scratch_dir("media-ui-logs")
        try:
            args = [str(store), json.dumps(size), str(logs)]
            out["waited_after_build_s"] = c.wait_until_idle(10 if quick else 30)
            out["foreign_load"] = {}
            for phase in ("table", "scrub"):
                with c.ForeignLoad() as fl:
                    out[phase] = c.run_child([__file__, "--child", phase, *args], timeout=600)
                out["foreign_load"][phase] = fl.result
        finally:
            c.remove(logs)
    finally:
        if not keep:
            c.remove(store)
    return out


def report(res: dict[str, Any]) -> str:
    size, b = res["sizes"], res["build"]
    lines = []
    fl = res.get("foreign_load", {})
    if fl:
        lines.append("other processes during the measurements: " + ", ".join(
            f"{k} {v['foreign_cores']:.2f} cores" for k, v in fl.items()))
    if "wall_s" in b:
        t, i = b["table"], b["images"]
        lines.append(f"store built in {b['wall_s']:.1f} s ({b['store_bytes'] / 1e6:.0f} MB): "
                     f"{t['rows']:,}-row Table() {t['table_s']:.2f} s, log() call "
                     f"{t['log_call_s'] * 1000:.1f} ms, stored by finish() "
                     f"{t['until_finished_s']:.2f} s; {i['images']:,} images over {i['steps']:,} "
                     f"steps logged in {i['log_s']:.2f} s")
    else:
        lines.append(f"store: reused {b['reused']}")
    t = res["table"]
    lines.append(f"table pages, {PAGE} rows of {size['table_rows']:,}, client wall ms, first "
                 f"request of the case / warm median of {WARM} (first request of the fresh "
                 f"server {t['first_request_ms']:.1f} ms, server start {t['server_start_s']:.2f} s)")
    for name, x in t["cases"].items():
        lines.append(f"  {name:24} {x['cold_ms']:7.1f} / {x['warm_ms']:6.1f}  "
                     f"({x['bytes']:,} B)")
    lines.append(f"  all cases: warm median {t['warm_median_ms']:.1f} ms, slowest warm "
                 f"{t['warm_max_ms']:.1f} ms; first-of-case median {t['cold_median_ms']:.1f} ms, "
                 f"slowest {t['cold_max_ms']:.1f} ms (the server's first request excluded)")
    s = res["scrub"]
    st = s["scrub"]
    lines.append(f"image panel ({IMAGES_PER_STEP} x {SIDE}x{SIDE} per step, "
                 f"{size['image_steps']:,} steps): thumbnails at the last step shown "
                 f"{s['panel_thumbs_shown_ms']:.0f} ms after navigation start")
    lines.append(f"  scrub {s['from_index']}..{s['to_index']} ({s['moves']} moves, one per "
                 f"{s['move_ms']} ms): time to thumbnails median {st['median_ms']:.1f} ms, p95 "
                 f"{st['p95_ms']:.1f} ms, max {st['max_ms']:.1f} ms; ready on the first frame "
                 f"{st['first_frame']}/{st['n']} ({st['first_frame_share']:.0%}); over "
                 f"{s['move_ms']} ms {st['over_move_ms']}; scrub took {s['scrub_total_ms']:.0f} ms")
    j = s["jump"]
    lines.append(f"  jump to index {j['index']} (not prefetched): {j['ms']:.1f} ms "
                 f"({j['frames']} frames)")
    lines.append(f"  thumbnail requests: {s['thumb_requests']} ({s['thumb_requests_before_scrub']}"
                 f" before the scrub), each median {s['thumb_request_ms_median']:.1f} ms, p95 "
                 f"{s['thumb_request_ms_p95']:.1f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller store (a smoke test)")
    parser.add_argument("--store", metavar="DIR",
                        help="build the store in DIR and keep it; reuse it when it has these sizes")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, store, *rest = args.child
        if mode == "table" and len(rest) == 1:
            c.emit(_child_build_table(store, int(rest[0])))
        elif mode == "images":
            c.emit(_child_build_images(store, int(rest[0])))
        elif mode == "table":
            c.emit(_child_table(store, json.loads(rest[0]), rest[1]))
        else:
            c.emit(_child_scrub(store, json.loads(rest[0]), rest[1]))
        return
    print(report(run(quick=args.quick, store_dir=args.store)))


if __name__ == "__main__":
    sys.exit(main())
