"""A blob store on any fsspec filesystem: ``s3://bucket/prefix`` (s3fs, any
S3-compatible endpoint) and the like. Imported only when such a URL is opened, so
``import runwatch`` never pays for fsspec or s3fs.

Blobs are objects named ``<prefix>/<sha[:2]>/<sha[2:]>``, the same layout as a local
blob folder, so a folder copied to a bucket (``aws s3 sync``) is a working store.

On S3 the endpoint comes from ``RUNWATCH_S3_ENDPOINT_URL``, else ``AWS_ENDPOINT_URL_S3``
or ``AWS_ENDPOINT_URL`` (MinIO, moto, ...); credentials and region from the standard
AWS variables and files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import IO, Any

from runwatch.errors import StoreError
from runwatch.store.blobs import (
    _PIECE,
    _SEEN,
    BlobStore,
    MissingBlobError,
    _changed,
    _mismatch,
    _remember,
    _seen_key,
    check_sha,
    hash_file,
)

# A write buffers this much before sending a part of a multipart upload (S3's minimum
# part is 5 MiB); a smaller blob goes up in one PUT when it is complete.
PART_SIZE = 16 << 20
# Reads fetch this much ahead: big enough to stream fast, small enough that sniffing a
# file's first bytes does not download a whole checkpoint.
READ_BLOCK = 4 << 20


def _s3_options(options: dict[str, Any]) -> dict[str, Any]:
    endpoint = (os.environ.get("RUNWATCH_S3_ENDPOINT_URL")
                or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
    if endpoint and "endpoint_url" not in options \
            and "endpoint_url" not in options.get("client_kwargs", {}):
        options["endpoint_url"] = endpoint
    return options


class FsspecBlobStore(BlobStore):
    """Blobs as objects under an fsspec URL (``s3://bucket/prefix``)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        try:
            from fsspec.core import url_to_fs
        except ImportError:
            raise StoreError(f"Blobs at {url} need fsspec and s3fs: pip install "
                             "'runwatch[s3]'.") from None
        self.location = url.rstrip("/")
        options = dict(storage_options)
        if url.split("://", 1)[0].lower() in ("s3", "s3a"):
            options = _s3_options(options)
        # Blobs are read and written by other processes too: never answer from a listing.
        options.setdefault("use_listings_cache", False)
        self._open = lambda: url_to_fs(url, **options)
        try:
            self._fs, root = self._open()
        except ImportError as exc:
            raise StoreError(f"Blobs at {url} need a package that is not installed ({exc}); "
                             "for s3:// URLs: pip install 'runwatch[s3]'.") from None
        except (ValueError, TypeError) as exc:
            raise StoreError(f"Blob location {url!r} cannot be opened: {exc}") from None
        self._pid = os.getpid()
        self.root = str(root).rstrip("/")

    @property
    def fs(self) -> Any:
        """The fsspec filesystem; made anew in a forked child (server workers), whose
        parent's event loop and connections it cannot use."""
        if self._pid != os.getpid():
            self._fs, _root = self._open()
            self._pid = os.getpid()
        return self._fs

    def key(self, sha: str) -> str:
        """The object path of blob ``sha`` in the filesystem (no protocol)."""
        return f"{self.root}/{check_sha(sha)[:2]}/{sha[2:]}"

    def local_path(self, sha: str) -> Path | None:
        check_sha(sha)
        return None

    def _missing(self, sha: str) -> MissingBlobError:
        return MissingBlobError(f"Blob {sha} is missing from {self.location}.")

    def _info(self, sha: str) -> dict[str, Any] | None:
        try:
            info = self.fs.info(self.key(sha))
        except FileNotFoundError:
            return None
        return info if info.get("type") == "file" else None

    def has(self, sha: str) -> bool:
        return self._info(sha) is not None

    def size(self, sha: str) -> int:
        info = self._info(sha)
        if info is None:
            raise self._missing(sha)
        return int(info["size"])

    def open(self, sha: str) -> IO[bytes]:
        try:
            return self.fs.open(self.key(sha), "rb", block_size=READ_BLOCK)
        except (FileNotFoundError, IsADirectoryError):
            raise self._missing(sha) from None

    def get(self, sha: str) -> bytes:
        try:
            data = self.fs.cat_file(self.key(sha))
        except (FileNotFoundError, IsADirectoryError):
            raise self._missing(sha) from None
        if hashlib.sha256(data).hexdigest() != sha:
            raise StoreError(f"Blob {sha} at {self.where(sha)} is corrupted: its content no "
                             "longer matches its sha256. Restore it from a backup or log it "
                             "again.")
        return bytes(data)

    def _present(self, sha: str, size: int | None) -> bool:
        """Already stored (at the expected size). Not re-hashed: that would download it."""
        info = self._info(sha)
        return info is not None and (size is None or int(info["size"]) == size)

    def put(self, sha: str, data: bytes) -> None:
        check_sha(sha)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise _mismatch(sha, actual)
        if not self._present(sha, len(data)):
            self.fs.pipe_file(self.key(sha), data)  # checked above: one PUT

    def put_stream(self, sha: str, fileobj: IO[bytes], size: int | None = None) -> None:
        """Stream ``fileobj`` up (a multipart upload past :data:`PART_SIZE`), hashing on
        the way; if the hash is wrong the upload is abandoned before it completes, so no
        object with the wrong content appears under ``sha``."""
        key = self.key(sha)
        if self._present(sha, size):
            return
        out = self.fs.open(key, "wb", block_size=PART_SIZE)
        digest, written = hashlib.sha256(), 0
        try:
            while piece := fileobj.read(_PIECE):
                digest.update(piece)
                out.write(piece)
                written += len(piece)
            if digest.hexdigest() != sha:
                raise _mismatch(sha, digest.hexdigest())
            if size is not None and written != size:
                raise StoreError(f"Blob {sha}: {written} bytes arrived, {size} were "
                                 "announced; not stored.")
        except BaseException:
            self._abandon(out, key)
            raise
        out.close()

    def _abandon(self, out: Any, key: str) -> None:
        """Drop an unfinished upload without completing it."""
        from fsspec.spec import AbstractBufferedFile

        with contextlib.suppress(Exception):
            out.discard()  # S3: aborts the multipart upload
        if isinstance(out, AbstractBufferedFile):
            out.closed = True  # close() would flush, i.e. complete the object: it must not
            return
        with contextlib.suppress(Exception):  # a filesystem that writes in place
            out.close()
        with contextlib.suppress(Exception):
            self.fs.rm_file(key)

    def put_file(self, source: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a local file's content; returns (sha256, size). The file is hashed first,
        so a blob already in the store is not uploaded again; else it is streamed up and
        hashed again on the way (what arrives is what was hashed)."""
        source = Path(source)
        seen, before = _seen_key(self, source)
        known = _SEEN.get(seen)
        if known is not None and self._present(known, before.st_size):
            return known, before.st_size
        sha, size = hash_file(source)
        with open(source, "rb") as fh:
            try:
                self.put_stream(sha, fh, size)
            except StoreError:
                if hash_file(source) != (sha, size):
                    raise _changed(source) from None
                raise
        after = source.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise _changed(source)
        _remember(seen, sha)
        return sha, size
