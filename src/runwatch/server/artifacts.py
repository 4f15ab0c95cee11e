"""Artifacts: a project's artifacts by type, an artifact's versions, one version with its
files, and the lineage graph of runs and versions around a run or a version.

Files download through ``/api/v1/blobs/{sha256}?name=...``; a reference's content
stays where it is, so it has no blob (``"sha256": null``, its URI in ``"ref"``).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Query
from sqlalchemy.engine import Connection

from runwatch.server import models
from runwatch.server.encoding import FastJSON
from runwatch.server.errors import ApiError, not_found
from runwatch.server.state import AppState, app_state
from runwatch.store import artifacts as store
from runwatch.store import read

router = APIRouter(tags=["artifacts"])

_HINT = "GET /api/v1/projects lists the projects."
MAX_DEPTH = 5
MAX_NODES = 500
_decode_object = msgspec.json.Decoder(dict[str, Any]).decode


def _check_project(conn: Connection, project: str) -> None:
    if not read.project_exists(conn, project):
        raise not_found("project", project, _HINT)


def _version_id(conn: Connection, project: str, name: str, version: str) -> int:
    """The id of ``name``'s version ``version`` (``vN`` or an alias); 404s naming what
    exists when there is no such project, artifact or version."""
    _check_project(conn, project)
    found = store.resolve(conn, project, name, version)
    if found is not None:
        return found
    if store.artifact_type(conn, project, name) is None:
        raise not_found("artifact", name, f"GET /api/v1/projects/{project}/artifacts lists "
                                          f"the artifacts of {project!r}.")
    versions = store.version_infos(conn, project, name)
    known = [f"v{v.version}" for v in reversed(versions)]
    aliases = sorted({a for v in versions for a in v.aliases})
    raise ApiError(404, f"Artifact {name!r} has no version or alias {version!r}; its versions "
                        f"are {_some(known)} and its aliases {_some(aliases)}. "
                        f"GET /api/v1/projects/{project}/artifacts/{name} lists them.")


def _some(items: list[str], most: int = 20) -> str:
    if not items:
        return "none"
    shown = ", ".join(items[:most])
    return shown if len(items) <= most else f"{shown} and {len(items) - most} more"


def _run_ref(r: store.RunRef) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "project": r.project}


def _version(v: store.VersionInfo) -> dict[str, Any]:
    return {"version": f"v{v.version}", "index": v.version, "aliases": v.aliases,
            "digest": v.digest, "size": v.size, "file_count": v.file_count,
            "created_at": v.created_at, "step": v.step,
            # The stored JSON goes out as it is (NaN and ±Inf already tagged).
            "metadata": msgspec.Raw(v.metadata_json.encode()), "description": v.description,
            "logged_by": None if v.logged_by is None else _run_ref(v.logged_by),
            "used_by": [_run_ref(r) for r in v.used_by]}


def _media(text: str | None) -> tuple[str | None, str | None]:
    """The kind of a logged object (``table``, ``image``...) from its stored description,
    and for a table (or a chart's table) the sha256 of its columnar file."""
    if text is None:
        return None, None
    try:
        meta = _decode_object(text)
    except msgspec.DecodeError:
        return None, None
    kind = meta.get("_type")
    table = meta.get("table") if kind == "chart" else meta if kind == "table" else None
    sha = table.get("sha256") if isinstance(table, dict) else None
    return (kind if isinstance(kind, str) else None), (sha if isinstance(sha, str) else None)


def _file(f: Any) -> dict[str, Any]:
    kind, table = _media(f.media)
    return {"path": f.path, "sha256": f.sha256 or None, "size": f.size, "ref": f.ref,
            "checksum": f.checksum, "media": kind, "table_sha256": table,
            # The logged object's description as stored, for clients that rebuild it.
            "meta": msgspec.Raw(f.media.encode()) if kind is not None else None}


@router.get("/projects/{project}/artifacts", response_class=FastJSON,
            responses={200: {"model": models.ArtifactList}, 404: {"model": models.Error}},
            summary="Every artifact of a project, grouped by type")
def list_artifacts(project: str, state: AppState = Depends(app_state)) -> FastJSON:
    with state.store.read() as conn:
        _check_project(conn, project)
        found = store.summaries(conn, project)
    types: dict[str, list[dict[str, Any]]] = {}
    for a in found:
        types.setdefault(a.type, []).append({
            "name": a.name, "versions": a.versions, "latest": f"v{a.latest}",
            "aliases": a.aliases, "updated_at": a.updated_at, "size": a.size,
            "description": a.description})
    return FastJSON({"project": project,
                     "types": [{"type": t, "artifacts": sorted(arts, key=lambda a: a["name"])}
                               for t, arts in sorted(types.items())]})


@router.get("/projects/{project}/artifacts/{name}", response_class=FastJSON,
            responses={200: {"model": models.ArtifactDetail}, 404: {"model": models.Error}},
            summary="An artifact with every version, newest first")
def get_artifact(project: str, name: str, state: AppState = Depends(app_state)) -> FastJSON:
    with state.store.read() as conn:
        _check_project(conn, project)
        versions = store.version_infos(conn, project, name)
    if not versions:
        raise not_found("artifact", name, f"GET /api/v1/projects/{project}/artifacts lists "
                                          f"the artifacts of {project!r}.")
    head = next((v for v in versions if "latest" in v.aliases), versions[0])
    return FastJSON({"project": project, "name": head.name, "type": head.type,
                     "description": head.description,
                     "versions": [_version(v) for v in versions]})


@router.get("/projects/{project}/artifacts/{name}/{version}", response_class=FastJSON,
            responses={200: {"model": models.ArtifactVersionDetail},
                       404: {"model": models.Error}},
            summary="One version of an artifact (vN or an alias such as latest), with its "
                    "files")
def get_artifact_version(project: str, name: str, version: str,
                         state: AppState = Depends(app_state)) -> FastJSON:
    with state.store.read() as conn:
        version_id = _version_id(conn, project, name, version)
        (info,) = store.version_infos(conn, project, name, version_id)
        files = store.files_of(conn, version_id)
    return FastJSON({"project": project, "name": info.name, "type": info.type,
                     **_version(info), "files": [_file(f) for f in files]})


@router.get("/projects/{project}/lineage", response_class=FastJSON,
            responses={200: {"model": models.Lineage}, 404: {"model": models.Error},
                       422: {"model": models.Error}},
            summary="The runs and artifact versions around a run or a version")
def lineage(project: str,
            artifact: str | None = Query(None, min_length=1, max_length=300,
                                         description="name:version (vN or an alias; "
                                                     "latest when left out)."),
            run: str | None = Query(None, min_length=1, max_length=64, description="A run id."),
            depth: int = Query(2, ge=1, le=MAX_DEPTH, description="Hops from the node."),
            state: AppState = Depends(app_state)) -> FastJSON:
    if (artifact is None) == (run is None):
        raise ApiError(422, "Give one of 'artifact' (name:version) or 'run' (a run id), "
                            f"not {'both' if artifact else 'neither'}.", "invalid_parameter")
    with state.store.read() as conn:
        if run is not None:
            r = read.get_run(conn, project, run)
            if r is None:
                _check_project(conn, project)
                raise not_found("run", run, f"GET /api/v1/projects/{project}/runs lists the "
                                            f"runs of {project!r}.")
            root = ("run", r.pk)
        else:
            name, ref = store.parse_ref(artifact or "")
            root = ("artifact", _version_id(conn, project, name, ref))
        graph = _walk(conn, root, depth)
        body = _graph(conn, project, root, graph, depth, state.settings.heartbeat_timeout)
    return FastJSON(body)


Node = tuple[str, int]  # ("run", run pk) or ("artifact", version id)


def _walk(conn: Connection, root: Node, depth: int
          ) -> tuple[list[Node], list[tuple[str, int, int]], bool]:
    """Breadth first from ``root``: the nodes in the order found (at most MAX_NODES),
    the edges between them, and whether nodes were left out."""
    seen = {root}
    order, edges, frontier, truncated = [root], [], [root], False
    for _ in range(depth):
        if not frontier:
            break
        found = store.lineage_edges(conn, [pk for kind, pk in frontier if kind == "run"],
                                    [i for kind, i in frontier if kind == "artifact"])
        frontier = []
        for kind, version_id, run_pk in found:
            ends = (("artifact", version_id), ("run", run_pk))
            for node in ends:
                if node in seen:
                    continue
                if len(seen) >= MAX_NODES:
                    truncated = True
                    continue
                seen.add(node)
                order.append(node)
                frontier.append(node)
            if all(n in seen for n in ends):
                edges.append((kind, version_id, run_pk))
    # The graph is bipartite, so an edge is found from either end: keep each once.
    return order, sorted(set(edges)), truncated


def _graph(conn: Connection, project: str, root: Node,
           graph: tuple[list[Node], list[tuple[str, int, int]], bool], depth: int,
           heartbeat_timeout: float) -> dict[str, Any]:
    order, edges, truncated = graph
    runs = store.run_refs(conn, [pk for kind, pk in order if kind == "run"])
    versions = store.version_refs(conn, [i for kind, i in order if kind == "artifact"])
    now = time.time()

    def here(other: str) -> str:
        # Nodes of another project (a model registry link, a cross-project use) say so.
        return "" if other == project else f"{other}/"

    ids: dict[Node, str] = {}
    nodes = []
    for kind, key in order:
        if kind == "run":
            r = runs[key]
            ids[(kind, key)] = f"run:{here(r.project)}{r.id}"
            nodes.append({"id": ids[(kind, key)], "kind": "run", "label": r.name,
                          "project": r.project, "run_id": r.id,
                          "state": read.effective_state(r.state, r.host, r.pid, r.created_at,
                                                        r.heartbeat_at, heartbeat_timeout, now)})
        else:
            v = versions[key]
            ids[(kind, key)] = f"artifact:{here(v.project)}{v.name}:v{v.version}"
            nodes.append({"id": ids[(kind, key)], "kind": "artifact",
                          "label": f"{v.name}:v{v.version}", "project": v.project,
                          "name": v.name, "version": f"v{v.version}", "type": v.type})
    out_edges = []
    for kind, version_id, run_pk in edges:
        art, run = ids[("artifact", version_id)], ids[("run", run_pk)]
        out_edges.append({"from": run, "to": art, "kind": kind} if kind == "logged"
                         else {"from": art, "to": run, "kind": kind})
    return {"project": project, "root": ids[root], "depth": depth, "nodes": nodes,
            "edges": out_edges, "truncated": truncated}
