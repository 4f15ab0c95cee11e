"""A shared URL restores the whole view; light and dark follow the system setting."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlparse

from tests.browser.conftest import chart_ready, expect, panel, snap


def test_workspace_url_restores_axis_smoothing_log_filter_and_grouping(site, page):
    q = "config.lr>0.005"
    site.open(page, f"/p/vision?x=_runtime&smooth=0.5&log=1&q={quote(q)}&group=config.lr")
    expect(page.locator("select.x-axis")).to_have_value("_runtime")
    expect(page.locator(".smooth input[type=range]")).to_have_value("0.5")
    expect(page.locator(".smooth output")).to_have_text("0.50")
    expect(page.locator("input.log-scale")).to_be_checked()
    expect(page.locator("input.filter")).to_have_value(q)
    expect(page.locator("select.group-by")).to_have_value("config.lr")
    # alpha, gamma (lr 0.01) and epsilon (lr 0.1) pass the filter: two groups.
    expect(page.locator("tr.group-row")).to_have_count(2)
    expect(page.locator("table.runs tr[data-run]")).to_have_count(3)
    expect(page.locator(".counts")).to_have_text("3 of 5 runs · 3 charted")

    chart = chart_ready(page, "train/loss", 2).locator(".chart")
    expect(chart).to_have_attribute("data-x", "Relative time (s)")
    expect(chart).to_have_attribute("data-log", "1")
    # Two smoothed group lines, their raw lines, and the band of the two-run group.
    expect(chart).to_have_attribute("data-series", "6")


def test_workspace_url_restores_sort_columns_runs_search_and_zoom(site, page):
    site.open(page, "/p/vision?sort=-name&cols=config.optimizer,summary.epoch"
                    "&runs=alpha,beta&search=loss&zoom=5,20")
    expect(page.locator('th[data-col="name"]')).to_have_attribute("aria-sort", "descending")
    rows = page.locator("table.runs tr[data-run]")
    expect(rows).to_have_count(5)
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.run)") == \
        ["gamma", "epsilon", "delta", "beta", "alpha"]
    expect(page.locator('th[data-col="config.optimizer"]')).to_be_visible()
    expect(page.locator('th[data-col="summary.epoch"]')).to_be_visible()
    expect(page.locator(".counts")).to_have_text("5 of 5 runs · 2 charted")
    expect(page.locator('tr[data-run="alpha"] td.col-pick input')).to_be_checked()
    expect(page.locator('tr[data-run="gamma"] td.col-pick input')).not_to_be_checked()

    expect(page.locator("input.chart-search")).to_have_value("loss")
    expect(page.locator("section.panel")).to_have_count(2)  # train/loss and val/loss
    expect(panel(page, "lr")).to_have_count(0)

    p = chart_ready(page, "train/loss", 2)
    expect(p.locator(".chart")).to_have_attribute("data-zoomed", "1")
    expect(page.locator("button.reset-zoom")).to_be_visible()
    # Steps 5..20 of two runs.
    expect(p).to_have_attribute("data-points", "32")


def _rgb(css: str) -> tuple[int, int, int]:
    m = re.match(r"rgba?\((\d+), (\d+), (\d+)", css)
    assert m, css
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _lightness(rgb: tuple[int, int, int]) -> float:
    return sum(rgb) / (3 * 255)


def _colors(page) -> dict[str, tuple[int, int, int]]:
    got = page.evaluate("""() => ({
        body: getComputedStyle(document.body).backgroundColor,
        text: getComputedStyle(document.body).color,
        panel: getComputedStyle(document.querySelector('section.panel')).backgroundColor,
    })""")
    return {k: _rgb(v) for k, v in got.items()}


def test_dark_and_light_follow_the_color_scheme(site, new_page):
    dark = new_page(color_scheme="dark")
    site.open(dark, "/p/vision")
    chart_ready(dark, "train/loss", 5)
    colors = _colors(dark)
    assert _lightness(colors["body"]) < 0.2, colors
    assert _lightness(colors["panel"]) < 0.2, colors
    assert _lightness(colors["text"]) > 0.7, colors
    snap(dark, "workspace-dark")

    light = new_page(color_scheme="light")
    site.open(light, "/p/vision")
    chart_ready(light, "train/loss", 5)
    colors = _colors(light)
    assert _lightness(colors["body"]) > 0.9, colors
    assert _lightness(colors["panel"]) > 0.9, colors
    assert _lightness(colors["text"]) < 0.3, colors


def test_back_and_forward_keep_each_page_and_its_view(site, page):
    site.open(page, "/p/vision")
    page.locator("input.filter").fill("tag:baseline")
    page.locator("select.x-axis").select_option("_runtime")
    expect(page.locator("table.runs tr[data-run]")).to_have_count(2)
    page.locator('tr[data-run="gamma"] .run-link').click()
    expect(page).to_have_url(site.url + "/p/vision/r/gamma")
    expect(page.locator(".run-name")).to_have_text("gamma")

    page.go_back()
    expect(page.locator("input.filter")).to_have_value("tag:baseline")
    expect(page.locator("select.x-axis")).to_have_value("_runtime")
    expect(page.locator("table.runs tr[data-run]")).to_have_count(2)
    expect(chart_ready(page, "train/loss", 2).locator(".chart")).to_have_attribute(
        "data-x", "Relative time (s)")
    page.go_forward()
    expect(page.locator(".run-name")).to_have_text("gamma")
    page.locator(".crumbs a", has_text="Projects").click()
    expect(page).to_have_url(site.url + "/")
    expect(page.locator('table.projects tr[data-project="vision"]')).to_be_visible()


def test_chart_search_and_collapsing_a_section(site, page):
    site.open(page, "/p/vision")
    chart_ready(page, "train/loss", 5)
    search = page.locator("input.chart-search")
    search.fill("^(train|val)/")
    expect(page.locator("section.panel")).to_have_count(2)
    expect(page.locator(".section")).to_have_count(2)
    assert query_value(page.url, "search") == "^(train|val)/"
    search.fill("(")  # not a regular expression: plain text, which matches nothing
    expect(page.locator("section.panel")).to_have_count(0)
    expect(page.locator(".sections .empty")).to_contain_text("match the search")
    search.fill("")
    expect(page.locator("section.panel")).to_have_count(4)

    head = page.locator('.section[data-section="train"] .section-head')
    head.click()
    expect(panel(page, "train/loss")).to_have_count(0)
    expect(head).to_contain_text("1")  # the count stays
    head.click()
    expect(chart_ready(page, "train/loss").locator(".chart")).to_have_attribute(
        "data-lines", "5")


def test_unknown_project_and_run_say_so(site, page, page_guard):
    page_guard.allow(r"status of 404")  # the failed API calls themselves
    site.open(page, "/p/no-such-project")
    expect(page.locator("main .error")).to_contain_text("no-such-project")
    expect(page.locator("main a", has_text="All projects")).to_have_attribute("href", "/")
    site.open(page, "/p/vision/r/no-such-run")
    expect(page.locator("main .error")).to_contain_text("no-such-run")
    page.locator("main a", has_text="Back to vision").click()
    expect(page.locator("table.runs tr[data-run]")).to_have_count(5)


def query_value(url: str, name: str) -> str | None:
    values = parse_qs(urlparse(url).query).get(name)
    return values[0] if values else None
