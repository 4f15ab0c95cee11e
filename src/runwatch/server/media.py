"""Logged objects: which steps hold a key's images (or tables, charts, histograms), the
object at a step, and a page of a logged table, read from its columnar file."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Query

from runwatch import jsonvalue
from runwatch.server.encoding import FastJSON
from runwatch.server.errors import ApiError, not_found
from runwatch.server.runs import split_ids
from runwatch.server.state import AppState, app_state
from runwatch.store import read

router = APIRouter(tags=["media"])

_HINT = "GET /api/v1/projects lists the projects."
MAX_PAGE = 1000


@router.get("/projects/{project}/media/steps", response_class=FastJSON,
            summary="The steps at which each run logged an object under a key")
def media_steps(project: str, key: str = Query(..., min_length=1, max_length=512),
                runs: str = Query(..., min_length=1, description="Comma-separated run ids."),
                state: AppState = Depends(app_state)) -> FastJSON:
    ids = split_ids(runs) or []
    out: list[dict[str, Any]] = []
    with state.store.read() as conn:
        if not read.project_exists(conn, project):
            raise not_found("project", project, _HINT)
        found = read.key_ids(conn, project, ids, [key])
        for run_id in ids:
            rk = found.get(run_id)
            if rk is None:
                continue
            key_id = rk.key_ids.get(key)
            out.append({"id": run_id,
                        "steps": [] if key_id is None else read.value_steps(conn, key_id)})
    return FastJSON({"key": key, "runs": out, "missing": [i for i in ids if i not in found]})


def _key_id(conn: Any, project: str, run_id: str, key: str) -> int | None:
    """The id of ``key`` in the run (None if it never logged it); 404 for an unknown
    project or run."""
    rk = read.key_ids(conn, project, [run_id], [key]).get(run_id)
    if rk is None:
        if not read.project_exists(conn, project):
            raise not_found("project", project, _HINT)
        raise not_found("run", run_id, f"GET /api/v1/projects/{project}/runs lists them.")
    return rk.key_ids.get(key)


def _value(state: AppState, project: str, run_id: str, key: str,
           step: int | None) -> tuple[int, str]:
    with state.store.read() as conn:
        key_id = _key_id(conn, project, run_id, key)
        got = None if key_id is None else read.value_at(conn, key_id, step)
    if got is None:
        where = "" if step is None else f" at or before step {step}"
        raise ApiError(404, f"Run {run_id!r} logged no object under {key!r}{where}. "
                            f"GET /api/v1/projects/{project}/media/steps?key=...&runs={run_id} "
                            "lists its steps.")
    return got


@router.get("/projects/{project}/runs/{run_id}/media", response_class=FastJSON,
            summary="The object a run logged under a key at a step (the last one at or "
                    "before it; the latest without a step)")
def media_value(project: str, run_id: str, key: str = Query(..., min_length=1, max_length=512),
                step: int | None = Query(None, ge=0, le=2**62),
                state: AppState = Depends(app_state)) -> FastJSON:
    at, text = _value(state, project, run_id, key, step)
    return FastJSON({"key": key, "step": at, "value": msgspec.Raw(text.encode())})


def _page(tf: Any, offset: int, limit: int, sort: str | None, desc: bool,
          filter_: str | None) -> dict[str, Any]:
    """One page of an open table file, filtered then sorted; only the page is decoded
    (a filter reads the columns it names)."""
    from runwatch.data import tablefilter

    if sort is not None and sort not in tf.columns:
        raise ApiError(422, f"No column {sort!r} to sort by; the columns are "
                            f"{list(tf.columns)}.", "invalid_parameter")
    try:
        if filter_:
            keep = tablefilter.mask(tf, filter_)
            order = tf.order(sort, desc)
            chosen = order[keep[order]]
            rows = tf.take(chosen[offset:offset + limit])
            matched = len(chosen)
        else:
            rows = tf.page(offset=offset, limit=limit, sort=sort, descending=desc)
            matched = tf.nrows
    except ValueError as exc:
        raise ApiError(422, str(exc), "invalid_parameter") from None
    return {"columns": list(tf.columns), "kinds": list(tf.kinds), "nrows": tf.nrows,
            "matched": matched, "offset": offset, "sort": sort, "desc": desc,
            "filter": filter_ or None, "rows": jsonvalue.to_jsonable(rows)}


FILTER = Query(None, max_length=2000, description="Rows to keep, e.g. 'score>0.5 label=cat' "
                                                  "(every term must hold; see docs/dashboard.md).")


@router.get("/projects/{project}/runs/{run_id}/table", response_class=FastJSON,
            summary="A page of a logged table (or a chart's table), sorted by any column")
def table_page(project: str, run_id: str, key: str = Query(..., min_length=1, max_length=512),
               step: int | None = Query(None, ge=0, le=2**62),
               offset: int = Query(0, ge=0), limit: int = Query(100, ge=0, le=MAX_PAGE),
               sort: str | None = Query(None, max_length=512,
                                        description="A column name; nulls sort last."),
               desc: bool = Query(False), filter: str | None = FILTER,
               state: AppState = Depends(app_state)) -> FastJSON:
    at, text = _value(state, project, run_id, key, step)
    meta = jsonvalue.loads(text)
    if isinstance(meta, dict) and meta.get("_type") == "chart":
        meta = meta.get("table")
    if not isinstance(meta, dict) or meta.get("_type") != "table":
        kind = meta.get("_type") if isinstance(meta, dict) else type(meta).__name__
        raise ApiError(422, f"{key!r} of run {run_id!r} at step {at} is a {kind!r}, not a "
                            "table.", "not_a_table")
    from runwatch.data.tablefile import TableFile
    from runwatch.server.blobs import blob_file

    if state.store.blobs is None:
        raise ApiError(503, "This store has no blob store, so its tables cannot be read.")
    tf = TableFile(blob_file(state, meta["sha256"]))
    try:
        body = {"key": key, "step": at, **_page(tf, offset, limit, sort, desc, filter)}
    finally:
        tf.close()
    return FastJSON(body)


@router.get("/projects/{project}/runs/{run_id}/values", response_class=FastJSON,
            summary="A key's objects over its steps (histograms over time), evenly sampled")
def media_values(project: str, run_id: str, key: str = Query(..., min_length=1, max_length=512),
                 limit: int = Query(500, ge=1, le=5000,
                                    description="At most this many steps, first and last kept."),
                 state: AppState = Depends(app_state)) -> FastJSON:
    with state.store.read() as conn:
        key_id = _key_id(conn, project, run_id, key)
        rows = [] if key_id is None else read.value_texts(conn, key_id)
    total = len(rows)
    if total > limit:
        picks = sorted({round(i * (total - 1) / (limit - 1)) for i in range(limit)})
        rows = [rows[i] for i in picks]
    return FastJSON({"key": key, "total": total,
                     "values": [{"step": s, "value": msgspec.Raw(t.encode())} for s, t in rows]})


@router.get("/tables/{sha}", response_class=FastJSON,
            summary="A page of a stored table file by its sha256 (a table inside an artifact)")
def table_blob_page(sha: str, offset: int = Query(0, ge=0),
                    limit: int = Query(100, ge=0, le=MAX_PAGE),
                    sort: str | None = Query(None, max_length=512), desc: bool = Query(False),
                    filter: str | None = FILTER,
                    state: AppState = Depends(app_state)) -> FastJSON:
    from runwatch.data.tablefile import TableFile
    from runwatch.server.blobs import blob_file

    path = blob_file(state, sha)
    try:
        tf = TableFile(path)
    except ValueError:
        # The reason names the server's file path: keep it in the server's log only.
        raise ApiError(422, f"Blob {sha} is not a table file. An artifact's table is paged "
                            "through its table_sha256.", "not_a_table") from None
    try:
        body = {"sha256": sha, "step": None, **_page(tf, offset, limit, sort, desc, filter)}
    finally:
        tf.close()
    return FastJSON(body)
