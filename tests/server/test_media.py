"""Logged objects over the API: media steps, the object at a step, blobs and thumbnails,
and pages of logged tables."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import runwatch
from tests.server.conftest import ApiClient, assert_error

MARKUP = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def media_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    store = tmp_path_factory.mktemp("media") / "store"
    run = runwatch.init(project="media", dir=str(store))
    rng = np.random.default_rng(0)
    for step in range(5):
        pixels = (rng.random((40, 60, 3)) * 255).astype(np.uint8)
        run.log({"digits": [runwatch.Image(pixels, caption=f"{MARKUP} {step}"),
                            runwatch.Image(pixels[:, :, 0])],
                 "weights": runwatch.Histogram(rng.normal(size=100)),
                 "loss": 1.0 / (step + 1)}, step=step * 10)
    table = runwatch.Table(columns=["i", "name", "score"],
                           data=[[i, f"{MARKUP}{i}", float((i * 37) % 101)] for i in range(1000)])
    run.log({"preds": table}, step=50)
    run.log({"curve": runwatch.plot.line(
        runwatch.Table(columns=["x", "y"], data=[[i, i * i] for i in range(10)]),
        "x", "y", title="squares")}, step=60)
    run.finish()
    return store, run.id


@pytest.fixture(scope="module")
def api(media_store: tuple[Path, str]):
    c = ApiClient(media_store[0])
    yield c
    c.close()


def test_media_steps_per_run(media_store, api: ApiClient) -> None:
    _, run_id = media_store
    data = api.get("/api/v1/projects/media/media/steps", key="digits",
                   runs=f"{run_id},nope").json()
    assert data["runs"] == [{"id": run_id, "steps": [0, 10, 20, 30, 40]}]
    assert data["missing"] == ["nope"]


def test_media_value_at_or_before_a_step(media_store, api: ApiClient) -> None:
    _, run_id = media_store
    r = api.get(f"/api/v1/projects/media/runs/{run_id}/media", key="digits", step=25).json()
    assert r["step"] == 20
    items = r["value"]["items"] if r["value"]["_type"] == "media-list" else None
    assert items and items[0]["caption"] == f"{MARKUP} 2" and items[0]["width"] == 60
    latest = api.get(f"/api/v1/projects/media/runs/{run_id}/media", key="weights").json()
    assert latest["step"] == 40 and latest["value"]["_type"] == "histogram"
    # Before the first step there is nothing to show.
    early = api.get(f"/api/v1/projects/media/runs/{run_id}/media", key="preds", step=49)
    assert_error(early, 404, "not_found", "step 49")
    assert_error(api.get(f"/api/v1/projects/media/runs/{run_id}/media", key="nothing"),
                 404, "not_found", "'nothing'")
    assert_error(api.get("/api/v1/projects/media/runs/zzz/media", key="digits"),
                 404, "not_found", "'zzz'")


def test_blob_image_thumbnail_and_download(media_store, api: ApiClient) -> None:
    _, run_id = media_store
    value = api.get(f"/api/v1/projects/media/runs/{run_id}/media", key="digits").json()["value"]
    sha = value["items"][0]["sha256"]
    full = api.get(f"/api/v1/blobs/{sha}")
    assert full.status_code == 200 and full.headers["content-type"] == "image/png"
    assert "immutable" in full.headers["cache-control"]
    assert PILImage.open(io.BytesIO(full.content)).size == (60, 40)
    thumb = api.get(f"/api/v1/blobs/{sha}", thumb=32)
    assert thumb.status_code == 200 and thumb.headers["content-type"].startswith("image/")
    assert max(PILImage.open(io.BytesIO(thumb.content)).size) == 32
    again = api.get(f"/api/v1/blobs/{sha}", thumb=32)
    assert again.content == thumb.content  # served from the thumbnail cache
    dl = api.get(f"/api/v1/blobs/{sha}", name='../../a "b".png')
    assert dl.headers["content-type"] == "application/octet-stream"
    assert "attachment" in dl.headers["content-disposition"]
    assert "../" not in dl.headers["content-disposition"]


@pytest.mark.parametrize("bad", ["..%2F..%2Fetc%2Fpasswd", "0" * 63, "g" * 64, "A" * 64])
def test_blob_names_cannot_leave_the_store(api: ApiClient, bad: str) -> None:
    assert_error(api.get(f"/api/v1/blobs/{bad}"), 404, "not_found")


def test_unknown_blob_and_non_image_thumbnail(media_store, api: ApiClient) -> None:
    assert_error(api.get(f"/api/v1/blobs/{'ab' * 32}"), 404, "not_found", "ab" * 32)
    _, run_id = media_store
    page = api.get(f"/api/v1/projects/media/runs/{run_id}/media", key="preds").json()
    sha = page["value"]["sha256"]
    assert_error(api.get(f"/api/v1/blobs/{sha}", thumb=64), 422, "not_an_image")


def test_table_pages_sorted_by_any_column(media_store, api: ApiClient) -> None:
    _, run_id = media_store
    url = f"/api/v1/projects/media/runs/{run_id}/table"
    first = api.get(url, key="preds", limit=5).json()
    assert first["nrows"] == 1000 and first["columns"] == ["i", "name", "score"]
    assert [r[0] for r in first["rows"]] == [0, 1, 2, 3, 4]
    assert first["rows"][0][1] == f"{MARKUP}0"
    by_score = api.get(url, key="preds", sort="score", desc="true", offset=0, limit=3).json()
    assert [r[2] for r in by_score["rows"]] == [100.0] * 3
    last = api.get(url, key="preds", offset=998, limit=100).json()
    assert [r[0] for r in last["rows"]] == [998, 999]
    chart = api.get(url, key="curve").json()
    assert chart["columns"] == ["x", "y"] and chart["rows"][3] == [3, 9]


def test_table_errors(media_store, api: ApiClient) -> None:
    _, run_id = media_store
    url = f"/api/v1/projects/media/runs/{run_id}/table"
    assert_error(api.get(url, key="digits"), 422, "not_a_table", "'digits'")
    assert_error(api.get(url, key="preds", sort="nope"), 422, "invalid_parameter", "'nope'")
    assert_error(api.get(url, key="preds", limit=5000), 422, "invalid_parameter")


def test_values_over_steps_sampled(media_store, api: ApiClient) -> None:
    _, run_id = media_store
    url = f"/api/v1/projects/media/runs/{run_id}/values"
    data = api.get(url, key="weights").json()
    assert data["total"] == 5 and [v["step"] for v in data["values"]] == [0, 10, 20, 30, 40]
    assert data["values"][0]["value"]["_type"] == "histogram"
    few = api.get(url, key="weights", limit=2).json()
    assert [v["step"] for v in few["values"]] == [0, 40]
    assert api.get(url, key="nothing").json()["values"] == []


def test_table_by_its_blob(media_store, api: ApiClient) -> None:
    _, run_id = media_store
    sha = api.get(f"/api/v1/projects/media/runs/{run_id}/media", key="preds").json()["value"]["sha256"]
    page = api.get(f"/api/v1/tables/{sha}", sort="i", desc="true", limit=2).json()
    assert page["nrows"] == 1000 and [r[0] for r in page["rows"]] == [999, 998]
    assert_error(api.get(f"/api/v1/tables/{'cd' * 32}"), 404, "not_found")
    assert_error(api.get("/api/v1/tables/..%2Fx"), 404, "not_found")
    image_sha = api.get(f"/api/v1/projects/media/runs/{run_id}/media",
                        key="digits").json()["value"]["items"][0]["sha256"]
    assert_error(api.get(f"/api/v1/tables/{image_sha}"), 422, "not_a_table")


def test_table_filter_then_sort_then_page(media_store, api: ApiClient) -> None:
    _, run_id = media_store
    url = f"/api/v1/projects/media/runs/{run_id}/table"
    # score = (i * 37) % 101: keep the rows above 90, highest first.
    page = api.get(url, key="preds", filter="score>90", sort="score", desc="true",
                   limit=5).json()
    expected = sorted(((i * 37) % 101 for i in range(1000) if (i * 37) % 101 > 90), reverse=True)
    assert page["matched"] == len(expected) and page["nrows"] == 1000
    assert [r[2] for r in page["rows"]] == expected[:5]
    both = api.get(url, key="preds", filter="score>=100 i<500", limit=100).json()
    assert all(r[2] == 100 and r[0] < 500 for r in both["rows"]) and both["matched"] > 0
    # A bare word searches the text columns; markup is just text.
    word = api.get(url, key="preds", filter='"<img" name:99', limit=100).json()
    assert {r[0] for r in word["rows"]} == {i for i in range(1000) if "99" in f"{MARKUP}{i}"}
    text = api.get(url, key="preds", filter="name=" + f"{MARKUP}7".replace(" ", ""),
                   limit=10).json()
    assert text["matched"] == 0  # the name has spaces: unquoted, it is another value
    quoted = api.get(url, key="preds", filter=f'name="{MARKUP}7"', limit=10).json()
    assert [r[0] for r in quoted["rows"]] == [7]
    assert_error(api.get(url, key="preds", filter="nope>1"), 422, "invalid_parameter", "'nope'")


def test_run_files_list_media_and_generated_json(media_store, api: ApiClient) -> None:
    _, run_id = media_store
    data = api.get(f"/api/v1/projects/media/runs/{run_id}/files").json()
    paths = [f["path"] for f in data["files"]]
    assert paths[:3] == ["config.json", "summary.json", "metadata.json"]
    assert "media/digits/20-0.png" in paths and "media/digits/20-1.png" in paths
    assert "media/preds/50.json" in paths and data["truncated"] is False
    image = next(f for f in data["files"] if f["path"] == "media/digits/0-0.png")
    blob = api.get(f"/api/v1/blobs/{image['sha256']}")
    assert blob.status_code == 200 and len(blob.content) == image["size"]
    meta = api.get(f"/api/v1/projects/media/runs/{run_id}/files/metadata.json", download="true")
    assert meta.headers["content-disposition"].startswith("attachment")
    assert "python" in meta.json()
    assert_error(api.get(f"/api/v1/projects/media/runs/{run_id}/files/..%2Fsecret"),
                 404, "not_found")
    assert_error(api.get(f"/api/v1/projects/media/runs/{run_id}/files/other.txt"),
                 404, "not_found", "'other.txt'")
