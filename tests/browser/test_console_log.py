"""The run page's console log: the last lines with their numbers, search with marked
matches and counts, markup shown as text, stderr lines marked, earlier lines on
request, live lines from a running program (really captured: console="redirect"),
and the output.log download link.

Finished runs are written as batches straight into a store of this module's own (exact
texts, streams and times); the live run is a child process printing as it goes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

import runwatch
from runwatch.records import Batch, ConsoleLine, RunStart, StateChange
from runwatch.store import open_store
from tests.browser.conftest import (
    IMG,
    SCRIPT,
    Server,
    child_env,
    expect,
    finish_child,
    snap,
    wait_line,
)

PROJECT = "console"
T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
OUT, ERR = 1, 2
LONG = 1200
LIVE_TIMEOUT_MS = 20_000
HOSTILE = [(OUT, SCRIPT), (OUT, IMG), (ERR, IMG), (OUT, "<b>bold</b> & <i>it</i>"),
           (OUT, "plain after markup")]


def long_text(i: int) -> str:
    if i % 100 == 42:
        return f"line {i} found the NeedLe here"
    return f"line {i} plain output"


def long_stream(i: int) -> int:
    return ERR if i % 10 == 3 else OUT


def clock(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%H:%M:%S")


@dataclass
class Store:
    path: Path
    url: str


def _write(store: Path, run_id: str, batches: list[list[ConsoleLine]]) -> None:
    settings = runwatch.settings.resolve({"dir": str(store)})
    st = open_store(settings.store_url, Path(settings.dir) / "blobs")
    try:
        for seq, lines in enumerate(batches):
            last = seq == len(batches) - 1
            st.write(Batch(
                project=PROJECT, run_id=run_id, seq=seq, sent_at=time.time(),
                start=RunStart(name=run_id, created_at=T0, host="elsewhere", pid=1)
                if seq == 0 else None,
                console=lines,
                state=StateChange(state="finished", at=T0 + 2000) if last else None))
    finally:
        st.close()


@pytest.fixture(scope="module")
def console_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = tmp_path_factory.mktemp("console-log") / "store"
    store.mkdir()
    lines = [ConsoleLine(T0 + i, long_stream(i), long_text(i)) for i in range(LONG)]
    _write(store, "long", [lines[:600], lines[600:]])
    _write(store, "hostile", [[ConsoleLine(T0 + i, s, t) for i, (s, t) in enumerate(HOSTILE)]])
    _write(store, "quiet", [[]])
    server = Server(store)
    try:
        yield Store(path=store, url=server.url)
    finally:
        server.stop()


@pytest.fixture
def cpage(new_page: Any) -> Any:
    """A page with fixed time zone and locale: times and counts read the same anywhere."""
    return new_page(timezone_id="UTC", locale="en-US")


def open_run(page: Any, site: Store, run_id: str, project: str = PROJECT) -> Any:
    page.goto(f"{site.url}/p/{project}/r/{run_id}")
    log = page.locator("section.logs")
    expect(log).to_have_count(1)
    return log


def line(log: Any, n: int) -> Any:
    return log.locator(f'.console-line[data-n="{n}"]')


def test_run_page_shows_the_last_lines_with_numbers(console_site: Store, cpage: Any) -> None:
    log = open_run(cpage, console_site, "long")
    lines = log.locator(".console-line")
    expect(lines).to_have_count(500)
    expect(log.locator(".console-count")).to_have_text("1,200 lines")
    numbers = log.locator(".console-line .ln").all_inner_texts()
    assert numbers == [str(n + 1) for n in range(700, LONG)]
    assert log.locator(".console-line .tx").all_inner_texts() == [
        long_text(i) for i in range(700, LONG)]
    assert [int(x) for x in lines.evaluate_all("els => els.map(e => e.dataset.n)")] == list(
        range(700, LONG))
    last = line(log, LONG - 1)
    expect(last.locator(".ts")).to_have_text(clock(T0 + LONG - 1))
    assert last.locator(".ts").get_attribute("title")
    # The box starts scrolled to its end: the last line is the one in view.
    box = log.locator(".console-box")
    assert box.evaluate("el => el.scrollHeight > el.clientHeight")
    box.scroll_into_view_if_needed()
    cpage.wait_for_function(
        """() => { const el = document.querySelector('section.logs .console-box');
                   return el.scrollHeight - el.scrollTop - el.clientHeight < 2; }""")
    expect(last).to_be_in_viewport()
    expect(line(log, 700)).not_to_be_in_viewport()
    snap(cpage, "console-tail")


def test_stderr_lines_are_marked(console_site: Store, cpage: Any) -> None:
    log = open_run(cpage, console_site, "long")
    expect(log.locator(".console-line")).to_have_count(500)
    expect(line(log, 1193)).to_have_class("console-line err")
    expect(line(log, 1194)).to_have_class("console-line")
    errs = log.locator(".console-line.err .ln").all_inner_texts()
    assert errs == [str(i + 1) for i in range(700, LONG) if long_stream(i) == ERR]


def test_search_filters_marks_and_counts(console_site: Store, cpage: Any) -> None:
    log = open_run(cpage, console_site, "long")
    expect(log.locator(".console-line")).to_have_count(500)
    search = log.locator(".console-search")
    search.fill("NEEDLE")
    expected = [i for i in range(LONG) if "needle" in long_text(i).lower()]
    assert len(expected) == 12
    expect(log.locator(".console-count")).to_have_text("12 of 1,200 lines match")
    expect(log.locator(".console-line")).to_have_count(12)
    assert log.locator(".console-line .ln").all_inner_texts() == [str(i + 1) for i in expected]
    marks = log.locator(".console-line .tx mark")
    expect(marks).to_have_count(12)
    assert marks.all_inner_texts() == ["NeedLe"] * 12  # the text's own case
    assert log.locator(".console-line .tx").all_inner_texts() == [long_text(i) for i in expected]
    expect(log.locator(".console-earlier")).to_have_count(0)

    search.fill("no such text anywhere")
    expect(log.locator(".console-count")).to_have_text("0 of 1,200 lines match")
    expect(log.locator(".console-line")).to_have_count(0)

    # A search hitting many lines: the last 500 of them, earlier ones on request.
    search.fill("plain")
    expect(log.locator(".console-count")).to_have_text("1,188 of 1,200 lines match")
    expect(log.locator(".console-line")).to_have_count(500)
    expect(log.locator(".console-line mark").first).to_have_text("plain")

    search.fill("")
    expect(log.locator(".console-count")).to_have_text("1,200 lines")
    expect(log.locator(".console-line")).to_have_count(500)
    expect(log.locator(".console-line mark")).to_have_count(0)


def test_markup_in_lines_is_text(console_site: Store, cpage: Any) -> None:
    log = open_run(cpage, console_site, "hostile")
    expect(log.locator(".console-line")).to_have_count(len(HOSTILE))
    assert log.locator(".console-line .tx").all_inner_texts() == [t for _, t in HOSTILE]
    expect(line(log, 2)).to_have_class("console-line err")
    for tag in ("script", "img", "b", "i"):
        assert log.locator(f".console-box {tag}").count() == 0, tag
    assert cpage.locator('img[src="x"]').count() == 0
    # Marked matches inside markup stay text too.
    log.locator(".console-search").fill("<IMG")
    expect(log.locator(".console-count")).to_have_text("2 of 5 lines match")
    marks = log.locator(".console-line .tx mark")
    expect(marks).to_have_count(2)
    assert marks.all_inner_texts() == ["<img", "<img"]
    assert log.locator(".console-line .tx").all_inner_texts() == [IMG, IMG]
    assert cpage.locator('img[src="x"]').count() == 0
    log.locator(".console-search").fill("alert(1)")
    expect(log.locator(".console-count")).to_have_text("3 of 5 lines match")
    assert log.locator(".console-line .tx").all_inner_texts() == [SCRIPT, IMG, IMG]
    assert cpage.locator('img[src="x"]').count() == 0
    assert cpage.locator("script", has_text="alert(1)").count() == 0
    cpage.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert cpage.evaluate("() => document.querySelectorAll('img').length") == 0


def test_show_earlier_lines_loads_them_above(console_site: Store, cpage: Any) -> None:
    log = open_run(cpage, console_site, "long")
    lines = log.locator(".console-line")
    expect(lines).to_have_count(500)
    earlier = log.locator(".console-earlier")
    expect(earlier).to_have_text("Show earlier lines")
    earlier.click()
    expect(lines).to_have_count(1000)
    assert log.locator(".console-line .ln").first.inner_text() == "201"
    assert log.locator(".console-line .ln").all_inner_texts() == [
        str(n + 1) for n in range(200, LONG)]
    # The lines that were on top stay where the reader was, not pushed off by the new ones.
    expect(line(log, 700)).to_be_in_viewport()
    earlier.click()
    expect(lines).to_have_count(LONG)
    expect(earlier).to_have_count(0)
    assert log.locator(".console-line .tx").all_inner_texts() == [
        long_text(i) for i in range(LONG)]
    expect(log.locator(".console-count")).to_have_text("1,200 lines")


def test_short_output_has_no_earlier_button_and_none_says_so(console_site: Store,
                                                              cpage: Any) -> None:
    log = open_run(cpage, console_site, "hostile")
    expect(log.locator(".console-line")).to_have_count(len(HOSTILE))
    expect(log.locator(".console-earlier")).to_have_count(0)
    expect(log.locator(".console-count")).to_have_text("5 lines")
    quiet = open_run(cpage, console_site, "quiet")
    expect(quiet).to_contain_text("No console output recorded for this run.")
    expect(quiet.locator(".console-download")).to_have_count(0)
    expect(quiet.locator(".console-line")).to_have_count(0)


def test_download_link_points_at_console_txt(console_site: Store, cpage: Any) -> None:
    log = open_run(cpage, console_site, "long")
    link = log.locator(".console-download")
    expect(link).to_have_text("output.log")
    href = link.get_attribute("href")
    assert href == f"/api/v1/projects/{PROJECT}/runs/long/console.txt?download=true"
    assert link.get_attribute("download") is not None
    resp = cpage.request.get(console_site.url + href)
    assert resp.status == 200
    assert resp.headers["content-disposition"].startswith("attachment")
    assert resp.text() == "\n".join(long_text(i) for i in range(LONG)) + "\n"
    # Clicking it downloads the file.
    with cpage.expect_download() as got:
        link.click()
    download = got.value
    assert download.suggested_filename.endswith("output.log")
    assert Path(download.path()).read_text() == resp.text()


# A real program with its console captured (redirect: file descriptors 1 and 2): a few
# lines, then more each time the test says so, then it finishes.
_LIVE = """
import sys
import time
import runwatch
run = runwatch.init(project="console-live", id="live", name="live")
print("live line 0", flush=True)
print("live warning <b>0</b>", file=sys.stderr, flush=True)
print("ready", flush=True)
sys.stdin.readline()
for i in range(1, 6):
    print(f"live line {i}", flush=True)
    time.sleep(0.3)
print("done", flush=True)
sys.stdin.readline()
print("other output 1", flush=True)
print("other output 2", flush=True)
print("quiet", flush=True)
sys.stdin.readline()
print("last words", end="")  # no newline, no flush: finish() still stores it
run.finish()
"""
LIVE_API = "/api/v1/projects/console-live/runs/live/console"


def _spawn_captured(store: Path) -> subprocess.Popen:
    env = child_env(store)
    env.update(RUNWATCH_CONSOLE="redirect", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(_LIVE)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _say(child: subprocess.Popen) -> None:
    child.stdin.write("go\n")
    child.stdin.flush()


def _wait_total(url: str, total: int, timeout: float = 30) -> None:
    """Block until the server has ``total`` console lines of the live run."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        resp = httpx.get(url + LIVE_API, params={"limit": 1}, timeout=30)
        if resp.status_code == 200:
            seen = resp.json()["total"]
            if seen == total:
                return
            assert seen < total, f"more lines than printed: {seen} > {total}"
        time.sleep(0.05)
    raise AssertionError(f"the store never held {total} lines of the live run (last: {seen})")


def _open_live(store: Path, serve: Any, page: Any, child: subprocess.Popen) -> tuple[str, Any]:
    """The live run's page once it has printed its first three lines; (server url, log)."""
    wait_line(child, "ready")
    server = serve(store)
    _wait_total(server.url, 3)
    log = open_run(page, Store(path=store, url=server.url), "live", project="console-live")
    expect(log.locator(".console-line")).to_have_count(3)
    expect(log.locator(".console-count")).to_have_text("3 lines")
    page.evaluate("() => { window.__sameDocument = true; }")
    return server.url, log


def _finish(child: subprocess.Popen) -> None:
    _say(child)
    out, err = finish_child(child)
    assert child.returncode == 0, f"{out}\n{err}"


def test_a_running_program_gets_its_new_lines_appended(tmp_path: Path, serve: Any,
                                                       cpage: Any) -> None:
    store = tmp_path / "live-store"
    store.mkdir()
    child = _spawn_captured(store)
    try:
        url, log = _open_live(store, serve, cpage, child)
        lines = log.locator(".console-line")
        count = log.locator(".console-count")
        warning = log.locator(".console-line", has_text="live warning <b>0</b>")
        expect(warning).to_have_class("console-line err")  # stderr, really captured

        _say(child)
        for i in range(1, 6):
            expect(log.locator(".console-line", has_text=f"live line {i}")).to_have_count(
                1, timeout=LIVE_TIMEOUT_MS)
        wait_line(child, "done")
        _say(child)
        wait_line(child, "quiet")
        _wait_total(url, 12)
        expect(count).to_have_text("12 lines", timeout=LIVE_TIMEOUT_MS)
        expect(lines).to_have_count(12)
        # Every line once, numbered on without gaps; stdout in its order.
        shown = log.locator(".console-line .tx").all_inner_texts()
        ns = [int(x) for x in lines.evaluate_all("els => els.map(e => e.dataset.n)")]
        assert ns == list(range(12)), ns
        assert log.locator(".console-line .ln").all_inner_texts() == [str(n + 1) for n in ns]
        stdout = ["live line 0", "ready"] + [f"live line {i}" for i in range(1, 6)] + [
            "done", "other output 1", "other output 2", "quiet"]
        assert [t for t in shown if t != "live warning <b>0</b>"] == stdout, shown
        assert len(shown) == len(stdout) + 1, shown
        expect(log.locator(".console-download")).to_have_count(1)

        # What it printed last, just before finishing, arrives too.
        _finish(child)
        expect(cpage.locator(".overview-table .state")).to_have_text(
            "finished", timeout=LIVE_TIMEOUT_MS)
        expect(log.locator(".console-line", has_text="last words")).to_have_count(
            1, timeout=LIVE_TIMEOUT_MS)
        expect(count).to_have_text("13 lines")
        assert log.locator(".console-line .tx").last.inner_text() == "last words"
        assert cpage.evaluate("() => window.__sameDocument") is True, "the page reloaded"
        assert cpage.locator("b", has_text="0").count() == 0
    finally:
        if child.poll() is None:
            child.kill()
            finish_child(child)


def test_a_search_follows_a_running_program(tmp_path: Path, serve: Any, cpage: Any) -> None:
    store = tmp_path / "live-store"
    store.mkdir()
    child = _spawn_captured(store)
    try:
        url, log = _open_live(store, serve, cpage, child)
        lines = log.locator(".console-line")
        count = log.locator(".console-count")
        log.locator(".console-search").fill("LIVE LINE")
        expect(count).to_have_text("1 of 3 lines match")
        expect(lines).to_have_count(1)

        # New matching lines join the results as they come, marked.
        _say(child)
        for i in range(1, 6):
            expect(log.locator(".console-line", has_text=f"live line {i}")).to_have_count(
                1, timeout=LIVE_TIMEOUT_MS)
        wait_line(child, "done")
        expect(lines).to_have_count(6)
        expect(log.locator(".console-line .tx mark")).to_have_count(6)
        assert log.locator(".console-line .tx mark").all_inner_texts() == ["live line"] * 6
        assert log.locator(".console-line .tx").all_inner_texts() == [
            f"live line {i}" for i in range(6)]

        # Lines that do not match are not shown, but count in the total.
        _say(child)
        wait_line(child, "quiet")
        _wait_total(url, 12)
        expect(count).to_have_text("6 of 12 lines match", timeout=LIVE_TIMEOUT_MS)
        expect(lines).to_have_count(6)
        assert cpage.evaluate("() => window.__sameDocument") is True, "the page reloaded"
        _finish(child)
    finally:
        if child.poll() is None:
            child.kill()
            finish_child(child)
