"""The content-addressed blob store: a folder of files named by their sha256.

Images, table files and (later) artifact files live here; the same bytes are
stored once. Writes go to a temporary name and are renamed into place, so a
reader never sees half a blob; reads are checked against their hash, so a
corrupted blob is an error naming it, never silently wrong data.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from runwatch.errors import StoreError

_PIECE = 1 << 20


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
        if target.exists():
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
        """Copy a file in while hashing it, in 1 MiB pieces (a 2 GB checkpoint never sits
        in memory); returns (sha256, size). A no-op copy when the content is already here."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                while piece := src.read(_PIECE):
                    digest.update(piece)
                    dst.write(piece)
                    size += len(piece)
                dst.flush()
                os.fsync(dst.fileno())
            sha = digest.hexdigest()
            target = self.path(sha)
            if target.exists():
                Path(tmp).unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
            return sha, size
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

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
        digest = hashlib.sha256()
        try:
            with open(self.path(sha), "rb") as src:
                while piece := src.read(_PIECE):
                    digest.update(piece)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha

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
