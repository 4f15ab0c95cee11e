"""Artifacts (issue 4): logging and downloading a large file, ten near-identical checkpoints.

- A 1 GB file of random bytes (written once beforehand, not timed) logged as an
  artifact: ``art = runwatch.Artifact("big", "model"); art.add_file(path);
  run.log_artifact(art)`` on a run started with ``runwatch.init(dir=store)``, timed
  from ``Artifact()`` to the return of ``log_artifact``; MB/s against ``cp`` of the
  same file on the same disk (``subprocess.run(["cp", src, dst])``). Before every
  timed step the page cache is dropped (``sync; echo 3 > /proc/sys/vm/drop_caches``,
  which needs root; the result says whether it worked), so both read the file from
  disk. ``cp`` does not wait for its writes to reach the disk (runwatch fsyncs its
  blob), so a ``sync`` right after each step is timed too and reported apart.
  Also the peak RSS growth of the logging process (``ru_maxrss`` and ``VmHWM`` after
  resetting it, against ``VmRSS`` after ``init()`` and a ``flush()``) and the bytes it
  wrote (``wchar`` of ``/proc/self/io``).
- The same, with ``RUNWATCH_DIR`` set to the store instead of ``init(dir=...)``: an
  ``Artifact`` built before it is logged stages its files in the store that
  ``settings.resolve()`` names (``RUNWATCH_DIR``, else ``~/.runwatch``), not the run's;
  with ``init(dir=...)`` that is another folder and ``log_artifact`` copies the files
  again. The children's ``HOME`` is a scratch folder, so that staging copy lands in
  the scratch area (same disk) and is measured and deleted.
- Downloading it: ``runwatch.Api(dir=store).artifact("bench/big:latest").download(root)``
  (the ``Api`` opened and the version looked up before the cache is dropped; the
  ``download()`` call timed), against ``cp`` of the stored blob.
- Ten checkpoints sharing 90% of their files: a folder of 20 files of 5 MB; each
  version after the first rewrites 2 of them with new random bytes, then
  ``run.log_model(folder, name="ckpt")``. The bytes under ``<store>/blobs`` (apparent
  size and allocated blocks) after one version and after ten; ideal 1 + 9 x 0.1 = 1.9 x.

Each step runs in a fresh child; the figures are the median of three rounds (two with
``--quick``, which uses a 100 MB file and 1 MB checkpoint files). On the benchmark VM,
free guest memory is handed back to the host within seconds (virtio-balloon free page
reporting), and writing into a page the host took back costs a host fault: a 1 GB
write into the page cache then runs at ~400-700 MB/s instead of ~4 GB/s, and how much
of a step's memory was handed back depends on what ran before it (``cp`` right after a
cache drop reuses the pages the drop freed). So before each timed step a separate
process touches and frees 3 x the file + 2 GB of memory, and the rounds above are
measured from there; one more round is measured without it ("not pre-faulted") and
reported apart. The host may still cache the virtual disk: "cold" means the guest's
page cache was dropped.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

MB = 1024 * 1024
MIN_FREE = 5 * 1024 * MB  # the brief: skip when the disk has less than 5 GB free


# -- helpers used inside children --
def _drop_caches() -> bool:
    """Write dirty pages out and drop the page cache; False when not allowed."""
    subprocess.run(["sync"], check=True)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
        return True
    except OSError:
        return False


_REPORTED = Path("/sys/module/page_reporting/parameters/reported_kib")
_PREFAULT = """
import mmap, sys
size = int(sys.argv[1]) << 20
m = mmap.mmap(-1, size)
for off in range(0, size, 4096):
    m[off] = 1
m.close()
"""


def _reported_kib() -> int | None:
    """KiB of free guest memory the VM has handed back to its host so far (virtio-balloon
    free page reporting), or None where there is no such counter."""
    try:
        return int(_REPORTED.read_text())
    except (OSError, ValueError):
        return None


def _prepare(prefault_mb: int) -> dict:
    """Before a timed step: drop the page cache, then (when ``prefault_mb``) touch and free
    that much memory in a separate process. On this VM free memory is handed back to the
    host within seconds, and the first write to a page the host took back costs a fault
    there: writing 1 GB into the page cache then runs at ~400 MB/s instead of ~4 GB/s.
    Pre-faulting gives every step host-backed free memory to start from."""
    dropped = _drop_caches()
    if prefault_mb:
        subprocess.run([sys.executable, "-c", _PREFAULT, str(prefault_mb)], check=True)
    return {"caches_dropped": dropped, "prefault_mb": prefault_mb,
            "reported_kib_before": _reported_kib()}


def _finish_step(prep: dict) -> dict:
    after = _reported_kib()
    before = prep.pop("reported_kib_before")
    prep["reported_mb_during"] = (after - before) / 1024 if None not in (after, before) else None
    return prep


def _timed_sync() -> float:
    t0 = time.perf_counter()
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - t0


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5\n")  # resets VmHWM (peak RSS) to the current RSS
        return True
    except OSError:
        return False


def _io() -> dict[str, int]:
    out = {}
    with open("/proc/self/io") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            out[key.strip()] = int(value)
    return out


def _maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _tree_bytes(root: Path) -> dict[str, int]:
    """Apparent size and allocated bytes (st_blocks) of every file under ``root``."""
    size = blocks = files = 0
    if root.exists():
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                st = os.lstat(os.path.join(dirpath, name))
                size += st.st_size
                blocks += st.st_blocks * 512
                files += 1
    return {"bytes": size, "disk_bytes": blocks, "files": files}


def _write_random(path: Path, nbytes: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        left = nbytes
        while left:
            piece = min(left, 16 * MB)
            fh.write(os.urandom(piece))
            left -= piece


# -- children --
def _make(path: str, size_mb: int) -> dict:
    t0 = time.perf_counter()
    _write_random(Path(path), size_mb * MB)
    subprocess.run(["sync"], check=True)
    return {"bytes": size_mb * MB, "write_s": time.perf_counter() - t0}


def _cp(src: str, dst: str, prefault_mb: str) -> dict:
    prep = _prepare(int(prefault_mb))
    t0 = time.perf_counter()
    subprocess.run(["cp", src, dst], check=True)
    cp_s = time.perf_counter() - t0
    prep = _finish_step(prep)
    sync_s = _timed_sync()
    return {"cp_s": cp_s, "sync_after_s": sync_s, "bytes": os.path.getsize(dst), **prep}


def _log(store: str, src: str, mode: str, prefault_mb: str) -> dict:
    import runwatch

    rss_import_kb = _status_kb("VmRSS")
    if mode == "env":  # RUNWATCH_DIR=store was set by the parent
        run = runwatch.init(project="bench", name="log-big")
    else:
        run = runwatch.init(project="bench", name="log-big", dir=store)
    run.log({"warm": 1.0})
    run.flush()  # the writer has opened the store (numpy, SQLAlchemy imported)
    prep = _prepare(int(prefault_mb))
    rss_before_kb = _status_kb("VmRSS")
    maxrss_before_kb = _maxrss_kb()
    hwm_reset = _reset_hwm()
    io0 = _io()
    t0 = time.perf_counter()
    art = runwatch.Artifact("big", "model")
    art.add_file(src)
    t1 = time.perf_counter()
    logged = run.log_artifact(art)
    t2 = time.perf_counter()
    io1 = _io()
    prep = _finish_step(prep)
    hwm_kb = _status_kb("VmHWM")
    maxrss_after_kb = _maxrss_kb()
    rss_after_kb = _status_kb("VmRSS")
    sync_s = _timed_sync()
    version = logged.version
    run.finish()
    staging = Path.home() / ".runwatch" / "blobs"
    return {
        "mode": mode, "bytes": os.path.getsize(src), "version": version, **prep,
        "add_file_s": t1 - t0, "log_artifact_s": t2 - t1, "total_s": t2 - t0,
        "sync_after_s": sync_s,
        "wchar": io1["wchar"] - io0["wchar"], "rchar": io1["rchar"] - io0["rchar"],
        "write_bytes": io1["write_bytes"] - io0["write_bytes"],
        "rss_after_import_mb": rss_import_kb / 1024, "rss_before_mb": rss_before_kb / 1024,
        "rss_after_mb": rss_after_kb / 1024, "hwm_reset": hwm_reset,
        "peak_hwm_mb": hwm_kb / 1024,
        "maxrss_before_mb": maxrss_before_kb / 1024, "maxrss_after_mb": maxrss_after_kb / 1024,
        "rss_growth_hwm_mb": (hwm_kb - rss_before_kb) / 1024 if hwm_reset else None,
        "rss_growth_maxrss_mb": (maxrss_after_kb - rss_before_kb) / 1024,
        "store_blobs": _tree_bytes(Path(store) / "blobs"),
        "staging_blobs": _tree_bytes(staging) if mode != "env" else None,
    }


def _download(store: str, root: str, prefault_mb: str) -> dict:
    import runwatch

    t0 = time.perf_counter()
    api = runwatch.Api(dir=store)
    art = api.artifact("bench/big:latest")
    lookup_s = time.perf_counter() - t0
    blob = api.store.blobs.path(art.files()[0].sha256)
    prep = _prepare(int(prefault_mb))
    io0 = _io()
    t0 = time.perf_counter()
    folder = art.download(root)
    download_s = time.perf_counter() - t0
    io1 = _io()
    prep = _finish_step(prep)
    sync_s = _timed_sync()
    out = Path(folder) / art.files()[0].path
    return {"bytes": out.stat().st_size, "lookup_s": lookup_s, "download_s": download_s,
            "sync_after_s": sync_s, **prep, "blob": str(blob),
            "wchar": io1["wchar"] - io0["wchar"], "rchar": io1["rchar"] - io0["rchar"]}


def _checkpoints(store: str, folder: str, files: int, file_mb: int, versions: int,
                 changed: int) -> dict:
    import runwatch

    root = Path(folder)
    for i in range(files):
        _write_random(root / f"shard-{i:02d}.bin", file_mb * MB)
    run = runwatch.init(project="bench", name="ckpt", dir=store)
    run.flush()
    staging = Path.home() / ".runwatch" / "blobs"
    out: dict = {"files": files, "file_mb": file_mb, "versions": versions, "changed": changed,
                 "per_version": []}
    for v in range(versions):
        if v:
            for k in range(changed):  # a different pair of files each version
                _write_random(root / f"shard-{((v - 1) * changed + k) % files:02d}.bin",
                              file_mb * MB)
        io0 = _io()
        t0 = time.perf_counter()
        art = run.log_model(root, name="ckpt")
        elapsed = time.perf_counter() - t0
        io1 = _io()
        out["per_version"].append({
            "version": art.version, "log_model_s": elapsed,
            "wchar": io1["wchar"] - io0["wchar"], "rchar": io1["rchar"] - io0["rchar"],
            "store_blobs": _tree_bytes(Path(store) / "blobs"),
            "staging_blobs": _tree_bytes(staging)})
    run.finish()
    first, last = out["per_version"][0], out["per_version"][-1]
    out["after_one"] = first["store_blobs"]
    out["after_all"] = last["store_blobs"]
    out["ratio"] = last["store_blobs"]["bytes"] / first["store_blobs"]["bytes"]
    out["ratio_disk"] = last["store_blobs"]["disk_bytes"] / first["store_blobs"]["disk_bytes"]
    out["ideal_ratio"] = 1 + (versions - 1) * changed / files
    out["staging_after_all"] = last["staging_blobs"]
    out["db_bytes"] = sum(p.stat().st_size for p in Path(store).glob("runwatch.db*"))
    return out


# -- the parent --
def _round(scratch: Path, i: int, src: Path, prefault_mb: int) -> dict:
    here = scratch / f"round-{i}"
    home = here / "home"
    home.mkdir(parents=True)
    pf = str(prefault_mb)
    r: dict = {"prefault_mb": prefault_mb}
    dst = here / "cp.bin"
    r["cp"] = c.run_child([__file__, "--child", "cp", str(src), str(dst), pf])
    dst.unlink()
    store = here / "store"
    r["log"] = c.run_child([__file__, "--child", "log", str(store), str(src), "dir", pf],
                           env=c.child_env(HOME=str(home)))
    r["download"] = c.run_child([__file__, "--child", "download", str(store),
                                 str(here / "download"), pf], env=c.child_env(HOME=str(home)))
    c.remove(here / "download")
    r["cp_blob"] = c.run_child([__file__, "--child", "cp", r["download"]["blob"], str(dst), pf])
    dst.unlink()
    c.remove(store)
    c.remove(home / ".runwatch")
    store_env = here / "store-env"
    r["log_env"] = c.run_child([__file__, "--child", "log", str(store_env), str(src), "env", pf],
                               env=c.child_env(HOME=str(home), RUNWATCH_DIR=str(store_env)))
    c.remove(here)
    return r


def run(quick: bool = False) -> dict:
    size_mb = 100 if quick else 1024
    rounds = 2 if quick else 3
    ckpt_mb = 1 if quick else 5
    # Enough host-backed free memory for the largest step: logging through a staging
    # store puts 3 x the file in the page cache (source, staging blob, stored blob).
    prefault_mb = 3 * size_mb + 2048
    scratch = c.scratch_dir("artifacts")
    try:
        free = shutil.disk_usage(scratch).free
        need = max(MIN_FREE, 4 * size_mb * MB + 1024 * MB)
        if free < need:
            msg = (f"skipped: {free / 2**30:.1f} GiB free on the disk of {scratch}, "
                   f"this suite needs {need / 2**30:.1f} GiB")
            print(msg, flush=True)
            return {"skipped": msg}
        src = scratch / "src" / "big.bin"
        made = c.run_child([__file__, "--child", "make", str(src), str(size_mb)])
        prefaulted = [_round(scratch, i, src, prefault_mb) for i in range(rounds)]
        raw = _round(scratch, rounds, src, 0)  # as the VM gives it: memory not pre-faulted
        src.unlink()
        here = scratch / "ckpt"
        (here / "home").mkdir(parents=True)
        ckpt = c.run_child([__file__, "--child", "ckpt", str(here / "store"),
                            str(here / "model"), "20", str(ckpt_mb), "10", "2"],
                           env=c.child_env(HOME=str(here / "home")))
    finally:
        c.remove(scratch)
    out = _summarise(size_mb, prefaulted)
    out.update(make=made, prefault_mb=prefault_mb, raw=_summarise(size_mb, [raw]),
               checkpoints=ckpt)
    return out


STEPS = ("cp", "log", "download", "cp_blob", "log_env")


def _summarise(size_mb: int, rounds: list[dict]) -> dict:
    mb = float(size_mb)

    def med(f) -> float:  # noqa: ANN001
        return c.median([f(r) for r in rounds])

    cp_s = med(lambda r: r["cp"]["cp_s"])
    cp_sync_s = med(lambda r: r["cp"]["cp_s"] + r["cp"]["sync_after_s"])
    log_s = med(lambda r: r["log"]["total_s"])
    log_sync_s = med(lambda r: r["log"]["total_s"] + r["log"]["sync_after_s"])
    env_s = med(lambda r: r["log_env"]["total_s"])
    env_sync_s = med(lambda r: r["log_env"]["total_s"] + r["log_env"]["sync_after_s"])
    dl_s = med(lambda r: r["download"]["download_s"])
    cpb_s = med(lambda r: r["cp_blob"]["cp_s"])
    growth = [max(r[m]["rss_growth_maxrss_mb"], r[m]["rss_growth_hwm_mb"] or 0.0)
              for r in rounds for m in ("log", "log_env")]
    reported = [r[s]["reported_mb_during"] for r in rounds for s in STEPS
                if r[s]["reported_mb_during"] is not None]
    return {
        "size_mb": size_mb, "rounds": rounds,
        "caches_dropped": all(r[s]["caches_dropped"] for r in rounds for s in STEPS),
        "max_reported_mb_during_step": max(reported) if reported else None,
        "cp_s": cp_s, "cp_mb_s": mb / cp_s, "cp_sync_mb_s": mb / cp_sync_s,
        "log_s": log_s, "log_mb_s": mb / log_s, "log_sync_mb_s": mb / log_sync_s,
        "log_vs_cp": cp_s / log_s, "log_vs_cp_sync": cp_sync_s / log_sync_s,
        "log_env_s": env_s, "log_env_mb_s": mb / env_s, "log_env_vs_cp": cp_s / env_s,
        "log_env_vs_cp_sync": cp_sync_s / env_sync_s,
        "add_file_s": med(lambda r: r["log"]["add_file_s"]),
        "log_artifact_s": med(lambda r: r["log"]["log_artifact_s"]),
        "env_add_file_s": med(lambda r: r["log_env"]["add_file_s"]),
        "env_log_artifact_s": med(lambda r: r["log_env"]["log_artifact_s"]),
        "log_wchar_mb": med(lambda r: r["log"]["wchar"]) / MB,
        "log_env_wchar_mb": med(lambda r: r["log_env"]["wchar"]) / MB,
        "staging_left_mb": med(lambda r: r["log"]["staging_blobs"]["bytes"]) / MB,
        "rss_growth_mb": max(growth),
        "download_s": dl_s, "download_mb_s": mb / dl_s, "cp_blob_mb_s": mb / cpb_s,
        "download_vs_cp": cpb_s / dl_s,
    }


def _lines(r: dict, label: str) -> list[str]:
    n = len(r["rounds"])
    rep = r["max_reported_mb_during_step"]
    return [
        f"{label}: {r['size_mb']:,} MB random file, median of {n} round(s); page cache "
        f"dropped before each step: {'yes' if r['caches_dropped'] else 'NO (file may be cached)'}"
        + (f"; at most {rep:.0f} MB handed back to the host during a step" if rep is not None
           else ""),
        f"  cp: {r['cp_mb_s']:.0f} MB/s ({r['cp_sync_mb_s']:.0f} MB/s with a sync after)",
        f"  log_artifact, init(dir=store): {r['log_mb_s']:.0f} MB/s = {r['log_vs_cp']:.2f} x cp "
        f"({r['log_sync_mb_s']:.0f} MB/s with a sync after = {r['log_vs_cp_sync']:.2f} x "
        f"cp+sync); add_file {r['add_file_s']:.2f} s + log_artifact {r['log_artifact_s']:.2f} s; "
        f"wrote {r['log_wchar_mb']:,.0f} MB, left {r['staging_left_mb']:,.0f} MB in ~/.runwatch",
        f"  log_artifact, RUNWATCH_DIR=store: {r['log_env_mb_s']:.0f} MB/s = "
        f"{r['log_env_vs_cp']:.2f} x cp ({r['log_env_vs_cp_sync']:.2f} x cp+sync); add_file "
        f"{r['env_add_file_s']:.2f} s + log_artifact {r['env_log_artifact_s']:.2f} s; wrote "
        f"{r['log_env_wchar_mb']:,.0f} MB",
        f"  peak RSS growth while logging: {r['rss_growth_mb']:.1f} MB (max over rounds, modes)",
        f"  download(): {r['download_mb_s']:.0f} MB/s vs cp of the blob {r['cp_blob_mb_s']:.0f} "
        f"MB/s = {r['download_vs_cp']:.2f} x",
    ]


def report(r: dict) -> str:
    if r.get("skipped"):
        return f"artifacts: {r['skipped']}"
    lines = _lines(r, f"memory pre-faulted ({r['prefault_mb']:,} MB)")
    lines += _lines(r["raw"], "memory not pre-faulted")
    k = r["checkpoints"]
    lines.append(
        f"{k['versions']} checkpoints of {k['files']} x {k['file_mb']} MB, {k['changed']} files "
        f"changed per version: store blobs {k['after_one']['bytes'] / MB:.1f} MB after one, "
        f"{k['after_all']['bytes'] / MB:.1f} MB after {k['versions']} = {k['ratio']:.2f} x "
        f"(ideal {k['ideal_ratio']:.2f} x); staging copy outside the store "
        f"{k['staging_after_all']['bytes'] / MB:.1f} MB; log_model "
        + ", ".join(f"{v['log_model_s']:.2f}" for v in k["per_version"]) + " s; wrote "
        + ", ".join(f"{v['wchar'] / MB:.0f}" for v in k["per_version"]) + " MB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "make":
            c.emit(_make(rest[0], int(rest[1])))
        elif kind == "cp":
            c.emit(_cp(*rest))
        elif kind == "log":
            c.emit(_log(*rest))
        elif kind == "download":
            c.emit(_download(*rest))
        else:
            store, folder, files, file_mb, versions, changed = rest
            c.emit(_checkpoints(store, folder, int(files), int(file_mb), int(versions),
                                int(changed)))
        return
    print(report(run(quick=args.quick)))


if __name__ == "__main__":
    main()
