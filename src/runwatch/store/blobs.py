"""The content-addressed blob store: a folder of files named by their sha256.

Images, table files and (later) artifact files live here; the same bytes are
stored once. Writes go to a temporary name and are renamed into place, so a
reader never sees half a blob; reads are checked against their hash, so a
corrupted blob is an error naming it, never silently wrong data.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from runwatch.errors import StoreError

_PIECE = 1 << 20
# (path, inode, size, mtime, ctime) -> sha256 of files this process stored: re-logging
# an unchanged checkpoint file costs a check of its blob, not a copy.
_SEEN: dict[tuple[Any, ...], str] = {}


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(sha256 hex, size) of a file, read 1 MiB at a time."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while piece := fh.read(_PIECE):
            digest.update(piece)
            size += len(piece)
    return digest.hexdigest(), size


def _hash_into(source: Path, result: dict[str, Any]) -> None:
    try:
        result["sha"], result["size"] = hash_file(source)
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
        result["error"] = exc


class BlobStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            # Also what keeps a download from reaching outside the store.
            raise StoreError(f"{sha!r} is not a sha256 hex digest.")
        return self.root / sha[:2] / sha[2:]

    def has(self, sha: str) -> bool:
        return self.path(sha).exists()

    def put(self, sha: str, data: bytes) -> None:
        """Store ``data`` under ``sha`` (checked); a no-op when it is already there."""
        target = self.path(sha)
        if target.exists() and target.stat().st_size == len(data) and self.verify(sha):
            return
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise StoreError(f"Blob claimed to be {sha} hashes to {actual}; not stored.")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, source: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a file's content; returns (sha256, size).

        The kernel copies the file to a temporary name while a second thread hashes it
        (both release the GIL), so a large file logs at about the speed of one pass and
        never sits in memory. The copy is synced and renamed to its hash; if that blob
        is already here, intact, the copy is dropped; a corrupted one is replaced, so
        logging the file again repairs it. A file seen unchanged (same inode, size and
        times) earlier in this process is not copied again.
        """
        source = Path(source)
        before = source.stat()
        key = (str(source.resolve()), before.st_ino, before.st_size, before.st_mtime_ns,
               before.st_ctime_ns)
        known = _SEEN.get(key)
        if known is not None and self.verify(known):  # a read, but no write
            return known, before.st_size
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        os.close(fd)
        try:
            result: dict[str, Any] = {}
            hasher = threading.Thread(target=_hash_into, args=(source, result), daemon=True)
            hasher.start()
            shutil.copyfile(source, tmp)  # copy_file_range/sendfile: no trip through Python
            hasher.join()
            if "error" in result:
                raise result["error"]
            sha, size = result["sha"], result["size"]
            after = source.stat()
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) \
                    or after.st_size != size or os.path.getsize(tmp) != size:
                raise StoreError(f"{str(source)!r} changed while it was being stored; "
                                 "log it again once it is written.")
            target = self.path(sha)
            if target.exists() and target.stat().st_size == size and self.verify(sha):
                Path(tmp).unlink()
            else:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if len(_SEEN) > 10_000:
            _SEEN.clear()
        _SEEN[key] = sha
        return sha, size

    def link_into(self, sha: str, other: BlobStore) -> None:
        """Make blob ``sha`` of this store present in ``other`` (a hard link when both
        are on one disk: blobs never change; else a checked copy)."""
        target = other.path(sha)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self.path(sha), target)
        except FileExistsError:
            return
        except OSError:
            self.copy_to(sha, target)

    def copy_to(self, sha: str, dest: str | os.PathLike[str]) -> None:
        """Write blob ``sha`` to ``dest``, checking its hash on the way; a mismatch
        removes ``dest`` and raises an error naming the blob and the file."""
        source = self.path(sha)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            with open(source, "rb") as src, open(tmp, "wb") as dst:
                while piece := src.read(_PIECE):
                    digest.update(piece)
                    dst.write(piece)
                dst.flush()
                os.fsync(dst.fileno())
        except FileNotFoundError:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"Blob {sha} for {dest} is missing from {self.root}.") from None
        if digest.hexdigest() != sha:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"Blob {sha} at {source} is corrupted (its content hashes to "
                             f"{digest.hexdigest()}); {dest} was not written. Restore the blob "
                             "or log the file again.")
        os.replace(tmp, dest)

    def verify(self, sha: str) -> bool:
        """True if blob ``sha`` exists and its content still hashes to ``sha``."""
        try:
            return hash_file(self.path(sha))[0] == sha
        except FileNotFoundError:
            return False

    def get(self, sha: str) -> bytes:
        path = self.path(sha)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"Blob {sha} is missing from {self.root}.") from None
        if hashlib.sha256(data).hexdigest() != sha:
            raise StoreError(f"Blob {sha} at {path} is corrupted: its content no longer "
                             "matches its sha256. Restore it from a backup or log it again.")
        return data
