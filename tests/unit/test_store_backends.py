"""The store on both of its databases (``store_url``: SQLite, then PostgreSQL): values at
the edges of what a column holds, NUL characters (PostgreSQL's text cannot hold them),
concurrent writers, readers that see one snapshot, and the migrations both ways."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from runwatch import jsonvalue
from runwatch.records import (
    Alert,
    ArtifactFile,
    ArtifactVersion,
    Batch,
    ConsoleLine,
    RunStart,
    RunUpdate,
    Series,
    StateChange,
    ValueSeries,
    manifest_digest,
)
from runwatch.store import artifacts, console, history, open_store, read
from runwatch.store.schema import CHUNK_POINTS, MAX_KEY_LENGTH, history_values

T0 = 1_700_000_000.0


@pytest.fixture
def store(store_url: str, tmp_path: Path):
    s = open_store(store_url, tmp_path / "blobs")
    yield s
    s.close()


def stored(store, text: str) -> str:
    """``text`` as the store gives it back: PostgreSQL's text has no NUL (U+FFFD instead)."""
    if store.engine.dialect.name == "postgresql":
        return text.replace("\x00", "\ufffd")
    return text


def start(**kw) -> RunStart:
    return RunStart(**{"name": "n", "created_at": T0, "host": "elsewhere", "pid": 1, **kw})


def batch(seq: int, run_id: str = "r1", project: str = "p", **kw) -> Batch:
    return Batch(project=project, run_id=run_id, seq=seq, sent_at=time.time(), **kw)


def test_nul_characters_are_stored_not_refused(store) -> None:
    key, vkey = "loss\x00x", "cap\x00"
    assert store.write(batch(
        0, start=start(name="a\x00b", notes="n\x00", group="g\x00", job_type="j\x00",
                       entity="e\x00", host="h\x00", tags=["t\x00"],
                       metadata={"m\x00": "v\x00"}),
        config={"c\x00": jsonvalue.dumps("v\x00")},
        summary={"s\x00": jsonvalue.dumps("w\x00")},
        series=[Series(key, [0, 1], [T0, T0 + 1], [1.0, 2.0])],
        values=[ValueSeries(vkey, [0], [T0], [jsonvalue.dumps("x\x00y")])],
        alerts=[Alert(title="t\x00", text="x\x00", at=T0, key=key, step=1)],
        console=[ConsoleLine(T0, 1, "be\x00fore"), ConsoleLine(T0, 2, "\x00")],
        state=StateChange(state="failed", at=T0 + 2, exit_code=1, traceback="tb\x00"),
    ))
    assert store.write(batch(1, update=RunUpdate(name="renamed\x00")))
    with store.read() as conn:
        run = read.get_run(conn, "p", "r1")
        assert run.name == stored(store, "renamed\x00")
        assert (run.notes, run.group, run.job_type, run.entity, run.host, run.traceback) == (
            stored(store, "n\x00"), stored(store, "g\x00"), stored(store, "j\x00"),
            stored(store, "e\x00"), stored(store, "h\x00"), stored(store, "tb\x00"))
        # JSON escapes NUL, so JSON values keep it on both databases.
        assert run.tags == ["t\x00"] and run.config == {"c\x00": "v\x00"}
        assert run.summary == {"s\x00": "w\x00"} and run.metadata == {"m\x00": "v\x00"}
        # A key holding NUL is found by the name it was logged under.
        keys = read.run_keys(conn, run.pk)
        assert set(keys) == {stored(store, key), stored(store, vkey)}
        rows = list(history.scan(conn, run, keys=[stored(store, key)]))
        assert [r[stored(store, key)] for r in rows] == [1.0, 2.0]
        assert read.load_values(conn, keys[stored(store, vkey)].id)[2] == ["x\x00y"]
        (alert,) = read.list_alerts(conn, "p")
        assert (alert["title"], alert["text"]) == (stored(store, "t\x00"), stored(store, "x\x00"))
        # Console lines lose their NULs on both databases (a terminal shows none).
        lines, _ = console.page(conn, run.pk)
        assert [line["text"] for line in lines] == ["before", ""]
        assert console.count(conn, run.pk, query="BEFORE") == 1


def test_nul_in_a_project_and_run_id_from_elsewhere(store) -> None:
    """The SDK and the server refuse such names; a batch written straight to the store is
    stored all the same, and later batches of the run find it."""
    assert store.write(batch(0, project="pr\x00j", run_id="r\x00", start=start()))
    assert store.write(batch(1, project="pr\x00j", run_id="r\x00",
                             series=[Series("x", [0], [T0], [1.0])]))
    assert not store.write(batch(1, project="pr\x00j", run_id="r\x00"))
    with store.read() as conn:
        (project,) = read.list_projects(conn)
        assert project.name == stored(store, "pr\x00j")
        run = read.get_run(conn, "pr\x00j", "r\x00")
        assert run is not None and run.id == stored(store, "r\x00") and run.last_seq == 1


def test_wide_integers_and_non_finite_floats(store) -> None:
    big = 2**62 + 7
    windows_crash = 0xC0000005  # a Windows exit code: past a 32-bit signed integer
    assert store.write(batch(
        0, start=start(pid=2**40),
        series=[Series("i", [0, big], [T0, T0 + 1], [2**62, -(2**62)]),
                Series("f", [0, 1, 2], [T0] * 3, [math.nan, math.inf, -math.inf])],
        values=[ValueSeries("v", [big], [T0], [jsonvalue.dumps({"nan": math.nan})])],
        alerts=[Alert(title="t", text="x", at=T0, step=big)],
        state=StateChange(state="failed", at=T0 + 1, exit_code=windows_crash)))
    with store.read() as conn:
        run = read.get_run(conn, "p", "r1")
        assert (run.pid, run.exit_code, run.last_step) == (2**40, windows_crash, big)
        keys = read.run_keys(conn, run.pk)
        cols = read.load_series(conn, keys["i"].id)
        assert cols.steps.tolist() == [0, big] and cols.values.tolist() == [2**62, -(2**62)]
        f = read.load_series(conn, keys["f"].id).values.tolist()
        assert math.isnan(f[0]) and f[1:] == [math.inf, -math.inf]
        assert read.load_values(conn, keys["v"].id)[0] == [big]
        assert math.isnan(read.load_values(conn, keys["v"].id)[2][0]["nan"])
        assert read.list_alerts(conn, "p")[0]["step"] == big


def test_long_free_text_fits(store) -> None:
    """Group, job type, entity and host are free text with no limit in the SDK."""
    long = "g" * 5000
    assert store.write(batch(0, start=start(group=long, job_type=long, entity=long,
                                            host=long)))
    with store.read() as conn:
        run = read.get_run(conn, "p", "r1")
        assert (run.group, run.job_type, run.entity, run.host) == (long, long, long, long)


def test_too_long_keys_and_artifact_names_are_problems_not_failures(store) -> None:
    long_key = "k" * (MAX_KEY_LENGTH + 1)
    entry = ArtifactFile(path="p" * 1025, sha256="0" * 64, size=0, ref="s3://b/x")
    problems: list[str] = []
    assert store.write(batch(
        0, start=start(),
        series=[Series(long_key, [0], [T0], [1.0]), Series("ok", [0], [T0], [1.0])],
        values=[ValueSeries(long_key, [0], [T0], ['"x"'])],
        artifacts=[ArtifactVersion(name="a" * 129, type="t", digest="d" * 64, files=[]),
                   ArtifactVersion(name="b", type="t", digest=manifest_digest([entry]),
                                   files=[entry])]), problems)
    assert len(problems) == 4, problems
    for limit in ("name is 129 characters long; the limit is 128", "the limit is 1024",
                  "the limit is 512. Its values were not stored"):
        assert any(limit in p for p in problems), (limit, problems)
    with store.read() as conn:
        assert set(read.run_keys(conn, read.get_run(conn, "p", "r1").pk)) == {"ok"}
        assert artifacts.list_artifacts(conn, "p") == []


def test_a_step_logged_twice_in_one_batch_keeps_the_last_value(store) -> None:
    assert store.write(batch(0, start=start(), values=[
        ValueSeries("v", [3, 3, 4], [T0, T0 + 1, T0 + 2], ['"a"', '"b"', '"c"'])]))
    assert store.write(batch(1, values=[ValueSeries("v", [4], [T0 + 3], ['"d"'])]))
    with store.read() as conn:
        run = read.get_run(conn, "p", "r1")
        steps, _, values = read.load_values(conn, read.run_keys(conn, run.pk)["v"].id)
        assert (steps, values) == ([3, 4], ["b", "d"])
        assert conn.execute(sa.select(sa.func.count()).select_from(history_values)).scalar() == 2


def test_console_search_ignores_case_and_wildcards(store) -> None:
    texts = ["Épée 100%", "épée 1000", "a_b", "axb", "back\\slash", "ß"]
    assert store.write(batch(0, start=start(),
                             console=[ConsoleLine(T0, 1, t) for t in texts]))
    with store.read() as conn:
        pk = read.get_run(conn, "p", "r1").pk

        def found(q: str) -> list[int]:
            return [line["n"] for line in console.page(conn, pk, query=q)[0]]

        assert found("ÉPÉE") == [0, 1]
        assert found("0%") == [0] and found("a_b") == [2] and found("\\") == [4]
        assert console.count(conn, pk, query="%") == 1


def test_values_the_database_cannot_hold_skip_the_batch_with_a_problem(store) -> None:
    """A batch from elsewhere with a value past a column's range is counted as done and
    described in the problems (the server answers 200 with them), never a database error
    (500) and never a batch the sender would resend forever, holding up the rest."""
    assert store.write(batch(0, start=start()))
    bad = batch(1, console=[ConsoleLine(T0, 2**40, "x")])
    problems: list[str] = []
    if store.engine.dialect.name == "postgresql":
        assert not store.write(bad, problems)
        assert problems and "batch 1 of run p/r1" in problems[0]
    else:
        assert store.write(bad, problems)  # SQLite's integers are all 64-bit
        assert problems == []
    assert store.write(batch(2, console=[ConsoleLine(T0, 1, "ok")]))


def test_concurrent_writers_create_runs_projects_and_artifact_versions(store) -> None:
    """Eight runs of one new project, started at once, each logging its own version of one
    new artifact and moving its aliases; plus two copies of one run's first batch."""
    n = 8
    barrier = threading.Barrier(n + 2)
    errors: list[BaseException] = []
    results: list[bool] = []

    def files(i: int) -> list[ArtifactFile]:
        return [ArtifactFile(path="f.txt", sha256=hashlib.sha256(bytes([i])).hexdigest(),
                             size=1, ref=f"s3://bucket/{i}", checksum=str(i))]

    def work(b: Batch) -> None:
        try:
            barrier.wait(30)
            results.append(store.write(b))
        except BaseException as exc:  # reported below
            errors.append(exc)

    batches = [batch(0, run_id=f"r{i}", project="shared", start=start(), artifacts=[
        ArtifactVersion(name="model", type="model", digest=manifest_digest(files(i)),
                        files=files(i), aliases=["best"])],
        series=[Series("x", [0], [T0], [float(i)])]) for i in range(n)]
    twin = batch(0, run_id="twin", project="shared", start=start())
    threads = [threading.Thread(target=work, args=(b,)) for b in [*batches, twin, twin]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(results) == [False] + [True] * (n + 1)
    with store.read() as conn:
        assert len(read.list_runs(conn, "shared")) == n + 1
        versions = artifacts.list_artifacts(conn, "shared")
        assert sorted(v.version for v in versions) == list(range(n))
        aliased = [v for v in versions if "best" in v.aliases]
        assert len(aliased) == 1 and "latest" in aliased[0].aliases


def test_a_reader_sees_one_snapshot(store) -> None:
    """A read transaction's queries agree with each other while a writer commits."""
    assert store.write(batch(0, start=start(),
                             series=[Series("x", list(range(10)), [T0] * 10, [0.0] * 10)]))
    with store.read() as conn:
        run = read.get_run(conn, "p", "r1")
        before = read.run_keys(conn, run.pk)["x"].points
        # The open tail chunk is rewritten (deleted and inserted with more points).
        assert store.write(batch(1, series=[Series("x", [10, 11], [T0] * 2, [1.0] * 2)]))
        assert read.load_series(conn, read.run_keys(conn, run.pk)["x"].id).steps.tolist() \
            == list(range(before))
        assert read.get_run(conn, "p", "r1").last_seq == 0
    with store.read() as conn:
        assert read.get_run(conn, "p", "r1").last_seq == 1


def test_many_points_and_console_lines_round_trip(store) -> None:
    n = 3 * CHUNK_POINTS + 5
    lines = [ConsoleLine(T0 + i, 1 + i % 2, f"line {i} %s ? :x") for i in range(5000)]
    assert store.write(batch(0, start=start(),
                             series=[Series("x", list(range(n)), [T0] * n,
                                            [float(i) for i in range(n)])],
                             console=lines))
    with store.read() as conn:
        pk = read.get_run(conn, "p", "r1").pk
        assert read.load_series(conn, read.run_keys(conn, pk)["x"].id).steps.tolist() \
            == list(range(n))
        assert console.count(conn, pk) == 5000
        assert list(console.iter_texts(conn, pk, size=1000))[4][-1] == "line 4999 %s ? :x"


def test_migrations_go_down_and_up_again(store) -> None:
    from alembic import command
    from alembic.config import Config

    import runwatch.store.engine as engine_mod

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_mod.__file__).parent / "migrations"))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with store.engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
    engine_mod.ensure_schema(store.engine)
    assert store.write(batch(0, start=start()))
