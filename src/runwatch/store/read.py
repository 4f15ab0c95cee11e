"""Read queries over the store: projects, runs, keys and series, as plain records.

Every reader (``runwatch.Api``, later the server) goes through these functions;
none of them writes. A run stored as ``running`` whose process is gone reads as
``crashed`` (see :func:`effective_state`).
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runwatch import jsonvalue
from runwatch.records import CRASHED, RUNNING
from runwatch.store import chunks
from runwatch.store.schema import history_values, metric_chunks, metric_keys, projects, runs

_HOST = socket.gethostname()


def effective_state(state: str, host: str, pid: int, created_at: float, heartbeat_at: float,
                    heartbeat_timeout: float, now: float | None = None) -> str:
    """``running`` unless the process is known dead: a dead (or reused) pid on this host,
    else a heartbeat older than ``heartbeat_timeout`` seconds."""
    if state != RUNNING:
        return state
    if host == _HOST and pid > 0:
        import psutil

        try:
            proc = psutil.Process(pid)
            started = proc.create_time()
            if proc.status() == psutil.STATUS_ZOMBIE:  # dead, just not reaped by its parent
                return CRASHED
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return CRASHED
        except psutil.Error:
            started = None
        # A pid reused by a process born after the run started is not the run's process.
        if started is not None and started > created_at + 1.0 and started > heartbeat_at:
            return CRASHED
        return RUNNING
    now = time.time() if now is None else now
    if now - heartbeat_at > heartbeat_timeout:
        return CRASHED
    return RUNNING


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ProjectRecord:
    name: str
    entity: str | None
    created_at: float
    run_count: int
    running_count: int
    last_activity: float | None


@dataclass
class RunRecord:
    pk: int
    project: str
    entity: str | None
    id: str
    name: str
    state: str
    stored_state: str
    notes: str | None
    group: str | None
    job_type: str | None
    tags: list[str]
    config: dict[str, Any]
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]
    metadata: dict[str, Any]
    host: str
    pid: int
    created_at: float
    updated_at: float
    heartbeat_at: float
    finished_at: float | None
    exit_code: int | None
    traceback: str | None
    last_step: int | None
    last_seq: int = field(default=-1)


@dataclass
class KeyInfo:
    id: int
    key: str
    points: int
    values_count: int
    last_step: int | None


_RUN_COLUMNS = (runs, projects.c.name.label("project_name"), projects.c.entity)


def _run_record(r: Any, heartbeat_timeout: float, now: float) -> RunRecord:
    return RunRecord(
        pk=r.pk, project=r.project_name, entity=r.entity, id=r.run_id, name=r.name,
        state=effective_state(r.state, r.host, r.pid, r.created_at, r.heartbeat_at,
                              heartbeat_timeout, now),
        stored_state=r.state, notes=r.notes, group=r.run_group, job_type=r.job_type,
        tags=jsonvalue.loads(r.tags), config=jsonvalue.loads(r.config),
        summary=jsonvalue.loads(r.summary), metrics=jsonvalue.loads(r.metrics),
        metadata=jsonvalue.loads(r.meta), host=r.host, pid=r.pid, created_at=r.created_at,
        updated_at=r.updated_at, heartbeat_at=r.heartbeat_at, finished_at=r.finished_at,
        exit_code=r.exit_code, traceback=r.traceback, last_step=r.last_step,
        last_seq=r.last_seq,
    )


def list_projects(conn: Connection, heartbeat_timeout: float = 120.0) -> list[ProjectRecord]:
    counts = (
        sa.select(runs.c.project_id, sa.func.count().label("n"),
                  sa.func.max(runs.c.updated_at).label("last"))
        .group_by(runs.c.project_id).subquery()
    )
    rows = conn.execute(
        sa.select(projects, counts.c.n, counts.c.last)
        .outerjoin(counts, counts.c.project_id == projects.c.id)
        .order_by(projects.c.name)
    ).all()
    running: dict[int, int] = {}
    now = time.time()
    live = conn.execute(
        sa.select(runs.c.project_id, runs.c.state, runs.c.host, runs.c.pid, runs.c.created_at,
                  runs.c.heartbeat_at).where(runs.c.state == RUNNING)
    )
    for r in live:
        if effective_state(r.state, r.host, r.pid, r.created_at, r.heartbeat_at,
                           heartbeat_timeout, now) == RUNNING:
            running[r.project_id] = running.get(r.project_id, 0) + 1
    return [
        ProjectRecord(name=r.name, entity=r.entity, created_at=r.created_at,
                      run_count=int(r.n or 0), running_count=running.get(r.id, 0),
                      last_activity=r.last)
        for r in rows
    ]


def list_runs(conn: Connection, project: str, heartbeat_timeout: float = 120.0) -> list[RunRecord]:
    rows = conn.execute(
        sa.select(*_RUN_COLUMNS)
        .join(projects, projects.c.id == runs.c.project_id)
        .where(projects.c.name == project)
        .order_by(runs.c.created_at, runs.c.pk)
    )
    now = time.time()
    return [_run_record(r, heartbeat_timeout, now) for r in rows]


def get_run(conn: Connection, project: str, run_id: str,
            heartbeat_timeout: float = 120.0) -> RunRecord | None:
    r = conn.execute(
        sa.select(*_RUN_COLUMNS)
        .join(projects, projects.c.id == runs.c.project_id)
        .where(projects.c.name == project, runs.c.run_id == run_id)
    ).first()
    return None if r is None else _run_record(r, heartbeat_timeout, time.time())


def project_exists(conn: Connection, project: str) -> bool:
    return conn.execute(sa.select(projects.c.id).where(projects.c.name == project)).first() is not None


def run_keys(conn: Connection, run_pk: int) -> dict[str, KeyInfo]:
    rows = conn.execute(
        sa.select(metric_keys.c.id, metric_keys.c.key, metric_keys.c.points,
                  metric_keys.c.values_count, metric_keys.c.last_step)
        .where(metric_keys.c.run_pk == run_pk).order_by(metric_keys.c.id)
    )
    return {r.key: KeyInfo(r.id, r.key, r.points, r.values_count, r.last_step) for r in rows}


def chunk_bounds(conn: Connection, key_ids: list[int]) -> list[tuple[int, int, int, int]]:
    """(key_id, step_min, step_max, n) of every chunk of ``key_ids``."""
    if not key_ids:
        return []
    rows = conn.execute(
        sa.select(metric_chunks.c.key_id, metric_chunks.c.step_min, metric_chunks.c.step_max,
                  metric_chunks.c.n).where(metric_chunks.c.key_id.in_(key_ids))
    )
    return [tuple(r) for r in rows]


_EMPTY = chunks.Columns(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64))


def load_series(conn: Connection, key_id: int, min_step: int | None = None,
                max_step: int | None = None) -> chunks.Columns:
    """Numeric points of one key with ``min_step <= step <= max_step``, in step order."""
    q = sa.select(metric_chunks.c.codec, metric_chunks.c.steps, metric_chunks.c.times,
                  metric_chunks.c.vals).where(metric_chunks.c.key_id == key_id)
    if min_step is not None:
        q = q.where(metric_chunks.c.step_max >= min_step)
    if max_step is not None:
        q = q.where(metric_chunks.c.step_min <= max_step)
    parts = [chunks.unpack(r.codec, r.steps, r.times, r.vals)
             for r in conn.execute(q.order_by(metric_chunks.c.chunk_no))]
    if not parts:
        return _EMPTY
    cols = chunks.Columns.concat(parts)
    if min_step is not None or max_step is not None:
        lo = 0 if min_step is None else int(np.searchsorted(cols.steps, min_step, "left"))
        hi = len(cols) if max_step is None else int(np.searchsorted(cols.steps, max_step, "right"))
        cols = cols.slice(lo, hi)
    return cols


def load_values(conn: Connection, key_id: int, min_step: int | None = None,
                max_step: int | None = None) -> tuple[list[int], list[float], list[Any]]:
    """Non-numeric points of one key, decoded, in step order."""
    q = sa.select(history_values.c.step, history_values.c.time, history_values.c.value).where(
        history_values.c.key_id == key_id)
    if min_step is not None:
        q = q.where(history_values.c.step >= min_step)
    if max_step is not None:
        q = q.where(history_values.c.step <= max_step)
    steps: list[int] = []
    times: list[float] = []
    values: list[Any] = []
    for r in conn.execute(q.order_by(history_values.c.step)):
        steps.append(r.step)
        times.append(r.time)
        values.append(jsonvalue.loads(r.value))
    return steps, times, values
