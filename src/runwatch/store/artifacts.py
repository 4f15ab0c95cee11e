"""Artifact rows: logging versions (deduplicated by digest), aliases, usage, and reads.

A version's digest is the sha256 of its manifest (sorted ``path sha256`` lines),
so the same files under the same names make no new version: logging identical
content again finds the existing version and only moves aliases to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runwatch import jsonvalue
from runwatch.errors import RunNotFoundError, StoreError
from runwatch.records import ArtifactFile, ArtifactUse, ArtifactVersion
from runwatch.store.schema import (
    artifact_aliases,
    artifact_files,
    artifact_usage,
    artifact_versions,
    artifacts,
    projects,
    runs,
)


def _width(column: sa.Column[Any]) -> int:
    return int(column.type.length)  # type: ignore[attr-defined]


def too_long(rec: ArtifactVersion) -> str | None:
    """Why ``rec`` does not fit the store's columns (the SDK makes none such), or None."""
    files = artifact_files.c
    widths = {"name": (rec.name, _width(artifacts.c.name)),
              "type": (rec.type, _width(artifacts.c.type)),
              "digest": (rec.digest, _width(artifact_versions.c.digest))}
    widths.update((f"alias {a[:40]!r}", (a, _width(artifact_aliases.c.alias)))
                  for a in rec.aliases)
    for f in rec.files:
        widths[f"path {f.path[:40]!r}"] = (f.path, _width(files.path))
        widths[f"sha256 of {f.path[:40]!r}"] = (f.sha256, _width(files.sha256))
        widths[f"checksum of {f.path[:40]!r}"] = (f.checksum or "", _width(files.checksum))
    for what, (value, limit) in widths.items():
        if len(value) > limit:
            return (f"Artifact {rec.name[:128]!r} was not stored: its {what} is {len(value)} "
                    f"characters long; the limit is {limit}.")
    return None


def type_conflict(conn: Connection, project_id: int, rec: ArtifactVersion) -> str | None:
    """Why ``rec`` cannot join its artifact (another type), or None."""
    existing = conn.execute(sa.select(artifacts.c.type).where(
        artifacts.c.project_id == project_id, artifacts.c.name == rec.name)).scalar()
    if existing is not None and existing != rec.type:
        return (f"Artifact {rec.name!r} is of type {existing!r}; a version of type "
                f"{rec.type!r} cannot join it. Use another name.")
    return None


def log_version(conn: Connection, project_id: int, run_pk: int, rec: ArtifactVersion,
                now: float) -> int:
    """Store ``rec`` (or find its twin by digest); returns the version number.

    The artifact's row stays locked to the end of the transaction, so runs logging versions
    of one artifact at once (PostgreSQL) take their version numbers and aliases in turn."""
    mine = (artifacts.c.project_id == project_id, artifacts.c.name == rec.name)
    art = conn.execute(sa.select(artifacts.c.id, artifacts.c.type).where(*mine)
                       .with_for_update()).first()
    if art is None:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        conn.execute(insert(artifacts).values(
            project_id=project_id, name=rec.name, type=rec.type, created_at=now)
            .on_conflict_do_nothing(index_elements=["project_id", "name"]))
        art = conn.execute(sa.select(artifacts.c.id, artifacts.c.type).where(*mine)
                           .with_for_update()).one()
    art_id = art.id
    if art.type != rec.type:
        raise StoreError(f"Artifact {rec.name!r} is of type {art.type!r}; a version of "
                         f"type {rec.type!r} cannot join it. Use another name.")
    found = conn.execute(sa.select(artifact_versions.c.id, artifact_versions.c.version).where(
        artifact_versions.c.artifact_id == art_id,
        artifact_versions.c.digest == rec.digest)).first()
    if found is not None:
        version_id, version = found.id, found.version
    else:
        version = conn.execute(sa.select(sa.func.coalesce(sa.func.max(
            artifact_versions.c.version), -1)).where(
            artifact_versions.c.artifact_id == art_id)).scalar_one() + 1
        version_id = conn.execute(sa.insert(artifact_versions).values(
            artifact_id=art_id, version=version, digest=rec.digest,
            description=rec.description, meta=rec.metadata,
            size=sum(f.size for f in rec.files), file_count=len(rec.files), created_at=now,
            run_pk=run_pk, step=rec.step)).inserted_primary_key[0]
        if rec.files:
            conn.execute(sa.insert(artifact_files), [
                {"version_id": version_id, "path": f.path, "sha256": f.sha256, "size": f.size,
                 "media": f.media, "ref": f.ref, "checksum": f.checksum} for f in rec.files])
    for alias in dict.fromkeys(["latest", *rec.aliases]):
        conn.execute(sa.delete(artifact_aliases).where(artifact_aliases.c.artifact_id == art_id,
                                                       artifact_aliases.c.alias == alias))
        conn.execute(sa.insert(artifact_aliases).values(artifact_id=art_id, alias=alias,
                                                        version_id=version_id))
    return int(version)


def record_use(conn: Connection, run_pk: int, use: ArtifactUse) -> None:
    version_id = conn.execute(
        sa.select(artifact_versions.c.id)
        .join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
        .join(projects, projects.c.id == artifacts.c.project_id)
        .where(projects.c.name == use.project, artifacts.c.name == use.name,
               artifact_versions.c.version == use.version)).scalar()
    if version_id is None:
        return  # nothing to link: the version was never stored
    exists = conn.execute(sa.select(artifact_usage.c.version_id).where(
        artifact_usage.c.version_id == version_id, artifact_usage.c.run_pk == run_pk)).first()
    if exists is None:
        conn.execute(sa.insert(artifact_usage).values(version_id=version_id, run_pk=run_pk,
                                                      used_at=use.at))


@dataclass
class VersionRecord:
    id: int
    project: str
    name: str
    type: str
    version: int
    digest: str
    aliases: list[str]
    description: str | None
    metadata: dict[str, Any]
    size: int
    file_count: int
    created_at: float
    logged_by: str | None     # run id
    step: int | None
    files: list[ArtifactFile]


def parse_ref(ref: str) -> tuple[str, str]:
    """``name:alias`` or ``name:vN`` (alias ``latest`` when none) -> (name, alias)."""
    name, _, alias = ref.partition(":")
    return name, alias or "latest"


def _versions_of(project: str, name: str) -> sa.Select[Any]:
    """Ids of the versions of ``project/name`` (narrow it with more ``where``)."""
    return (sa.select(artifact_versions.c.id)
            .join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
            .join(projects, projects.c.id == artifacts.c.project_id)
            .where(projects.c.name == project, artifacts.c.name == name))


def get_version(conn: Connection, project: str, name: str, alias: str) -> VersionRecord:
    base = _versions_of(project, name)
    version_id = resolve(conn, project, name, alias)
    if version_id is None:
        known = conn.execute(sa.select(artifacts.c.name).join(
            projects, projects.c.id == artifacts.c.project_id).where(
            projects.c.name == project)).scalars().all()
        if name in known:
            aliases = conn.execute(
                sa.select(artifact_aliases.c.alias)
                .join(artifacts, artifacts.c.id == artifact_aliases.c.artifact_id)
                .join(projects, projects.c.id == artifacts.c.project_id)
                .where(projects.c.name == project, artifacts.c.name == name)
                .order_by(artifact_aliases.c.alias)).scalars().all()
            versions = conn.execute(base.with_only_columns(artifact_versions.c.version)
                                    .order_by(artifact_versions.c.version)).scalars().all()
            raise RunNotFoundError(
                f"Artifact {project}/{name} has no {alias!r}; aliases: "
                f"{', '.join(aliases) or 'none'}; versions: "
                f"{', '.join(f'v{v}' for v in versions) or 'none'}.")
        raise RunNotFoundError(f"Artifact {project}/{name}:{alias} not found (no such "
                               f"artifact); artifacts in {project!r}: "
                               f"{', '.join(sorted(known)) or 'none'}.")
    return _version(conn, version_id)


def _version(conn: Connection, version_id: int) -> VersionRecord:
    r = conn.execute(
        sa.select(artifact_versions, artifacts.c.name, artifacts.c.type,
                  projects.c.name.label("project"), runs.c.run_id)
        .join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
        .join(projects, projects.c.id == artifacts.c.project_id)
        .outerjoin(runs, runs.c.pk == artifact_versions.c.run_pk)
        .where(artifact_versions.c.id == version_id)).one()
    aliases = conn.execute(sa.select(artifact_aliases.c.alias).where(
        artifact_aliases.c.version_id == version_id).order_by(artifact_aliases.c.alias)
    ).scalars().all()
    files = files_of(conn, version_id)
    return VersionRecord(
        id=version_id, project=r.project, name=r.name, type=r.type, version=r.version,
        digest=r.digest, aliases=list(aliases), description=r.description,
        metadata=jsonvalue.loads(r.meta), size=r.size, file_count=r.file_count,
        created_at=r.created_at, logged_by=r.run_id, step=r.step, files=files)


def run_versions(conn: Connection, run_pk: int, used: bool) -> list[VersionRecord]:
    """Versions the run logged (``used=False``) or used (``used=True``)."""
    if used:
        q = sa.select(artifact_usage.c.version_id).where(artifact_usage.c.run_pk == run_pk)
    else:
        q = sa.select(artifact_versions.c.id).where(artifact_versions.c.run_pk == run_pk)
    return [_version(conn, int(v)) for v in conn.execute(q).scalars().all()]


def used_by(conn: Connection, version_id: int) -> list[tuple[str, str]]:
    """(project, run id) of every run that used the version, in order of use."""
    rows = conn.execute(
        sa.select(projects.c.name, runs.c.run_id)
        .join(runs, runs.c.project_id == projects.c.id)
        .join(artifact_usage, artifact_usage.c.run_pk == runs.c.pk)
        .where(artifact_usage.c.version_id == version_id)
        .order_by(artifact_usage.c.used_at))
    return [(r.name, r.run_id) for r in rows]


def logged_by(conn: Connection, version_id: int) -> tuple[str, str] | None:
    r = conn.execute(
        sa.select(projects.c.name, runs.c.run_id)
        .join(runs, runs.c.project_id == projects.c.id)
        .join(artifact_versions, artifact_versions.c.run_pk == runs.c.pk)
        .where(artifact_versions.c.id == version_id)).first()
    return None if r is None else (r.name, r.run_id)


def list_artifacts(conn: Connection, project: str) -> list[VersionRecord]:
    """Every version of every artifact in ``project``, newest first per artifact."""
    ids = conn.execute(
        sa.select(artifact_versions.c.id)
        .join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
        .join(projects, projects.c.id == artifacts.c.project_id)
        .where(projects.c.name == project)
        .order_by(artifacts.c.type, artifacts.c.name, artifact_versions.c.version.desc())
    ).scalars().all()
    return [_version(conn, int(i)) for i in ids]


def artifact_type(conn: Connection, project: str, name: str) -> str | None:
    return conn.execute(
        sa.select(artifacts.c.type).join(projects, projects.c.id == artifacts.c.project_id)
        .where(projects.c.name == project, artifacts.c.name == name)).scalar()


def find_by_digest(conn: Connection, project: str, name: str,
                   digest: str) -> VersionRecord | None:
    version_id = conn.execute(_versions_of(project, name).where(
        artifact_versions.c.digest == digest)).scalar()
    return None if version_id is None else _version(conn, int(version_id))


# -- bulk reads for the API: no files unless asked, metadata kept as its stored text --

@dataclass
class RunRef:
    """A run named from an artifact's lineage (it may belong to another project)."""

    pk: int
    project: str
    id: str
    name: str
    state: str          # as stored; read.effective_state tells a dead "running" run
    host: str
    pid: int
    created_at: float
    heartbeat_at: float


@dataclass
class VersionInfo:
    """A version as the API lists it: ``metadata_json`` is the stored JSON text."""

    id: int
    project: str
    name: str
    type: str
    version: int
    digest: str
    aliases: list[str]
    description: str | None
    metadata_json: str
    size: int
    file_count: int
    created_at: float
    step: int | None
    logged_by: RunRef | None
    used_by: list[RunRef]


@dataclass
class ArtifactSummary:
    """An artifact of a project, described by its ``latest`` version."""

    name: str
    type: str
    versions: int
    latest: int
    aliases: list[str]     # the latest version's
    updated_at: float      # when its newest version was logged
    size: int              # the latest version's bytes
    description: str | None


def summaries(conn: Connection, project: str) -> list[ArtifactSummary]:
    """Every artifact of ``project`` by type, then name."""
    rows = conn.execute(
        sa.select(artifacts.c.id.label("artifact_id"), artifacts.c.name, artifacts.c.type,
                  artifact_versions.c.id, artifact_versions.c.version,
                  artifact_versions.c.size, artifact_versions.c.description,
                  artifact_versions.c.created_at)
        .join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
        .join(projects, projects.c.id == artifacts.c.project_id)
        .where(projects.c.name == project)
        .order_by(artifacts.c.type, artifacts.c.name, artifact_versions.c.version)).all()
    aliases: dict[int, list[str]] = {}
    latest: dict[int, int] = {}
    for a in conn.execute(
            sa.select(artifact_aliases.c.artifact_id, artifact_aliases.c.alias,
                      artifact_aliases.c.version_id)
            .join(artifacts, artifacts.c.id == artifact_aliases.c.artifact_id)
            .join(projects, projects.c.id == artifacts.c.project_id)
            .where(projects.c.name == project).order_by(artifact_aliases.c.alias)):
        aliases.setdefault(a.version_id, []).append(a.alias)
        if a.alias == "latest":
            latest[a.artifact_id] = a.version_id
    grouped: dict[int, list[Any]] = {}
    for r in rows:
        grouped.setdefault(r.artifact_id, []).append(r)
    out = []
    for art_id, versions in grouped.items():
        head = next((v for v in versions if v.id == latest.get(art_id)), versions[-1])
        out.append(ArtifactSummary(
            name=head.name, type=head.type, versions=len(versions), latest=head.version,
            aliases=aliases.get(head.id, []), updated_at=max(v.created_at for v in versions),
            size=head.size, description=head.description))
    return out


def resolve(conn: Connection, project: str, name: str, ref: str) -> int | None:
    """The id of ``project/name``'s version ``ref`` (``vN`` or an alias), or None."""
    if ref[:1] == "v" and ref[1:].isdigit():
        found = conn.execute(_versions_of(project, name).where(
            artifact_versions.c.version == int(ref[1:]))).scalar()
    else:
        found = conn.execute(
            sa.select(artifact_aliases.c.version_id)
            .join(artifacts, artifacts.c.id == artifact_aliases.c.artifact_id)
            .join(projects, projects.c.id == artifacts.c.project_id)
            .where(projects.c.name == project, artifacts.c.name == name,
                   artifact_aliases.c.alias == ref)).scalar()
    return None if found is None else int(found)


def run_refs(conn: Connection, run_pks: list[int]) -> dict[int, RunRef]:
    out: dict[int, RunRef] = {}
    for part in _slices(sorted(set(run_pks))):
        for r in conn.execute(
                sa.select(runs.c.pk, runs.c.run_id, runs.c.name, runs.c.state, runs.c.host,
                          runs.c.pid, runs.c.created_at, runs.c.heartbeat_at,
                          projects.c.name.label("project"))
                .join(projects, projects.c.id == runs.c.project_id)
                .where(runs.c.pk.in_(part))):
            out[r.pk] = RunRef(pk=r.pk, project=r.project, id=r.run_id, name=r.name,
                               state=r.state, host=r.host, pid=r.pid,
                               created_at=r.created_at, heartbeat_at=r.heartbeat_at)
    return out


def version_infos(conn: Connection, project: str, name: str,
                  version_id: int | None = None) -> list[VersionInfo]:
    """The versions of ``project/name`` (only ``version_id`` when given), newest first,
    with their aliases and the runs that logged and used them."""
    q = (sa.select(artifact_versions, artifacts.c.name, artifacts.c.type)
         .join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
         .join(projects, projects.c.id == artifacts.c.project_id)
         .where(projects.c.name == project, artifacts.c.name == name)
         .order_by(artifact_versions.c.version.desc()))
    if version_id is not None:
        q = q.where(artifact_versions.c.id == version_id)
    rows = conn.execute(q).all()
    ids = [r.id for r in rows]
    aliases: dict[int, list[str]] = {}
    uses: dict[int, list[int]] = {}
    for part in _slices(ids):
        for a in conn.execute(sa.select(artifact_aliases.c.version_id, artifact_aliases.c.alias)
                              .where(artifact_aliases.c.version_id.in_(part))
                              .order_by(artifact_aliases.c.alias)):
            aliases.setdefault(a.version_id, []).append(a.alias)
        for u in conn.execute(sa.select(artifact_usage.c.version_id, artifact_usage.c.run_pk)
                              .where(artifact_usage.c.version_id.in_(part))
                              .order_by(artifact_usage.c.used_at, artifact_usage.c.run_pk)):
            uses.setdefault(u.version_id, []).append(u.run_pk)
    refs = run_refs(conn, [r.run_pk for r in rows if r.run_pk is not None]
                    + [pk for pks in uses.values() for pk in pks])
    return [VersionInfo(
        id=r.id, project=project, name=r.name, type=r.type, version=r.version, digest=r.digest,
        aliases=aliases.get(r.id, []), description=r.description, metadata_json=r.meta,
        size=r.size, file_count=r.file_count, created_at=r.created_at, step=r.step,
        logged_by=refs.get(r.run_pk) if r.run_pk is not None else None,
        used_by=[refs[pk] for pk in uses.get(r.id, []) if pk in refs]) for r in rows]


def files_of(conn: Connection, version_id: int) -> list[ArtifactFile]:
    """A version's entries, sorted by path."""
    return [ArtifactFile(path=f.path, sha256=f.sha256, size=f.size, media=f.media, ref=f.ref,
                         checksum=f.checksum)
            for f in conn.execute(sa.select(artifact_files).where(
                artifact_files.c.version_id == version_id).order_by(artifact_files.c.path))]


def lineage_edges(conn: Connection, run_pks: list[int],
                  version_ids: list[int]) -> list[tuple[str, int, int]]:
    """Every ``("logged" | "used", version id, run pk)`` touching the given runs or
    versions, sorted."""
    found: set[tuple[str, int, int]] = set()
    v, u = artifact_versions.c, artifact_usage.c
    for column, values in ((v.run_pk, run_pks), (v.id, version_ids)):
        for part in _slices(sorted(set(values))):
            found.update(("logged", r.id, r.run_pk) for r in conn.execute(
                sa.select(v.id, v.run_pk).where(v.run_pk.is_not(None), column.in_(part))))
    for column, values in ((u.run_pk, run_pks), (u.version_id, version_ids)):
        for part in _slices(sorted(set(values))):
            found.update(("used", r.version_id, r.run_pk) for r in conn.execute(
                sa.select(u.version_id, u.run_pk).where(column.in_(part))))
    return sorted(found)


@dataclass
class VersionRef:
    id: int
    project: str
    name: str
    type: str
    version: int


def version_refs(conn: Connection, version_ids: list[int]) -> dict[int, VersionRef]:
    out: dict[int, VersionRef] = {}
    for part in _slices(sorted(set(version_ids))):
        for r in conn.execute(
                sa.select(artifact_versions.c.id, artifact_versions.c.version, artifacts.c.name,
                          artifacts.c.type, projects.c.name.label("project"))
                .join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
                .join(projects, projects.c.id == artifacts.c.project_id)
                .where(artifact_versions.c.id.in_(part))):
            out[r.id] = VersionRef(id=r.id, project=r.project, name=r.name, type=r.type,
                                   version=r.version)
    return out


def _slices(ids: list[int], size: int = 500) -> list[list[int]]:
    """``ids`` in pieces small enough for any database's IN list."""
    return [ids[i:i + size] for i in range(0, len(ids), size)]
