"""The content-addressed blob store: files named by their sha256.

Images, table files and artifact files live here; the same bytes are stored once.
:class:`BlobStore` is the interface; :func:`open_blob_store` picks an implementation by
the location's scheme: a folder (:class:`LocalBlobStore`, the default) or any fsspec URL
such as ``s3://bucket/prefix`` (``runwatch.store.blobs_remote.FsspecBlobStore``, whose
fsspec/s3fs imports happen only when such a URL is opened).

Writes never leave half a blob under its name (a temporary name renamed into place on a
folder; an object that appears whole on S3), and every write is checked against the
hash it is stored under. Reads through :meth:`BlobStore.get` and
:meth:`BlobStore.copy_to` are checked too, so a corrupted blob is an error naming it,
never silently wrong data.
"""

from __future__ import annotations

import abc
import hashlib
import io
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from runwatch.errors import StoreError

__all__ = ["BlobStore", "LocalBlobStore", "MissingBlobError", "check_sha", "hash_file",
           "hash_stream", "open_blob_store"]

_PIECE = 1 << 20
_HEX = frozenset("0123456789abcdef")
# (store, path, inode, size, mtime, ctime) -> sha256 of files this process stored:
# re-logging an unchanged checkpoint file costs a check of its blob, not a copy.
_SEEN: dict[tuple[Any, ...], str] = {}


class MissingBlobError(StoreError, FileNotFoundError):
    """The store holds no blob under this sha256."""


def check_sha(sha: object) -> str:
    """``sha`` if it is a lowercase sha256 hex digest, else StoreError. Also what keeps a
    blob name (``../../etc/passwd``) from reaching outside the store."""
    if not isinstance(sha, str) or len(sha) != 64 or not _HEX.issuperset(sha):
        raise StoreError(f"{sha!r:.100} is not a sha256 hex digest.")
    return sha


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(sha256 hex, size) of a file, read 1 MiB at a time."""
    with open(path, "rb") as fh:
        return hash_stream(fh)


def hash_stream(fh: IO[bytes]) -> tuple[str, int]:
    """(sha256 hex, size) of the rest of a binary file object, read 1 MiB at a time."""
    digest, size = hashlib.sha256(), 0
    while piece := fh.read(_PIECE):
        digest.update(piece)
        size += len(piece)
    return digest.hexdigest(), size


def _hash_into(source: Path, result: dict[str, Any]) -> None:
    try:
        result["sha"], result["size"] = hash_file(source)
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
        result["error"] = exc


def _seen_key(store: BlobStore, source: Path) -> tuple[tuple[Any, ...], os.stat_result]:
    st = source.stat()
    return (store.location, str(source.resolve()), st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns), st


def _remember(key: tuple[Any, ...], sha: str) -> None:
    if len(_SEEN) > 10_000:
        _SEEN.clear()
    _SEEN[key] = sha


class BlobMismatchError(StoreError):
    """Content offered under a sha256 it does not hash to; nothing was stored."""

    def __init__(self, sha: str, actual: str) -> None:
        super().__init__(f"Blob claimed to be {sha} hashes to {actual}; not stored.")
        self.actual = actual


def _mismatch(sha: str, actual: str) -> StoreError:
    return BlobMismatchError(sha, actual)


def _changed(source: Path) -> StoreError:
    return StoreError(f"{str(source)!r} changed while it was being stored; "
                      "log it again once it is written.")


def open_blob_store(location: str | os.PathLike[str] | BlobStore,
                    **storage_options: Any) -> BlobStore:
    """The blob store at ``location``: a folder (a path or ``file://`` URL), or any other
    fsspec URL (``s3://bucket/prefix``; ``storage_options`` go to fsspec). A BlobStore is
    returned as it is."""
    if isinstance(location, BlobStore):
        return location
    text = os.fspath(location)
    scheme, sep, rest = text.partition("://")
    if sep and scheme.lower() == "file":
        from urllib.parse import unquote

        return LocalBlobStore(unquote(rest))
    # "C:\\x" and "./a://b" are folders: a scheme is letters (then digits, + - .) only.
    if sep and scheme[:1].isalpha() and len(scheme) > 1 \
            and all(c.isalnum() or c in "+-." for c in scheme):
        from runwatch.store.blobs_remote import FsspecBlobStore

        return FsspecBlobStore(text, **storage_options)
    return LocalBlobStore(text)


class BlobStore(abc.ABC):
    """What every blob store offers. ``sha`` arguments are checked with :func:`check_sha`
    first; a blob that is not there raises :class:`MissingBlobError`."""

    #: Where the blobs are, for messages (a folder or a URL).
    location: str

    # -- what an implementation provides --
    @abc.abstractmethod
    def has(self, sha: str) -> bool:
        """True if blob ``sha`` is stored (its content is not checked)."""

    @abc.abstractmethod
    def size(self, sha: str) -> int:
        """The size of blob ``sha`` in bytes."""

    @abc.abstractmethod
    def open(self, sha: str) -> IO[bytes]:
        """Blob ``sha`` as a binary file object, seekable, for streaming reads. Not
        checked against its hash: use :meth:`get`, :meth:`copy_to` or :meth:`verify`
        where wrong data must not pass."""

    @abc.abstractmethod
    def put_stream(self, sha: str, fileobj: IO[bytes], size: int | None = None) -> None:
        """Store the rest of ``fileobj`` under ``sha``, read 1 MiB at a time (a large
        upload never sits in memory). The bytes must hash to ``sha``, else nothing is
        stored and StoreError is raised. A no-op when the blob is already here."""

    @abc.abstractmethod
    def put_file(self, source: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a file's content; returns (sha256, size)."""

    @abc.abstractmethod
    def local_path(self, sha: str) -> Path | None:
        """The file on this machine that holds (or would hold) blob ``sha``, for
        sendfile-style serving; None for a store that is not a local folder."""

    def where(self, sha: str) -> str:
        """Blob ``sha``'s place, for messages."""
        return f"{self.location.rstrip('/')}/{sha[:2]}/{sha[2:]}"

    # -- shared on top of those --
    def put(self, sha: str, data: bytes) -> None:
        """Store ``data`` under ``sha`` (checked); a no-op when it is already there."""
        check_sha(sha)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise _mismatch(sha, actual)
        self.put_stream(sha, io.BytesIO(data), len(data))

    def get(self, sha: str) -> bytes:
        """The content of blob ``sha``, checked against its hash."""
        with self.open(sha) as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != sha:
            raise StoreError(f"Blob {sha} at {self.where(sha)} is corrupted: its content no "
                             "longer matches its sha256. Restore it from a backup or log it "
                             "again.")
        return data

    def verify(self, sha: str) -> bool:
        """True if blob ``sha`` exists and its content still hashes to ``sha``."""
        try:
            with self.open(sha) as fh:
                return hash_stream(fh)[0] == sha
        except FileNotFoundError:
            return False

    def copy_to(self, sha: str, dest: str | os.PathLike[str]) -> None:
        """Write blob ``sha`` to the local file ``dest``, checking its hash on the way; a
        mismatch removes ``dest`` and raises an error naming the blob and the file."""
        dest = Path(dest)
        try:
            src = self.open(sha)
        except FileNotFoundError:
            raise StoreError(f"Blob {sha} for {dest} is missing from {self.location}.") \
                from None
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            with src, open(tmp, "wb") as dst:
                while piece := src.read(_PIECE):
                    digest.update(piece)
                    dst.write(piece)
                dst.flush()
                os.fsync(dst.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if digest.hexdigest() != sha:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"Blob {sha} at {self.where(sha)} is corrupted (its content "
                             f"hashes to {digest.hexdigest()}); {dest} was not written. "
                             "Restore the blob or log the file again.")
        os.replace(tmp, dest)

    def link_into(self, sha: str, other: BlobStore) -> None:
        """Make blob ``sha`` of this store present in ``other``: a checked copy (an upload
        when ``other`` is remote); folder to folder on one disk, a hard link."""
        if other.has(sha):
            return
        with self.open(sha) as fh:
            other.put_stream(sha, fh, self.size(sha))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


class LocalBlobStore(BlobStore):
    """Blobs in a folder, as ``<root>/<sha[:2]>/<sha[2:]>``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def path(self, sha: str) -> Path:
        return self.root / check_sha(sha)[:2] / sha[2:]

    def local_path(self, sha: str) -> Path:
        return self.path(sha)

    def where(self, sha: str) -> str:
        return str(self.path(sha))

    def has(self, sha: str) -> bool:
        return self.path(sha).exists()

    def size(self, sha: str) -> int:
        try:
            return self.path(sha).stat().st_size
        except FileNotFoundError:
            raise MissingBlobError(f"Blob {sha} is missing from {self.root}.") from None

    def open(self, sha: str) -> IO[bytes]:
        try:
            return open(self.path(sha), "rb")
        except FileNotFoundError:
            raise MissingBlobError(f"Blob {sha} is missing from {self.root}.") from None

    def _intact(self, sha: str, size: int | None) -> bool:
        target = self.path(sha)
        return target.exists() and (size is None or target.stat().st_size == size) \
            and self.verify(sha)

    def put_stream(self, sha: str, fileobj: IO[bytes], size: int | None = None) -> None:
        target = self.path(sha)
        if self._intact(sha, size):
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as fh:
                while piece := fileobj.read(_PIECE):
                    digest.update(piece)
                    fh.write(piece)
                fh.flush()
                os.fsync(fh.fileno())
            if digest.hexdigest() != sha:
                raise _mismatch(sha, digest.hexdigest())
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
        key, before = _seen_key(self, source)
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
                raise _changed(source)
            target = self.path(sha)
            if self._intact(sha, size):
                Path(tmp).unlink()
            else:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _remember(key, sha)
        return sha, size

    def link_into(self, sha: str, other: BlobStore) -> None:
        """Make blob ``sha`` of this store present in ``other`` (a hard link when both
        are folders on one disk: blobs never change; else a checked copy or upload)."""
        if not isinstance(other, LocalBlobStore):
            super().link_into(sha, other)
            return
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
