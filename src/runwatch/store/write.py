"""``write_batch``: the only way anything enters the store.

One call applies one :class:`~runwatch.records.Batch` inside the caller's
transaction. Batches of a run are applied in ``seq`` order: a batch at or below
the run's ``last_seq`` was applied before and is skipped, so retries and
replays never duplicate a point; a batch beyond ``last_seq + 1`` means one went
missing and is refused with :class:`SeqGapError` so the sender resends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec
import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runwatch import jsonvalue
from runwatch.errors import RunIdTakenError, SeqGapError, StoreError
from runwatch.records import RUNNING, Batch, ConsoleLine, MetricDef, Series, ValueSeries
from runwatch.store import artifacts, chunks
from runwatch.store.blobs import BlobStore
from runwatch.store.engine import NUL, REPLACEMENT
from runwatch.store.schema import (
    CHUNK_POINTS,
    MAX_KEY_LENGTH,
    alerts,
    console_lines,
    history_values,
    metric_chunks,
    metric_keys,
    projects,
    runs,
)

_IN_CHUNK = 500  # bound parameters per IN (...) list


def _batched(items: list[Any], size: int = _IN_CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _project_id(conn: Connection, name: str, entity: str | None, now: float) -> int:
    found = conn.execute(sa.select(projects.c.id).where(projects.c.name == name)).scalar()
    if found is not None:
        return int(found)
    stmt = _insert(conn, projects).values(name=name, entity=entity, created_at=now)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
    return int(conn.execute(sa.select(projects.c.id).where(projects.c.name == name)).scalar_one())


def _insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def write_batch(conn: Connection, batch: Batch, blobs: BlobStore | None = None,
                problems: list[str] | None = None) -> bool:
    """Apply ``batch``; returns False when it was already applied (a no-op).

    Blobs go to ``blobs`` first (content-addressed, so a rolled-back transaction
    leaves at worst an unreferenced file, never a reference to a missing one).
    An artifact version the store must refuse (its files are not in the blob store,
    its name belongs to an artifact of another type) is skipped and described in
    ``problems``; the rest of the batch is applied, so one bad record can never block
    the run's later batches.
    """
    now = batch.sent_at
    row = _locked_run(conn, batch)
    created: tuple[int, int] | None = None
    if row is None:
        if batch.start is None:
            raise SeqGapError(
                f"Batch {batch.seq} of run {batch.project}/{batch.run_id} arrived before the run "
                "was started; resend from seq 0."
            )
        created = _create_run(conn, batch)
        if created is None:
            # Another transaction created the run meanwhile (a resend racing its original).
            row = _locked_run(conn, batch)
            if row is None:
                raise StoreError(f"Could not create run {batch.project}/{batch.run_id}.")
    if created is not None:
        run_pk, project_id = created
        last_seq = -1
    else:
        run_pk, last_seq, project_id = int(row.pk), int(row.last_seq), int(row.project_id)
        start = batch.start
        if start is not None and not start.resumed and batch.seq == 0 \
                and abs(float(row.created_at) - start.created_at) > 1e-3:
            # Not this run's first batch again: another run that took the same id (an
            # offline run synced late). Skipping it as "already applied" would lose it.
            raise RunIdTakenError(
                f"Run {batch.project}/{batch.run_id} already exists (created "
                f"{_when(float(row.created_at))}); this batch starts another run with the same "
                f"id (created {_when(start.created_at)}). Nothing of it was applied; log it "
                "under a new id, or into another store.")
        if batch.seq <= last_seq:
            return False
    if batch.seq > last_seq + 1:
        raise SeqGapError(
            f"Batch {batch.seq} of run {batch.project}/{batch.run_id} arrived but the store has "
            f"only up to {last_seq}; resend from {last_seq + 1}."
        )

    values: dict[str, Any] = {"last_seq": batch.seq, "heartbeat_at": now, "updated_at": now}
    if batch.start is not None and row is not None:
        # A resumed run comes back to life under its new process.
        start = batch.start
        values.update(state=RUNNING, host=start.host, pid=start.pid, finished_at=None,
                      exit_code=None, traceback=None)
        if start.tags:
            values["tags"] = jsonvalue.dumps(start.tags)
        for field, column in (("notes", "notes"), ("group", "run_group"), ("job_type", "job_type")):
            if getattr(start, field) is not None:
                values[column] = getattr(start, field)
    if batch.update is not None:
        upd = batch.update
        for field, column in (("name", "name"), ("notes", "notes"), ("group", "run_group"),
                              ("job_type", "job_type")):
            if getattr(upd, field) is not None:
                values[column] = getattr(upd, field)
        if upd.tags is not None:
            values["tags"] = jsonvalue.dumps(upd.tags)
        if upd.metadata:
            meta_text = conn.execute(sa.select(runs.c.meta).where(runs.c.pk == run_pk)).scalar_one()
            meta = jsonvalue.loads(meta_text) if meta_text else {}
            meta.update(upd.metadata)
            values["meta"] = jsonvalue.dumps(meta)

    if batch.config or batch.config_delete or batch.summary or batch.summary_delete or batch.metrics:
        current = conn.execute(
            sa.select(runs.c.config, runs.c.summary, runs.c.metrics).where(runs.c.pk == run_pk)
        ).one()
        if batch.config or batch.config_delete:
            values["config"] = _merge_json(current.config, batch.config, batch.config_delete)
        if batch.summary or batch.summary_delete:
            values["summary"] = _merge_json(current.summary, batch.summary, batch.summary_delete)
        if batch.metrics:
            values["metrics"] = _merge_metrics(current.metrics, batch.metrics)

    if batch.blobs:
        if blobs is None:
            raise StoreError("This store has no blob store; cannot keep images or tables.")
        for blob in batch.blobs:
            blobs.put(blob.sha256, blob.data)
    if batch.alerts:
        conn.execute(sa.insert(alerts), [
            {"run_pk": run_pk, "at": a.at, "level": a.level, "title": a.title, "text": a.text,
             "key": a.key, "step": a.step} for a in batch.alerts])
    if batch.console:
        _write_console(conn, run_pk, batch.console)
    for version in batch.artifacts:
        missing = [f.path for f in version.files
                   if f.ref is None and (blobs is None or not blobs.has(f.sha256))]
        target = project_id
        if version.project is not None and version.project != batch.project:
            target = _project_id(conn, version.project, None, now)
        problem = artifacts.too_long(version)
        if problem is None:
            problem = (f"Artifact {version.name!r} was not stored: the content of {missing[:5]} "
                       "is not in the blob store. Log it again from its files."
                       if missing else artifacts.type_conflict(conn, target, version))
        if problem is not None:
            if problems is not None:
                problems.append(problem)
            continue
        try:
            artifacts.log_version(conn, target, run_pk, version, now)
        except StoreError as exc:  # a version of another type got in first, meanwhile
            if problems is not None:
                problems.append(str(exc))
    for use in batch.uses:
        artifacts.record_use(conn, run_pk, use)

    last_step = _write_points(conn, run_pk, _storable(conn, batch.series, problems),
                              _storable(conn, batch.values, problems))
    if batch.system:
        # Its steps are not the run's.
        _write_points(conn, run_pk, _storable(conn, batch.system, problems), [])
    if last_step is not None:
        values["last_step"] = sa.case(
            (runs.c.last_step.is_(None), last_step),
            (runs.c.last_step < last_step, last_step),
            else_=runs.c.last_step,
        )

    if batch.state is not None:
        st = batch.state
        values["state"] = st.state
        if st.state != RUNNING:
            values["finished_at"] = st.at
        values["exit_code"] = st.exit_code
        values["traceback"] = st.traceback
    conn.execute(sa.update(runs).where(runs.c.pk == run_pk).values(**values))
    return True


def _when(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def skip_batch(conn: Connection, batch: Batch) -> bool:
    """Count ``batch`` as applied without applying it (the store cannot hold its data), so
    the run's later batches still land; False when it is not the run's next batch."""
    done = conn.execute(
        sa.update(runs)
        .where(runs.c.run_id == batch.run_id, runs.c.last_seq == batch.seq - 1,
               runs.c.project_id == sa.select(projects.c.id)
               .where(projects.c.name == batch.project).scalar_subquery())
        .values(last_seq=batch.seq))
    return done.rowcount == 1


def _locked_run(conn: Connection, batch: Batch) -> Any:
    """The batch's run row, locked until the transaction ends (PostgreSQL; SQLite's write
    transactions are serial), or None."""
    return conn.execute(
        sa.select(runs.c.pk, runs.c.last_seq, runs.c.state, runs.c.project_id,
                  runs.c.created_at)
        .join(projects, projects.c.id == runs.c.project_id)
        .where(projects.c.name == batch.project, runs.c.run_id == batch.run_id)
        .with_for_update(of=runs)
    ).first()


def _create_run(conn: Connection, batch: Batch) -> tuple[int, int] | None:
    """(run pk, project id) of the new run; None if another transaction created it first."""
    start = batch.start
    assert start is not None
    project_id = _project_id(conn, batch.project, start.entity, start.created_at)
    stmt = sa.insert(runs)
    if conn.dialect.name == "postgresql":
        # Waits for a concurrent creator instead of failing on the unique constraint.
        stmt = _insert(conn, runs).on_conflict_do_nothing(
            index_elements=["project_id", "run_id"]).returning(runs.c.pk)
    result = conn.execute(
        stmt.values(
            project_id=project_id,
            run_id=batch.run_id,
            name=start.name,
            state=RUNNING,
            notes=start.notes,
            run_group=start.group,
            job_type=start.job_type,
            tags=jsonvalue.dumps(start.tags),
            meta=jsonvalue.dumps(start.metadata),
            host=start.host,
            pid=start.pid,
            created_at=start.created_at,
            updated_at=batch.sent_at,
            heartbeat_at=batch.sent_at,
        )
    )
    if conn.dialect.name == "postgresql":
        pk = result.scalar()
        return None if pk is None else (int(pk), project_id)
    inserted = result.inserted_primary_key
    if inserted is None or inserted[0] is None:
        raise StoreError(f"Could not create run {batch.project}/{batch.run_id}.")
    return int(inserted[0]), project_id


_CONSOLE_COLUMNS = ("run_pk", "line_no", "at", "stream", "text")
_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _write_console(conn: Connection, run_pk: int, lines: list[ConsoleLine]) -> None:
    """Number the lines on from the run's last one (a resumed run goes on counting).

    Lines are many and small (a loop may print thousands a second), so they go straight
    to the driver's executemany as tuples: half the cost of Core's per-row dicts."""
    last = conn.execute(sa.select(sa.func.max(console_lines.c.line_no))
                        .where(console_lines.c.run_pk == run_pk)).scalar()
    first = 0 if last is None else int(last) + 1
    # PostgreSQL text cannot hold NUL; a remote client's lines were not assembled here.
    rows = [(run_pk, first + i, line.at, line.stream,
             line.text.replace("\x00", "") if "\x00" in line.text else line.text)
            for i, line in enumerate(lines)]
    mark = _MARKS.get(conn.dialect.paramstyle)
    if mark is None:
        conn.execute(sa.insert(console_lines), [dict(zip(_CONSOLE_COLUMNS, row)) for row in rows])
        return
    conn.exec_driver_sql(
        f"INSERT INTO {console_lines.name} ({', '.join(_CONSOLE_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_CONSOLE_COLUMNS))})", rows)


def _merge_json(current: str, changes: dict[str, str], deletes: list[str]) -> str:
    merged = jsonvalue.loads(current) if current else {}
    for key in deletes:
        merged.pop(key, None)
    for key, text in changes.items():
        merged[key] = jsonvalue.loads(text)
    return jsonvalue.dumps(merged)


def _merge_metrics(current: str, defs: list[MetricDef]) -> str:
    existing = {d["name"]: d for d in (jsonvalue.loads(current) if current else [])}
    for d in defs:
        entry = {k: v for k, v in (("name", d.name), ("step_metric", d.step_metric),
                                   ("summary", d.summary), ("hidden", d.hidden),
                                   ("goal", d.goal)) if v is not None}
        existing[d.name] = {**existing.get(d.name, {}), **entry}
    return jsonvalue.dumps(list(existing.values()))


_S = TypeVar("_S", Series, ValueSeries)


def _storable(conn: Connection, items: list[_S], problems: list[str] | None) -> list[_S]:
    """``items`` as the store keeps them: on PostgreSQL a NUL in a key becomes U+FFFD (as
    the engine does to every string it sends, engine.py); a key longer than the store's keys
    or met twice is left out, as a problem (the SDK sends neither; a batch from elsewhere
    may)."""
    if conn.dialect.name == "postgresql" and any(NUL in i.key for i in items):
        items = [msgspec.structs.replace(i, key=i.key.replace(NUL, REPLACEMENT))
                 if NUL in i.key else i for i in items]
    keys = {i.key for i in items}
    if len(keys) == len(items) and all(len(k) <= MAX_KEY_LENGTH for k in keys):
        return items
    out: list[_S] = []
    seen: set[str] = set()
    for i in items:
        problem = None
        if len(i.key) > MAX_KEY_LENGTH:
            problem = (f"Key {i.key[:80]!r}... is {len(i.key)} characters long; the limit is "
                       f"{MAX_KEY_LENGTH}. Its values were not stored.")
        elif i.key in seen:
            problem = f"Key {i.key!r} came twice in one batch; its second series was not stored."
        if problem is None:
            seen.add(i.key)
            out.append(i)
        elif problems is not None:
            problems.append(problem)
    return out


def _key_ids(conn: Connection, run_pk: int, keys: list[str]) -> dict[str, Any]:
    """Rows of ``metric_keys`` for ``keys``, creating the missing ones."""
    found: dict[str, Any] = {}
    cols = (metric_keys.c.id, metric_keys.c.key, metric_keys.c.points, metric_keys.c.chunks,
            metric_keys.c.tail, metric_keys.c.values_count, metric_keys.c.last_step)
    for part in _batched(keys):
        for r in conn.execute(sa.select(*cols).where(metric_keys.c.run_pk == run_pk,
                                                     metric_keys.c.key.in_(part))):
            found[r.key] = r
    missing = [k for k in keys if k not in found]
    if missing:
        conn.execute(sa.insert(metric_keys), [{"run_pk": run_pk, "key": k} for k in missing])
        for part in _batched(missing):
            for r in conn.execute(sa.select(*cols).where(metric_keys.c.run_pk == run_pk,
                                                         metric_keys.c.key.in_(part))):
                found[r.key] = r
    return found


def _ints(values: list[Any]) -> np.ndarray:
    """int64, or float64 for ints past int64 (from a client other than the SDK, which
    sends those as floats): the nearest float, not a failed batch."""
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return np.array(values, dtype=np.float64)


def _segments(series: Series) -> list[chunks.Columns]:
    """The series as columns of one dtype each: int64 when all values are ints, float64
    when mixing cannot round an int, else consecutive runs of each kind."""
    steps = np.array(series.steps, dtype=np.int64)
    times = np.array(series.times, dtype=np.float64)
    vals = series.values
    is_int = [type(v) is int for v in vals]
    if all(is_int):
        return [chunks.Columns(steps, times, _ints(vals))]
    if not any(is_int) or all(-(2**53) <= v <= 2**53 for v, i in zip(vals, is_int) if i):
        return [chunks.Columns(steps, times, np.array(vals, dtype=np.float64))]
    out: list[chunks.Columns] = []
    start = 0
    for end in range(1, len(vals) + 1):
        if end == len(vals) or is_int[end] != is_int[start]:
            part = vals[start:end]
            out.append(chunks.Columns(steps[start:end], times[start:end],
                                      _ints(part) if is_int[start]
                                      else np.array(part, dtype=np.float64)))
            start = end
    return out


def _write_points(conn: Connection, run_pk: int, series: list[Series],
                  values: list[ValueSeries]) -> int | None:
    if not series and not values:
        return None
    keys = list(dict.fromkeys([s.key for s in series] + [v.key for v in values]))
    key_rows = _key_ids(conn, run_pk, keys)
    last_step: int | None = None
    key_updates: dict[int, dict[str, Any]] = {}

    # Open (not full) tail chunks of the keys we append to, read in one go.
    open_ids = [key_rows[s.key].id for s in series
                if _appends(key_rows[s.key], len(s.steps))]
    open_chunks: dict[int, chunks.Columns] = {}
    for part in _batched(open_ids):
        rows = conn.execute(
            sa.select(metric_chunks.c.key_id, metric_chunks.c.codec, metric_chunks.c.steps,
                      metric_chunks.c.times, metric_chunks.c.vals)
            .join(metric_keys, sa.and_(metric_keys.c.id == metric_chunks.c.key_id,
                                       metric_chunks.c.chunk_no == metric_keys.c.chunks - 1))
            .where(metric_chunks.c.key_id.in_(part))
        )
        for r in rows:
            open_chunks[r.key_id] = chunks.unpack(r.codec, r.steps, r.times, r.vals)

    inserts: list[dict[str, Any]] = []
    rewritten: list[dict[str, Any]] = []
    for s in series:
        if not s.steps:
            continue
        krow = key_rows[s.key]
        chunk_no, tail = int(krow.chunks), int(krow.tail)
        pending = open_chunks.get(krow.id)
        if pending is not None:
            # Rewrite the open tail chunk with the new points appended.
            chunk_no -= 1
            rewritten.append({"k": krow.id, "c": chunk_no})
        for segment in _segments(s):
            merged = None if pending is None else chunks.merge(pending, segment)
            if merged is None and pending is not None:
                chunk_no, tail = _pack_chunks(inserts, krow.id, chunk_no, pending)
            pending = segment if merged is None else merged
        assert pending is not None
        chunk_no, tail = _pack_chunks(inserts, krow.id, chunk_no, pending)
        upd = key_updates.setdefault(krow.id, {})
        upd.update(points=int(krow.points) + len(s.steps), chunks=chunk_no, tail=tail)
        step = int(s.steps[-1])
        upd["last_step"] = _max(krow.last_step, step)
        last_step = _max(last_step, step)
    # One statement each for every key of the batch (executemany): a statement per key
    # was most of a batch's cost on PostgreSQL.
    if rewritten:
        conn.execute(sa.delete(metric_chunks).where(
            metric_chunks.c.key_id == sa.bindparam("k"),
            metric_chunks.c.chunk_no == sa.bindparam("c")), rewritten)
    if inserts:
        conn.execute(sa.insert(metric_chunks), inserts)

    # By (key, step): a step logged twice in one batch is one row, with its last value
    # (a multi-row INSERT ... ON CONFLICT may not touch one row twice on PostgreSQL).
    value_rows: dict[tuple[int, int], dict[str, Any]] = {}
    for v in values:
        krow = key_rows[v.key]
        for step, t, text in zip(v.steps, v.times, v.values):
            # Microseconds, like the chunks, so a row's _timestamp is one value.
            value_rows[krow.id, step] = {"key_id": krow.id, "step": step, "time": round(t, 6),
                                         "value": text}
        if v.steps:
            upd = key_updates.setdefault(krow.id, {})
            upd["values_count"] = int(krow.values_count) + len(v.steps)
            step = int(v.steps[-1])
            upd["last_step"] = _max(upd.get("last_step", krow.last_step), step)
            last_step = _max(last_step, step)
    if value_rows:
        stmt = _insert(conn, history_values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key_id", "step"],
            set_={"value": stmt.excluded.value, "time": stmt.excluded.time},
        )
        conn.execute(stmt, list(value_rows.values()))

    # Grouped by the columns they set, each group one executemany UPDATE.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key_id, upd in key_updates.items():
        groups.setdefault(tuple(sorted(upd)), []).append({"kid": key_id, **upd})
    for columns, params in groups.items():
        conn.execute(sa.update(metric_keys).where(metric_keys.c.id == sa.bindparam("kid"))
                     .values({c: sa.bindparam(c) for c in columns}), params)
    return last_step


# A batch of many points starts a chunk of its own once the open one holds many: appending
# re-encodes the open chunk's points on every batch, which cost a server taking 10,000-point
# batches a quarter of its time. Small batches (a few steps per flush) still fill chunks up.
_MERGE_BELOW = CHUNK_POINTS // 8


def _appends(krow: Any, n: int) -> bool:
    """Whether ``n`` new points of this key go into its open tail chunk."""
    tail = int(krow.tail)
    return bool(krow.chunks) and tail < CHUNK_POINTS and (tail < _MERGE_BELOW
                                                         or n < _MERGE_BELOW)


def _pack_chunks(inserts: list[dict[str, Any]], key_id: int, chunk_no: int,
                 cols: chunks.Columns) -> tuple[int, int]:
    """Queue ``cols`` as chunks from ``chunk_no`` on; returns (next chunk_no, last size)."""
    tail = 0
    for start in range(0, len(cols), CHUNK_POINTS):
        part = cols.slice(start, start + CHUNK_POINTS)
        inserts.append({"key_id": key_id, "chunk_no": chunk_no, **chunks.pack(part).__dict__})
        chunk_no += 1
        tail = len(part)
    return chunk_no, tail


def _max(a: int | None, b: int) -> int:
    return b if a is None or b > a else int(a)

