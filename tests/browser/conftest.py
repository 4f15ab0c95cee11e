"""Browser tests of the dashboard: a real store logged by the SDK, a real
``runwatch server`` subprocess, and Debian's chromium driven by Playwright.

Every page a test opens is watched: an uncaught exception, a console error or any
alert/confirm/prompt dialog fails the test (a broken UI, or a hostile string that ran,
must never pass). Set RUNWATCH_SCREENSHOTS=<folder> to keep screenshots (see ``snap``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips the suite
    expect = None

CHROMIUM = os.environ.get("RUNWATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
# Playwright's default for every wait (ms): generous for 2 slow cores, short enough that
# a UI that never gets there fails quickly.
TIMEOUT_MS = 10_000

if expect is not None:
    expect.set_options(timeout=TIMEOUT_MS)

# The hostile strings of the XSS test, kept here so the shared store can hold them.
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
HOSTILE_PROJECT = IMG


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need chromium at {CHROMIUM} (apt-get install chromium, "
                    "or point RUNWATCH_CHROMIUM at one); playwright cannot download one here")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session", autouse=True)
def _needs_browser(browser: Any) -> None:
    """Every test here skips at once (before any store is built) without a browser."""


@dataclass
class PageGuard:
    """What went wrong on the pages of one test."""

    problems: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Accept console errors matching ``pattern`` (a regex), for tests that cause them."""
        self.allowed.append(pattern)

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught exception: {exc}"))
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and not any(re.search(p, msg.text) for p in self.allowed):
            self.problems.append(f"console error: {msg.text} ({msg.location.get('url', '')})")

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"a {dialog.type} dialog opened: {dialog.message!r}")
        dialog.dismiss()


@pytest.fixture
def page_guard() -> PageGuard:
    return PageGuard()


@pytest.fixture
def new_page(browser: Any, page_guard: PageGuard) -> Iterator[Callable[..., Any]]:
    """``new_page(**context_options)``: a watched page in a fresh browser context."""

    def make(**options: Any) -> Any:
        ctx = browser.new_context(viewport=VIEWPORT, **options)
        ctx.set_default_timeout(TIMEOUT_MS)
        page_guard.contexts.append(ctx)
        pg = ctx.new_page()
        page_guard.watch(pg)
        return pg

    yield make
    for ctx in page_guard.contexts:
        ctx.close()


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # Page errors fail the test itself (not its teardown), so xfail and reports see them.
    result = yield
    guard = getattr(item, "funcargs", {}).get("page_guard")
    if guard is not None and guard.problems:
        raise AssertionError("the page misbehaved:\n  " + "\n  ".join(guard.problems))
    return result


def snap(page: Any, name: str) -> None:
    """Save a screenshot as $RUNWATCH_SCREENSHOTS/<name>.png when that variable is set."""
    folder = os.environ.get("RUNWATCH_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


# --------------------------------------------------------------------------- server


class Server:
    """``runwatch server --port 0 --dir <store>`` in a subprocess."""

    def __init__(self, store: Path, *args: str) -> None:
        self.store = store
        exe = shutil.which("runwatch")
        cmd = ([exe] if exe else [sys.executable, "-c", "from runwatch.cli import main; main()"])
        self.proc = subprocess.Popen([*cmd, "server", "--port", "0", "--dir", str(store),
                                      *args],
                                     env=child_env(store), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        found = threading.Event()
        self.url = ""

        def read() -> None:
            for line in self.proc.stdout:
                self.output.append(line)
                m = re.search(r"serving .* at (http://\S+)", line)
                if m and not found.is_set():
                    self.url = m.group(1).rstrip("/")
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(30) or not self.url:
            self.stop()
            raise RuntimeError("runwatch server did not start:\n" + "".join(self.output))

    def stop(self) -> None:
        died = self.proc.poll()
        if died is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        elif self.url:
            print(f"runwatch server died early (exit {died}):\n" + "".join(self.output))


def child_env(store: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RUNWATCH_DIR": str(store), "RUNWATCH_SILENT": "1",
                "RUNWATCH_FLUSH_INTERVAL": "0.1", "RUNWATCH_SYSTEM_INTERVAL": "0",
                "RUNWATCH_CONSOLE": "off"})
    env.pop("RUNWATCH_MODE", None)
    return env


def spawn(store: Path, code: str, *args: str, script: Path | None = None) -> subprocess.Popen:
    """Python ``code`` in a child process logging into ``store`` (``script``: written to
    that file and run from it, so the run records a real program and arguments)."""
    code = textwrap.dedent(code)
    if script is not None:
        script.write_text(code)
        argv = [sys.executable, str(script), *args]
    else:
        argv = [sys.executable, "-c", code, *args]
    return subprocess.Popen(argv, env=child_env(store), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_child(proc: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err


def wait_stored(store: Path, path: str, last_step: int, timeout: float = 30) -> None:
    """Block until the store holds run ``path`` with steps up to ``last_step``."""
    import runwatch

    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        try:
            with runwatch.Api(dir=store) as api:
                seen = api.run(path).last_step
        except runwatch.errors.RunwatchError:
            seen = None
        if seen is not None and seen >= last_step:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached step {last_step} in {store} (last: {seen})")


def wait_line(proc: subprocess.Popen, expected: str, timeout: float = 60) -> None:
    """Block until the child prints ``expected`` on a line of its own."""
    box: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            if line.strip() == expected:
                box.append(line)
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"child never printed {expected!r}:\n{out}\n{err}")


# --------------------------------------------------------------------------- shared store

# Project "vision": five runs, one per way a run can end (and one still running).
# (id, name, config lr, tags, group, job_type, how it ends)
VISION = [
    ("alpha", "alpha", 0.01, ["baseline", "resnet"], "sweep-a", "train", "finish"),
    ("beta", "beta", 0.001, ["ablation"], "sweep-b", "train", "fail"),
    ("gamma", "gamma", 0.01, ["baseline"], "sweep-a", "eval", "running"),
    ("delta", "delta", 0.001, ["ablation"], "sweep-b", "eval", "crash"),
    ("epsilon", "epsilon", 0.1, ["wide"], None, "eval", "finish"),
]
STATES = {"finish": "finished", "fail": "failed", "running": "running", "crash": "crashed"}
VISION_STEPS = 40
# epsilon logs no val/* keys: its panels have one line fewer.
NO_VAL = {"epsilon"}
BIG_STEPS = 10_000

_LOG_VISION = """
import sys
import runwatch
rid, name, lr, tags, group, job_type, how = {spec!r}
run = runwatch.init(project="vision", id=rid, name=name, tags=tags, group=group,
                    job_type=job_type, notes="notes of " + name,
                    config={{"lr": lr, "batch_size": 32 if rid < "c" else 64,
                             "optimizer": "adam", "model": {{"depth": 18}}}})
run.define_metric("val/*", step_metric="epoch")
run.define_metric("debug/secret", hidden=True)
for i in range({steps}):
    row = {{"train/loss": 1.0 / (i + 1) + lr * 10, "lr": lr, "debug/secret": i}}
    if i % 10 == 9 and rid not in {no_val!r}:
        row.update({{"epoch": i // 10, "val/loss": 2.0 / (i + 1) + lr}})
    run.log(row)
if how == "finish":
    run.finish()
elif how == "fail":
    run.finish(exit_code=1)
else:
    print("ready", flush=True)
    sys.stdin.read()  # running until the session closes stdin (or kills it: crashed)
    run.finish()
"""

_LOG_BIG = """
import math
import runwatch
run = runwatch.init(project="big", id="long", name="long", config={{"lr": 0.1}})
for i in range({steps}):
    run.log({{"loss": math.exp(-i / 3000) + 0.05 * math.sin(i / 50)}})
run.finish()
"""

# Evenly spread over well under a second of wall time.
_LOG_CLOCK = """
import time
import runwatch
run = runwatch.init(project="clock", id="clock", name="clock")
for i in range({steps}):
    run.log({{"value": float(i % 17)}})
    time.sleep(0.001)
run.finish()
"""
CLOCK_STEPS = 300

# Raises after logging: a failed run with a traceback, started from a script file.
_LOG_RAISES = """
import sys
import runwatch
run = runwatch.init(project="crashy", id="boom", name="boom-run",
                    config={"lr": 0.02, "arch": "mlp", "layers": 3})
for i in range(20):
    run.log({"loss": 1.0 / (i + 1), "acc": i / 20})
run.summary["best_acc"] = 0.875
def train_step():
    raise ValueError("exploded at step 20: unmistakable-d3adb33f")
train_step()
"""

_LOG_HOSTILE = """
import runwatch
img, script = {img!r}, {script!r}
run = runwatch.init(project={project!r}, id="evil", name=script, tags=[img, script],
                    group=img, job_type=script, notes=img + " " + script,
                    config={{img: script, script: img, "plain": img}})
for i in range(5):
    run.log({{img: float(i), script: float(i * 2), "ok": float(i)}})
run.summary["verdict"] = img
run.summary[script] = script
run.finish()
"""


@dataclass
class Site:
    store: Path
    url: str
    held: list[subprocess.Popen]

    def open(self, page: Any, path: str) -> Any:
        page.goto(self.url + path)
        return page


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The store every read-only test looks at, served by one ``runwatch server``."""
    store = tmp_path_factory.mktemp("browser") / "store"
    store.mkdir()
    procs: list[tuple[str, subprocess.Popen]] = []
    for spec in VISION:
        code = _LOG_VISION.format(spec=spec, steps=VISION_STEPS, no_val=NO_VAL)
        procs.append((spec[6], spawn(store, code)))
    procs.append(("finish", spawn(store, _LOG_BIG.format(steps=BIG_STEPS))))
    procs.append(("finish", spawn(store, _LOG_CLOCK.format(steps=CLOCK_STEPS))))
    procs.append(("raise", spawn(store, _LOG_RAISES, "--epochs", "3",
                                script=store.parent / "train_boom.py")))
    procs.append(("finish", spawn(store, _LOG_HOSTILE.format(img=IMG, script=SCRIPT,
                                                             project=HOSTILE_PROJECT))))
    held = []
    for (how, proc), rid in zip(procs, [spec[0] for spec in VISION] + [None] * 4):
        if how in ("running", "crash"):
            wait_line(proc, "ready")
            # Wait for the store to hold every step: a child killed before its first
            # commit leaves no run at all.
            wait_stored(store, f"vision/{rid}", VISION_STEPS - 1)
            if how == "crash":
                proc.kill()
                proc.communicate()
            else:
                held.append(proc)
            continue
        out, err = finish_child(proc)
        if how == "raise":
            assert proc.returncode != 0, f"{out}\n{err}"
        else:
            assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{out}\n{err}"
    server = Server(store)
    try:
        yield Site(store=store, url=server.url, held=held)
    finally:
        server.stop()
        for proc in held:
            finish_child(proc, timeout=30)


@pytest.fixture
def serve() -> Iterator[Callable[[Path], Server]]:
    """``serve(store)``: a server of its own for one test, stopped after it."""
    started: list[Server] = []

    def start(store: Path) -> Server:
        s = Server(store)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


# --------------------------------------------------------------------------- page helpers


def panel(page: Any, key: str) -> Any:
    return page.locator(f'section.panel[data-key="{css_escape(key)}"]')


def css_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def chart_ready(page: Any, key: str, lines: int | None = None) -> Any:
    """Scroll the panel of ``key`` into view and wait until its chart is drawn (with
    ``lines`` lines when given). Returns the panel locator."""
    p = panel(page, key)
    p.scroll_into_view_if_needed()
    sel = ".chart" if lines is None else f'.chart[data-lines="{lines}"]'
    p.locator(sel).wait_for()
    p.locator(".chart canvas").first.wait_for()
    return p


def chart_attrs(page: Any, key: str) -> dict[str, str]:
    chart = panel(page, key).locator(".chart")
    return chart.evaluate("""el => Object.fromEntries(
        ['lines', 'series', 'x', 'log', 'zoomed'].map(k => [k, el.dataset[k]]))""")


def wait_url(page: Any, predicate: Callable[[str], bool], timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(page.url):
            return page.url
        page.wait_for_timeout(50)
    raise AssertionError(f"URL never matched: {page.url}")


def hover(page: Any, panel_locator: Any, frac: float = 0.5) -> Any:
    """Rest the mouse over a panel's chart until its tooltip shows; returns the tooltip.

    A chart redrawn under a resting mouse (a refetch after a resize or a change of runs)
    drops its tooltip until the mouse moves again, so this moves it a pixel more per try.
    """
    tooltip = panel_locator.locator(".tooltip")
    for attempt in range(4):
        box = plot_box(panel_locator)
        page.mouse.move(box["x"] + box["width"] * frac + attempt,
                        box["y"] + box["height"] / 2, steps=2)
        try:
            expect(tooltip).to_be_visible(timeout=1500)
            return tooltip
        except AssertionError:
            continue
    raise AssertionError("hovering the chart never showed a tooltip")


def plot_box(chart_or_panel: Any, timeout: float = 5.0) -> dict[str, float]:
    """The plotting area (uPlot's ``.u-over``) of a chart, on screen, once the chart has
    stopped redrawing: a chart redraws by replacing its plot (after every fetch), and a
    drag that starts on a plot about to go is lost."""
    deadline = time.monotonic() + timeout
    while True:
        plot = chart_or_panel.locator(".uplot").element_handle()
        time.sleep(0.25)
        box = chart_or_panel.locator(".u-over").bounding_box()
        if plot.evaluate("el => el.isConnected") and box and box["width"] > 0:
            return box
        if time.monotonic() > deadline:
            raise AssertionError("the chart kept redrawing (or never showed a plot)")
