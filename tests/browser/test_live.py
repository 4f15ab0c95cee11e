"""Live updates: a run that logs while the dashboard is open shows up without a reload."""

from __future__ import annotations

import time

from tests.browser.conftest import (
    chart_ready,
    expect,
    finish_child,
    hover,
    panel,
    spawn,
    wait_line,
    wait_stored,
)

# The product target is 2 s from log() to the page; the test allows 10 s of slack for
# slow CI machines.
LIVE_TIMEOUT_MS = 10_000

# A point every 0.2 s for up to 30 s (the test kills it sooner); a new key from step 10 on.
_TICKER = """
import time
import runwatch
run = runwatch.init(project="live", id="ticker", name="ticker", config={"lr": 0.5})
print("ready", flush=True)
for i in range(150):
    row = {"tick": float(i), "half": i / 2}
    if i >= 10:
        row["late/metric"] = float(i)
    run.log(row)
    time.sleep(0.2)
run.finish()
"""

_SECOND = """
import runwatch
run = runwatch.init(project="live", id="second", name="second", config={"lr": 0.5})
for i in range(10):
    run.log({"tick": 100.0 - i})
run.finish()
"""


def _points(page, key: str) -> int:
    return int(panel(page, key).get_attribute("data-points"))


def _wait_points_above(page, key: str, n: int) -> float:
    started = time.monotonic()
    page.wait_for_function(
        """([key, n]) => { const el = document.querySelector(`section.panel[data-key="${key}"]`);
             return el && +el.dataset.points > n; }""",
        arg=[key, n], timeout=LIVE_TIMEOUT_MS)
    return time.monotonic() - started


def _stored_points(store, run: str = "ticker") -> int:
    import runwatch

    with runwatch.Api(dir=store) as api:
        return api.run(f"live/{run}").last_step + 1


def test_a_logging_run_updates_projects_charts_and_summary_live(site, page):
    site.open(page, "/")
    expect(page.locator(".live.on")).to_be_visible()
    child = spawn(site.store, _TICKER)
    try:
        wait_line(child, "ready")
        # The new project appears on the open projects page by itself.
        row = page.locator('table.projects tr[data-project="live"]')
        expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        expect(row.locator("td").nth(2)).to_have_text("1")  # running
        wait_stored(site.store, "live/ticker", 2)
        row.locator("a").click()

        # The workspace: the chart grows without a reload.
        expect(page.locator('tr[data-run="ticker"] .state')).to_have_text("running")
        chart_ready(page, "tick", 1)
        first = _points(page, "tick")
        assert first >= 1
        lag = _wait_points_above(page, "tick", first)
        print(f"first live update of the chart after {lag:.2f} s")
        _wait_points_above(page, "tick", first + 5)

        # A key first logged after the page opened gets its panel, in its own section.
        expect(page.locator('.section[data-section="late"] section.panel[data-key="late/metric"]')
               ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
        chart_ready(page, "late/metric", 1)
        _wait_points_above(page, "late/metric", _points(page, "late/metric"))

        # On another x-axis the chart keeps growing too.
        page.locator("select.x-axis").select_option("_runtime")
        expect(panel(page, "tick").locator(".chart")).to_have_attribute(
            "data-x", "Relative time (s)")
        _wait_points_above(page, "tick", _points(page, "tick"))
        page.locator("select.x-axis").select_option("")

        # A new run of the project shows up in the table and on the charts.
        second = spawn(site.store, _SECOND)
        out, err = finish_child(second)
        assert second.returncode == 0, f"{out}\n{err}"
        expect(page.locator('tr[data-run="second"] .state')).to_have_text(
            "finished", timeout=LIVE_TIMEOUT_MS)
        expect(page.locator(".counts")).to_have_text("2 of 2 runs · 2 charted")
        expect(panel(page, "tick").locator(".chart")).to_have_attribute("data-lines", "2")

        # The run page: its summary follows the run as well.
        page.locator('tr[data-run="ticker"] .run-link').click()
        expect(page.locator(".run-name")).to_have_text("ticker")
        summary = page.locator(".card", has=page.locator("h2", has_text="Summary"))
        tick = summary.locator("tr", has=page.locator("th", has_text="tick")).locator("td")
        expect(tick).to_have_count(1)
        before = float(tick.inner_text())
        page.wait_for_function(
            """([before]) => { const cards = [...document.querySelectorAll('.card')];
                 const card = cards.find(c => c.querySelector('h2')?.textContent === 'Summary');
                 const row = card && [...card.querySelectorAll('tr')]
                   .find(r => r.querySelector('th')?.textContent === 'tick');
                 return row && +row.querySelector('td').textContent > before; }""",
            arg=[before], timeout=LIVE_TIMEOUT_MS)
        chart_ready(page, "tick", 1)
        _wait_points_above(page, "tick", _points(page, "tick"))

        # Killed: the state turns crashed without a reload, and the chart ends up
        # holding exactly the points the store holds (no gaps, no repeats).
        child.kill()
        finish_child(child)
        expect(page.locator(".overview-table .state")).to_have_text(
            "crashed", timeout=LIVE_TIMEOUT_MS)
        expect(panel(page, "tick")).to_have_attribute(
            "data-points", str(_stored_points(site.store)), timeout=LIVE_TIMEOUT_MS)
    finally:
        child.kill()
        finish_child(child)


def test_hover_tooltip_stays_while_a_live_chart_updates(site, page):
    child = spawn(site.store, _TICKER.replace('"live"', '"live-hover"'))
    try:
        wait_line(child, "ready")
        wait_stored(site.store, "live-hover/ticker", 2)
        site.open(page, "/p/live-hover")
        p = chart_ready(page, "tick", 1)
        tip = hover(page, p)
        expect(tip.locator(".tt-row")).to_have_count(1)
        # The mouse rests; the chart takes in new points twice.
        before = _points(page, "tick")
        _wait_points_above(page, "tick", before)
        _wait_points_above(page, "tick", _points(page, "tick"))
        expect(p.locator(".tooltip .tt-row")).to_have_count(1, timeout=1000)
    finally:
        child.kill()
        finish_child(child)
