"""A run's own page: overview, config, summary, charts and, for a failed run, its
traceback."""

from __future__ import annotations

import os
import platform
import socket
import sys

from tests.browser.conftest import chart_ready, expect, snap


def overview(page) -> dict[str, str]:
    table = page.locator(".overview-table")
    table.wait_for()
    return dict(zip(table.locator("th").all_inner_texts(), table.locator("td").all_inner_texts()))


def card_values(page, title: str) -> dict[str, str]:
    card = page.locator(".card", has=page.locator("h2", has_text=title))
    table = card.locator("table.kv")
    table.wait_for()
    return dict(zip(table.locator("th").all_inner_texts(), table.locator("td").all_inner_texts()))


def test_failed_run_page_shows_overview_config_summary_charts_and_traceback(site, page):
    site.open(page, "/p/crashy/r/boom")
    expect(page.locator(".run-name")).to_have_text("boom-run")
    expect(page.locator(".overview-table .state")).to_have_text("failed")
    fields = overview(page)
    assert fields["State"].startswith("failed"), fields
    assert "exit code 1" in fields["State"], fields
    assert fields["Run path"] == "crashy/boom"
    assert fields["Steps"] == "20"
    assert fields["Host"] == socket.gethostname()
    assert fields["OS"] == f"{platform.system()} {platform.release()}"
    assert fields["Python"] == f"{platform.python_version()} ({sys.executable})"
    assert fields["Command"].startswith("python ")
    assert fields["Command"].endswith("train_boom.py --epochs 3"), fields["Command"]
    assert fields["Created"] and fields["Runtime"], fields

    config = card_values(page, "Config")
    assert config == {"lr": "0.02", "arch": "mlp", "layers": "3"}
    summary = card_values(page, "Summary")
    assert summary["best_acc"] == "0.875"
    assert summary["loss"] == "0.05"
    assert summary["acc"] == "0.95"

    tb = page.locator("pre.traceback")
    expect(tb).to_contain_text("ValueError: exploded at step 20: unmistakable-d3adb33f")
    expect(tb).to_contain_text("in train_step")

    for key in ("loss", "acc"):
        p = chart_ready(page, key, 1)
        expect(p).to_have_attribute("data-points", "20")
    for section in (".system", ".logs", ".files", ".artifacts"):
        expect(page.locator(section)).to_have_count(1)
    snap(page, "run-failed")

    # The crumbs lead back to the workspace.
    page.locator(".crumbs a", has_text="crashy").click()
    expect(page).to_have_url(site.url + "/p/crashy")
    expect(page.locator('tr[data-run="boom"] .state')).to_have_text("failed")


def test_run_page_of_a_finished_run_opened_from_the_table(site, page):
    site.open(page, "/p/vision")
    page.locator('tr[data-run="alpha"] .run-link').click()
    expect(page).to_have_url(site.url + "/p/vision/r/alpha")
    expect(page.locator(".run-name")).to_have_text("alpha")
    fields = overview(page)
    assert fields["State"] == "finished"
    assert fields["Group"] == "sweep-a" and fields["Job type"] == "train"
    assert fields["Notes"] == "notes of alpha"
    assert fields["Steps"] == "40"
    expect(page.locator(".overview-table .tag")).to_have_text(["baseline", "resnet"])
    assert card_values(page, "Config") == {"lr": "0.01", "batch_size": "32",
                                           "optimizer": "adam", "model.depth": "18"}
    summary = card_values(page, "Summary")
    assert summary["train/loss"] == "0.125" and summary["epoch"] == "3"
    expect(page.locator("pre.traceback")).to_have_count(0)
    # Its charts: the run's own metrics, the hidden one left out.
    for key in ("train/loss", "lr", "epoch", "val/loss"):
        expect(chart_ready(page, key, 1)).to_have_attribute(
            "data-points", "40" if key in ("train/loss", "lr") else "4")
    expect(page.locator('section.panel[data-key="debug/secret"]')).to_have_count(0)
    expect(page.locator('section.panel[data-key="val/loss"] .chart')).to_have_attribute(
        "data-x", "epoch")


# The first GET of a run's detail gets its headers, then its body is cut off if the page
# aborts the request (as a page does when it asks again before the answer is read): the
# abort reaches the page while it reads the body, whatever the timing on this machine.
_SLOW_BODY = """(() => {
  const real = window.fetch;
  let slowed = false;
  window.fetch = async (input, init) => {
    const signal = init && init.signal;
    if (slowed || !signal || !/\\/api\\/v1\\/projects\\/[^/]+\\/runs\\/[^/?]+$/.test(String(input))) {
      return real(input, init);
    }
    slowed = true;
    const inner = new AbortController();
    const res = await real(input, { ...init, signal: inner.signal });
    await new Promise((done) => {
      if (signal.aborted) done();
      signal.addEventListener("abort", done);
      setTimeout(done, 3000);
    });
    window.__slowBodyAborted = signal.aborted;
    if (signal.aborted) inner.abort();
    return res;
  };
})();"""


def test_run_page_ignores_its_own_aborted_request(site, page):
    page.add_init_script(_SLOW_BODY)
    site.open(page, "/p/vision/r/alpha")
    page.wait_for_function("() => window.__slowBodyAborted !== undefined")
    page.wait_for_timeout(500)  # the aborted request's answer has been handled
    assert page.locator("main .error").all_inner_texts() == []
    expect(page.locator(".run-name")).to_have_text("alpha")


def test_overview_shows_git_state_diff_and_packages(tmp_path, page):
    import subprocess as sp

    from tests.browser.conftest import Server

    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "t@e.x"],
                 ["config", "user.name", "t"]):
        sp.run(["git", *args], cwd=repo, check=True)
    (repo / "a.py").write_text("x = 1\n")
    sp.run(["git", "add", "a.py"], cwd=repo, check=True)
    sp.run(["git", "commit", "-q", "-m", "c"], cwd=repo, check=True)
    (repo / "a.py").write_text("x = 2  # <img src=x onerror=alert(1)>\n")
    store = tmp_path / "store"
    env = {**os.environ, "RUNWATCH_DIR": str(store), "RUNWATCH_SILENT": "1",
           "RUNWATCH_CAPTURE_PACKAGES": "1"}
    sp.run([sys.executable, "-c", "import runwatch; r = runwatch.init(project='g', id='g1'); "
            "r.log({'x': 1}); r.finish()"], cwd=repo, env=env, check=True, timeout=120)
    server = Server(store)
    try:
        page.goto(server.url.rstrip("/") + "/p/g/r/g1")
        overview = page.locator(".overview-table")
        expect(overview).to_contain_text("main")
        expect(overview).to_contain_text("+ uncommitted changes")
        page.locator("details.git-diff summary").click()
        expect(page.locator("details.git-diff pre")).to_contain_text("+x = 2  # <img src=x onerror=alert(1)>")
        assert page.locator('img[src="x"]').count() == 0
        expect(page.locator("details.packages summary")).to_contain_text("installed packages")
    finally:
        server.stop()


def test_run_page_lists_alerts_as_text(tmp_path, page):
    import subprocess as sp

    from tests.browser.conftest import IMG, Server

    store = tmp_path / "store"
    env = {**os.environ, "RUNWATCH_DIR": str(store), "RUNWATCH_SILENT": "1"}
    code = ("import runwatch; r = runwatch.init(project='al', id='a1'); r.log({'loss': 1.0}); "
            "r.log({'loss': float('nan')}); "
            f"r.alert({IMG!r}, 'text ' + {IMG!r}, level='ERROR'); r.finish()")
    sp.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, timeout=120)
    server = Server(store)
    try:
        page.goto(server.url.rstrip("/") + "/p/al/r/a1")
        alerts = page.locator(".card.alerts")
        expect(alerts.locator("li.alert")).to_have_count(2)
        expect(alerts.locator("li.alert-error .alert-title")).to_have_text(IMG)
        expect(alerts.locator("li.alert-warn .alert-title")).to_have_text("loss is NaN")
        assert page.locator('img[src="x"]').count() == 0
    finally:
        server.stop()
