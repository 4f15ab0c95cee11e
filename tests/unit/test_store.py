"""The store itself: chunk codec, JSON values, write_batch's idempotency and order."""

from __future__ import annotations

import math
import time

import msgspec
import numpy as np
import pytest
import sqlalchemy as sa

from runwatch import jsonvalue
from runwatch.errors import RunIdTakenError, SeqGapError
from runwatch.records import Batch, RunStart, Series, StateChange
from runwatch.store import chunks, open_store, read
from runwatch.store.schema import CHUNK_POINTS, metric_chunks


def test_chunk_round_trip_keeps_every_bit():
    values = np.array([0.1, math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324])
    cols = chunks.Columns(np.arange(len(values), dtype=np.int64) * 3,
                          1.7e9 + np.arange(len(values)) * 0.25, values)
    packed = chunks.pack(cols)
    back = chunks.unpack(packed.codec, packed.steps, packed.times, packed.vals)
    assert back.steps.tolist() == cols.steps.tolist()
    assert np.array_equal(back.values.view(np.int64), values.view(np.int64))
    assert np.allclose(back.times, cols.times, atol=1e-6)
    assert (packed.vmin, packed.vmax) == (-math.inf, math.inf)


def test_int_chunks_compress_and_stay_ints():
    cols = chunks.Columns(np.arange(4096, dtype=np.int64), np.zeros(4096),
                          np.arange(4096, dtype=np.int64) % 7)
    packed = chunks.pack(cols)
    assert packed.codec == "i8z" and len(packed.vals) < 4096
    assert chunks.unpack(packed.codec, packed.steps, packed.times, packed.vals).values.dtype == np.int64


def test_jsonvalue_round_trip():
    value = {"a": [math.nan, math.inf, -math.inf, 1, "x<script>"], "b": {"c": None, "d": True},
             "$float": "not a tag when not alone", "n": np.float32(0.5), "arr": np.arange(3)}
    back = jsonvalue.loads(jsonvalue.dumps(value))
    assert math.isnan(back["a"][0]) and back["a"][1:] == [math.inf, -math.inf, 1, "x<script>"]
    assert back["b"] == {"c": None, "d": True} and back["n"] == 0.5 and back["arr"] == [0, 1, 2]
    with pytest.raises(TypeError):
        jsonvalue.dumps(object())


def batch(seq, **kw):
    return Batch(project="p", run_id="r1", seq=seq, sent_at=time.time(), **kw)


def start():
    return RunStart(name="n", created_at=time.time(), host="elsewhere", pid=1)


def points(key, steps):
    return Series(key, list(steps), [time.time()] * len(steps), [float(s) for s in steps])


@pytest.fixture
def store(store_url, tmp_path):
    """A new store on SQLite, then on PostgreSQL."""
    s = open_store(store_url, tmp_path / "blobs")
    yield s
    s.close()


def stored_steps(store, key="x"):
    with store.read() as conn:
        run = read.get_run(conn, "p", "r1")
        keys = read.run_keys(conn, run.pk)
        return read.load_series(conn, keys[key].id).steps.tolist()


def test_write_batch_is_idempotent(store):
    first = start()
    assert store.write(batch(0, start=first, series=[points("x", range(5))]))
    assert store.write(batch(1, series=[points("x", range(5, 10))]))
    assert not store.write(batch(1, series=[points("x", range(5, 10))]))  # replayed: no-op
    assert not store.write(batch(0, start=first, series=[points("x", range(5))]))
    assert stored_steps(store) == list(range(10))


def test_another_run_with_a_taken_id_is_refused_not_dropped(store):
    # An offline run synced after an online one took its id: its first batch is not a
    # replay (another creation time), so it must fail loudly instead of being skipped.
    first = start()
    assert store.write(batch(0, start=first, series=[points("x", range(5))]))
    other = msgspec.structs.replace(first, created_at=first.created_at + 3600)
    with pytest.raises(RunIdTakenError, match="already exists"):
        store.write(batch(0, start=other, series=[points("x", range(100, 105))]))
    assert stored_steps(store) == list(range(5))
    # A resumed run's start is not a clash.
    resumed = msgspec.structs.replace(other, resumed=True)
    assert store.write(batch(1, start=resumed, series=[points("x", range(5, 7))]))


def test_a_batch_the_database_cannot_hold_is_skipped_not_retried_forever(store):
    # Its successors still land: otherwise a sender would resend it forever (409s behind).
    assert store.write(batch(0, start=start(), series=[points("x", range(3))]))
    problems: list[str] = []
    huge = Series("x", [2**70], [time.time()], [1.0])  # a step no column holds
    assert not store.write(batch(1, series=[huge]), problems)
    assert problems and "cannot hold batch 1" in problems[0] and "skipped" in problems[0]
    assert store.write(batch(2, series=[points("x", [4])]))
    assert stored_steps(store) == [0, 1, 2, 4]


def test_an_int_past_int64_is_kept_as_the_nearest_float(store):
    big = Series("x", [0, 1], [time.time()] * 2, [2**70, 5])
    assert store.write(batch(0, start=start(), series=[big]))
    with store.read() as conn:
        key = read.run_keys(conn, read.get_run(conn, "p", "r1", 60).pk)["x"]
        assert read.load_series(conn, key.id).values.tolist() == [float(2**70), 5.0]


def test_write_batch_refuses_a_gap(store):
    store.write(batch(0, start=start()))
    with pytest.raises(SeqGapError, match="resend from 1"):
        store.write(batch(2, series=[points("x", [1])]))
    with pytest.raises(SeqGapError, match="before the run was started"):
        store.write(Batch(project="p", run_id="other", seq=3, sent_at=0.0))


def test_open_chunk_fills_then_new_chunks_start(store):
    store.write(batch(0, start=start(), series=[points("x", range(CHUNK_POINTS - 10))]))
    store.write(batch(1, series=[points("x", range(CHUNK_POINTS - 10, CHUNK_POINTS + 5))]))
    store.write(batch(2, series=[points("x", range(CHUNK_POINTS + 5, 3 * CHUNK_POINTS))]))
    assert stored_steps(store) == list(range(3 * CHUNK_POINTS))
    with store.read() as conn:
        ns = conn.execute(sa.select(metric_chunks.c.n).order_by(metric_chunks.c.chunk_no)).scalars()
        assert list(ns) == [CHUNK_POINTS] * 3


def test_state_and_heartbeat_timeout(store):
    store.write(batch(0, start=start()))
    with store.read() as conn:
        run = read.get_run(conn, "p", "r1", heartbeat_timeout=3600)
        assert run.state == "running"
        stale = read.get_run(conn, "p", "r1", heartbeat_timeout=1e-9)
        assert stale.state == "crashed" and stale.stored_state == "running"
    store.write(batch(1, state=StateChange(state="finished", at=time.time(), exit_code=0)))
    with store.read() as conn:
        assert read.get_run(conn, "p", "r1", heartbeat_timeout=1e-9).state == "finished"


def test_dead_pid_on_this_host_reads_as_crashed():
    now = time.time()
    assert read.effective_state("running", read._HOST, 2**22 + 12345, now, now, 1e9) == "crashed"
    import os
    assert read.effective_state("running", read._HOST, os.getpid(), now, now, 1e9) == "running"


def test_migrations_match_the_schema(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from runwatch.store.schema import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], ("schema.py and the Alembic migrations disagree; add a migration in "
                        f"store/migrations/versions for: {diff}")


def test_head_revision_constant_matches_alembic():
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import runwatch.store.engine as engine_mod

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_mod.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_current_head() == engine_mod.HEAD_REVISION
