"""``runwatch.Artifact``: a versioned set of files and objects, stored content-addressed.

Building: ``add_file``, ``add_dir``, ``add`` (a Table, Image...), ``new_file``,
``add_reference`` (``file://``, ``s3://``: checksums recorded, content not copied).
Files are hashed while they are copied into the blob store, 1 MiB at a time, so a
2 GB checkpoint never sits in memory; identical content is stored once.

After ``run.log_artifact`` (or ``use_artifact``, ``Api().artifact``) the same object
reads back: ``get``, ``files``, ``download`` (hash-checked), ``verify``, ``version``,
``aliases``, ``digest``, ``logged_by``, ``used_by``. A logged artifact cannot change.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from runwatch import jsonvalue
from runwatch.errors import RunwatchError, UsageError
from runwatch.records import ARTIFACT_NAME, ArtifactFile, check_entry_path, manifest_digest
from runwatch.store.blobs import BlobStore, LocalBlobStore, hash_file

NAME = ARTIFACT_NAME  # the wire format's rule: what a server accepts, the SDK makes
_PIECE = 1 << 20


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise UsageError(f"Artifact name {name!r} is not allowed: use 1-128 characters from "
                         "[A-Za-z0-9._-].")
    return name


def _entry_path(name: object) -> str:
    if not isinstance(name, str) or not name.strip("/"):
        raise UsageError(f"Artifact entry name must be a non-empty path, got {name!r}.")
    # The wire format's rule (records.check_entry_path), so a server takes every entry the
    # SDK makes.
    return check_entry_path(str(PurePosixPath(name.replace(os.sep, "/"))))



def referenced_shas(meta: Any) -> list[str]:
    """Blobs an object's JSON description names (a table's file, an image's bytes)."""
    if isinstance(meta, dict):
        own = [meta["sha256"]] if isinstance(meta.get("sha256"), str) else []
        return own + [s for v in meta.values() if isinstance(v, (dict, list))
                      for s in referenced_shas(v)]
    if isinstance(meta, list):
        return [s for v in meta for s in referenced_shas(v)]
    return []


class Artifact:
    def __init__(self, name: str, type: str, description: str | None = None,  # noqa: A002
                 metadata: dict[str, Any] | None = None, incremental: bool = False,
                 use_as: str | None = None) -> None:
        self._base_name = check_name(name)
        if not isinstance(type, str) or not type.strip() or len(type) > 64:
            raise UsageError(f"Artifact type must be a short non-empty string, got {type!r}.")
        self.type = type
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})
        jsonvalue.dumps(self.metadata)  # refuse what cannot be stored, now
        self._entries: dict[str, ArtifactFile] = {}
        self._staging: BlobStore | None = None
        self._record: Any = None       # store.artifacts.VersionRecord once logged
        self._store: Any = None        # the Store it was logged to or read from

    # -- building --
    def _blobs(self) -> BlobStore:
        if self._store is not None and self._store.blobs is not None:
            return self._store.blobs
        if self._staging is None:
            import sys

            from runwatch import settings

            # Stage in the active run's store so logging it copies nothing more.
            run = getattr(sys.modules.get("runwatch"), "run", None)
            folder = getattr(run, "dir", "") or settings.resolve().dir
            self._staging = LocalBlobStore(Path(folder) / "blobs")
        return self._staging

    def _mutable(self) -> None:
        if self._record is not None:
            raise UsageError(f"Artifact {self.qualified_name} was logged and cannot change. "
                             f"Make a new Artifact({self._base_name!r}, ...) for a new version.")

    def _put(self, entry: ArtifactFile, overwrite: bool) -> ArtifactFile:
        if entry.path in self._entries and not overwrite:
            raise UsageError(f"Artifact {self._base_name!r} already has an entry "
                             f"{entry.path!r}; pass overwrite=True to replace it.")
        self._entries[entry.path] = entry
        return entry

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None,
                 is_tmp: bool = False, skip_cache: bool = False, policy: str = "mutable",
                 overwrite: bool = False) -> ArtifactFile:
        """Copy a file in (hashed while copied; stored once however often it is added)."""
        self._mutable()
        path = Path(local_path)
        if not path.is_file():
            what = "a folder; use add_dir()" if path.is_dir() else "missing"
            raise UsageError(f"add_file: {str(local_path)!r} is {what}.")
        entry_name = _entry_path(name if name is not None else path.name)
        sha, size = self._blobs().put_file(path)
        return self._put(ArtifactFile(path=entry_name, sha256=sha, size=size), overwrite)

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None,
                skip_cache: bool = False, policy: str = "mutable", merge: bool = False) -> None:
        """Add every file under a folder, named by its path inside it (under ``name``)."""
        self._mutable()
        root = Path(local_path)
        if not root.is_dir():
            raise UsageError(f"add_dir: {str(local_path)!r} is not a folder.")
        prefix = _entry_path(name) if name else ""
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.relative_to(root).as_posix()
            self.add_file(file, f"{prefix}/{rel}" if prefix else rel, overwrite=merge)

    def add(self, obj: Any, name: str, overwrite: bool = False) -> ArtifactFile:
        """Add a Table, Image, Histogram or chart; ``get(name)`` returns it as itself."""
        self._mutable()
        from runwatch.data.media import Media

        if not isinstance(obj, Media):
            raise UsageError(f"Artifact.add takes a Table, Image, Histogram or chart, got "
                             f"{type(obj).__name__}; use add_file() for files.")
        encoded = obj.encode()
        blobs = self._blobs()
        for sha, data in encoded.blobs.items():
            blobs.put(sha, data)
        text = jsonvalue.dumps(encoded.meta)
        data = text.encode()
        sha = hashlib.sha256(data).hexdigest()
        blobs.put(sha, data)
        path = _entry_path(f"{name}.{obj.TYPE}.json")
        return self._put(ArtifactFile(path=path, sha256=sha, size=len(data), media=text),
                         overwrite)

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "w", encoding: str | None = None
                 ) -> Iterator[IO[Any]]:
        """Write a file straight into the artifact: ``with art.new_file("a.txt") as f:``."""
        self._mutable()
        if "w" not in mode and "x" not in mode:
            raise UsageError(f"new_file mode must write ('w', 'wb', 'x'...), got {mode!r}.")
        folder = tempfile.mkdtemp(prefix="runwatch-newfile-")
        path = Path(folder) / PurePosixPath(_entry_path(name)).name
        try:
            with open(path, mode, encoding=encoding if "b" not in mode else None) as fh:
                yield fh
            self.add_file(path, name)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def add_reference(self, uri: str, name: str | None = None, checksum: bool = True,
                      max_objects: int | None = None) -> list[ArtifactFile]:
        """Record content by reference (not copied): ``file://`` paths (sha256) and
        ``s3://bucket/key`` or ``s3://bucket/prefix`` objects (ETag and version)."""
        self._mutable()
        from runwatch.data import references

        entries = references.resolve(uri, name, checksum, max_objects)
        return [self._put(e, overwrite=False) for e in entries]

    # -- identity --
    @property
    def logged(self) -> bool:
        return self._record is not None

    def _need_logged(self, what: str) -> Any:
        if self._record is None:
            raise UsageError(f"Artifact {self._base_name!r} has no {what} until it is logged "
                             "(run.log_artifact) or read from the store.")
        return self._record

    @property
    def name(self) -> str:
        return self._base_name if self._record is None else f"{self._base_name}:{self.version}"

    @property
    def source_name(self) -> str:
        return self._base_name

    @property
    def version(self) -> str:
        return f"v{self._need_logged('version').version}"

    @property
    def qualified_name(self) -> str:
        if self._record is None:
            return self._base_name
        return f"{self._record.project}/{self.name}"

    @property
    def project(self) -> str | None:
        return None if self._record is None else self._record.project

    @property
    def aliases(self) -> list[str]:
        return [] if self._record is None else list(self._record.aliases)

    @property
    def digest(self) -> str:
        return manifest_digest(list(self._entries.values()))

    @property
    def size(self) -> int:
        return sum(e.size for e in self._entries.values())

    @property
    def created_at(self) -> float | None:
        return None if self._record is None else self._record.created_at

    @property
    def state(self) -> str:
        return "PENDING" if self._record is None else "COMMITTED"

    def _bind(self, store: Any, record: Any) -> Artifact:
        """Tie this object to its stored version (after logging or when read)."""
        self._store, self._record = store, record
        self._entries = {f.path: f for f in record.files}
        self.description = record.description
        self.metadata = dict(record.metadata)
        return self

    @classmethod
    def _from_record(cls, store: Any, record: Any) -> Artifact:
        art = cls.__new__(cls)
        art._base_name, art.type = record.name, record.type
        art._staging = None
        return art._bind(store, record)

    def wait(self, timeout: float | None = None) -> Artifact:
        """Wait for the version number of an artifact logged while its server was away."""
        pending = getattr(self, "_pending", None)
        if self._record is None and pending is not None:
            if not pending(timeout):
                raise UsageError(f"Artifact {self._base_name!r} is still queued for the "
                                 "server (nothing is lost); its version is not known yet.")
            self._pending = None
        return self

    # -- reading --
    def files(self) -> list[ArtifactFile]:
        return list(self._entries.values())

    def get_entry(self, name: str) -> ArtifactFile:
        if name in self._entries:
            return self._entries[name]
        for entry in self._entries.values():
            if entry.media is not None and entry.path.rsplit(".", 2)[0] == name:
                return entry
        raise UsageError(f"Artifact {self.qualified_name} has no entry {name!r}; it holds: "
                         f"{', '.join(sorted(self._entries)) or 'nothing'}.")

    get_path = get_entry

    def get(self, name: str) -> Any:
        """The object added under ``name`` as its own type (a Table comes back a Table)."""
        entry = self.get_entry(name)
        if entry.media is None:
            raise UsageError(f"{entry.path!r} in {self.qualified_name} is a file, not an "
                             "object; use download() or get_entry(...).")
        from runwatch.data.media import decode

        try:
            return decode(jsonvalue.loads(entry.media), self._blobs().get)
        except (ValueError, OSError, RunwatchError) as exc:
            raise UsageError(f"Entry {entry.path!r} of {self.qualified_name} cannot be read: "
                             f"{exc}") from exc

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Write every entry under ``root`` (default ``./artifacts/<name>:<version>``),
        checking each against its hash; returns the folder."""
        folder = Path(root) if root is not None else Path("artifacts") / self.name
        base = folder.resolve()
        for entry in self._entries.values():
            target = (folder / entry.path).resolve()
            if not target.is_relative_to(base):
                raise UsageError(f"Entry {entry.path!r} would land outside {folder}; refused.")
            if entry.ref is not None:
                from runwatch.data import references

                references.fetch(entry, target)
            else:
                self._blobs().copy_to(entry.sha256, target)
        return str(folder)

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """Check content against the manifest: the files under ``root`` (a download), else
        the blob store. Raises ``ValueError`` naming every entry that differs."""
        bad: list[str] = []
        for entry in self._entries.values():
            if entry.ref is not None and root is None:
                continue
            if root is not None:
                path = Path(root) / entry.path
                if not path.is_file():
                    bad.append(f"{entry.path} (missing)")
                    continue
                sha, _size = hash_file(path)
                expected = entry.sha256 or (entry.checksum or "").removeprefix("sha256:")
                if expected and not expected.startswith("etag:") and sha != expected:
                    bad.append(f"{entry.path} (sha256 {sha}, expected {expected})")
            else:
                shas = [entry.sha256] + referenced_shas(
                    jsonvalue.loads(entry.media) if entry.media else None)
                broken = [sha for sha in shas if not self._blobs().verify(sha)]
                if broken:
                    bad.append(f"{entry.path} (blob {', '.join(broken)} missing or corrupted)")
        if bad:
            raise UsageError(f"Artifact {self.qualified_name} does not match its manifest: "
                             + "; ".join(bad))

    # -- lineage --
    def logged_by(self) -> Any:
        """The run (``Api().run``) that logged this version."""
        from runwatch.store import artifacts as store_artifacts

        record = self._need_logged("lineage")
        with self._store.read() as conn:
            found = store_artifacts.logged_by(conn, record.id)
        return None if found is None else self._api_run(*found)

    def used_by(self) -> list[Any]:
        """The runs (``Api().run``) that used this version."""
        from runwatch.store import artifacts as store_artifacts

        record = self._need_logged("lineage")
        with self._store.read() as conn:
            found = store_artifacts.used_by(conn, record.id)
        return [self._api_run(project, run_id) for project, run_id in found]

    def _api_run(self, project: str, run_id: str) -> Any:
        from runwatch.api.public import Api

        return Api.over(self._store).run(f"{project}/{run_id}")

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name} ({self.type}, {len(self._entries)} entries)>"
