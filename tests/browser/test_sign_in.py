"""A server that requires API keys: the dashboard asks for one, refuses a wrong one, and
with a good one shows the runs, their images included (the cookie reaches <img> too)."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest

from runwatch.records import Batch, Blob, RunStart, Series, StateChange, ValueSeries
from runwatch.store import keys, open_store
from tests.browser.conftest import Server, expect

PROJECT = "signed"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory):
    store_dir = tmp_path_factory.mktemp("guarded")
    store = open_store(f"sqlite:///{store_dir / 'runwatch.db'}", store_dir / "blobs")
    import hashlib
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(out, "PNG")
    png = out.getvalue()
    sha = hashlib.sha256(png).hexdigest()
    meta = json.dumps({"_type": "image", "sha256": sha, "format": "png", "width": 16,
                       "height": 16, "mode": "RGB", "size": len(png)})
    now = time.time()
    store.write(Batch(project=PROJECT, run_id="r1", seq=0, sent_at=now,
                      start=RunStart(name="guarded-run", created_at=now),
                      series=[Series("loss", [0, 1, 2], [now] * 3, [1.0, 0.5, 0.25])],
                      blobs=[Blob(sha, png)],
                      values=[ValueSeries("sample", [2], [now], [meta])],
                      state=StateChange(state="finished", at=now, exit_code=0)))
    with store.engine.begin() as conn:
        good = keys.create(conn, "browser")
    store.close()
    server = Server(store_dir, "--auth")
    try:
        yield server, good
    finally:
        server.stop()


def test_the_api_refuses_without_a_key(guarded):
    server, _good = guarded
    assert httpx.get(server.url + "/api/v1/projects").status_code == 401
    assert httpx.get(server.url + "/").status_code == 200  # the page itself loads


def test_sign_in_asks_refuses_then_shows_runs_and_images(guarded, page, page_guard):
    server, good = guarded
    # The browser logs every 401 as a failed load; here they are the point.
    page_guard.allow(r"status of 401 \(Unauthorized\)")
    page.goto(server.url + "/")
    form = page.locator("main.sign-in")
    expect(form).to_be_visible()
    field = form.get_by_label("API key")
    field.fill("rw_not-a-real-key")
    form.get_by_role("button", name="Sign in").click()
    expect(form.get_by_role("alert")).to_contain_text("not valid")
    field.fill(good)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=PROJECT)).to_be_visible()
    page.goto(f"{server.url}/p/{PROJECT}/r/r1")
    image = page.locator("img[src*='/api/v1/blobs/']").first
    expect(image).to_be_visible()
    image.scroll_into_view_if_needed()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0",
                           arg=image.element_handle())
    # The key lives in an HttpOnly cookie: page scripts cannot read it.
    assert good not in page.evaluate("document.cookie")
