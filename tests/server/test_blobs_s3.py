"""The server with its blobs in object storage (``runwatch server --blobs s3://...``,
here a real moto server over HTTP): media written through the store land in the bucket,
not on disk, and the API serves them as it serves a folder's, headers, ranges and all.
The same checks run on a folder store, so the two answer alike."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image as PILImage

import runwatch
from runwatch import jsonvalue
from runwatch.records import Batch, Blob, RunStart, ValueSeries
from runwatch.server import create_app
from runwatch.store import open_store
from tests.s3 import moto_server, new_bucket, point_env_at


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def _batch() -> tuple[Batch, dict[str, Any], dict[str, Any]]:
    """One run's batch: an image and a table, with their blobs."""
    pixels = (np.arange(60 * 40 * 3) % 251).astype(np.uint8).reshape(40, 60, 3)
    image = runwatch.Image(pixels).encode()
    table = runwatch.Table(columns=["i", "s"], data=[[i, f"row {i}"] for i in range(50)]).encode()
    now = time.time()
    blobs = {**image.blobs, **table.blobs}
    batch = Batch(project="p", run_id="r1", seq=0, sent_at=now,
                  start=RunStart(name="r1", created_at=now),
                  values=[ValueSeries("img", [0], [now], [jsonvalue.dumps(image.meta)]),
                          ValueSeries("tab", [0], [now], [jsonvalue.dumps(table.meta)])],
                  blobs=[Blob(sha, data) for sha, data in blobs.items()])
    return batch, image.meta, table.meta


class Http:
    """The app in-process over httpx, one request at a time."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def get(self, path: str, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return await c.get(path, params=params, headers=headers)

        # On a thread of its own: the browser tests' Playwright keeps an event loop
        # running on the main thread for the whole session.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result()


@pytest.mark.parametrize("where", ["s3", "local"])
def test_media_served_from_the_blob_store(where: str, tmp_path: Path,
                                          request: pytest.FixtureRequest,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    server_dir = tmp_path / "server"
    if where == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        point_env_at(endpoint, monkeypatch)
        client, bucket = new_bucket(endpoint)
        location = f"s3://{bucket}/blobs"
    else:
        location = str(tmp_path / "blobs")
    store = open_store(f"sqlite:///{tmp_path}/runwatch.db", location)
    batch, image_meta, table_meta = _batch()
    assert store.write(batch)
    if where == "s3":
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
        assert keys == {f"blobs/{b.sha256[:2]}/{b.sha256[2:]}" for b in batch.blobs}
        assert not (tmp_path / "blobs").exists() and not server_dir.exists()

    settings = runwatch.settings.resolve({"dir": str(server_dir)})
    http = Http(create_app(settings, store=store))
    value = http.get("/api/v1/projects/p/runs/r1/media", params={"key": "img"}).json()
    sha = value["value"]["sha256"]
    assert sha == image_meta["sha256"]
    png = store.blobs.get(sha)

    full = http.get(f"/api/v1/blobs/{sha}")
    assert full.status_code == 200 and full.content == png
    assert full.headers["content-type"] == "image/png"
    assert full.headers["etag"] == f'"{sha}"'
    assert "immutable" in full.headers["cache-control"]
    assert int(full.headers["content-length"]) == len(png)
    assert PILImage.open(io.BytesIO(full.content)).size == (60, 40)

    assert http.get(f"/api/v1/blobs/{sha}",
                    headers={"If-None-Match": f'"{sha}"'}).status_code == 304
    part = http.get(f"/api/v1/blobs/{sha}", headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == png[:8]
    assert part.headers["content-range"] == f"bytes 0-7/{len(png)}"
    tail = http.get(f"/api/v1/blobs/{sha}", headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == png[-5:]
    past = http.get(f"/api/v1/blobs/{sha}", headers={"Range": f"bytes={len(png)}-"})
    assert past.status_code == 416

    dl = http.get(f"/api/v1/blobs/{sha}", params={"name": '../../a "b".png'})
    assert dl.content == png and dl.headers["content-type"] == "application/octet-stream"
    assert "attachment" in dl.headers["content-disposition"]
    assert "../" not in dl.headers["content-disposition"]

    thumb = http.get(f"/api/v1/blobs/{sha}", params={"thumb": 32})
    assert thumb.status_code == 200
    assert max(PILImage.open(io.BytesIO(thumb.content)).size) == 32

    page = http.get("/api/v1/projects/p/runs/r1/table",
                    params={"key": "tab", "sort": "i", "desc": "true", "limit": 3}).json()
    assert page["nrows"] == 50 and [r[0] for r in page["rows"]] == [49, 48, 47]
    by_sha = http.get(f"/api/v1/tables/{table_meta['sha256']}", params={"limit": 2}).json()
    assert by_sha["rows"] == [[0, "row 0"], [1, "row 1"]]
    if where == "s3":  # paged from a checked copy on the server's disk, fetched once
        ts = table_meta["sha256"]
        assert (server_dir / "blobcache" / ts[:2] / ts[2:]).is_file()
    table_blob = http.get(f"/api/v1/blobs/{table_meta['sha256']}")
    assert hashlib.sha256(table_blob.content).hexdigest() == table_meta["sha256"]
    assert table_blob.headers["content-type"] == "application/octet-stream"

    missing = http.get(f"/api/v1/blobs/{'ab' * 32}")
    assert missing.status_code == 404 and "ab" * 32 in missing.json()["error"]["message"]
    assert http.get(f"/api/v1/blobs/{'ab' * 32}", params={"thumb": 32}).status_code == 404
    assert http.get(f"/api/v1/tables/{'ab' * 32}").status_code == 404
    assert http.get("/api/v1/blobs/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert http.get(f"/api/v1/blobs/{'A' * 64}").status_code == 404

    # The public API reads the same store: objects and table pages come back.
    run = runwatch.Api.over(store).run("p/r1")
    assert run.media("img").image.size == (60, 40)
    assert run.table_page("tab", offset=48)["rows"] == [[48, "row 48"], [49, "row 49"]]
    store.close()
