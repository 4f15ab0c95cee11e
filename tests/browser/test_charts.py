"""Chart controls: smoothing, log scale, x-axis, zoom and the hover tooltip."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from tests.browser.conftest import (
    BIG_STEPS,
    CLOCK_STEPS,
    NO_VAL,
    chart_ready,
    expect,
    hover,
    panel,
    plot_box,
    snap,
    wait_url,
)

VAL_RUNS = 5 - len(NO_VAL)


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def open_vision(site, page, query_string: str = "") -> None:
    site.open(page, "/p/vision" + query_string)
    page.locator("table.runs tr[data-run]").first.wait_for()


def test_smoothing_keeps_the_raw_line_and_log_scale_toggles(site, page):
    open_vision(site, page)
    chart = chart_ready(page, "train/loss", 5).locator(".chart")
    expect(chart).to_have_attribute("data-series", "5")

    page.locator(".smooth input[type=range]").fill("0.8")
    expect(page.locator(".smooth output")).to_have_text("0.80")
    expect(chart).to_have_attribute("data-series", "10")  # each line plus its faint raw line
    expect(chart).to_have_attribute("data-lines", "5")
    wait_url(page, lambda u: query(u).get("smooth") == ["0.8"])

    page.locator(".smooth input[type=range]").fill("0")
    expect(chart).to_have_attribute("data-series", "5")
    wait_url(page, lambda u: "smooth" not in query(u))

    log = page.locator("input.log-scale")
    expect(chart).to_have_attribute("data-log", "0")
    log.check()
    expect(chart).to_have_attribute("data-log", "1")
    expect(chart.locator("canvas").first).to_be_visible()
    wait_url(page, lambda u: query(u).get("log") == ["1"])
    log.uncheck()
    expect(chart).to_have_attribute("data-log", "0")
    wait_url(page, lambda u: "log" not in query(u))


def test_x_axis_choice_and_step_metric_default(site, page):
    open_vision(site, page)
    train = chart_ready(page, "train/loss", 5).locator(".chart")
    val = chart_ready(page, "val/loss", VAL_RUNS).locator(".chart")
    # Default: each metric's own step_metric (define_metric("val/*", step_metric="epoch")).
    expect(page.locator("select.x-axis")).to_have_value("")
    expect(train).to_have_attribute("data-x", "Step")
    expect(val).to_have_attribute("data-x", "epoch")

    page.locator("select.x-axis").select_option("_runtime")
    expect(train).to_have_attribute("data-x", "Relative time (s)")
    expect(val).to_have_attribute("data-x", "Relative time (s)")
    expect(train).to_have_attribute("data-lines", "5")
    wait_url(page, lambda u: query(u).get("x") == ["_runtime"])

    page.locator("select.x-axis").select_option("_timestamp")
    expect(train).to_have_attribute("data-x", "Wall time")

    page.locator("select.x-axis").select_option("epoch")
    expect(val).to_have_attribute("data-x", "epoch")
    expect(val).to_have_attribute("data-lines", str(VAL_RUNS))
    # train/loss is logged on every step, epoch only on every tenth, in the same rows.
    expect(train).to_have_attribute("data-x", "epoch")
    expect(train).to_have_attribute("data-lines", str(VAL_RUNS))

    page.locator("select.x-axis").select_option("_step")
    expect(val).to_have_attribute("data-x", "Step")


def _drag(page, chart, start: float, end: float) -> None:
    box = plot_box(chart)
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (start + end) / 2, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.mouse.up()


def test_drag_zooms_and_reset_restores(site, page):
    site.open(page, "/p/big")
    p = chart_ready(page, "loss", 1)
    chart = p.locator(".chart")
    expect(p).to_have_attribute("data-points", str(BIG_STEPS))
    expect(chart).to_have_attribute("data-zoomed", "0")
    expect(page.locator("button.reset-zoom")).to_have_count(0)

    _drag(page, chart, 0.3, 0.6)
    url = wait_url(page, lambda u: "zoom" in query(u))
    lo, hi = (float(v) for v in query(url)["zoom"][0].split(","))
    assert 0 < lo < hi < BIG_STEPS, (lo, hi)
    expect(chart).to_have_attribute("data-zoomed", "1")
    page.wait_for_function(
        "n => +document.querySelector('section.panel[data-key=loss]').dataset.points < n",
        arg=BIG_STEPS)
    points = int(p.get_attribute("data-points"))
    # The panel holds the points in the zoomed range, give or take the edges.
    assert abs(points - (hi - lo)) <= 0.02 * BIG_STEPS, (points, lo, hi)
    snap(page, "zoomed")

    page.locator("button.reset-zoom").click()
    expect(p).to_have_attribute("data-points", str(BIG_STEPS))
    expect(chart).to_have_attribute("data-zoomed", "0")
    assert "zoom" not in query(page.url)

    _drag(page, chart, 0.5, 0.7)  # and a double-click resets as well
    expect(chart).to_have_attribute("data-zoomed", "1")
    chart.locator(".u-over").dblclick()
    expect(chart).to_have_attribute("data-zoomed", "0")
    expect(p).to_have_attribute("data-points", str(BIG_STEPS))
    wait_url(page, lambda u: "zoom" not in query(u))


def test_hover_lists_every_charted_run(site, page):
    open_vision(site, page)
    p = chart_ready(page, "train/loss", 5)
    tip = hover(page, p)
    expect(tip.locator(".tt-row")).to_have_count(5)
    names = tip.locator(".tt-name").all_inner_texts()
    assert sorted(names) == ["alpha", "beta", "delta", "epsilon", "gamma"]
    expect(tip.locator(".tt-x")).to_contain_text("Step")
    snap(page, "hover")

    page.locator('tr[data-run="beta"] td.col-pick input').uncheck()
    expect(p.locator(".chart")).to_have_attribute("data-lines", "4")
    expect(p).to_have_attribute("data-points", "160")
    tip = hover(page, p, 0.4)
    expect(tip.locator(".tt-row")).to_have_count(4)
    assert "beta" not in tip.locator(".tt-name").all_inner_texts()
    page.mouse.move(0, 0)  # leaving the chart hides the tooltip
    expect(panel(page, "train/loss").locator(".tooltip")).to_have_count(0)


def test_wall_time_zoom_survives_a_reload(site, page):
    # The run "clock" logged CLOCK_STEPS points evenly over about half a second.
    site.open(page, "/p/clock?x=_timestamp")
    p = chart_ready(page, "value", 1)
    chart = p.locator(".chart")
    expect(chart).to_have_attribute("data-x", "Wall time")
    expect(p).to_have_attribute("data-points", str(CLOCK_STEPS))
    _drag(page, chart, 0.3, 0.6)
    expect(chart).to_have_attribute("data-zoomed", "1")
    page.wait_for_function(
        "n => +document.querySelector('section.panel[data-key=value]').dataset.points < n",
        arg=CLOCK_STEPS)
    zoomed = int(p.get_attribute("data-points"))
    assert zoomed > 0
    wait_url(page, lambda u: "zoom" in query(u))

    page.reload()
    p = chart_ready(page, "value", 1)
    expect(p.locator(".chart")).to_have_attribute("data-zoomed", "1", timeout=3000)
    expect(p).to_have_attribute("data-points", str(zoomed), timeout=3000)
