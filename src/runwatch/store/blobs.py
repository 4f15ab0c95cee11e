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
