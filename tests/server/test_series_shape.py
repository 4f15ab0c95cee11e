"""Series of several runs share their buckets, and sampled numbers stay short."""

from __future__ import annotations

import json
from pathlib import Path

from runwatch.server import models
from tests.server.conftest import start_run


def _log(store: Path, run_id: str, steps: range, scale: float) -> None:
    run = start_run(store, "shape", id=run_id)
    for s in steps:
        run.log({"loss": scale / (s + 1) + 1 / 3}, step=s)
    run.finish()


def test_sampled_runs_share_x_and_round_y(store_dir: Path, client_for) -> None:
    _log(store_dir, "long", range(0, 20_000), 1.0)
    _log(store_dir, "short", range(5_000, 15_000), 2.0)
    api = client_for(store_dir)
    data = api.ok("/api/v1/projects/shape/series", models.SeriesResponse, key="loss",
                  runs="long,short", width=500)
    long, short = data["runs"]
    assert long["sampled"] and short["sampled"]
    # One set of buckets over both runs' range: the short run's x values are a
    # subset of the long run's, so a chart joins them without new rows.
    assert set(short["x"]) <= set(long["x"])
    assert len(long["x"]) == 500 and 200 <= len(short["x"]) <= 260
    # Bucket means are rounded to 7 significant digits: short JSON, same picture.
    assert all(len(repr(v).replace("-", "").replace(".", "").lstrip("0")) <= 8
               for v in long["y"] if v is not None)
    assert abs(long["y"][-1] - (1 / 20_000 + 1 / 3)) < 1e-3


def test_raw_values_are_exact(store_dir: Path, client_for) -> None:
    _log(store_dir, "few", range(0, 50), 1.0)
    api = client_for(store_dir)
    resp = api.get("/api/v1/projects/shape/series", key="loss", runs="few", width=500)
    (r,) = resp.json()["runs"]
    assert r["sampled"] is False
    assert r["y"] == [1.0 / (s + 1) + 1 / 3 for s in range(50)]
    assert json.loads(resp.text)["runs"][0]["x"] == list(range(50))
