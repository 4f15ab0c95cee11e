"""``runwatch sync``: send offline spools and unsent spill files to a server or a store.

Each file is a sequence of framed batches (see :mod:`runwatch.sdk.outbox`), each
with its ``(run_id, seq)``, so sending a file twice, or after an interruption,
applies every batch exactly once. A file a live run still holds (locked) is left
alone. A sent offline spool is renamed ``*.spool.synced`` (kept: it is the
user's data); a sent spill file, a mere queue, is deleted.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from runwatch.errors import SeqGapError, StoreError
from runwatch.sdk.outbox import read_frames

SUFFIXES = (".spool", ".spill")
# Answers about one file's batches (not about the server or the key): try the next file.
_FILE_PROBLEMS = (400, 409, 413, 415, 422)


@dataclass
class SyncReport:
    files: int = 0
    batches: int = 0
    runs: set[tuple[str, str]] = field(default_factory=set)
    busy: list[Path] = field(default_factory=list)      # held by a live run
    failed: list[tuple[Path, str]] = field(default_factory=list)


def find_files(paths: Iterable[Path]) -> list[Path]:
    """Spool and spill files named, or inside the folders named, oldest first."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
    unique = {p.resolve(): p for p in found}
    return sorted(unique.values(), key=lambda p: (p.stat().st_mtime, str(p)))


def default_paths(base: Path, url: str | None) -> list[Path]:
    """What waits for the destination: offline runs, and the batches that could not reach
    it (a server's spool folder; for the local store, its spill folder)."""
    if url:
        from runwatch.sdk.remote import spool_folder

        return [base / "offline", spool_folder(base, url)]
    return [base / "offline", base / "spill"]


def sync_files(files: list[Path], apply: Callable[[Any], object],
               on_bytes: Callable[[int], None] | None = None) -> SyncReport:
    """Apply every batch of ``files`` in order with ``apply`` (a sink's)."""
    report = SyncReport()
    for path in files:
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            report.failed.append((path, str(exc)))
            continue
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                report.busy.append(path)
                continue
            done = 0
            try:
                for batch in read_frames(fh):
                    apply(batch)
                    report.batches += 1
                    report.runs.add((batch.project, batch.run_id))
                    if on_bytes is not None:
                        on_bytes(fh.tell() - done)
                    done = fh.tell()
            except (SeqGapError, StoreError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                # This file's problem (a clash of run ids, a torn file): the others may go.
                report.failed.append((path, f"{exc.__class__.__name__}: {exc}"))
                continue
            except Exception as exc:  # noqa: BLE001 - the server is away, or refuses us
                report.failed.append((path, str(exc)))
                if getattr(exc, "status", 0) in _FILE_PROBLEMS:
                    continue
                break
            if on_bytes is not None:
                on_bytes(os.path.getsize(path) - done)
            report.files += 1
            if path.suffix == ".spill":
                path.unlink(missing_ok=True)  # a queue, now delivered
            elif path.suffix == ".spool":
                os.replace(path, path.with_name(path.name + ".synced"))
            # Anything else (a *.synced copy sent to a second server) is the user's: kept.
    return report
