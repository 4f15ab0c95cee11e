"""A run's artifact calls: ``log_artifact``, ``use_artifact``, ``log_model``, ``use_model``,
``link_model``. ``Run`` delegates here so the hot-path module stays small.

Files were already copied into the blob store by ``Artifact.add_file`` (hashed while
copied); logging sends only the manifest through the run's batch stream and waits
for the store to number the version, so ``artifact.version`` is known on return.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runwatch import jsonvalue
from runwatch.data.artifact import Artifact, check_name
from runwatch.errors import UsageError
from runwatch.records import ArtifactUse, ArtifactVersion

if TYPE_CHECKING:
    from runwatch.sdk.run import Run

REGISTRY_PROJECT = "model-registry"


def _aliases(aliases: Any) -> list[str]:
    if aliases is None:
        return []
    if isinstance(aliases, str):
        aliases = [aliases]
    out = []
    for alias in aliases:
        if not isinstance(alias, str) or not alias or len(alias) > 128 or ":" in alias \
                or "/" in alias:
            raise UsageError(f"Alias {alias!r} is not allowed: 1-128 characters, no ':' or '/'.")
        if alias[:1] == "v" and alias[1:].isdigit():
            raise UsageError(f"Alias {alias!r} looks like a version; versions are numbered "
                             "by the store.")
        out.append(alias)
    return out


def _ensure_blobs(run: Run, artifact: Artifact) -> None:
    """Make sure the run's store holds every file (an artifact built before init() was
    staged in the default store folder)."""
    store = run._open_reader()
    if store.blobs is None:
        raise UsageError("This store has no blob store for artifact files.")
    staging = artifact._staging
    for entry in artifact._entries.values():
        if entry.ref is not None or store.blobs.has(entry.sha256):
            continue
        if staging is None or not staging.has(entry.sha256):
            raise UsageError(f"The content of {entry.path!r} is in no blob store; add the "
                             "file to the artifact again.")
        staging.link_into(entry.sha256, store.blobs)


def log_artifact(run: Run, artifact: Any, name: str | None = None, type: str | None = None,  # noqa: A002
                 aliases: Any = None, project: str | None = None) -> Artifact:
    if isinstance(artifact, (str, os.PathLike)):
        path = Path(artifact)
        art = Artifact(name or path.name.replace(" ", "_"), type or "unspecified")
        if path.is_dir():
            art.add_dir(path)
        else:
            art.add_file(path)
        artifact = art
    if not isinstance(artifact, Artifact):
        raise UsageError(f"log_artifact takes an Artifact or a path, got "
                         f"{artifact.__class__.__name__}: {artifact!r:.80}.")
    if artifact.logged:
        # Logging a logged artifact again (wandb allows it): same files, new aliases.
        fresh = Artifact(artifact.source_name, artifact.type, artifact.description,
                         artifact.metadata)
        fresh._entries = dict(artifact._entries)
        fresh._store = artifact._store
        artifact = fresh
    alias_list = _aliases(aliases)
    target = project or run.project
    server = _server(run)
    offline = run._settings.mode == "offline"
    if server is None and not offline:
        from runwatch.store.artifacts import artifact_type

        _ensure_blobs(run, artifact)
        store = run._open_reader()
        with store.read() as conn:
            existing_type = artifact_type(conn, target, artifact.source_name)
    else:
        _check_sendable(run, artifact, server)
        existing_type = None if server is None else _server_type(server, target,
                                                                   artifact.source_name)
    if existing_type is not None and existing_type != artifact.type:
        raise UsageError(f"Artifact {target}/{artifact.source_name} is of type "
                         f"{existing_type!r}; this one is {artifact.type!r}. Use another name.")
    record = ArtifactVersion(
        name=artifact.source_name, type=artifact.type, digest=artifact.digest,
        files=list(artifact._entries.values()), project=target if project else None,
        aliases=alias_list, description=artifact.description,
        metadata=jsonvalue.dumps(artifact.metadata), step=run.step)
    run._queue.extend(("artifact", record, None))
    if offline:
        # Numbered when `runwatch sync` delivers the run: PENDING until then, as in wandb.
        return artifact
    if server is not None:
        return _bind_from_server(run, server, artifact, target)
    # Wait for the store to number the version, so .version is known on return.
    if not run.flush():
        raise UsageError(f"Artifact {artifact.source_name!r} is queued but the store did not "
                         "take it in time; it will be written, but its version is unknown.")
    from runwatch.store.artifacts import find_by_digest

    with store.read() as conn:
        stored = find_by_digest(conn, target, artifact.source_name, artifact.digest)
    if stored is None:
        raise UsageError(f"Artifact {artifact.source_name!r} was refused by the store; the "
                         "warning above says why.")
    return artifact._bind(store, stored)


def _server(run: Run) -> Any:
    """The run's server as an Api (RUNWATCH_URL), or None for a local or offline run."""
    settings = run._settings
    if settings.mode != "online" or not settings.url:
        return None
    if run._reader is None:
        from runwatch.api.remote import remote_api

        run._reader = remote_api({}, None, settings)
    return run._reader


def _server_type(server: Any, project: str, name: str) -> str | None:
    from runwatch.errors import RunNotFoundError

    try:
        return server._json(f"/projects/{_seg(project)}/artifacts/{_seg(name)}")["type"]
    except RunNotFoundError:
        return None
    except UsageError:
        return None  # the server is away: its store checks the type when the batch lands


def _seg(text: str) -> str:
    import urllib.parse

    return urllib.parse.quote(text, safe="")


def _check_sendable(run: Run, artifact: Artifact, server: Any) -> None:
    """Every file must be in this machine's blob folder (the writer uploads from there)
    or, for an artifact read from the server, on the server already."""
    from runwatch.store.blobs import LocalBlobStore

    local = LocalBlobStore(Path(run.dir) / "blobs")
    staging = artifact._staging
    for entry in artifact._entries.values():
        if entry.ref is not None or local.has(entry.sha256):
            continue
        if staging is not None and staging.has(entry.sha256):
            staging.link_into(entry.sha256, local)
            continue
        if server is not None and server.store.blobs.has(entry.sha256):
            continue
        raise UsageError(f"The content of {entry.path!r} is in no blob store this run can "
                         "send from; add the file to the artifact again.")


def _bind_from_server(run: Run, server: Any, artifact: Artifact, target: str) -> Artifact:
    """Wait (bounded) for the server to number the version; if it is away, the artifact
    stays PENDING (``artifact.wait()`` asks again) and training goes on."""
    name, digest = artifact.source_name, artifact.digest

    def resolve(timeout: float | None) -> bool:
        if not run._writer.flush(run._settings.finish_timeout if timeout is None else timeout):
            return False
        try:
            found = server.find_version(target, name, digest)
        except UsageError:
            return False
        if found is None:
            raise UsageError(f"Artifact {name!r} was refused by the server; the warning "
                             "above says why.")
        artifact._bind(found._store, found._record)
        return True

    if not resolve(min(run._settings.finish_timeout, 15.0)):
        run._warner.warn("artifact-pending", f"runwatch: the server has not taken artifact "
                         f"{name!r} yet; it is queued (nothing is lost) and its version is "
                         "unknown until then. artifact.wait() asks again.", background=True)
        artifact._pending = resolve
    return artifact


def use_artifact(run: Run, artifact_or_name: Any, type: str | None = None,  # noqa: A002
                 aliases: Any = None, use_as: str | None = None) -> Artifact:
    from runwatch.store.artifacts import get_version, parse_ref

    if isinstance(artifact_or_name, Artifact):
        if not artifact_or_name.logged:
            run.log_artifact(artifact_or_name)
        artifact_or_name = f"{artifact_or_name.project}/{artifact_or_name.name}"
    if not isinstance(artifact_or_name, str):
        raise UsageError(f"use_artifact takes a name such as 'dataset:latest' or an Artifact, "
                         f"got {artifact_or_name!r}.")
    project, _, ref = artifact_or_name.rpartition("/")
    project = project.rpartition("/")[2] or run.project
    name, alias = parse_ref(ref)
    check_name(name)
    if run._settings.mode == "offline":
        raise UsageError(f"use_artifact({artifact_or_name!r}): an offline run reads no store "
                         "or server. Download the artifact before going offline, or log "
                         "online.")
    server = _server(run)
    if server is not None:
        run.flush(min(run._settings.finish_timeout, 15.0))
        found = server.artifact_version(project, name, alias)
        store, record = found._store, found._record
    else:
        run.flush()  # a table this run logged a moment ago is usable at once
        store = run._open_reader()
        with store.read() as conn:
            record = get_version(conn, project, name, alias)
    if type is not None and record.type != type:
        raise UsageError(f"Artifact {artifact_or_name!r} is of type {record.type!r}, "
                         f"not {type!r}.")
    run._queue.extend(("use", ArtifactUse(project=project, name=name, version=record.version,
                                          at=time.time()), None))
    if server is None:
        run.flush()  # so lineage reads (artifact.used_by()) see this use at once
    return Artifact._from_record(store, record)


def log_model(run: Run, path: str | os.PathLike[str], name: str | None = None,
              aliases: Any = None) -> Artifact:
    source = Path(path)
    if not source.exists():
        raise UsageError(f"log_model: {str(path)!r} does not exist.")
    # An explicit name must be valid (an error naming it); the default is made valid.
    art_name = check_name(name) if name is not None else _safe_name(f"run-{run.id}-{source.name}")
    artifact = Artifact(art_name, "model")
    if source.is_dir():
        artifact.add_dir(source)
    else:
        artifact.add_file(source)
    return log_artifact(run, artifact, aliases=aliases)


def _safe_name(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)


def use_model(run: Run, name: str, root: str | os.PathLike[str] | None = None) -> str:
    """Download a model artifact; returns the file itself when the model is one file."""
    artifact = use_artifact(run, name)
    if "model" not in artifact.type:
        raise UsageError(f"use_model: {artifact.qualified_name} is of type {artifact.type!r}; "
                         "use_model takes artifacts whose type contains 'model'.")
    folder = Path(artifact.download(root))  # default ./artifacts/<name>:<version>, as wandb
    files = artifact.files()
    if len(files) == 1:
        return str(folder / files[0].path)
    return str(folder)


def link_model(run: Run, path: str | os.PathLike[str], registered_model_name: str,
               name: str | None = None, aliases: Any = None) -> Artifact:
    """Log the model, then register it as a version of ``registered_model_name`` in the
    ``model-registry`` project (same files, stored once)."""
    check_name(registered_model_name)  # before anything is stored
    model = log_model(run, path, name=name)
    linked = Artifact(registered_model_name, "model",
                      description=f"linked from {model.qualified_name}")
    linked._entries = dict(model._entries)
    linked._store = model._store
    return log_artifact(run, linked, aliases=aliases, project=REGISTRY_PROJECT)
