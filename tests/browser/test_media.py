"""Media panels: images with a step slider (runs side by side), histograms over steps,
logged tables paged and sorted by the server, and plot.* charts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import IMG, Server, Site, expect, finish_child, snap, spawn

STEPS = 30
ROWS = 120
RUNS = ("m1", "m2")

_LOG_MEDIA = """
import numpy as np
import runwatch
rid = {rid!r}
rng = np.random.default_rng(0 if rid == "m1" else 1)
run = runwatch.init(project="media", id=rid, name="media-" + rid)
for step in range({steps}):
    run.log({{
        "loss": 1.0 / (step + 1),
        "examples": [runwatch.Image(rng.integers(0, 256, size=(28, 28), dtype=np.uint8),
                                    caption=f"{img} {{step}}") for _ in range(3)],
        "weights": runwatch.Histogram(rng.normal(size=500)),
    }})
run.log({{"preds": runwatch.Table(
    columns=["id", "image", "pred", "score"],
    data=[[i, runwatch.Image(rng.integers(0, 256, size=(28, 28), dtype=np.uint8)), i % 10,
           float(rng.random())] for i in range({rows})])}})
run.log({{
    "curve": runwatch.plot.line(runwatch.Table(columns=["x", "y"],
                                               data=[[i, i * i] for i in range(20)]),
                                "x", "y", title="squares"),
    "bars": runwatch.plot.bar(runwatch.Table(columns=["label", "value"],
                                             data=[["cat", 3], ["dog", 5], ["emu", 1]]),
                              "label", "value", title="animals"),
    "cm": runwatch.plot.confusion_matrix(y_true=[0, 1, 2, 2, 1], preds=[0, 2, 2, 1, 1],
                                         class_names=["a", "b", "c"]),
    "scat": runwatch.plot.scatter(runwatch.Table(columns=["a", "b"], data=[[i, i % 7] for i in range(30)]),
                                  "a", "b", title="spread"),
    "hist": runwatch.plot.histogram(runwatch.Table(columns=["v"], data=[[i % 13] for i in range(200)]),
                                    "v", title="values"),
    "series": runwatch.plot.line_series(xs=list(range(10)), ys=[[i for i in range(10)], [9 - i for i in range(10)]],
                                        keys=["up", "down"], title="two lines"),
    "pr": runwatch.plot.pr_curve([0, 1, 1, 0, 1, 0], [[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4], [0.1, 0.9], [0.7, 0.3]]),
    "roc": runwatch.plot.roc_curve([0, 1, 1, 0, 1, 0], [[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4], [0.1, 0.9], [0.7, 0.3]]),
}})
run.finish()
"""


@pytest.fixture(scope="module")
def media_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    store = tmp_path_factory.mktemp("media") / "store"
    store.mkdir()
    for rid in RUNS:  # one after the other: two writers never race on a fresh store
        proc = spawn(store, _LOG_MEDIA.format(rid=rid, steps=STEPS, rows=ROWS, img=IMG))
        out, err = finish_child(proc, timeout=120)
        assert proc.returncode == 0, f"logging {rid} failed:\n{out}\n{err}"
    server = Server(store)
    try:
        yield Site(store=store, url=server.url, held=[])
    finally:
        server.stop()


def media(page: Any, key: str, kind: str) -> Any:
    """The media panel of ``key``, scrolled into view (it loads when visible)."""
    p = page.locator(f'section.media-panel[data-key="{key}"]')
    p.scroll_into_view_if_needed()
    expect(p).to_have_attribute("data-kind", kind)
    return p


def set_slider(slider: Any, value: int) -> None:
    slider.evaluate("""(el, v) => { el.value = String(v);
        el.dispatchEvent(new Event('input', { bubbles: true })); }""", value)


def thumb_srcs(p: Any) -> list[str]:
    return p.locator("figure.thumb img").evaluate_all("els => els.map(e => e.getAttribute('src'))")


def open_images(media_site: Site, page: Any) -> Any:
    media_site.open(page, "/p/media")
    p = media(page, "examples", "image")
    expect(p.locator(".image-run")).to_have_count(2)
    return p


def test_image_panel_runs_side_by_side_slider_captions_and_overlay(media_site, page):
    p = open_images(media_site, page)
    runs = p.locator(".image-run")
    # In the runs table's order (newest first by default): each run once.
    assert sorted(runs.evaluate_all("els => els.map(e => e.dataset.run)")) == list(RUNS)
    # Side by side: the second run's strip starts to the right of the first, same row.
    a, b = (runs.nth(k).bounding_box() for k in range(2))
    assert b["x"] >= a["x"] + a["width"] - 1 and abs(a["y"] - b["y"]) < 5, (a, b)
    for rid in RUNS:
        expect(p.locator(f'.image-run[data-run="{rid}"] figure.thumb img')).to_have_count(3)
    expect(p.locator(".step-slider output")).to_have_text(str(STEPS - 1))
    expect(p.locator("figcaption").first).to_have_text(f"{IMG} {STEPS - 1}")
    before = thumb_srcs(p)
    assert len(before) == 6 and all("/api/v1/blobs/" in s and "thumb=160" in s for s in before)

    set_slider(p.locator(".step-slider input[type=range]"), 5)
    expect(p.locator(".step-slider output")).to_have_text("5")
    captions = p.locator("figcaption")
    expect(captions).to_have_count(6)
    assert captions.all_text_contents() == [f"{IMG} 5"] * 6  # literal text, not markup
    assert page.locator('img[src="x"]').count() == 0
    after = thumb_srcs(p)
    assert len(after) == 6 and not set(after) & set(before)
    snap(page, "media-images")

    p.locator("figure.thumb img").first.click()
    overlay = page.locator(".overlay")
    expect(overlay).to_be_visible()
    full = overlay.locator("img")
    src = full.get_attribute("src")
    assert "/api/v1/blobs/" in src and "thumb=" not in src
    assert src.split("?")[0] == after[0].split("?")[0]
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=full.element_handle())
    assert full.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [28, 28]
    expect(overlay.locator("p").first).to_have_text(f"{IMG} 5")
    assert page.locator('img[src="x"]').count() == 0
    overlay.click()
    expect(overlay).to_have_count(0)


def _thumb_urls(media_site: Site, page: Any, steps: range) -> dict[int, set[str]]:
    """The thumbnail URLs the panel would show at each of ``steps`` (both runs)."""
    out: dict[int, set[str]] = {s: set() for s in steps}
    for rid in RUNS:
        got = page.request.get(f"{media_site.url}/api/v1/projects/media/runs/{rid}/values",
                               params={"key": "examples", "limit": 5000}).json()
        for v in got["values"]:
            if v["step"] in out:
                out[v["step"]] |= {f"{media_site.url}/api/v1/blobs/{img['sha256']}?thumb=160"
                                   for img in v["value"]["items"]}
    return out


def test_image_slider_prefetches_neighbouring_thumbnails(media_site, page):
    requested: set[str] = set()
    page.on("request", lambda r: requested.add(r.url) if "/api/v1/blobs/" in r.url
            and "thumb=" in r.url else None)
    p = open_images(media_site, page)
    expect(p.locator("figure.thumb img")).to_have_count(6)
    by_step = _thumb_urls(media_site, page, range(STEPS))
    assert all(len(urls) == 6 for urls in by_step.values())
    requested.clear()  # only what moving the slider asks for from here on
    set_slider(p.locator(".step-slider input[type=range]"), 5)
    expect(p.locator(".step-slider output")).to_have_text("5")
    shown = {media_site.url + s for s in thumb_srcs(p)}
    assert shown == by_step[5]
    # At least the three steps either side (the panel fetches a wider window ahead).
    neighbours = set().union(*(by_step[s] for s in range(2, 9) if s != 5))
    deadline = time.monotonic() + 5
    while not neighbours <= requested and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert shown <= requested
    missing = neighbours - requested
    assert not missing, f"{len(missing)} of {len(neighbours)} neighbour thumbnails never requested"
    assert len(requested) > len(shown)


def test_histogram_panel_draws_heatmap_and_bars(media_site, page):
    media_site.open(page, "/p/media")
    p = media(page, "weights", "histogram")
    canvas = p.locator("canvas.heatmap")
    expect(canvas).to_be_visible()
    page.wait_for_function("""c => { if (!c.width || !c.height) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let k = 3; k < d.length; k += 4) if (d[k] > 0) return true;
        return false; }""", arg=canvas.element_handle())
    painted = canvas.evaluate("""c => { const d = c.getContext('2d')
        .getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let k = 3; k < d.length; k += 4) if (d[k] > 0) n++; return n / (d.length / 4); }""")
    assert painted > 0.05, painted
    bars = p.locator(".bars .bar")
    assert bars.count() > 3
    heights = bars.evaluate_all("els => els.map(e => parseFloat(e.style.height))")
    assert max(heights) == 100 and any(0 < h < 100 for h in heights), heights
    expect(p.locator(".step-slider output")).to_have_text(str(STEPS - 1))


def _scores(p: Any) -> list[float]:
    col = p.locator("table.logged-table th").evaluate_all(
        "els => els.map(e => e.dataset.col)").index("score")
    cells = p.locator(f"table.logged-table tbody tr td:nth-child({col + 1})")
    return [float(t) for t in cells.all_text_contents()]


def test_table_pages_sorts_and_draws_image_cells(media_site, page):
    media_site.open(page, "/p/media")
    p = media(page, "preds", "table")
    view = p.locator(".table-view")
    shown = view.locator(".rows-shown")
    expect(shown).to_have_text("1–50 of 120")
    expect(view.locator("table.logged-table tbody tr")).to_have_count(50)
    expect(view.locator("img.cell-image")).to_have_count(50)
    src = view.locator("img.cell-image").first.get_attribute("src")
    assert "/api/v1/blobs/" in src and "thumb=" in src
    expect(view.locator("button.prev")).to_be_disabled()
    view.locator("button.next").click()
    expect(shown).to_have_text("51–100 of 120")
    first_id = view.locator("table.logged-table tbody tr").first.locator("td").first
    expect(first_id).to_have_text("50")
    view.locator("button.next").click()
    expect(shown).to_have_text("101–120 of 120")
    expect(view.locator("button.next")).to_be_disabled()
    view.locator("button.prev").click()
    expect(shown).to_have_text("51–100 of 120")

    th = view.locator('table.logged-table th[data-col="score"]')
    th.click()
    expect(th).to_have_attribute("aria-sort", "ascending")
    expect(shown).to_have_text("1–50 of 120")  # sorting goes back to the first page
    # The counter moves before the sorted page arrives: wait for the rows themselves.
    page.wait_for_function("""() => { const cells = [...document.querySelectorAll(
        'section.media-panel[data-key="preds"] table.logged-table tbody tr td:nth-child(4)')]
        .map(td => parseFloat(td.textContent));
        return cells.length === 50 && cells.every((v, k) => k === 0 || cells[k - 1] <= v); }""")
    asc = _scores(p)
    assert asc == sorted(asc) and len(asc) == 50
    th.click()
    expect(th).to_have_attribute("aria-sort", "descending")
    page.wait_for_function("""() => { const cells = [...document.querySelectorAll(
        'section.media-panel[data-key="preds"] table.logged-table tbody tr td:nth-child(4)')]
        .map(td => parseFloat(td.textContent));
        return cells.length === 50 && cells.every((v, k) => k === 0 || cells[k - 1] >= v); }""")
    desc = _scores(p)
    assert desc == sorted(desc, reverse=True)
    assert desc[0] >= asc[-1]
    snap(page, "media-table")


def test_clicking_an_unsortable_image_column_keeps_the_table_usable(media_site, page):
    media_site.open(page, "/p/media")
    view = media(page, "preds", "table").locator(".table-view")
    expect(view.locator(".rows-shown")).to_have_text("1–50 of 120")
    view.locator('table.logged-table th[data-col="image"]').click()
    page.wait_for_timeout(500)  # the answer to a sort request, if one is made
    expect(view.locator(".rows-shown")).to_have_text("1–50 of 120", timeout=2000)
    expect(view.locator("table.logged-table tbody tr")).to_have_count(50, timeout=2000)
    score = view.locator('table.logged-table th[data-col="score"]')
    score.click()
    expect(score).to_have_attribute("aria-sort", "ascending", timeout=2000)


def test_plot_charts_line_bar_and_confusion_matrix(media_site, page):
    media_site.open(page, "/p/media")
    curve = media(page, "curve", "chart")
    line = curve.locator('.custom-chart[data-chart-kind="line"]')
    expect(line.locator(".chart-title")).to_have_text("squares")
    canvas = line.locator(".chart canvas").first
    canvas.wait_for()
    page.wait_for_function("""c => { const d = c.getContext('2d')
        .getImageData(0, 0, c.width, c.height).data;
        for (let k = 3; k < d.length; k += 4) if (d[k] > 0) return true; return false; }""",
                           arg=canvas.element_handle())

    bars = media(page, "bars", "chart").locator('[data-chart-kind="bar"]')
    rows = bars.locator(".hbar-row")
    expect(rows).to_have_count(3)
    assert rows.locator(".hbar-label").all_text_contents() == ["cat", "dog", "emu"]
    widths = rows.locator(".hbar").evaluate_all("els => els.map(e => parseFloat(e.style.width))")
    assert widths[1] == 100 and widths[2] < widths[0] < widths[1], widths

    cm = media(page, "cm", "chart").locator('[data-chart-kind="confusion_matrix"] table.confusion')
    expect(cm).to_be_visible()
    cells = cm.locator("tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.querySelectorAll('td')].map(td => Number(td.textContent)))")
    # y_true [0,1,2,2,1] vs preds [0,2,2,1,1], classes a, b, c.
    assert cells == [[1, 0, 0], [0, 1, 1], [0, 1, 1]], cells
    assert cm.locator("tbody th").all_text_contents() == ["a", "b", "c"]
    snap(page, "media-charts")


def test_run_page_shows_the_same_media_panels_for_its_run(media_site, page):
    media_site.open(page, f"/p/media/r/{RUNS[1]}")
    p = media(page, "examples", "image")
    expect(p.locator(".image-run")).to_have_count(1)
    expect(p.locator(f'.image-run[data-run="{RUNS[1]}"] figure.thumb img')).to_have_count(3)
    expect(p.locator(".step-slider output")).to_have_text(str(STEPS - 1))
    expect(media(page, "weights", "histogram").locator("canvas.heatmap")).to_be_visible()
    expect(media(page, "preds", "table").locator(".rows-shown")).to_have_text("1–50 of 120")
    expect(media(page, "curve", "chart").locator(".chart-title")).to_have_text("squares")
    expect(media(page, "bars", "chart").locator(".hbar-row")).to_have_count(3)
    expect(media(page, "cm", "chart").locator("table.confusion")).to_be_visible()
    assert page.locator("section.media-panel").count() == 11


def test_table_filter_keeps_matching_rows(media_site, page, page_guard):
    page_guard.allow("status of 422")  # the bad filter below is refused, as it should be
    media_site.open(page, "/p/media")
    view = media(page, "preds", "table").locator(".table-view")
    expect(view.locator(".rows-shown")).to_have_text("1–50 of 120")
    box = view.locator("input.table-filter")
    box.fill("pred=3 score>0.2")
    box.press("Enter")
    expect(view.locator(".rows-shown")).not_to_have_text("1–50 of 120")
    rows = view.locator("table.logged-table tbody tr")
    cells = rows.evaluate_all("trs => trs.map(tr => [...tr.children].map(td => td.innerText))")
    assert cells and all(c[2] == "3" and float(c[3]) > 0.2 for c in cells)
    text = view.locator(".rows-shown").inner_text()
    assert text.endswith(f"of {len(cells)}")
    box.fill("nope>1")
    box.press("Enter")
    expect(view.locator(".table-error")).to_contain_text("'nope'")
    expect(box).to_be_visible()  # the table stays usable after a bad filter


@pytest.mark.parametrize("key, kind, lines", [("scat", "scatter", 1), ("series", "line_series", 2),
                                              ("pr", "pr_curve", 2), ("roc", "roc_curve", 2)])
def test_every_curve_chart_draws_its_lines(media_site, page, key, kind, lines):
    media_site.open(page, "/p/media")
    chart = media(page, key, "chart").locator(f'.custom-chart[data-chart-kind="{kind}"]')
    expect(chart.locator(".chart")).to_have_attribute("data-lines", str(lines))
    canvas = chart.locator(".chart canvas").first
    canvas.wait_for()
    page.wait_for_function("""c => { const d = c.getContext('2d')
        .getImageData(0, 0, c.width, c.height).data;
        for (let k = 3; k < d.length; k += 4) if (d[k] > 0) return true; return false; }""",
                           arg=canvas.element_handle())


def test_histogram_chart_counts_its_values(media_site, page):
    media_site.open(page, "/p/media")
    chart = media(page, "hist", "chart").locator('.custom-chart[data-chart-kind="histogram"]')
    expect(chart.locator(".chart-title")).to_have_text("values")
    expect(chart.locator(".bar")).to_have_count(20)
    expect(chart).to_contain_text("(200 values)")
