"""Strings from training code are text, never markup: a run named like a script tag
shows its name and runs nothing. The page guard fails any test where a dialog opens."""

from __future__ import annotations

from urllib.parse import quote

from tests.browser.conftest import (
    HOSTILE_PROJECT,
    IMG,
    SCRIPT,
    chart_ready,
    expect,
    hover,
    panel,
    snap,
)

INJECTED = """() => ({
    imgs: document.querySelectorAll('img[src="x"], img[src$="/x"]').length,
    scripts: [...document.scripts].filter(s => s.textContent.includes('alert')).length,
    handlers: document.querySelectorAll('[onerror], [onload]').length,
})"""


def assert_nothing_injected(page) -> None:
    assert page.evaluate(INJECTED) == {"imgs": 0, "scripts": 0, "handlers": 0}


def test_hostile_strings_are_shown_as_text_everywhere(site, page):
    site.open(page, "/")
    row = page.locator(f'table.projects tr[data-project="{HOSTILE_PROJECT}"]')
    expect(row.locator("td").first).to_have_text(HOSTILE_PROJECT)
    assert_nothing_injected(page)

    row.locator("a").click()
    expect(page.locator(".project-name")).to_have_text(HOSTILE_PROJECT)
    assert page.url.endswith("/p/" + quote(HOSTILE_PROJECT, safe="()"))
    run = page.locator('tr[data-run="evil"]')
    expect(run.locator(".run-link")).to_have_text(SCRIPT)
    tags = run.locator(".tag").all_inner_texts()
    assert tags == [IMG, SCRIPT]
    text = run.inner_text()
    assert IMG in text and SCRIPT in text  # group and job type
    assert page.title() == f"{HOSTILE_PROJECT} · runwatch"

    # Metric keys: panel titles, and a section named by the part before the "/".
    expect(panel(page, IMG).locator("h3")).to_have_text(IMG)
    expect(panel(page, SCRIPT).locator("h3")).to_have_text(SCRIPT)
    expect(page.locator('.section[data-section="<script>alert(1)<"] .section-head')
           ).to_contain_text("<script>alert(1)<")
    p = chart_ready(page, IMG, 1)
    expect(hover(page, p).locator(".tt-name")).to_have_text(SCRIPT)

    # Config keys in the group-by menu and the column picker; values in a column.
    options = page.locator("select.group-by option").all_inner_texts()
    assert f"config.{IMG}" in options and f"config.{SCRIPT}" in options
    page.locator("select.group-by").select_option(f"config.{IMG}")
    expect(page.locator("tr.group-row")).to_have_count(1)
    expect(page.locator("tr.group-row b")).to_have_text(SCRIPT)
    page.locator("select.group-by").select_option("")
    page.locator("details.columns summary").click()
    page.locator("label.col-choice", has_text=f"config.{SCRIPT}").locator("input").check()
    page.locator("label.col-choice", has_text="summary.verdict").locator("input").check()
    page.locator("details.columns summary").click()
    cells = run.locator("td").all_inner_texts()
    assert cells[-2:] == [IMG, IMG], cells

    # Filtering with markup only filters.
    page.locator("input.filter").fill(IMG)
    expect(page.locator(".filter-error").first).to_contain_text('"src"')
    page.locator("input.filter").fill("tag:" + SCRIPT)
    expect(page.locator("table.runs tr[data-run]")).to_have_count(1)
    snap(page, "hostile-workspace")
    assert_nothing_injected(page)

    # The run page: name, notes, tags, config and summary.
    run.locator(".run-link").click()
    expect(page.locator(".run-name")).to_have_text(SCRIPT)
    overview = page.locator(".overview-table")
    notes = overview.locator("tr", has=page.locator("th", has_text="Notes")).locator("td")
    expect(notes).to_have_text(f"{IMG} {SCRIPT}")
    expect(overview.locator(".tag")).to_have_text([IMG, SCRIPT])
    config = page.locator(".card", has=page.locator("h2", has_text="Config")).inner_text()
    summary = page.locator(".card", has=page.locator("h2", has_text="Summary")).inner_text()
    assert f"{IMG}\t{SCRIPT}" in config and f"{SCRIPT}\t{IMG}" in config, config
    assert f"verdict\t{IMG}" in summary and f"{SCRIPT}\t{SCRIPT}" in summary, summary
    chart_ready(page, IMG, 1)
    expect(page.locator(".overview-table")).to_contain_text(f"{HOSTILE_PROJECT}/evil")
    snap(page, "hostile-run")
    assert_nothing_injected(page)
