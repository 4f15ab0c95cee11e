"""Read queries over the store: projects, runs, keys and series, as plain records.

Every reader (``runwatch.Api``, later the server) goes through these functions;
none of them writes. A run stored as ``running`` whose process is gone reads as
``crashed`` (see :func:`effective_state`).
"""

from __future__ import annotations

import datetime as dt
import functools
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
from runwatch.store.schema import alerts, history_values, metric_chunks, metric_keys, projects, runs

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
    """A run as stored. Its JSON columns stay text until read: listing a thousand runs
    for a table that shows a few of their values should not parse them all."""

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
    tags_json: str
    config_json: str
    summary_json: str
    metrics_json: str
    metadata_json: str
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

    @functools.cached_property
    def tags(self) -> list[str]:
        return jsonvalue.loads(self.tags_json)

    @functools.cached_property
    def config(self) -> dict[str, Any]:
        return jsonvalue.loads(self.config_json)

    @functools.cached_property
    def summary(self) -> dict[str, Any]:
        return jsonvalue.loads(self.summary_json)

    @functools.cached_property
    def metrics(self) -> list[dict[str, Any]]:
        return jsonvalue.loads(self.metrics_json)

    @functools.cached_property
    def metadata(self) -> dict[str, Any]:
        return jsonvalue.loads(self.metadata_json)


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
        tags_json=r.tags, config_json=r.config, summary_json=r.summary,
        metrics_json=r.metrics, metadata_json=r.meta, host=r.host, pid=r.pid, created_at=r.created_at,
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


@dataclass
class ProjectKey:
    """A metric key as the workspace charts it: how many runs log it, and its define_metric."""

    key: str
    runs: int
    points: int
    values: int
    hidden: bool
    step_metric: str | None


def metric_def(key: str, defs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The ``define_metric`` that applies to ``key``: its exact name, else the longest
    trailing-``*`` glob that matches (wandb's precedence)."""
    exact = defs.get(key)
    if exact is not None:
        return exact
    best: dict[str, Any] | None = None
    best_len = -1
    for name, d in defs.items():
        if name.endswith("*") and key.startswith(name[:-1]) and len(name) > best_len:
            best, best_len = d, len(name)
    return best


def project_keys(conn: Connection, project: str,
                 run_ids: list[str] | None = None) -> list[ProjectKey]:
    """Every key logged in ``project`` (or by ``run_ids`` of it), in first-logged order."""
    where = [projects.c.name == project]
    if run_ids is not None:
        where.append(runs.c.run_id.in_(run_ids))
    rows = conn.execute(
        sa.select(metric_keys.c.key, sa.func.count().label("runs"),
                  sa.func.sum(metric_keys.c.points).label("points"),
                  sa.func.sum(metric_keys.c.values_count).label("nvalues"),
                  sa.func.min(metric_keys.c.id).label("first"))
        .join(runs, runs.c.pk == metric_keys.c.run_pk)
        .join(projects, projects.c.id == runs.c.project_id)
        .where(*where).group_by(metric_keys.c.key).order_by(sa.text("first"))
    ).all()
    # The latest run's define_metric wins where runs disagree.
    defs: dict[str, dict[str, Any]] = {}
    for (text,) in conn.execute(
        sa.select(runs.c.metrics).join(projects, projects.c.id == runs.c.project_id)
        .where(*where, runs.c.metrics != "[]").order_by(runs.c.created_at, runs.c.pk)
    ):
        for d in jsonvalue.loads(text):
            if isinstance(d, dict) and isinstance(d.get("name"), str):
                defs[d["name"]] = d
    out = []
    for r in rows:
        d = metric_def(r.key, defs) or {}
        step_metric = d.get("step_metric")
        out.append(ProjectKey(key=r.key, runs=int(r.runs), points=int(r.points or 0),
                              values=int(r.nvalues or 0),
                              hidden=bool(d.get("hidden")),
                              step_metric=step_metric if isinstance(step_metric, str) else None))
    return out


def runs_by_ids(conn: Connection, project: str, run_ids: list[str],
                heartbeat_timeout: float = 120.0) -> list[RunRecord]:
    """The runs of ``project`` among ``run_ids`` (unknown ids are left out)."""
    out: list[RunRecord] = []
    now = time.time()
    for i in range(0, len(run_ids), 500):
        rows = conn.execute(
            sa.select(*_RUN_COLUMNS).join(projects, projects.c.id == runs.c.project_id)
            .where(projects.c.name == project, runs.c.run_id.in_(run_ids[i:i + 500]))
        )
        out.extend(_run_record(r, heartbeat_timeout, now) for r in rows)
    return out


@dataclass
class RunKeys:
    run_id: str
    created_at: float
    key_ids: dict[str, int]  # key -> metric_keys.id, for the asked keys the run has


def key_ids(conn: Connection, project: str, run_ids: list[str],
            keys: list[str]) -> dict[str, RunKeys]:
    """For each known run of ``run_ids``: its start time and the ids of ``keys`` it logged."""
    found: dict[str, RunKeys] = {}
    for i in range(0, len(run_ids), 500):
        part = run_ids[i:i + 500]
        for r in conn.execute(
            sa.select(runs.c.run_id, runs.c.created_at)
            .join(projects, projects.c.id == runs.c.project_id)
            .where(projects.c.name == project, runs.c.run_id.in_(part))
        ):
            found[r.run_id] = RunKeys(r.run_id, r.created_at, {})
        for r in conn.execute(
            sa.select(runs.c.run_id, metric_keys.c.key, metric_keys.c.id)
            .join(runs, runs.c.pk == metric_keys.c.run_pk)
            .join(projects, projects.c.id == runs.c.project_id)
            .where(projects.c.name == project, runs.c.run_id.in_(part),
                   metric_keys.c.key.in_(keys))
        ):
            found[r.run_id].key_ids[r.key] = r.id
    return found


@dataclass
class RunPulse:
    """What the live view watches: a run changed when its seq or its state did."""

    pk: int
    run_id: str
    last_seq: int
    state: str


def run_pulses(conn: Connection, project: str, heartbeat_timeout: float = 120.0) -> list[RunPulse]:
    now = time.time()
    rows = conn.execute(
        sa.select(runs.c.pk, runs.c.run_id, runs.c.last_seq, runs.c.state, runs.c.host,
                  runs.c.pid, runs.c.created_at, runs.c.heartbeat_at)
        .join(projects, projects.c.id == runs.c.project_id).where(projects.c.name == project)
    )
    return [RunPulse(r.pk, r.run_id, r.last_seq,
                     effective_state(r.state, r.host, r.pid, r.created_at, r.heartbeat_at,
                                     heartbeat_timeout, now)) for r in rows]


def value_steps(conn: Connection, key_id: int) -> list[int]:
    """Steps at which a key holds a non-numeric value (media, tables, charts), in order."""
    return [r[0] for r in conn.execute(
        sa.select(history_values.c.step).where(history_values.c.key_id == key_id)
        .order_by(history_values.c.step))]


def value_at(conn: Connection, key_id: int, step: int | None) -> tuple[int, str] | None:
    """(step, JSON text) of a key's non-numeric value at the last step ``<= step``
    (the latest when ``step`` is None)."""
    q = sa.select(history_values.c.step, history_values.c.value).where(
        history_values.c.key_id == key_id)
    if step is not None:
        q = q.where(history_values.c.step <= step)
    r = conn.execute(q.order_by(history_values.c.step.desc()).limit(1)).first()
    return None if r is None else (int(r.step), r.value)


def value_texts(conn: Connection, key_id: int) -> list[tuple[int, str]]:
    """(step, JSON text) of every non-numeric value of a key, in step order."""
    return [(int(r.step), r.value) for r in conn.execute(
        sa.select(history_values.c.step, history_values.c.value)
        .where(history_values.c.key_id == key_id).order_by(history_values.c.step))]


def list_alerts(conn: Connection, project: str, run_id: str | None = None,
                limit: int = 1000) -> list[dict[str, Any]]:
    """A project's (or one run's) alerts, newest first."""
    q = (sa.select(alerts.c.at, alerts.c.level, alerts.c.title, alerts.c.text, alerts.c.key,
                   alerts.c.step, runs.c.run_id, runs.c.name)
         .join(runs, runs.c.pk == alerts.c.run_pk)
         .join(projects, projects.c.id == runs.c.project_id).where(projects.c.name == project))
    if run_id is not None:
        q = q.where(runs.c.run_id == run_id)
    return [{"at": r.at, "level": r.level, "title": r.title, "text": r.text, "key": r.key,
             "step": r.step, "run": {"id": r.run_id, "name": r.name}}
            for r in conn.execute(q.order_by(alerts.c.at.desc(), alerts.c.id.desc()).limit(limit))]
