"""The projects page and a project's workspace: runs table, filter, sort, columns,
grouping and the choice of charted runs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from tests.browser.conftest import (
    NO_VAL,
    STATES,
    VISION,
    chart_ready,
    expect,
    panel,
    snap,
    wait_url,
)

ALL_IDS = [spec[0] for spec in VISION]


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def shown_runs(page) -> list[str]:
    return page.locator("table.runs tr[data-run]").evaluate_all(
        "rows => rows.map(r => r.dataset.run)")


def open_workspace(site, page, query_string: str = "") -> None:
    site.open(page, "/p/vision" + query_string)
    page.locator("table.runs tr[data-run]").first.wait_for()


def test_projects_page_lists_projects_with_run_counts_and_opens_a_workspace(site, page):
    site.open(page, "/")
    vision = page.locator('table.projects tr[data-project="vision"]')
    cells = vision.locator("td")
    expect(cells.nth(0)).to_have_text("vision")
    expect(cells.nth(1)).to_have_text("5")  # runs
    expect(cells.nth(2)).to_have_text("1")  # running: gamma
    expect(page.locator('table.projects tr[data-project="big"] td').nth(1)).to_have_text("1")
    expect(page.locator('table.projects tr[data-project="crashy"] td').nth(2)).to_have_text("0")
    snap(page, "projects")

    vision.locator("a").click()
    expect(page).to_have_url(site.url + "/p/vision")
    expect(page.locator(".project-name")).to_have_text("vision")
    expect(page.locator("table.runs tr[data-run]")).to_have_count(5)


def test_workspace_shows_runs_states_and_sectioned_charts(site, page):
    open_workspace(site, page)
    for rid, name, *_rest, how in VISION:
        row = page.locator(f'tr[data-run="{rid}"]')
        expect(row.locator(".run-link")).to_have_text(name)
        expect(row.locator(".state")).to_have_text(STATES[how])
    expect(page.locator(".counts")).to_have_text("5 of 5 runs · 5 charted")
    expect(page.locator(".live.on")).to_be_visible()

    # One panel per metric, in sections named by the prefix before "/".
    for key, section in [("lr", "Charts"), ("epoch", "Charts"), ("train/loss", "train"),
                         ("val/loss", "val")]:
        expect(page.locator(f'.section[data-section="{section}"] section.panel[data-key="{key}"]')
               ).to_have_count(1)
    expect(page.locator("section.panel")).to_have_count(4)
    expect(panel(page, "debug/secret")).to_have_count(0)  # define_metric(hidden=True)
    expect(page.locator(".sections .note")).to_contain_text("1 metric hidden")

    # Charts draw a line per charted run that logged the key.
    for key, lines in [("train/loss", 5), ("lr", 5), ("val/loss", 5 - len(NO_VAL))]:
        p = chart_ready(page, key, lines)
        box = p.locator(".chart canvas").first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, (key, box)
    expect(panel(page, "train/loss")).to_have_attribute("data-points", "200")
    snap(page, "workspace")


def test_filter_narrows_rows_reports_errors_and_lives_in_the_url(site, page):
    open_workspace(site, page)
    box = page.locator("input.filter")
    counts = page.locator(".counts")
    rows = page.locator("table.runs tr[data-run]")

    box.fill("config.lr>0.005")
    expect(rows).to_have_count(3)
    assert sorted(shown_runs(page)) == ["alpha", "epsilon", "gamma"]
    expect(counts).to_have_text("3 of 5 runs · 3 charted")
    expect(chart_ready(page, "train/loss").locator(".chart")).to_have_attribute("data-lines", "3")

    for text, wanted in [("state:failed", ["beta"]), ("state:crashed", ["delta"]),
                         ("state:running", ["gamma"]), ("tag:ablation", ["beta", "delta"]),
                         ("tag:resnet", ["alpha"]), ("eps", ["epsilon"]),
                         ("summary.val/loss<0.06 config.batch_size=32", ["beta"])]:
        box.fill(text)
        expect(counts).to_have_text(f"{len(wanted)} of 5 runs · {len(wanted)} charted")
        assert sorted(shown_runs(page)) == wanted, text
    expect(page.locator(".filter-error")).to_have_count(0)

    box.fill("bogus>1")
    expect(page.locator(".filter-error")).to_be_visible()
    expect(page.locator(".filter-error")).to_contain_text('Unknown field "bogus"')

    box.fill("tag:baseline")
    wait_url(page, lambda u: query(u).get("q") == ["tag:baseline"])
    page.reload()
    expect(page.locator("input.filter")).to_have_value("tag:baseline")
    expect(rows).to_have_count(2)
    assert sorted(shown_runs(page)) == ["alpha", "gamma"]


def test_sorting_by_a_header_and_adding_a_config_column(site, page):
    open_workspace(site, page)
    name = page.locator('th[data-col="name"]')
    expect(name).to_have_attribute("aria-sort", "none")
    name.click()
    expect(name).to_have_attribute("aria-sort", "ascending")
    assert shown_runs(page) == sorted(ALL_IDS)
    assert query(page.url).get("sort") == ["name"]
    name.click()
    expect(name).to_have_attribute("aria-sort", "descending")
    assert shown_runs(page) == sorted(ALL_IDS, reverse=True)

    page.locator("details.columns summary").click()
    choice = page.locator("label.col-choice", has_text="config.batch_size")
    choice.locator("input").check()
    header = page.locator('th[data-col="config.batch_size"]')
    expect(header).to_have_text("config.batch_size")
    for rid in ALL_IDS:
        cell = page.locator(f'tr[data-run="{rid}"] td').last
        expect(cell).to_have_text("32" if rid < "c" else "64")
    assert query(page.url).get("cols") == ["config.batch_size"]

    page.locator("details.columns summary").click()  # close the menu over the header
    header.click()  # sort by the new column: 32s first, then by id
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert shown_runs(page)[:2] == ["alpha", "beta"]


def test_grouping_by_config_draws_a_line_and_band_per_group(site, page):
    open_workspace(site, page)
    page.locator("select.group-by").select_option("config.lr")
    groups = page.locator("tr.group-row")
    expect(groups).to_have_count(3)
    assert sorted(groups.evaluate_all("rows => rows.map(r => r.dataset.group)")) == \
        ["0.001", "0.01", "0.1"]
    expect(page.locator('tr.group-row[data-group="0.01"]')).to_contain_text("2 runs")
    assert query(page.url).get("group") == ["config.lr"]

    chart = chart_ready(page, "train/loss", 3).locator(".chart")
    # Two groups hold two runs each: their min/max bands add two series apiece.
    expect(chart).to_have_attribute("data-series", "7")
    # epsilon (the only lr=0.1 run) logged no val/loss: that group draws nothing there.
    expect(chart_ready(page, "val/loss").locator(".chart")).to_have_attribute("data-lines", "2")
    snap(page, "grouped")

    # Unchecking a whole group removes its line.
    page.locator('tr.group-row[data-group="0.1"] input[type=checkbox]').uncheck()
    expect(chart).to_have_attribute("data-lines", "2")


def test_unchecking_a_run_removes_its_line_and_lands_in_the_url(site, page):
    open_workspace(site, page)
    train = chart_ready(page, "train/loss", 5).locator(".chart")
    page.locator('tr[data-run="alpha"] td.col-pick input[type=checkbox]').uncheck()
    expect(train).to_have_attribute("data-lines", "4")
    expect(page.locator(".counts")).to_have_text("5 of 5 runs · 4 charted")
    expect(panel(page, "train/loss")).to_have_attribute("data-points", "160")
    url = wait_url(page, lambda u: "runs" in query(u))
    assert sorted(query(url)["runs"][0].split(",")) == ["beta", "delta", "epsilon", "gamma"]

    page.locator('tr[data-run="delta"] td.col-pick input[type=checkbox]').uncheck()
    expect(train).to_have_attribute("data-lines", "3")
    page.locator('tr[data-run="alpha"] td.col-pick input[type=checkbox]').check()
    expect(train).to_have_attribute("data-lines", "4")

    page.reload()  # the choice survives a reload
    expect(chart_ready(page, "train/loss").locator(".chart")).to_have_attribute("data-lines", "4")
    expect(page.locator('tr[data-run="delta"] td.col-pick input')).not_to_be_checked()
