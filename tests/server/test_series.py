"""``/series`` semantics over real logged runs: downsampling that keeps spikes, raw points
when zoomed, ``after``, the x-axes, non-finite values, missing runs and odd keys."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from runwatch.server import models
from tests.server.conftest import ApiClient, assert_error, start_run, tee_for

SPIKE_STEP, SPIKE_N = 123_457, 200_000
MARKUP_KEY = "<img src=x onerror=alert(1)>/loss"
UNICODE_KEY = "validation/lösś 漢字 🙂 \"q\" 'a' & <b>"
NONFINITE = [math.nan, math.inf, -math.inf, 1.0, 2.0]
STEPS = 60


@dataclass
class Curves:
    store: Path
    main: str      # every key
    other: str     # "loss" only
    foreign: str   # a run of another project
    main_created: float
    main_finished: float
    url: str | None = None  # the database the API reads (None: the SQLite file)


def _build_curves(store: Path) -> Curves:
    run = start_run(store, "curves", name="main")
    for i in range(STEPS):
        row = {"loss": 10.0 - i / 10, "count": i * 3, "big": 2**40 + i,
               "nf": NONFINITE[i % len(NONFINITE)], MARKUP_KEY: float(i),
               UNICODE_KEY: -float(i)}
        if i % 10 == 0:
            row["ep"] = i // 10
        if i == STEPS // 2:
            time.sleep(0.02)  # wall time surely moves within the run
        run.log(row)
    run.finish()
    other = start_run(store, "curves", name="other")
    for i in range(10):
        other.log({"loss": float(i)})
    other.finish()
    foreign = start_run(store, "elsewhere", name="foreign")
    foreign.log({"loss": 1.0})
    foreign.finish()
    api = ApiClient(store)
    try:
        detail = api.ok(f"/api/v1/projects/curves/runs/{run.id}", models.RunDetail)
    finally:
        api.close()
    return Curves(store, run.id, other.id, foreign.id, detail["created_at"],
                  detail["finished_at"])


@pytest.fixture(scope="module")
def curves(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           module_backend: str) -> Curves:
    """Logged with the SDK to a SQLite file and, on PostgreSQL, to a database as well."""
    store = tmp_path_factory.mktemp("curves") / "store"
    with tee_for(request, module_backend, store) as tee:
        built = _build_curves(store)
    if tee is not None:
        built.url = tee.url
    return built


@pytest.fixture(scope="module")
def api(curves: Curves) -> Iterator[ApiClient]:
    c = ApiClient(curves.store, curves.url)
    yield c
    c.close()


@pytest.fixture(scope="module")
def spike(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          module_backend: str) -> Iterator[tuple[ApiClient, str]]:
    store = tmp_path_factory.mktemp("spike") / "store"
    with tee_for(request, module_backend, store) as tee:
        run = start_run(store, "spike")
        for i in range(SPIKE_N):
            run.log({"v": 1e6 if i == SPIKE_STEP else 0.0})
        run.finish()
    c = ApiClient(store, None if tee is None else tee.url)
    yield c, run.id
    c.close()


def series(api: ApiClient, project: str = "curves", **params: object) -> dict:
    return api.ok(f"/api/v1/projects/{project}/series", models.SeriesResponse, **params)


def one(api: ApiClient, run_id: str, **params: object) -> dict:
    data = series(api, runs=run_id, **params)
    (r,) = data["runs"]
    assert r["id"] == run_id
    return r


# -- downsampling ----------------------------------------------------------------------

def test_downsampling_keeps_a_single_spike(spike: tuple[ApiClient, str]) -> None:
    api, run_id = spike
    data = series(api, "spike", key="v", runs=run_id, width=500)
    (r,) = data["runs"]
    assert data["width"] == 500
    assert r["sampled"] is True and r["points"] == SPIKE_N and r["nonfinite"] == 0
    assert 0 < len(r["x"]) <= 500
    assert len(r["y"]) == len(r["min"]) == len(r["max"]) == len(r["x"])
    assert r["last_step"] == SPIKE_N - 1
    assert r["x"] == sorted(r["x"]) and r["x"][0] >= 0 and r["x"][-1] <= SPIKE_N - 1
    # Exactly one bucket holds the spike, and it sits where the spike was logged.
    hits = [i for i, m in enumerate(r["max"]) if m == 1e6]
    assert len(hits) == 1, hits
    (hit,) = hits
    bucket = SPIKE_N / 500
    assert abs(r["x"][hit] - SPIKE_STEP) <= bucket
    assert 0 < r["y"][hit] < 1e6  # its mean: diluted, but not zero
    assert all(m == 0.0 for i, m in enumerate(r["max"]) if i != hit)
    assert all(m == 0.0 for m in r["min"])
    assert all(y == 0.0 for i, y in enumerate(r["y"]) if i != hit)


def test_zoom_returns_raw_points(spike: tuple[ApiClient, str]) -> None:
    api, run_id = spike
    lo, hi = SPIKE_STEP - 57, SPIKE_STEP + 42  # 100 points: exactly 2 * width
    r = series(api, "spike", key="v", runs=run_id, width=50, xmin=lo, xmax=hi)["runs"][0]
    assert (r["sampled"], r["min"], r["max"]) == (False, None, None)
    assert r["points"] == 100 and r["last_step"] == hi
    assert r["x"] == [float(s) for s in range(lo, hi + 1)]
    assert r["y"] == [1e6 if s == SPIKE_STEP else 0.0 for s in range(lo, hi + 1)]
    # One point more than 2 * width is bucketed.
    r = series(api, "spike", key="v", runs=run_id, width=50, xmin=lo, xmax=hi + 1)["runs"][0]
    assert r["sampled"] is True and r["points"] == 101 and len(r["x"]) <= 50
    assert max(r["max"]) == 1e6


def test_after_returns_only_later_steps(spike: tuple[ApiClient, str]) -> None:
    api, run_id = spike
    r = series(api, "spike", key="v", runs=run_id, after=SPIKE_N - 100)["runs"][0]
    assert r["x"] == [float(s) for s in range(SPIKE_N - 99, SPIKE_N)]
    assert (r["points"], r["sampled"], r["last_step"]) == (99, False, SPIKE_N - 1)
    # Bucketed too when many points follow.
    r = series(api, "spike", key="v", runs=run_id, after=100_000, width=100)["runs"][0]
    assert r["sampled"] is True and r["points"] == SPIKE_N - 100_001
    assert min(r["x"]) > 100_000 and r["last_step"] == SPIKE_N - 1
    assert max(r["max"]) == 1e6
    # Nothing after the last step: empty, and no last_step to move on from.
    r = series(api, "spike", key="v", runs=run_id, after=SPIKE_N - 1)["runs"][0]
    assert (r["x"], r["y"], r["points"], r["last_step"]) == ([], [], 0, None)


def test_raw_up_to_twice_the_width(curves: Curves, api: ApiClient) -> None:
    r = one(api, curves.main, key="loss", width=STEPS // 2)
    assert r["sampled"] is False and len(r["x"]) == STEPS
    assert r["y"] == [10.0 - i / 10 for i in range(STEPS)]
    r = one(api, curves.main, key="loss", width=STEPS // 2 - 1)
    assert r["sampled"] is True and len(r["x"]) <= STEPS // 2 - 1 and r["points"] == STEPS
    assert min(r["min"]) == 10.0 - (STEPS - 1) / 10 and max(r["max"]) == 10.0
    # Buckets share edges across runs and sit at their centres, so a straight line's
    # bucket mean lies on it within half a bucket (slope 1/10 per step).
    half_bucket = (STEPS - 1) / (STEPS // 2 - 1) / 2
    for x, y in zip(r["x"], r["y"]):
        assert abs(y - (10.0 - x / 10)) <= half_bucket / 10 + 1e-6


def test_step_zoom_and_after_on_a_small_run(curves: Curves, api: ApiClient) -> None:
    r = one(api, curves.main, key="loss", xmin=10.5, xmax=20.2)
    assert r["x"] == [float(s) for s in range(11, 21)] and r["last_step"] == 20
    r = one(api, curves.main, key="loss", after=STEPS - 5)
    assert r["x"] == [float(s) for s in range(STEPS - 4, STEPS)]
    assert r["last_step"] == STEPS - 1 and r["points"] == 4
    r = one(api, curves.main, key="loss", after=20, xmax=25)
    assert r["x"] == [21.0, 22.0, 23.0, 24.0, 25.0] and r["last_step"] == 25


# -- x-axes ----------------------------------------------------------------------------

def test_wall_time_and_relative_time_axes(curves: Curves, api: ApiClient) -> None:
    wall = one(api, curves.main, key="loss", x="_timestamp")
    rel = one(api, curves.main, key="loss", x="_runtime")
    for r in (wall, rel):
        assert len(r["x"]) == STEPS and r["y"] == [10.0 - i / 10 for i in range(STEPS)]
        assert r["x"] == sorted(r["x"]) and r["x"][-1] > r["x"][0]
        assert r["last_step"] == STEPS - 1
    assert curves.main_created - 1 <= wall["x"][0] and wall["x"][-1] <= curves.main_finished + 1
    # Relative time starts near 0 and is wall time less the run's start.
    assert 0 <= rel["x"][0] < 60
    for w, r in zip(wall["x"], rel["x"]):
        assert r == pytest.approx(w - curves.main_created, abs=1e-5)
    data = series(api, key="loss", runs=curves.main, x="_runtime")
    assert data["x"] == "_runtime"


def test_wall_time_zoom(curves: Curves, api: ApiClient) -> None:
    wall = one(api, curves.main, key="loss", x="_timestamp")["x"]
    r = one(api, curves.main, key="loss", x="_timestamp", xmin=wall[10], xmax=wall[20])
    assert r["x"] and all(wall[10] <= x <= wall[20] for x in r["x"])
    assert r["x"][0] == wall[10] and r["x"][-1] == wall[20]


def test_metric_axis_joins_on_step(curves: Curves, api: ApiClient) -> None:
    data = series(api, key="loss", runs=f"{curves.main},{curves.other}", x="ep")
    assert data["x"] == "ep"
    main, other = data["runs"]
    # Only the rows that have both: steps 0, 10, ..., 50, at the epoch's values.
    assert main["x"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert main["y"] == [10.0 - s / 10 for s in range(0, STEPS, 10)]
    assert (main["points"], main["last_step"]) == (6, 50)
    # "other" never logged the axis metric.
    assert (other["x"], other["y"], other["points"], other["last_step"]) == ([], [], 0, None)
    r = one(api, curves.main, key="loss", x="ep", xmin=1, xmax=3)
    assert r["x"] == [1.0, 2.0, 3.0] and r["last_step"] == 30


# -- values ----------------------------------------------------------------------------

def test_nonfinite_values_are_counted_and_null(curves: Curves, api: ApiClient) -> None:
    resp = api.get("/api/v1/projects/curves/series", key="nf", runs=curves.main)
    assert resp.status_code == 200
    assert b"NaN" not in resp.content and b"Infinity" not in resp.content
    (r,) = resp.json()["runs"]
    expected = [None if not math.isfinite(v) else v
                for v in (NONFINITE[i % len(NONFINITE)] for i in range(STEPS))]
    assert r["y"] == expected
    assert r["nonfinite"] == expected.count(None) == 36
    assert r["points"] == STEPS and len(r["x"]) == STEPS
    # Bucketed: still counted; the band and the means use the finite values only.
    r = one(api, curves.main, key="nf", width=4)
    assert r["sampled"] is True and r["nonfinite"] == 36
    assert set(r["min"]) == {1.0} and set(r["max"]) == {2.0}
    assert all(y == pytest.approx(1.5) for y in r["y"])


def test_all_nonfinite_bucket_is_null(tmp_path: Path, client_for) -> None:
    store = tmp_path / "nan-store"
    run = start_run(store, "nans")
    for i in range(40):
        run.log({"v": math.nan if i < 20 else float(i)})
    run.finish()
    r = series(client_for(store), "nans", key="v", runs=run.id, width=2)["runs"][0]
    assert r["sampled"] is True and r["nonfinite"] == 20
    assert r["y"][0] is None and r["min"][0] is None and r["max"][0] is None
    assert r["min"][-1] == 20.0 and r["max"][-1] == 39.0


def test_integer_metrics(curves: Curves, api: ApiClient) -> None:
    assert one(api, curves.main, key="count")["y"] == [float(i * 3) for i in range(STEPS)]
    big = one(api, curves.main, key="big")["y"]
    assert big == [float(2**40 + i) for i in range(STEPS)]
    assert int(big[-1]) == 2**40 + STEPS - 1


def test_runs_without_the_key_and_missing_runs(curves: Curves, api: ApiClient) -> None:
    data = series(api, key="count",
                  runs=f"nosuch1,{curves.other},{curves.foreign},{curves.main},nosuch2")
    assert [r["id"] for r in data["runs"]] == [curves.other, curves.main]
    assert data["missing"] == ["nosuch1", curves.foreign, "nosuch2"]
    other = data["runs"][0]
    assert other == {"id": curves.other, "x": [], "y": [], "min": None, "max": None,
                     "points": 0, "sampled": False, "nonfinite": 0, "last_step": None}
    assert len(data["runs"][1]["x"]) == STEPS
    # A key nobody logged, and a text-only axis: empty, not an error.
    assert one(api, curves.main, key="never-logged")["x"] == []


@pytest.mark.parametrize("key, sign", [(MARKUP_KEY, 1.0), (UNICODE_KEY, -1.0)])
def test_odd_keys_work_url_encoded(curves: Curves, api: ApiClient, key: str, sign: float) -> None:
    url = (f"/api/v1/projects/curves/series?key={quote(key, safe='')}"
           f"&runs={curves.main}&width=1000")
    resp = api.request("GET", url)
    assert resp.status_code == 200, resp.text
    data = json.loads(resp.content)
    assert data["key"] == key
    assert data["runs"][0]["y"] == [sign * i for i in range(STEPS)]
    keys = api.ok("/api/v1/projects/curves/keys", models.KeyList)["keys"]
    assert key in [k["key"] for k in keys]


def test_unknown_project_for_series(api: ApiClient, curves: Curves) -> None:
    assert_error(api.get("/api/v1/projects/nope/series", key="loss", runs=curves.main),
                 404, "not_found", "'nope'")


@pytest.mark.parametrize("bounds", [{"xmax": "1e30"}, {"xmin": "-5", "xmax": "9.3e18"},
                                    {"xmin": "1e300"}])
def test_huge_step_bounds_are_not_a_crash(curves: Curves, api: ApiClient, bounds: dict) -> None:
    resp = api.get("/api/v1/projects/curves/series", key="loss", runs=curves.main, **bounds)
    assert resp.status_code == 200, resp.text
    expected = STEPS if float(bounds.get("xmin", 0)) <= 0 else 0
    assert len(resp.json()["runs"][0]["x"]) == expected


def test_huge_after_is_not_a_crash(curves: Curves, api: ApiClient) -> None:
    resp = api.get("/api/v1/projects/curves/series", key="loss", runs=curves.main,
                   after=str(2**63 - 1))
    if resp.status_code == 200:
        assert resp.json()["runs"][0]["x"] == []
    else:
        assert_error(resp, 422, "invalid_parameter", "after")
