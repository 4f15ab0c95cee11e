"""A run's console over the API: ``/console`` pages (the tail, ``before=`` back,
``after=`` on), search (case-insensitive, ``%``/``_``/``\\`` literal), the stream
filter and its counts, hostile text returned as it is, ``/console.txt`` (output.log),
errors in the one error shape, ``output.log`` in the files list, and line numbers
that go on across a resume.

Most runs are written as real batches through the real store (fast, exact texts and
streams); the resume test also logs with the SDK in this process, capturing its own
prints (``console="wrap"``).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest

import runwatch
from runwatch import records
from runwatch.records import Batch, ConsoleLine, RunStart, StateChange
from runwatch.server import models
from runwatch.store import open_store, read
from tests.pg import new_store_url
from tests.server.conftest import ApiClient, assert_error, start_run, validate

PROJECT = "cons"
API = f"/api/v1/projects/{PROJECT}/runs"
T0 = 1_700_000_000.0
OUT, ERR, BOTH = 1, 2, 0
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"

TAIL_LINES = 1200
BIG_LINES = 20_000

# The search run: (stream, text); the comments say which searches must find the line.
SEARCH_LINES: list[tuple[int, str]] = [
    (OUT, "Epoch 1: Loss went DOWN"),          # 0  q=loss
    (OUT, "epoch 2: loss went up"),            # 1  q=loss
    (ERR, "WARNING: LOSS is NaN"),             # 2  q=loss, stderr
    (OUT, "nothing to see here"),              # 3
    (OUT, "progress 100% done"),               # 4  q="0%"
    (OUT, "progress 1000 done"),               # 5  a '%' wildcard would match this
    (OUT, "snake a_b case"),                   # 6  q="a_b"
    (OUT, "plain axb case"),                   # 7  a '_' wildcard would match this
    (OUT, r"path C:\temp\new"),                # 8  q="\t", q="\" (a literal backslash)
    (OUT, "path C:temp tnew"),                 # 9  an escape-eating LIKE would match \t
    (ERR, r"save 50%_\off now"),               # 10 q="%_\"
    (OUT, "50% off now"),                      # 11
    (OUT, SCRIPT),                             # 12
    (ERR, IMG),                                # 13
    (BOTH, "shared channel line"),             # 14 neither stdout nor stderr
    (OUT, ""),                                 # 15 an empty line
    (OUT, "unicode é漢字 ✓ \t tab"),           # 16
]


@dataclass
class Console:
    store: Path
    tail: str          # TAIL_LINES lines, every 10th on stderr
    search: str        # SEARCH_LINES
    big: str           # BIG_LINES lines, in four batches
    empty: str         # a run with no console output
    nul: str           # lines with NUL characters, sent over the wire
    resumed: str       # a second batch stream after a resume
    url: str | None = None  # the database the runs are in (None: the SQLite file)


def tail_text(i: int) -> str:
    return f"line {i:04d} of the tail"


def big_text(i: int) -> str:
    return f"{i:05d} " + "é" * (i % 7) + " <b>&amp;" + "x" * (i % 50)


def _start(run_id: str, resumed: bool = False) -> RunStart:
    return RunStart(name=run_id, created_at=T0, host="elsewhere", pid=1, resumed=resumed)


class Writer:
    """Writes runs as batches, straight into the store (what a sink would send)."""

    def __init__(self, store: Path, url: str | None = None) -> None:
        settings = runwatch.settings.resolve({"dir": str(store)})
        self.st = open_store(url or settings.store_url, Path(settings.dir) / "blobs")

    def next_seq(self, run_id: str) -> int:
        with self.st.read() as conn:
            r = read.get_run(conn, PROJECT, run_id)
        return 0 if r is None else r.last_seq + 1

    def batch(self, run_id: str, lines: list[ConsoleLine], *, start: RunStart | None = None,
              state: str | None = None, wire: bool = False) -> None:
        seq = self.next_seq(run_id)
        if seq == 0 and start is None:
            start = _start(run_id)
        b = Batch(project=PROJECT, run_id=run_id, seq=seq, sent_at=time.time(), start=start,
                  console=lines,
                  state=StateChange(state=state, at=time.time()) if state else None)
        if wire:
            b = records.decode(records.encode(b))  # as a server receives it
        assert self.st.write(b) is True

    def close(self) -> None:
        self.st.close()


@pytest.fixture(scope="module")
def cons(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         module_backend: str) -> Console:
    """The runs, written to a SQLite file, then to a PostgreSQL database."""
    store = tmp_path_factory.mktemp("console") / "store"
    url = None if module_backend == "sqlite" else new_store_url(request, module_backend, store)
    w = Writer(store, url)
    try:
        lines = [ConsoleLine(T0 + i, ERR if i % 10 == 3 else OUT, tail_text(i))
                 for i in range(TAIL_LINES)]
        # In uneven batches: numbering goes on from batch to batch.
        w.batch("tail", lines[:1])
        w.batch("tail", lines[1:700])
        w.batch("tail", lines[700:], state="finished")

        w.batch("search", [ConsoleLine(T0 + i, s, t) for i, (s, t) in enumerate(SEARCH_LINES)],
                state="finished")

        big = [ConsoleLine(T0 + i / 1000, OUT, big_text(i)) for i in range(BIG_LINES)]
        for k in range(0, BIG_LINES, 5000):
            w.batch("big", big[k:k + 5000])

        w.batch("empty", [], state="finished")

        w.batch("nul", [ConsoleLine(T0, OUT, "before\x00after"),
                        ConsoleLine(T0 + 1, ERR, "\x00\x00only nul around\x00"),
                        ConsoleLine(T0 + 2, OUT, "clean")], wire=True)

        w.batch("resumed", [ConsoleLine(T0 + i, OUT, f"first life {i}") for i in range(3)])
        w.batch("resumed", [ConsoleLine(T0 + 3, OUT, "first life 3")], state="crashed")
        # A new process takes the run over: its batches start with a resumed RunStart.
        w.batch("resumed", [ConsoleLine(T0 + 10 + i, ERR, f"second life {i}") for i in range(2)],
                start=_start("resumed", resumed=True))
        w.batch("resumed", [ConsoleLine(T0 + 20, OUT, "second life 2")], state="finished")
    finally:
        w.close()
    return Console(store=store, tail="tail", search="search", big="big", empty="empty",
                   nul="nul", resumed="resumed", url=url)


@pytest.fixture(scope="module")
def capi(cons: Console) -> Iterator[ApiClient]:
    c = ApiClient(cons.store, cons.url)
    yield c
    c.close()


def page(api: ApiClient, run_id: str, **params: Any) -> dict[str, Any]:
    data = api.ok(f"{API}/{run_id}/console", models.ConsolePage, **params)
    assert data["project"] == PROJECT and data["run"] == run_id
    return data


def numbers(data: dict[str, Any]) -> list[int]:
    return [line["n"] for line in data["lines"]]


def texts(data: dict[str, Any]) -> list[str]:
    return [line["text"] for line in data["lines"]]


def all_lines(api: ApiClient, run_id: str, **params: Any) -> list[dict[str, Any]]:
    """Every line, paging forward with after= from the start."""
    out: list[dict[str, Any]] = []
    after = -1
    while True:
        data = page(api, run_id, after=after, limit=5000, **params)
        out += data["lines"]
        if not data["more"]:
            return out
        after = data["lines"][-1]["n"]


# -- pages -----------------------------------------------------------------------------

def test_tail_is_the_last_lines_with_more_before(capi: ApiClient, cons: Console) -> None:
    data = page(capi, cons.tail, limit=500)
    assert numbers(data) == list(range(700, 1200))
    assert texts(data) == [tail_text(i) for i in range(700, 1200)]
    assert data["more"] is True
    assert data["total"] == data["matched"] == TAIL_LINES
    first = data["lines"][0]
    assert first == {"n": 700, "at": T0 + 700, "stream": OUT, "text": tail_text(700)}
    assert data["lines"][3]["stream"] == ERR  # line 703
    # The default limit is 500 too.
    assert numbers(page(capi, cons.tail)) == list(range(700, 1200))
    # A limit past the total gives everything, with nothing more.
    whole = page(capi, cons.tail, limit=5000)
    assert numbers(whole) == list(range(TAIL_LINES)) and whole["more"] is False


def test_before_pages_back_to_the_first_line(capi: ApiClient, cons: Console) -> None:
    data = page(capi, cons.tail, limit=500)
    seen = numbers(data)
    pages = [data]
    while data["more"]:
        data = page(capi, cons.tail, before=data["lines"][0]["n"], limit=500)
        pages.append(data)
        seen = numbers(data) + seen
        assert len(pages) < 10, "paging back never ended"
    assert [numbers(p)[0] for p in pages] == [700, 200, 0]
    assert numbers(pages[1]) == list(range(200, 700)) and pages[1]["more"] is True
    assert numbers(pages[2]) == list(range(0, 200)) and pages[2]["more"] is False
    assert seen == list(range(TAIL_LINES))
    # Exactly a page's worth left: no more after it.
    exact = page(capi, cons.tail, before=500, limit=500)
    assert numbers(exact) == list(range(500)) and exact["more"] is False
    # Nothing before line 0.
    none = page(capi, cons.tail, before=0)
    assert none["lines"] == [] and none["more"] is False and none["total"] == TAIL_LINES


def test_after_pages_forward_to_the_last_line(capi: ApiClient, cons: Console) -> None:
    first = page(capi, cons.tail, after=-1, limit=500)
    assert numbers(first) == list(range(500)) and first["more"] is True
    second = page(capi, cons.tail, after=499, limit=500)
    assert numbers(second) == list(range(500, 1000)) and second["more"] is True
    last = page(capi, cons.tail, after=999, limit=500)
    assert numbers(last) == list(range(1000, 1200)) and last["more"] is False
    exact = page(capi, cons.tail, after=699, limit=500)
    assert numbers(exact) == list(range(700, 1200)) and exact["more"] is False
    past = page(capi, cons.tail, after=1199)
    assert past["lines"] == [] and past["more"] is False
    lines = all_lines(capi, cons.tail)
    assert [x["text"] for x in lines] == [tail_text(i) for i in range(TAIL_LINES)]


# -- search and stream -----------------------------------------------------------------

def matching(pred: Any) -> list[int]:
    return [i for i, (s, t) in enumerate(SEARCH_LINES) if pred(s, t)]


def test_search_ignores_case(capi: ApiClient, cons: Console) -> None:
    for q in ("loss", "LOSS", "LoSs"):
        data = page(capi, cons.search, q=q)
        assert numbers(data) == [0, 1, 2], q
        assert data["matched"] == 3 and data["total"] == len(SEARCH_LINES), data
        assert data["more"] is False
    assert numbers(page(capi, cons.search, q="EPOCH")) == [0, 1]
    none = page(capi, cons.search, q="absent-from-every-line")
    assert none["lines"] == [] and none["matched"] == 0 and none["total"] == len(SEARCH_LINES)
    # An empty q is no search at all.
    assert page(capi, cons.search, q="")["matched"] == len(SEARCH_LINES)


def test_search_beyond_ascii_ignores_case(capi: ApiClient, cons: Console) -> None:
    """'É' finds 'é', as the spec's "case-insensitive" (and PostgreSQL's ILIKE) say."""
    assert numbers(page(capi, cons.search, q="é漢字")) == [16]
    assert numbers(page(capi, cons.search, q="É漢字")) == [16]


@pytest.mark.parametrize(("q", "expected"), [
    ("0%", [4, 10, 11]),          # not "1000"
    ("100%", [4]),
    ("%", [4, 10, 11]),
    ("a_b", [6]),                 # not "axb"
    ("_", [6, 10]),
    ("\\t", [8]),                 # backslash-t, not a tab and not "t"
    ("\\", [8, 10]),
    ("%_\\", [10]),
    ("50%_\\off", [10]),
    ("\\%", []),                  # no line holds a backslash before a percent sign
])
def test_search_wildcards_and_backslash_are_literal(capi: ApiClient, cons: Console,
                                                    q: str, expected: list[int]) -> None:
    assert matching(lambda s, t: q.lower() in t.lower()) == expected  # the table is right
    data = page(capi, cons.search, q=q)
    assert numbers(data) == expected, q
    assert data["matched"] == len(expected)


def test_stream_filter_and_counts(capi: ApiClient, cons: Console) -> None:
    err = page(capi, cons.search, stream="stderr")
    assert numbers(err) == matching(lambda s, t: s == ERR) == [2, 10, 13]
    assert all(line["stream"] == ERR for line in err["lines"])
    assert err["matched"] == 3 and err["total"] == len(SEARCH_LINES)
    out = page(capi, cons.search, stream="stdout")
    assert numbers(out) == matching(lambda s, t: s == OUT)
    assert out["matched"] == len(out["lines"]) == len(SEARCH_LINES) - 4
    both = page(capi, cons.search, stream="both")
    assert numbers(both) == [14] and both["matched"] == 1
    # q and stream together.
    loss_err = page(capi, cons.search, q="loss", stream="stderr")
    assert numbers(loss_err) == [2] and loss_err["matched"] == 1
    assert loss_err["total"] == len(SEARCH_LINES)
    # Every 10th line of the tail is on stderr: 120 of them; a page of 50 from the end.
    tail_err = page(capi, cons.tail, stream="stderr", limit=50)
    assert tail_err["matched"] == 120 and tail_err["total"] == TAIL_LINES
    assert numbers(tail_err) == [i for i in range(TAIL_LINES) if i % 10 == 3][-50:]
    assert tail_err["more"] is True
    back = page(capi, cons.tail, stream="stderr", before=numbers(tail_err)[0], limit=100)
    assert numbers(back) == [i for i in range(TAIL_LINES) if i % 10 == 3][:70]
    assert back["more"] is False


def test_search_pages_and_counts_in_a_long_run(capi: ApiClient, cons: Console) -> None:
    # "line 0" + a digit: lines 0..999 hold "line 0ddd"; the tail page shows the last 100.
    data = page(capi, cons.tail, q="LINE 0", limit=100)
    assert data["matched"] == 1000 and data["total"] == TAIL_LINES
    assert numbers(data) == list(range(900, 1000)) and data["more"] is True
    later = page(capi, cons.tail, q="line 0", after=950, limit=100)
    assert numbers(later) == list(range(951, 1000)) and later["more"] is False
    earlier = page(capi, cons.tail, q="line 0", before=900, limit=900)
    assert numbers(earlier) == list(range(900)) and earlier["more"] is False


# -- text as it is ---------------------------------------------------------------------

def test_markup_comes_back_verbatim_as_json_strings(capi: ApiClient, cons: Console) -> None:
    resp = capi.get(f"{API}/{cons.search}/console", q="alert(1)")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    data = resp.json()
    validate(models.ConsolePage, data)
    assert [(x["n"], x["stream"], x["text"]) for x in data["lines"]] == [
        (12, OUT, SCRIPT), (13, ERR, IMG)]
    whole = page(capi, cons.search, limit=5000)
    assert texts(whole) == [t for _, t in SEARCH_LINES]
    assert [x["stream"] for x in whole["lines"]] == [s for s, _ in SEARCH_LINES]


def test_nul_characters_of_a_remote_batch_are_dropped(capi: ApiClient, cons: Console) -> None:
    data = page(capi, cons.nul)
    assert texts(data) == ["beforeafter", "only nul around", "clean"]
    assert numbers(data) == [0, 1, 2]
    assert [x["stream"] for x in data["lines"]] == [OUT, ERR, OUT]
    assert page(capi, cons.nul, q="beforeafter")["matched"] == 1
    text = capi.get(f"{API}/{cons.nul}/console.txt")
    assert text.status_code == 200 and "\x00" not in text.text
    assert text.text == "beforeafter\nonly nul around\nclean\n"


# -- console.txt -----------------------------------------------------------------------

# A Content-Disposition parameter (RFC 6266): a token, or a quoted-string in which only
# backslash-escaped quotes may appear.
_PARAM = re.compile(r';\s*([!#$&+.^_`|~0-9A-Za-z-]+\*?)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s"]+)\s*')


def disposition(header: str) -> tuple[str, str]:
    """(type, file name) of a Content-Disposition header, parsed strictly (as a browser
    would have to): ``filename*`` (RFC 5987) wins over ``filename``."""
    kind, sep, rest = header.partition(";")
    params: dict[str, str] = {}
    pos, rest = 0, sep + rest
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        assert m, f"malformed Content-Disposition at {rest[pos:]!r}: {header!r}"
        name, value = m.group(1).lower(), m.group(2)
        assert name not in params, f"{name} given twice: {header!r}"
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
        pos = m.end()
    if "filename*" in params:
        charset, _, encoded = params["filename*"].partition("'")
        _, _, encoded = encoded.partition("'")
        assert charset.lower() == "utf-8", header
        return kind.strip().lower(), unquote(encoded, encoding="utf-8", errors="strict")
    return kind.strip().lower(), params["filename"]


def test_console_txt_is_every_line_joined(capi: ApiClient, cons: Console) -> None:
    resp = capi.get(f"{API}/{cons.search}/console.txt")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert "content-disposition" not in resp.headers
    assert resp.content == ("\n".join(t for _, t in SEARCH_LINES) + "\n").encode("utf-8")
    # The same as the API's lines, for the tail run.
    tail = capi.get(f"{API}/{cons.tail}/console.txt").text
    assert tail == "\n".join(x["text"] for x in all_lines(capi, cons.tail)) + "\n"
    assert tail.count("\n") == TAIL_LINES


def test_console_txt_streams_twenty_thousand_lines(capi: ApiClient, cons: Console) -> None:
    resp = capi.get(f"{API}/{cons.big}/console.txt")
    assert resp.status_code == 200
    expected = "\n".join(big_text(i) for i in range(BIG_LINES)) + "\n"
    assert len(resp.text) == len(expected)
    assert resp.text == expected
    data = page(capi, cons.big, limit=3)
    assert data["total"] == BIG_LINES and numbers(data) == [19_997, 19_998, 19_999]


def test_console_txt_download_names_the_file(capi: ApiClient, cons: Console) -> None:
    resp = capi.get(f"{API}/{cons.tail}/console.txt", download="true")
    assert resp.status_code == 200
    assert disposition(resp.headers["content-disposition"]) == ("attachment",
                                                                f"{cons.tail}-output.log")
    assert resp.text == "\n".join(tail_text(i) for i in range(TAIL_LINES)) + "\n"
    plain = capi.get(f"{API}/{cons.tail}/console.txt", download="false")
    assert "content-disposition" not in plain.headers


def test_console_txt_of_a_run_without_output_is_empty(capi: ApiClient, cons: Console) -> None:
    resp = capi.get(f"{API}/{cons.empty}/console.txt")
    assert resp.status_code == 200 and resp.content == b""
    data = page(capi, cons.empty)
    assert data["lines"] == [] and data["total"] == data["matched"] == 0
    assert data["more"] is False


@pytest.mark.parametrize("run_id", ['run-"q', "run-é漢字"], ids=["quote", "not-latin1"])
def test_download_of_an_unusual_run_id(client_for: Any, store_dir: Path, run_id: str) -> None:
    """The SDK accepts such run ids; their output.log downloads under the right name."""
    run = start_run(store_dir, PROJECT, id=run_id, settings={"console": "wrap"})
    print("hello from an unusual run")
    run.finish()
    api = client_for(store_dir)
    url = f"{API}/{quote(run_id, safe='')}/console.txt"
    assert api.get(url).text == "hello from an unusual run\n"
    resp = api.get(url, download="true")
    assert resp.status_code == 200, resp.text
    assert resp.text == "hello from an unusual run\n"
    assert disposition(resp.headers["content-disposition"]) == ("attachment",
                                                                f"{run_id}-output.log")


# -- errors ----------------------------------------------------------------------------

def test_unknown_project_and_run_are_404(capi: ApiClient, cons: Console) -> None:
    for suffix in ("console", "console.txt"):
        assert_error(capi.get(f"/api/v1/projects/nope/runs/{cons.tail}/{suffix}"),
                     404, "not_found", "project", "'nope'")
        assert_error(capi.get(f"{API}/ghost/{suffix}"), 404, "not_found", "run", "'ghost'")
    assert_error(capi.get(f"{API}/ghost/console.txt", download="true"), 404, "not_found",
                 "'ghost'")


@pytest.mark.parametrize(("params", "mentions"), [
    ({"after": 3, "before": 9}, ("after", "before", "3", "9")),
    ({"after": 0, "before": 0}, ("after", "before")),
    ({"stream": "bogus"}, ("'bogus'", "stdout", "stderr")),
    ({"stream": "STDERR"}, ("'STDERR'",)),
    ({"limit": 0}, ("limit",)),
    ({"limit": 5001}, ("limit",)),
    ({"limit": "many"}, ("limit",)),
    ({"after": -2}, ("after",)),
    ({"before": -1}, ("before",)),
])
def test_bad_parameters_are_422(capi: ApiClient, cons: Console, params: dict[str, Any],
                                mentions: tuple[str, ...]) -> None:
    assert_error(capi.get(f"{API}/{cons.tail}/console", **params), 422, "invalid_parameter",
                 *mentions)


def test_limit_bounds_are_accepted(capi: ApiClient, cons: Console) -> None:
    assert numbers(page(capi, cons.tail, limit=1)) == [1199]
    assert len(page(capi, cons.big, limit=5000)["lines"]) == 5000


# -- the files list --------------------------------------------------------------------

def test_files_list_holds_output_log_only_with_lines(capi: ApiClient, cons: Console) -> None:
    files = capi.get(f"{API}/{cons.tail}/files")
    assert files.status_code == 200
    logs = [f for f in files.json()["files"] if f["path"] == "output.log"]
    assert len(logs) == 1, files.json()
    assert logs[0]["url"] == f"{API}/{cons.tail}/console.txt"
    assert logs[0]["kind"] == "text"
    listed = capi.get(logs[0]["url"])
    assert listed.status_code == 200 and listed.text.startswith(tail_text(0) + "\n")
    empty = capi.get(f"{API}/{cons.empty}/files").json()["files"]
    assert [f["path"] for f in empty] == ["config.json", "summary.json", "metadata.json"]


# -- resumed runs ----------------------------------------------------------------------

def test_resumed_batch_stream_continues_line_numbers(capi: ApiClient, cons: Console) -> None:
    data = page(capi, cons.resumed)
    assert numbers(data) == list(range(7))
    assert texts(data) == [f"first life {i}" for i in range(4)] + [
        f"second life {i}" for i in range(3)]
    assert [x["stream"] for x in data["lines"]] == [OUT] * 4 + [ERR, ERR, OUT]
    txt = capi.get(f"{API}/{cons.resumed}/console.txt").text
    assert txt == "\n".join(texts(data)) + "\n"


def test_resume_with_the_sdk_continues_line_numbers(client_for: Any, store_dir: Path) -> None:
    first = start_run(store_dir, PROJECT, id="again", settings={"console": "wrap"})
    for i in range(3):
        print(f"first process {i}")
    print("first process to stderr", file=sys.stderr)
    first.finish()
    second = start_run(store_dir, PROJECT, id="again", resume="allow",
                       settings={"console": "wrap"})
    assert second.id == "again"
    for i in range(2):
        print(f"second process {i}")
    second.finish()

    api = client_for(store_dir)
    data = page(api, "again")
    # Nothing else printed: exactly our lines, numbered 0.. without a restart.
    assert texts(data) == [f"first process {i}" for i in range(3)] + [
        "first process to stderr"] + [f"second process {i}" for i in range(2)]
    assert numbers(data) == list(range(6))
    assert [x["stream"] for x in data["lines"]] == [OUT, OUT, OUT, ERR, OUT, OUT]
    assert data["total"] == 6
    ats = [x["at"] for x in data["lines"]]
    assert ats == sorted(ats)
    files = api.get(f"{API}/again/files").json()["files"]
    assert "output.log" in [f["path"] for f in files]
