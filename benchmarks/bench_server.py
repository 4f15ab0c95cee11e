"""The dashboard server: the series endpoint, and a workspace drawn in Chromium.

One store is logged through the SDK (in child processes, two at a time):

- project ``series``: run ``big``, 1M steps of ``loss``; runs ``m000``-``m099``, 100k
  steps of ``loss`` each (10M points);
- project ``workspace``: 1,000 runs with a config (lr, batch_size, optimizer, seed);
  20 of them (``c00``-``c19``) log 100k steps of ``train/loss``, ``train/acc``,
  ``val/loss`` and ``lr`` (100k points per key, 400k per run); the other 980 log the
  same four keys for 10 steps.

Then a real ``runwatch server --port 0 --dir STORE`` is started as a subprocess, and:

1. series (a fresh child with httpx; a fresh server per case): ``GET
   /api/v1/projects/series/series?key=loss&runs=...&width=1500`` for (a) the 1M-point
   run, (b) the 100 runs, (c) a zoom on 2,000 steps of the 1M-point run (raw points),
   (d) a live tail (``after=last_step-100``) of the 1M-point run and of the 100 runs.
   The first call on the fresh server (cold) and the median of the next 10 (warm),
   each as the server's ``Server-Timing: series;dur=`` and as the client's wall time.
2. browser (a fresh child with Playwright and Debian's Chromium, viewport 1600x1000;
   a fresh server): ``/p/workspace?runs=<the 20 ids>``. From navigation start
   (``performance.now()`` = 0) to the first animation frame in which every chart
   panel inside the viewport holds a ``.chart[data-lines="20"]`` with a ``canvas``,
   and to the first frame with a row in the runs table. The first load after the
   server started (cold), then the median of 5 reloads.

Also (a) and (b) on a fresh server after one unrelated small request: the process warm,
the chunks not cached.

    python benchmarks/bench_server.py [--quick] [--store DIR]

``--quick``: 100k points for (a), 10 runs x 10k for (b), a 100-run workspace (20 charted
x 10k points per key); about 40 s.
``--store DIR`` keeps the built store in DIR and reuses it on the next run with the
same sizes (without it the store is built under results/tmp-* and deleted).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

WIDTH = 1500
WARM = 10
RELOADS = 5
WORKERS = 2  # build processes at a time (the machine has 2 cores)
WS_KEYS = ("train/loss", "train/acc", "val/loss", "lr")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1600, "height": 1000}
MANIFEST = "bench-server.json"  # in a --store folder: the sizes it was built with

FULL = {"big_steps": 1_000_000, "multi_runs": 100, "multi_steps": 100_000,
        "ws_runs": 1000, "ws_charted": 20, "ws_steps": 100_000, "ws_small_steps": 10}
QUICK = {"big_steps": 100_000, "multi_runs": 10, "multi_steps": 10_000,
         "ws_runs": 100, "ws_charted": 20, "ws_steps": 10_000, "ws_small_steps": 10}


def _multi_ids(n: int) -> list[str]:
    return [f"m{i:03d}" for i in range(n)]


def _charted_ids(n: int) -> list[str]:
    return [f"c{i:02d}" for i in range(n)]


# ----------------------------------------------------------------------------- build


def _child_build(store: str, kind: str, ids: list[str], steps: int) -> dict[str, Any]:
    """Log ``steps`` steps into each run of ``ids``, one run after another."""
    import runwatch

    rng = random.Random(zlib.crc32(f"{kind} {ids[0]}".encode()))
    r = rng.random
    exp = math.exp
    t0 = time.perf_counter()
    for n, run_id in enumerate(ids):
        if kind == "series":
            run = runwatch.init(project="series", id=run_id, dir=store)
            log = run.log
            tau = steps / 5
            # A decaying loss with noise: every value distinct, as a real loss is.
            for i in range(steps):
                log({"loss": exp(-i / tau) + 0.1 * r()})
        else:
            config = {"lr": round(10 ** rng.uniform(-5, -2), 8),
                      "batch_size": rng.choice([32, 64, 128, 256]),
                      "optimizer": rng.choice(["adam", "adamw", "sgd"]),
                      "seed": int(re.sub(r"\D", "", run_id) or 0)}
            run = runwatch.init(project="workspace", id=run_id, dir=store, config=config,
                                name=f"{kind}-{run_id}")
            log = run.log
            tau = steps / 5
            lr0 = config["lr"]
            for i in range(steps):
                decay = exp(-i / tau)
                log({"train/loss": decay + 0.1 * r(), "train/acc": 1 - decay * (0.5 + 0.1 * r()),
                     "val/loss": decay + 0.05 + 0.05 * r(),
                     "lr": lr0 * 0.5 * (1 + math.cos(math.pi * i / steps))})
        run.finish()
        if n == 0:
            first = time.perf_counter() - t0
    total = time.perf_counter() - t0
    return {"kind": kind, "runs": len(ids), "steps": steps, "s": total, "first_run_s": first}


def _tasks(size: dict[str, int]) -> list[tuple[str, list[str], int]]:
    """The first task creates the store (alone); the others then run two at a time."""
    multi = _multi_ids(size["multi_runs"])
    charted = _charted_ids(size["ws_charted"])
    small = [f"s{i:04d}" for i in range(size["ws_runs"] - size["ws_charted"])]
    first, small = small[:1], small[1:]
    # After the first, the longest first, so the two workers finish together.
    return [("small", first, size["ws_small_steps"]),
            ("series", multi[0::2], size["multi_steps"]),
            ("series", multi[1::2], size["multi_steps"]),
            ("charted", charted[0::2], size["ws_steps"]),
            ("charted", charted[1::2], size["ws_steps"]),
            ("series", ["big"], size["big_steps"]),
            ("small", small[0::2], size["ws_small_steps"]),
            ("small", small[1::2], size["ws_small_steps"])]


def build(store: Path, size: dict[str, int]) -> dict[str, Any]:
    tasks = _tasks(size)
    t0 = time.perf_counter()

    def one(task: tuple[str, list[str], int]) -> dict[str, Any]:
        kind, ids, steps = task
        return c.run_child([__file__, "--child", "build", str(store), kind, ",".join(ids),
                            str(steps)], timeout=1800)

    parts = [one(tasks[0])]  # creates the schema; the workers then only add runs
    with ThreadPoolExecutor(WORKERS) as pool:
        parts += list(pool.map(one, tasks[1:]))
    wall = time.perf_counter() - t0
    small = [p for p in parts if p["kind"] == "small"]
    points = (size["big_steps"] + size["multi_runs"] * size["multi_steps"]
              + len(WS_KEYS) * (size["ws_charted"] * size["ws_steps"]
                                + (size["ws_runs"] - size["ws_charted"]) * size["ws_small_steps"]))
    return {"wall_s": wall, "workers": WORKERS, "points": points, "parts": parts,
            "small_run_s": sum(p["s"] for p in small) / sum(p["runs"] for p in small),
            "db_bytes": c.store_size(store, checkpoint=True)["bytes"]}


# ---------------------------------------------------------------------------- server


class Server:
    """``runwatch server --port 0 --dir STORE`` in a subprocess; ``url`` once it serves."""

    def __init__(self, store: str, log_path: Path) -> None:
        exe = Path(sys.executable).with_name("runwatch")
        cmd = [str(exe)] if exe.exists() else [shutil.which("runwatch") or "runwatch"]
        env = c.child_env(PYTHONUNBUFFERED="1")
        self.log_path = log_path
        self._err = open(log_path, "wb")  # closed in stop()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([*cmd, "server", "--port", "0", "--dir", store],
                                     stdout=subprocess.PIPE, stderr=self._err, env=env)
        self.url = self._wait_url(60.0)
        self.start_s = time.perf_counter() - t0

    def _wait_url(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        seen = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                seen += line
                m = re.search(rb"serving .+ at (http://127\.0\.0\.1:\d+)/", line)
                if m:
                    return m.group(1).decode()
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"runwatch server did not start: {seen!r}\n"
                           f"{self.log_path.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------- series


def _series_cases(size: dict[str, int]) -> dict[str, dict[str, Any]]:
    big = size["big_steps"]
    multi = ",".join(_multi_ids(size["multi_runs"]))
    mid = big // 2
    return {
        "a_1run": {"runs": "big", "width": WIDTH},
        "b_100runs": {"runs": multi, "width": WIDTH},
        "c_zoom_2000": {"runs": "big", "width": WIDTH, "xmin": mid, "xmax": mid + 1999},
        "d_tail_1run": {"runs": "big", "width": WIDTH, "after": big - 1 - 100},
        "d_tail_100runs": {"runs": multi, "width": WIDTH, "after": size["multi_steps"] - 1 - 100},
    }


def _get(client: Any, url: str, params: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    resp = client.get(url, params=params)
    wall = time.perf_counter() - t0
    if resp.status_code != 200:
        raise RuntimeError(f"GET {url} {params} -> {resp.status_code}: {resp.text[:500]}")
    m = re.search(r"series;dur=([0-9.]+)", resp.headers.get("server-timing", ""))
    if not m:
        raise RuntimeError(f"no Server-Timing series;dur= in {dict(resp.headers)}")
    body = resp.json()
    return {"server_ms": float(m.group(1)), "wall_ms": wall * 1000,
            "wire_bytes": int(resp.headers.get("content-length") or len(resp.content)),
            "json_bytes": len(resp.content),
            "gzip": resp.headers.get("content-encoding") == "gzip",
            "runs": len(body["runs"]), "missing": len(body["missing"]),
            "points_in_range": sum(r["points"] for r in body["runs"]),
            "points_sent": sum(len(r["x"]) for r in body["runs"]),
            "sampled": any(r["sampled"] for r in body["runs"])}


def _summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    cold, warm = calls[0], calls[1:]
    out = {k: cold[k] for k in ("runs", "missing", "points_in_range", "points_sent", "sampled",
                                "wire_bytes", "json_bytes", "gzip")}
    out.update(cold_server_ms=cold["server_ms"], cold_wall_ms=cold["wall_ms"],
               warm_server_ms=c.median([x["server_ms"] for x in warm]),
               warm_wall_ms=c.median([x["wall_ms"] for x in warm]),
               warm_server_ms_max=max(x["server_ms"] for x in warm),
               server_ms_all=[x["server_ms"] for x in calls],
               wall_ms_all=[round(x["wall_ms"], 2) for x in calls])
    return out


def _child_series(store: str, size: dict[str, int], logs: str) -> dict[str, Any]:
    import httpx

    path = "/api/v1/projects/series/series"
    out: dict[str, Any] = {}
    starts = []
    cases = _series_cases(size)
    for name, params in cases.items():
        # A fresh server per case: its first call reads and decodes every chunk.
        with Server(store, Path(logs) / f"server-{name}.log") as srv, \
                httpx.Client(base_url=srv.url, timeout=300) as client:
            starts.append(srv.start_s)
            calls = [_get(client, path, {"key": "loss", **params}) for _ in range(WARM + 1)]
        out[name] = _summary(calls)
    # Cold data in a warm process: a fresh server answers one small series request
    # (another project, 10 points) first; what is left of "cold" is reading the chunks.
    for name in ("a_1run", "b_100runs"):
        with Server(store, Path(logs) / f"server-{name}-after.log") as srv, \
                httpx.Client(base_url=srv.url, timeout=300) as client:
            _get(client, "/api/v1/projects/workspace/series",
                 {"key": "lr", "runs": "s0000", "width": WIDTH})
            first = _get(client, path, {"key": "loss", **cases[name]})
        out[name]["cache_cold_server_ms"] = first["server_ms"]
        out[name]["cache_cold_wall_ms"] = first["wall_ms"]
    out["server_start_s"] = c.median(starts)
    out["runwatch_file"] = _runwatch_file()
    return out


def _runwatch_file() -> str:
    """Which runwatch the servers run (PYTHONPATH may point at another checkout)."""
    import importlib.util

    spec = importlib.util.find_spec("runwatch")
    return str(spec.origin) if spec else "?"


# --------------------------------------------------------------------------- browser

# Installed before any script of every page: each animation frame, note the first
# frame with a runs-table row and the first in which every chart panel that overlaps
# the viewport holds a drawn chart of all the charted runs.
MARKS_JS = """
(() => {
  const LINES = %d;
  const marks = {};
  window.__rwMarks = marks;
  const inView = (el) => {
    const r = el.getBoundingClientRect();
    return r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
  };
  const tick = () => {
    const now = performance.now();
    if (marks.rows === undefined && document.querySelector("table.runs tr[data-run]")) {
      marks.rows = now;
      marks.rowCount = document.querySelectorAll("table.runs tr[data-run]").length;
    }
    if (marks.firstPanel === undefined && document.querySelector("section.panel[data-key]")) {
      marks.firstPanel = now;
    }
    if (marks.charts === undefined) {
      const panels = [...document.querySelectorAll("section.panel[data-key]")].filter(inView);
      const drawn = (p) => p.querySelector('.chart[data-lines="' + LINES + '"] canvas');
      if (panels.length && panels.every(drawn)) {
        marks.charts = now;
        marks.panels = panels.map((p) => p.dataset.key);
        marks.panelPoints = panels.map((p) => Number(p.dataset.points));
        marks.panelsTotal = document.querySelectorAll("section.panel[data-key]").length;
      }
    }
    if (marks.rows === undefined || marks.charts === undefined) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""

API_TIMINGS_JS = """
() => performance.getEntriesByType("resource")
  .filter((e) => e.name.includes("/api/v1/"))
  .map((e) => ({path: new URL(e.name).pathname + (new URL(e.name).searchParams.get("key") ?
                  "?key=" + new URL(e.name).searchParams.get("key") : ""),
                start: e.startTime, end: e.responseEnd, bytes: e.encodedBodySize,
                server: e.serverTiming.map((s) => s.duration)}))
"""

PAGE_TIMINGS_JS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const files = performance.getEntriesByType("resource").filter((e) => e.name.includes("/static/"));
  const scroll = document.querySelector(".table-scroll");
  return {domContentLoaded: nav.domContentLoadedEventEnd, staticFiles: files.length,
          staticEnd: Math.max(...files.map((e) => e.responseEnd)),
          tableScrollHeight: scroll ? scroll.clientHeight : null,
          rowsInDom: document.querySelectorAll("table.runs tr[data-run]").length};
}
"""


def _load(page: Any, url: str | None) -> dict[str, Any]:
    if url is None:
        page.reload(wait_until="commit")
    else:
        page.goto(url, wait_until="commit")
    page.wait_for_function("() => window.__rwMarks && window.__rwMarks.charts !== undefined"
                           " && window.__rwMarks.rows !== undefined", timeout=120_000,
                           polling="raf")
    marks = page.evaluate("() => window.__rwMarks")
    marks["api"] = page.evaluate(API_TIMINGS_JS)
    marks.update(page.evaluate(PAGE_TIMINGS_JS))
    return marks


def _adopt_orphans() -> bool:
    """Become a child subreaper (Linux): Chromium's zygote and renderers, orphaned when the
    browser exits, are then reparented here and reaped by ``_reap_orphans``, so their CPU
    counts as this benchmark's (``ForeignLoad``), not as other processes'."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _reap_orphans(timeout: float = 5.0) -> int:
    reaped = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break  # none left
        if pid == 0:
            time.sleep(0.05)
        else:
            reaped += 1
    return reaped


def _child_browser(store: str, size: dict[str, int], logs: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    charted = _charted_ids(size["ws_charted"])
    problems: list[str] = []
    subreaper = _adopt_orphans()
    with Server(store, Path(logs) / "server-browser.log") as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.add_init_script(MARKS_JS % len(charted))
            page = context.new_page()
            page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
            page.on("console", lambda m: problems.append(f"console: {m.text}")
                    if m.type == "error" else None)
            page.goto("about:blank")
            url = f"{srv.url}/p/workspace?runs={','.join(charted)}"
            cold = _load(page, url)
            warm = [_load(page, None) for _ in range(RELOADS)]
        finally:
            browser.close()
    orphans = _reap_orphans() if subreaper else 0
    if problems:
        raise RuntimeError("the page reported errors:\n" + "\n".join(problems[:20]))
    return {"url_path": f"/p/workspace?runs=<{len(charted)} ids>", "chromium": CHROMIUM,
            "viewport": VIEWPORT, "cold": cold, "warm": warm,
            "cold_charts_ms": cold["charts"], "cold_rows_ms": cold["rows"],
            "warm_charts_ms": c.median([w["charts"] for w in warm]),
            "warm_rows_ms": c.median([w["rows"] for w in warm]),
            "warm_charts_ms_all": [w["charts"] for w in warm],
            "warm_rows_ms_all": [w["rows"] for w in warm],
            "panels_in_view": cold["panels"], "panels_total": cold["panelsTotal"],
            "rows_in_dom": cold["rowsInDom"],
            "table_scroll_height_px": cold["tableScrollHeight"],
            "orphans_reaped": orphans}


# ------------------------------------------------------------------------------ main


def _store_ready(store: Path, size: dict[str, int]) -> bool:
    manifest = store / MANIFEST
    try:
        return json.loads(manifest.read_text()) == size
    except (OSError, ValueError):
        return False


def run(quick: bool = False, store_dir: str | None = None) -> dict[str, Any]:
    size = QUICK if quick else FULL
    keep = store_dir is not None
    store = Path(store_dir) if keep else c.scratch_dir("server")
    out: dict[str, Any] = {"sizes": size, "width": WIDTH, "warm_calls": WARM,
                           "reloads": RELOADS}
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
        logs = c.scratch_dir("server-logs")
        try:
            args = [str(store), json.dumps(size), str(logs)]
            # The build keeps both cores busy for a while; measure on a quiet machine.
            out["waited_after_build_s"] = c.wait_until_idle(20 if quick else 120)
            out["foreign_load"] = {}
            for phase in ("series", "browser"):
                with c.ForeignLoad() as fl:
                    out[phase] = c.run_child([__file__, "--child", phase, *args], timeout=900)
                out["foreign_load"][phase] = fl.result
        finally:
            c.remove(logs)
    finally:
        if not keep:
            c.remove(store)
    return out


def report(res: dict[str, Any]) -> str:
    s, size = res["series"], res["sizes"]
    b = res["build"]
    lines = []
    fl = res.get("foreign_load", {})
    if fl:
        lines.append("other processes during the measurements: " + ", ".join(
            f"{k} {v['foreign_cores']:.2f} cores" for k, v in fl.items()))
    if "wall_s" in b:
        lines.append(f"store: {b['points']:,} points logged in {b['wall_s']:.1f} s "
                     f"({b['workers']} processes); small run init+log+finish "
                     f"{b['small_run_s'] * 1000:.0f} ms each; {b['db_bytes'] / 1e6:.0f} MB")
    else:
        lines.append(f"store: reused {b['reused']}")
    names = {"a_1run": f"(a) 1 run x {size['big_steps']:,}",
             "b_100runs": f"(b) {size['multi_runs']} runs x {size['multi_steps']:,}",
             "c_zoom_2000": "(c) zoom, 2,000 steps of (a)",
             "d_tail_1run": "(d) tail after last-100, (a)",
             "d_tail_100runs": "(d) tail after last-100, (b)"}
    lines.append(f"series, width={res['width']}, ms: server cold / warm median (max) | client "
                 f"wall cold / warm median | points in range -> sent | bytes on the wire")
    for key, label in names.items():
        x = s[key]
        lines.append(f"  {label:32} {x['cold_server_ms']:7.1f} / {x['warm_server_ms']:6.1f} "
                     f"({x['warm_server_ms_max']:.1f}) | {x['cold_wall_ms']:7.1f} / "
                     f"{x['warm_wall_ms']:6.1f} | {x['points_in_range']:,} -> "
                     f"{x['points_sent']:,} | {x['wire_bytes']:,}")
    for key in ("a_1run", "b_100runs"):
        lines.append(f"  {names[key]}, first call after another request (process warm, chunks "
                     f"not cached): {s[key]['cache_cold_server_ms']:.1f} ms server, "
                     f"{s[key]['cache_cold_wall_ms']:.1f} ms wall")
    lines.append(f"  server start (spawn to URL printed): {s['server_start_s']:.2f} s")
    br = res["browser"]
    lines.append(f"workspace, {size['ws_runs']:,} runs, {size['ws_charted']} charted x "
                 f"{size['ws_steps']:,} points per key: every panel in view drawn "
                 f"({', '.join(br['panels_in_view'])} of {br['panels_total']}): cold "
                 f"{br['cold_charts_ms']:.0f} ms, reload median {br['warm_charts_ms']:.0f} ms "
                 f"(all {', '.join(f'{v:.0f}' for v in br['warm_charts_ms_all'])})")
    lines.append(f"  runs table rows: cold {br['cold_rows_ms']:.0f} ms, reload median "
                 f"{br['warm_rows_ms']:.0f} ms ({br['rows_in_dom']} rows in the DOM, table "
                 f"scroll box {br['table_scroll_height_px']} px high)")
    for label, load in [("cold", br["cold"])] + [(f"reload {i + 1}", w)
                                                  for i, w in enumerate(br["warm"])]:
        api = sorted(load["api"], key=lambda e: e["start"])
        lines.append(f"  {label}: {load['staticFiles']} static files by {load['staticEnd']:.0f}; "
                     + "; ".join(
                         f"{e['path'].replace('/api/v1/projects/workspace/', '')} "
                         f"{e['start']:.0f}-{e['end']:.0f}"
                         + (f" ({e['server'][0]:.0f})" if e["server"] else "") for e in api)
                     + f"; rows {load['rows']:.0f}; drawn {load['charts']:.0f} ms")
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
        if mode == "build":
            c.emit(_child_build(store, rest[0], rest[1].split(","), int(rest[2])))
        elif mode == "series":
            c.emit(_child_series(store, json.loads(rest[0]), rest[1]))
        else:
            c.emit(_child_browser(store, json.loads(rest[0]), rest[1]))
        return
    print(report(run(quick=args.quick, store_dir=args.store)))


if __name__ == "__main__":
    sys.exit(main())
