"""Stored artifact versions, read back: ``Api().artifact(...)`` and ``run.use_artifact(...)``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runwatch import jsonvalue
from runwatch.errors import UsageError
from runwatch.store import Store
from runwatch.store.artifacts import VersionRecord

if TYPE_CHECKING:
    from runwatch.records import ArtifactFile


class Artifact:
    """One stored artifact version (wandb's ``Artifact`` as returned by ``Api().artifact``)."""

    def __init__(self, store: Store, record: VersionRecord) -> None:
        self._store = store
        self._record = record
        self.project = record.project
        self.type = record.type
        self.version = f"v{record.version}"
        self.name = f"{record.name}:{self.version}"
        self.source_name = record.name
        self.qualified_name = f"{record.project}/{self.name}"
        self.aliases = list(record.aliases)
        self.digest = record.digest
        self.description = record.description
        self.metadata = record.metadata
        self.size = record.size
        self.file_count = record.file_count
        self.created_at = record.created_at
        self.step = record.step
        self.logged_by_run_id = record.logged_by

    def files(self) -> list[ArtifactFile]:
        return list(self._record.files)

    def _entry(self, name: str) -> ArtifactFile:
        for f in self._record.files:
            if f.path in (name, f"{name}.table.json"):
                return f
        raise UsageError(f"{self.qualified_name} has no entry {name!r}; it holds: "
                         f"{', '.join(f.path for f in self._record.files) or 'nothing'}.")

    def get(self, name: str) -> Any:
        """The object stored under ``name`` as its own type (a Table comes back a Table)."""
        entry = self._entry(name)
        blobs = self._require_blobs()
        if entry.media is None:
            return blobs.get(entry.sha256)
        from runwatch.data.media import decode

        return decode(jsonvalue.loads(entry.media), blobs.get)

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Write every file (checked against its sha256) under ``root``; returns the folder."""
        blobs = self._require_blobs()
        folder = Path(root) if root is not None else Path("artifacts") / self.name.replace(":", "-")
        for f in self._record.files:
            target = (folder / f.path).resolve()
            if not target.is_relative_to(folder.resolve()):
                raise UsageError(f"Entry {f.path!r} would be written outside {folder}; refused.")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blobs.get(f.sha256))
        return str(folder)

    def _require_blobs(self) -> Any:
        if self._store.blobs is None:
            raise UsageError("This store has no blob store to read artifact files from.")
        return self._store.blobs

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name} ({self.type})>"
