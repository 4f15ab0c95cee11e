"""The team server under load: 32 clients logging to one ``runwatch server`` at once.

A real ``runwatch server --auth`` runs in a subprocess (on SQLite, and on PostgreSQL
when its binaries are installed: a throwaway cluster on a free port, fsync and
synchronous commit on, shared_buffers 128 MB). One child process plays 32 training
nodes: each is one run that POSTs its batches to ``/api/v1/batches`` as the SDK's
writer does (msgpack, deflate level 1, API key, one kept-alive connection per
client). A batch is 10 metrics x 1,600 steps = 16,000 points (the SDK sends at most
50,000), 30 batches per node. Batches are encoded before the clock starts, so the
figure is the server's, not the load generator's, though both share the 2 cores.

Two loads: *saturated*, each node sending its next batch as soon as the last is
answered (the most the server takes); *paced*, each node sending a batch every
0.512 s (about the SDK's flush interval), which offers 1M points/s in all, each node
logging 31,250 points/s (a node's next batch waits for the last answer, as the
SDK's sender does, so a slow server lowers what is offered).

Measured: points/s the server applied (wall time from the first request to the
last answer), p50/p99 batch latency (request sent to answer received), the
server's CPU seconds per second (all its processes) and its peak RSS; afterwards
every run is read back and its points counted (none lost, none twice).

    python benchmarks/bench_remote.py [--quick] [--only sqlite|postgresql] [--workers N (3)]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import _common as c

CLIENTS = 32
KEYS = 10
STEPS_PER_BATCH = 1_600
BATCHES = 30
# Seconds between a paced node's batches, about the SDK's flush interval (0.5 s): 32 nodes
# x 16,000 points / 0.512 s = 1M points/s, each node logging 31,250 points/s.
INTERVAL = 0.512


def _batches(client: int, batches: int) -> list[bytes]:
    import random

    from runwatch import records

    rng = random.Random(client)
    out = []
    t0 = time.time()
    for seq in range(batches):
        steps = list(range(seq * STEPS_PER_BATCH, (seq + 1) * STEPS_PER_BATCH))
        times = [t0 + s * 0.01 for s in steps]
        batch = records.Batch(
            project="load", run_id=f"c{client:03d}", seq=seq, sent_at=time.time(),
            start=records.RunStart(name=f"client-{client}", created_at=t0) if seq == 0 else None,
            series=[records.Series(f"metric_{k}", steps, times,
                                   [rng.random() for _ in steps]) for k in range(KEYS)],
            state=(records.StateChange(state="finished", at=time.time(), exit_code=0)
                   if seq == batches - 1 else None))
        out.append(zlib.compress(records.encode(batch), 1))
    return out


async def _client(url: str, key: str, bodies: list[bytes], latencies: list[float],
                  interval: float, offset: float,
                  timings: dict[str, list[float]] | None = None) -> None:
    """One node: a batch every ``interval`` seconds (the SDK's flush interval), or back to
    back when ``interval`` is 0; a batch due while the last is unanswered waits for it,
    as the SDK's sender does."""
    import httpx

    timings = {} if timings is None else timings
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/vnd.msgpack",
               "Content-Encoding": "deflate"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
        await asyncio.sleep(offset)
        due = time.perf_counter()
        for body in bodies:
            if interval:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += interval
            t = time.perf_counter()
            response = await http.post("/api/v1/batches", content=body)
            latencies.append(time.perf_counter() - t)
            for part in response.headers.get("server-timing", "").split(","):
                name, _, dur = part.strip().partition(";dur=")
                if dur:
                    timings.setdefault(name, []).append(float(dur))
            if response.status_code != 200:
                raise RuntimeError(f"server answered {response.status_code}: {response.text}")


def load(url: str, key: str, clients: int, batches: int, interval: float) -> dict[str, Any]:
    """The load generator (a child process): ``clients`` runs posting at once."""
    bodies = [_batches(i, batches) for i in range(clients)]
    latencies: list[float] = []
    timings: dict[str, list[float]] = {}

    async def main() -> float:
        t = time.perf_counter()
        # Paced nodes start spread over one interval, as real ones would be.
        await asyncio.gather(*(_client(url, key, b, latencies, interval,
                                       interval * i / clients, timings)
                               for i, b in enumerate(bodies)))
        return time.perf_counter() - t

    import resource

    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = asyncio.run(main())
    after = resource.getrusage(resource.RUSAGE_SELF)
    load_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lat = sorted(latencies)
    points = clients * batches * KEYS * STEPS_PER_BATCH
    return {"clients": clients, "batches": len(lat), "points": points, "wall_s": wall,
            "interval_s": interval, "load_generator_cpu_cores": load_cpu / wall,
            "offered_points_per_s": (clients * KEYS * STEPS_PER_BATCH / interval
                                     if interval else None),
            "points_per_s": points / wall,
            "body_bytes_mean": sum(len(b) for bs in bodies for b in bs) / len(lat),
            "latency_p50_ms": c.percentile(lat, 50) * 1000,
            "latency_p99_ms": c.percentile(lat, 99) * 1000,
            "latency_max_ms": lat[-1] * 1000,
            # The server's own account of each batch (Server-Timing), p50 and p99 in ms.
            "server_timing_ms": {name: [c.percentile(sorted(v), 50), c.percentile(sorted(v), 99)]
                                 for name, v in timings.items()}}


class _Server:
    def __init__(self, store_dir: Path, store_url: str | None, workers: int) -> None:
        import psutil

        args = [sys.executable, "-c", "from runwatch.cli import main; main()", "server",
                "--dir", str(store_dir), "--port", "0", "--auth", "--workers", str(workers)]
        if store_url:
            args += ["--store", store_url]
        self.proc = subprocess.Popen(args, env=c.child_env(RUNWATCH_SILENT="0"),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = self.key = ""
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline and not self.url:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if m := re.search(r"\b(rw_[A-Za-z0-9]{40})\b", line):
                self.key = m.group(1)
            if m := re.search(r"at (http://\S+)", line):
                self.url = m.group(1).rstrip("/")
        if not self.url or not self.key:
            self.proc.kill()
            raise RuntimeError("runwatch server did not start:\n" + "".join(lines))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        self._wait_ready()
        self.ps = psutil.Process(self.proc.pid)
        self.peak_rss = 0
        self._stop = threading.Event()
        threading.Thread(target=self._watch_rss, daemon=True).start()

    def _wait_ready(self) -> None:
        """The URL is printed before the workers are up: wait until every worker has
        started (its warm-up done), so start-up is not counted as batch latency."""
        import httpx

        deadline = time.monotonic() + 60
        quick = 0
        while quick < 40 and time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                ok = httpx.get(self.url + "/api/v1/server", timeout=5,
                               headers={"Authorization": f"Bearer {self.key}"}).status_code == 200
            except httpx.HTTPError:
                ok = False
            quick = quick + 1 if ok and time.perf_counter() - t < 0.05 else 0
            time.sleep(0.02)

    def processes(self) -> list[Any]:
        import psutil

        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu(self) -> float:
        total = 0.0
        for p in self.processes():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except Exception:  # noqa: BLE001 - a worker that just exited
                pass
        return total

    def cpu_each(self) -> list[float]:
        """CPU seconds of each server process so far (the supervisor first)."""
        out = []
        for p in self.processes():
            try:
                t = p.cpu_times()
                out.append(round(t.user + t.system, 1))
            except Exception:  # noqa: BLE001
                pass
        return out

    def _watch_rss(self) -> None:
        while not self._stop.wait(0.1):
            rss = 0
            for p in self.processes():
                try:
                    rss += p.memory_info().rss
                except Exception:  # noqa: BLE001
                    pass
            self.peak_rss = max(self.peak_rss, rss)

    def stop(self) -> None:
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _count(store_url: str, clients: int) -> dict[str, int]:
    import sqlalchemy as sa

    from runwatch.store import open_store
    from runwatch.store.schema import metric_chunks, runs

    store = open_store(store_url, None)
    try:
        with store.read() as conn:
            points = conn.execute(sa.select(sa.func.sum(metric_chunks.c.n))).scalar() or 0
            finished = conn.execute(sa.select(sa.func.count()).select_from(runs)
                                    .where(runs.c.state == "finished")).scalar()
    finally:
        store.close()
    return {"points_stored": int(points), "runs_finished": int(finished)}


def _postgres() -> tuple[str, Any] | None:
    """A throwaway PostgreSQL cluster (tests/pg.py's), or None without the binaries."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        from tests import pg
    except ImportError:
        return None
    bindir = pg.find_bindir()
    if bindir is None:
        return None
    # Durable, as a team's server would run: fsync and synchronous commit on (the test
    # suite's cluster turns them off).
    cluster = pg.PostgresCluster(bindir, durable=os.environ.get("BENCH_PG_FAST") != "1")
    cluster.start()
    return cluster.create_database("bench"), cluster


def _postgres_cpu(cluster: Any) -> float:
    """CPU seconds of every process of the PostgreSQL cluster (its backends included)."""
    if cluster is None:
        return 0.0
    import psutil

    pidfile = cluster.data / "postmaster.pid"
    try:
        main = psutil.Process(int(pidfile.read_text().split()[0]))
        total = 0.0
        for p in [main, *main.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total
    except (OSError, ValueError, psutil.Error):
        return 0.0


def _case(backend: str, workers: int, clients: int, batches: int,
          interval: float) -> dict[str, Any]:
    folder = c.scratch_dir(f"remote-{backend}")
    cluster = None
    try:
        store_url = None
        if backend == "postgresql":
            got = _postgres()
            if got is None:
                return {"skipped": "PostgreSQL binaries not found"}
            store_url, cluster = got
        server = _Server(folder / "store", store_url, workers)
        try:
            db0 = _postgres_cpu(cluster)
            cpu0, t0 = server.cpu(), time.monotonic()
            res = c.run_child([__file__, "--load", server.url, server.key, str(clients),
                               str(batches), str(interval)], timeout=900)
            cpu1, t1 = server.cpu(), time.monotonic()
            db1 = _postgres_cpu(cluster)
            res["server_process_cpu_s"] = server.cpu_each()
        finally:
            server.stop()
        res.update(backend=backend, workers=workers,
                   server_cpu_cores=(cpu1 - cpu0) / (t1 - t0),
                   postgres_cpu_cores=(db1 - db0) / (t1 - t0) if cluster is not None else None,
                   server_peak_rss_mb=server.peak_rss / 2**20)
        res.update(_count(store_url or f"sqlite:///{folder / 'store' / 'runwatch.db'}", clients))
        res["points_lost"] = res["points"] - res["points_stored"]
        return res
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def run(quick: bool = False, only: str | None = None, workers: int = 3) -> dict[str, Any]:
    batches = 5 if quick else BATCHES
    out = {}
    for backend in ("sqlite", "postgresql"):
        if only and backend != only:
            continue
        # Saturated: every node sends back to back (the most the server takes); paced: a
        # batch per node every INTERVAL s, which at these sizes offers 1M points/s.
        for mode, interval in (("saturated", 0.0), ("paced", INTERVAL),
                               ("paced_half", 2 * INTERVAL)):
            name = f"{backend}_{mode}"
            out[name] = _case(backend, workers, CLIENTS, batches, interval)
            if out[name].get("points_lost", 0) != 0:
                raise AssertionError(f"the server lost points: {out[name]}")
    return out


def report(res: dict[str, Any]) -> str:
    lines = []
    for backend, r in res.items():
        if "skipped" in r:
            lines.append(f"{backend}: skipped ({r['skipped']})")
            continue
        lines.append(
            f"{backend} ({r['workers']} workers"
            + (f", a batch per client every {r['interval_s']} s = "
               f"{r['offered_points_per_s'] / 1e6:.2f} M points/s offered" if r['interval_s']
               else ", back to back") + f"): {r['clients']} clients, {r['points']:,} points "
            f"in {r['batches']} batches ({r['body_bytes_mean'] / 1e3:.0f} kB each): "
            f"{r['points_per_s'] / 1e6:.2f} M points/s; batch latency p50 "
            f"{r['latency_p50_ms']:.0f} ms, p99 {r['latency_p99_ms']:.0f} ms, max "
            f"{r['latency_max_ms']:.0f} ms; server CPU {r['server_cpu_cores']:.2f} cores"
            + (f", PostgreSQL {r['postgres_cpu_cores']:.2f}" if r.get('postgres_cpu_cores')
               else "") + f", load generator {r['load_generator_cpu_cores']:.2f}; peak "
            f"RSS {r['server_peak_rss_mb']:.0f} MB; stored {r['points_stored']:,} "
            f"(lost {r['points_lost']}), runs finished {r['runs_finished']}/{r['clients']}; "
            "in the server (p50/p99 ms): " + ", ".join(
                f"{k} {v[0]:.0f}/{v[1]:.0f}" for k, v in r["server_timing_ms"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--load", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        url, key, clients, batches, interval = args.load
        c.emit(load(url, key, int(clients), int(batches), float(interval)))
        return
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(report(run(args.quick, args.only, args.workers)))


if __name__ == "__main__":
    main()
