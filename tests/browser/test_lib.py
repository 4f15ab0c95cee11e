"""The dashboard's DOM-free logic (web/lib/*.js), run in the real browser.

The modules are served as plain files (no runwatch server), imported into a blank
page, and called with the cases below.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "src" / "runwatch" / "web"


@pytest.fixture(scope="module")
def lib_page(browser):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(WEB))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    ctx = browser.new_context()
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
    yield page
    ctx.close()
    httpd.shutdown()
    assert not errors, errors


def js(page, module: str, body: str):
    """Evaluate ``body`` (an async function body) with the module imported as ``m``."""
    return page.evaluate(f"async () => {{ const m = await import('/lib/{module}'); {body} }}")


RUNS = """
const runs = [
  {id: "a", name: "resnet-1", state: "finished", tags: ["baseline"], group: "cv", job_type: "train",
   notes: null, flatConfig: {lr: 0.1, opt: "adam"}, flatSummary: {loss: 0.2}},
  {id: "b", name: "vit-2", state: "running", tags: ["<b>x</b>"], group: null, job_type: "eval",
   notes: "Try RESNET later", flatConfig: {lr: 0.001, opt: "SGD"}, flatSummary: {loss: 0.9}},
  {id: "c", name: "mlp", state: "failed", tags: [], group: "cv", job_type: "train",
   notes: null, flatConfig: {lr: "n/a"}, flatSummary: {}},
];
const keep = (q) => runs.filter(m.parseFilter(q).test).map((r) => r.id).join("");
"""


@pytest.mark.parametrize("query, kept", [
    ("", "abc"),
    ("resnet", "ab"),                  # name, and notes case-insensitively
    ("state:running", "b"),
    ("state!=failed", "ab"),
    ("tag:baseline", "a"),
    ("tag:<b>", "b"),
    ("config.lr>0.01", "a"),           # "n/a" is not a number: no match
    ("config.lr<=0.1 summary.loss<0.5", "a"),
    ("config.opt=sgd", "b"),           # text compares case-insensitively
    ("summary.loss!=0.2", "bc"),       # missing counts as different
    ("group:cv job_type:train", "ac"),
    ('name:"vit-2"', "b"),
])
def test_filter(lib_page, query, kept):
    assert js(lib_page, "filter.js", RUNS + f"return keep({query!r});") == kept


def test_filter_reports_unknown_fields(lib_page):
    errors = js(lib_page, "filter.js", "return m.parseFilter('lr>0.1').errors;")
    assert len(errors) == 1 and "config.lr" in errors[0]


def test_ema_smooths_debiased_and_keeps_gaps(lib_page):
    out = js(lib_page, "smooth.js", "return m.ema([1, 1, null, 1, 3], 0.5);")
    assert out[:2] == [1, 1] and out[2] is None and out[3] == 1
    assert 1 < out[4] < 3
    assert js(lib_page, "smooth.js", "return m.ema([5, 7], 0);") == [5, 7]


def test_aggregate_is_mean_with_min_max_band(lib_page):
    out = js(lib_page, "group.js", """
        return m.aggregate([{x: [0, 1, 2], y: [1, 2, 3]}, {x: [0, 1, 2], y: [3, 4, null]}], 3);""")
    assert out["mean"] == [2, 3, 3]
    assert out["min"] == [1, 2, 3] and out["max"] == [3, 4, 3]


def test_url_state_round_trips(lib_page):
    out = js(lib_page, "url.js", """
        const v = {...m.DEFAULT_VIEW, q: 'config.lr>0.1 tag:"a b"', group: "config.opt",
                   cols: ["config.lr", "summary.loss"], runs: ["a", "b"], x: "epoch",
                   smooth: 0.6, log: true, zoom: [10, 20.5], search: "^train/"};
        return [JSON.stringify(m.parseView(m.viewQuery(v))) === JSON.stringify(v),
                m.viewQuery(m.DEFAULT_VIEW),
                m.parseRoute("/p/my%20proj/r/abc"), m.routePath({page: "workspace", project: "a/b?"}),
                m.parseView("?smooth=7&zoom=5,1").smooth, m.parseView("?zoom=5,1").zoom];""")
    assert out[0] is True
    assert out[1] == ""
    assert out[2] == {"page": "run", "project": "my proj", "run": "abc"}
    assert out[3] == "/p/a%2Fb%3F"
    assert out[4] == 0.99 and out[5] is None


def test_sections_by_first_prefix(lib_page):
    out = js(lib_page, "sections.js",
             "return m.sections(['system/cpu', 'loss', 'train/a/b', 'val/x', 'train/c']);")
    assert out == [{"name": "Charts", "keys": ["loss"]},
                   {"name": "train", "keys": ["train/a/b", "train/c"]},
                   {"name": "val", "keys": ["val/x"]},
                   {"name": "System", "keys": ["system/cpu"]}]


def test_colours_are_stable_and_distinct_within_a_set(lib_page):
    out = js(lib_page, "colors.js", """
        const ids = Array.from({length: 15}, (_, i) => 'run' + i);
        const a = m.assignColors(ids), b = m.assignColors([...ids].reverse());
        return [new Set(a.values()).size, ids.every((id) => a.get(id) === b.get(id)),
                m.colorOf('x') === m.colorOf('x')];""")
    assert out == [15, True, True]


def test_format_values(lib_page):
    out = js(lib_page, "format.js", """
        return [m.formatValue({"$float": "nan"}), m.formatValue({"$float": "-inf"}),
                m.formatValue(0.000012345), m.formatValue(12), m.formatValue(true),
                m.formatDuration(3725), JSON.stringify(m.flatten({a: {b: 1, c: {"$float": "inf"}}}))];""")
    assert out == ["NaN", "-Inf", "1.234e-5", "12", "true", "1h 2m",
                   '{"a.b":1,"a.c":null}']
