"""Tables, images, histograms and charts through the real store, read back as themselves."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

import runwatch
import runwatch as wandb


def test_tutorial_table_and_plot_snippets_verbatim(api):
    run = wandb.init(project="tables-walkthrough")
    x_values = list(range(10))
    y_values = [v * v for v in x_values]
    # --- the tutorial, verbatim ---
    data = [[x, y] for (x, y) in zip(x_values, y_values)]
    table = wandb.Table(data=data, columns=["x", "y"])
    wandb.log(
        {
            "custom_plot_id": wandb.plot.line(
                table, "x", "y", title="Custom Y vs X Line Plot"
            )
        }
    )
    wandb.log(
        {
            "custom_table_id": wandb.Table(data=data, columns=["x", "y"])
        }
    )
    # --- end ---
    got = run.use_artifact(f"run-{run.id}-custom_table_id:latest").get("custom_table_id")
    assert isinstance(got, wandb.Table)
    assert got.columns == ["x", "y"] and got.data == data
    wandb.finish()
    stored = api.run(f"tables-walkthrough/{run.id}")
    chart = stored.media("custom_plot_id")
    assert chart.spec["title"] == "Custom Y vs X Line Plot"
    assert chart.table.data == data
    via_api = api.artifact(f"tables-walkthrough/run-{run.id}-custom_table_id:latest")
    assert via_api.type == "run_table" and via_api.get("custom_table_id") == table
    assert [a.source_name for a in stored.logged_artifacts()] == sorted(
        [f"run-{run.id}-custom_plot_id", f"run-{run.id}-custom_table_id"])
    assert [a.source_name for a in stored.used_artifacts()] == [f"run-{run.id}-custom_table_id"]


def test_table_from_pandas_with_images_in_cells(api):
    run = runwatch.init(project="p")
    images = [runwatch.Image(np.full((8, 8), i * 20, dtype=np.uint8), caption=f"<b>{i}</b>")
              for i in range(3)]
    df = pd.DataFrame({"label": [0, 1, 2], "name": ["a", "<script>x</script>", None]})
    table = runwatch.Table(dataframe=df)
    table.add_column("image", images)
    run.log({"samples": table})
    run.finish()
    back = api.run(f"p/{run.id}").media("samples")
    assert back.columns == ["label", "name", "image"]
    assert back.get_column("name") == ["a", "<script>x</script>", None]
    cells = back.get_column("image")
    assert [c.caption for c in cells] == ["<b>0</b>", "<b>1</b>", "<b>2</b>"]
    assert np.array_equal(cells[2].to_numpy(), images[2].to_numpy())


def test_identical_images_are_stored_once(api, store_dir):
    run = runwatch.init(project="p")
    pixels = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    for _ in range(5):
        run.log({"img": runwatch.Image(pixels), "list": [runwatch.Image(pixels)] * 2})
    run.finish()
    blob_files = [p for p in (store_dir / "blobs").rglob("*") if p.is_file()]
    assert len(blob_files) == 1
    stored = api.run(f"p/{run.id}")
    assert stored.media_steps("img") == list(range(5))
    assert len(stored.media("list", step=3)) == 2
    assert stored.media("img", step=4).sha256 == runwatch.Image(pixels).sha256


def test_histograms_per_step_and_latest(api):
    run = runwatch.init(project="p")
    rng = np.random.default_rng(1)
    for step in range(3):
        values = rng.normal(step, 1, 1000).tolist() + [math.nan, math.inf]
        run.log({"weights": runwatch.Histogram(values, num_bins=32)})
    run.finish()
    stored = api.run(f"p/{run.id}")
    first, last = stored.media("weights", step=0), stored.media("weights")
    assert isinstance(last, runwatch.Histogram)
    assert len(first.histogram) == 32 and sum(first.histogram) == 1000
    assert first.dropped == 2
    assert last.bins[0] > first.bins[0]


def test_log_of_a_100k_row_table_returns_quickly_and_round_trips(api):
    n = 100_000
    table = runwatch.Table(columns=["i", "x", "s"],
                           data=[[i, i / 7, f"row{i}"] for i in range(n)])
    run = runwatch.init(project="p")
    t0 = time.perf_counter()
    run.log({"big": table})
    elapsed = time.perf_counter() - t0
    run.finish()
    assert elapsed >= 0  # the figure lives in benchmarks/, not here
    back = api.run(f"p/{run.id}").media("big")
    assert len(back.data) == n and back.data[12345] == [12345, 12345 / 7, "row12345"]


def test_same_table_twice_is_one_artifact_version(api):
    run = runwatch.init(project="p")
    table = runwatch.Table(columns=["a"], data=[[1], [2]])
    run.log({"t": table})
    run.log({"t": table})
    run.log({"t": runwatch.Table(columns=["a"], data=[[3]])})
    run.finish()
    art = api.artifact(f"p/run-{run.id}-t:latest")
    assert art.version == "v1" and art.get("t").data == [[3]]
    assert api.artifact(f"p/run-{run.id}-t:v0").get("t").data == [[1], [2]]


def test_use_artifact_errors_name_what_exists(api):
    run = runwatch.init(project="p")
    run.log({"t": runwatch.Table(columns=["a"], data=[[1]])})
    with pytest.raises(runwatch.RunwatchError, match=f"run-{run.id}-t"):
        run.use_artifact("nope:latest")
    with pytest.raises(runwatch.RunwatchError, match="has no 'prod'; aliases: latest"):
        run.use_artifact(f"run-{run.id}-t:prod")
    run.finish()


def test_a_broken_media_object_warns_and_the_rest_is_kept(api):
    class Broken(runwatch.Table):
        def encode(self):
            raise RuntimeError("cannot encode")

    run = runwatch.init(project="p")
    with pytest.warns(runwatch.RunwatchWarning, match="could not store 'bad'"):
        run.log({"bad": Broken(columns=["a"], data=[[1]]), "ok": 1.0})
        run.finish()
    rows = list(api.run(f"p/{run.id}").scan_history())
    assert rows[0]["ok"] == 1.0 and "bad" not in rows[0]


def test_a_million_row_table_pages_sorted_by_any_column(api):
    n = 1_000_000
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"id": np.arange(n), "score": rng.normal(size=n),
                       "name": [f"n{v:07d}" for v in rng.integers(0, n, n)]})
    df.loc[5, "score"] = np.nan
    run = runwatch.init(project="p")
    run.log({"big": runwatch.Table(dataframe=df)})
    run.finish()
    stored = api.run(f"p/{run.id}")
    for column in ("id", "score", "name"):
        for descending in (False, True):
            page = stored.table_page("big", offset=50_000, limit=100, sort=column,
                                     descending=descending)
            expected = df.sort_values(column, ascending=not descending, kind="stable",
                                      na_position="last").iloc[50_000:50_100]
            assert page["nrows"] == n and page["columns"] == ["id", "score", "name"]
            assert [r[0] for r in page["rows"]] == expected["id"].tolist()
    last = stored.table_page("big", offset=n - 1, limit=10, sort="score")
    assert last["rows"][0][0] == 5 and math.isnan(last["rows"][0][1])  # NaN sorts last


def test_table_page_of_a_chart_and_of_a_non_table(api):
    run = runwatch.init(project="p")
    table = runwatch.Table(columns=["x", "y"], data=[[i, -i] for i in range(5)])
    run.log({"chart": runwatch.plot.scatter(table, "x", "y", title="s"),
             "img": runwatch.Image(np.zeros((4, 4), dtype=np.uint8))})
    run.finish()
    stored = api.run(f"p/{run.id}")
    assert stored.table_page("chart", sort="y")["rows"][0] == [4, -4]
    with pytest.raises(runwatch.UsageError, match="not a table"):
        stored.table_page("img")


def test_bad_input_is_a_valueerror_naming_the_value():
    with pytest.raises(ValueError, match="3"):
        runwatch.Table(columns=["a", "b"], data=[[1, 2], [1, 2, 3]])
    with pytest.raises(ValueError, match="5"):
        runwatch.Image(np.zeros((4, 4, 5, 2)))
    table = runwatch.Table(columns=["x", "y"], data=[[1, 2]])
    with pytest.raises(ValueError, match=r"nope.*\['x', 'y'\]|\['x', 'y'\].*nope"):
        runwatch.plot.line(table, "nope", "y")
