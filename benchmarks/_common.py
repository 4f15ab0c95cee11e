"""Helpers shared by the benchmark scripts (standard library only).

Every figure is measured in a fresh child interpreter so that what the harness
itself has imported (numpy, pandas, other benchmarks) never flatters or hurts
a number. A child prints one JSON object as its last line of stdout.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# Five scalars per step, fresh float objects every step. Uniform random float64
# values are the worst case for the store's value compression (nothing to deflate),
# so the bytes-per-point figure is an upper bound for real losses and metrics.
KEYS = ("loss", "accuracy", "lr", "grad_norm", "throughput")
CONFIG = {"lr": 3e-4, "batch_size": 64, "model": "resnet50", "optimizer": {"name": "adam",
          "betas": [0.9, 0.999]}}


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child: runwatch quiet, every other RUNWATCH_* at its default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWATCH_")}
    env["RUNWATCH_SILENT"] = "1"
    env.update(extra)
    return env


def run_child(args: Sequence[str], *, timeout: float = 600, env: dict[str, str] | None = None,
              ) -> dict[str, Any]:
    """Run ``python <args>`` and return the JSON object its last stdout line holds."""
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, env=env or child_env())
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {args} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if not lines:
        raise RuntimeError(f"benchmark child {args} printed nothing:\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])


def emit(result: dict[str, Any]) -> None:
    """What a child does last: one JSON line on stdout."""
    print(json.dumps(result), flush=True)


def scratch_dir(name: str) -> Path:
    """A fresh folder for a benchmark store, under results/tmp-* (git-ignored), on the
    same disk as the repository (not a tmpfs)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"tmp-{name}-", dir=RESULTS))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return float("nan")
    mid = n // 2
    return float(s[mid]) if n % 2 else (s[mid - 1] + s[mid]) / 2.0


def percentile(sorted_xs: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (q in 0..100)."""
    if not sorted_xs:
        return float("nan")
    k = max(0, min(len(sorted_xs) - 1, int(round(q / 100.0 * len(sorted_xs) + 0.5)) - 1))
    return float(sorted_xs[k])


def store_size(store_dir: Path, checkpoint: bool = True) -> dict[str, int]:
    """Bytes of ``runwatch.db`` plus its ``-wal``, before and after a TRUNCATE checkpoint.

    Also the free pages SQLite keeps inside the file and the bytes of the chunk blobs
    themselves, to tell payload from page overhead.
    """
    db = store_dir / "runwatch.db"

    def on_disk() -> int:
        total = 0
        for suffix in ("", "-wal"):
            p = Path(str(db) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total

    out = {"bytes_before_checkpoint": on_disk()}
    conn = sqlite3.connect(db)
    try:
        if checkpoint:
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                raise RuntimeError(f"checkpoint of {db} was blocked by another connection")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        blob = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(steps) + LENGTH(times) + LENGTH(vals)), 0), "
            "COALESCE(SUM(n), 0) FROM metric_chunks").fetchone()
    finally:
        conn.close()
    out.update(bytes=on_disk(), free_bytes=int(page * free), blob_bytes=int(blob[0]),
               chunk_points=int(blob[1]))
    return out


def _lscpu() -> dict[str, str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = _lscpu()
    mem_total = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_total = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        from importlib.metadata import version

        rw_version = version("runwatch")
    except Exception:  # noqa: BLE001 - informational only
        rw_version = "?"
    return {
        "date": dt.date.today().isoformat(),
        "cpu_model": cpu.get("Model name", platform.processor()),
        "cpus": os.cpu_count(),
        "hypervisor": cpu.get("Hypervisor vendor"),
        "mem_total_gib": mem_total,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "runwatch": rw_version,
    }


def _proc_stat() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class ForeignLoad:
    """CPU used on this machine by anything other than this process and its children
    (waited-for children only) while the block runs: other people's work skews figures."""

    def __enter__(self) -> ForeignLoad:
        self._busy, self._steal = _proc_stat()
        self._own = _own_cpu()
        self._t = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        busy, steal = _proc_stat()
        wall = max(time.monotonic() - self._t, 1e-9)
        foreign = max(0.0, busy - self._busy - (_own_cpu() - self._own))
        self.result = {"wall_s": wall, "foreign_cpu_s": foreign,
                       "foreign_cores": foreign / wall, "steal_s": steal - self._steal}


def wait_until_idle(max_wait_s: float = 600, threshold_cores: float = 0.1) -> float:
    """Wait until the machine has been nearly idle for 3 s; returns seconds waited."""
    t0 = time.monotonic()
    quiet = 0
    while time.monotonic() - t0 < max_wait_s:
        b0, _ = _proc_stat()
        time.sleep(1.0)
        b1, _ = _proc_stat()
        quiet = quiet + 1 if (b1 - b0) < threshold_cores else 0
        if quiet >= 3:
            break
    return time.monotonic() - t0
