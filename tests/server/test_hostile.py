"""Hostile strings go in through the SDK and come out of the API exactly as they went in:
markup, quotes, unicode, control characters, very long text; NaN and ±Inf stay tagged."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from runwatch.errors import UsageError
from runwatch.server import models
from tests.server.conftest import ApiClient, assert_error, start_run, validate

SCRIPT = "<script>alert(1)</script>"
# Project names may not hold / \ # ? % : (the SDK refuses them); all else is fair game.
PROJECT = "<img src=x onerror=alert(1)> \"q\" 'a' &amp; é漢字🙂 ;-- <b>"
RUN_ID = "<svg_onload=alert(1)>\"'&"  # ids may not hold / \ # ? % : or whitespace
LONG = "ü漢" * 50_000 + SCRIPT
NAME = SCRIPT + "\"'\\ `${x}` {{7*7}} " + "n" * 5000
NOTES = LONG + "\x00after-nul\r\nline\u2028sep\u0085nel\ttab\n\ndata: fake\n\n"
TAGS = [SCRIPT, "漢字🙂", "\"'<>&", "t" * 64]
CONFIG = {SCRIPT: SCRIPT, "long": LONG, "quotes\"'": "\"'\\", "漢字": "🙂",
          "nest": {"a'\"<": [SCRIPT, math.inf, -math.inf, math.nan, None, True]},
          "$float": "not-a-tag"}
SUMMARY = {SCRIPT: SCRIPT, "nan": math.nan, "inf": math.inf, "ninf": -math.inf,
           "long": LONG, "nested": {"x": [math.nan, 1.5]}}

CONFIG_JSON = {SCRIPT: SCRIPT, "long": LONG, "quotes\"'": "\"'\\", "漢字": "🙂",
               "nest": {"a'\"<": [SCRIPT, {"$float": "inf"}, {"$float": "-inf"},
                                  {"$float": "nan"}, None, True]},
               "$float": "not-a-tag"}
SUMMARY_JSON = {SCRIPT: SCRIPT, "nan": {"$float": "nan"}, "inf": {"$float": "inf"},
                "ninf": {"$float": "-inf"}, "long": LONG,
                "nested": {"x": [{"$float": "nan"}, 1.5]}}


@dataclass
class Hostile:
    api: ApiClient
    path: str  # /api/v1/projects/<quoted project>


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    store = tmp_path_factory.mktemp("hostile") / "store"
    run = start_run(store, PROJECT, id=RUN_ID, name=NAME, tags=TAGS, notes=NOTES,
                    group=SCRIPT, job_type="\"'<i>", config=CONFIG)
    run.log({SCRIPT: 1.0, "text": SCRIPT})
    run.summary.update(SUMMARY)
    run.finish()
    api = ApiClient(store)
    yield Hostile(api, "/api/v1/projects/" + quote(PROJECT, safe=""))
    api.close()


def _check_run(r: dict[str, Any]) -> None:
    assert r["project"] == PROJECT
    assert r["id"] == RUN_ID
    assert r["name"] == NAME
    assert r["tags"] == TAGS
    assert r["notes"] == NOTES
    assert r["group"] == SCRIPT
    assert r["job_type"] == "\"'<i>"
    assert r["config"] == CONFIG_JSON
    summary = dict(r["summary"])
    assert summary.pop("text") == SCRIPT
    assert summary.pop(SCRIPT) == SCRIPT  # the logged 1.0 is overwritten by the update
    assert summary == {k: v for k, v in SUMMARY_JSON.items() if k != SCRIPT}


def test_project_name_round_trips(hostile: Hostile) -> None:
    names = [p["name"] for p in hostile.api.ok("/api/v1/projects", models.ProjectList)["projects"]]
    assert names == [PROJECT]
    assert hostile.api.ok(hostile.path, models.Project)["name"] == PROJECT


def test_run_fields_round_trip_in_the_table(hostile: Hostile) -> None:
    resp = hostile.api.get(hostile.path + "/runs")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
    data = json.loads(resp.content.decode("utf-8"))
    assert validate(models.RunList, data).project == PROJECT
    (r,) = data["runs"]
    _check_run(r)


def test_run_fields_round_trip_in_the_detail(hostile: Hostile) -> None:
    r = hostile.api.ok(f"{hostile.path}/runs/{quote(RUN_ID, safe='')}", models.RunDetail)
    _check_run(r)
    keys = {k["key"]: k for k in r["keys"]}
    assert keys[SCRIPT]["numeric"] is True and keys["text"]["numeric"] is False


def test_markup_key_series_and_missing_names(hostile: Hostile) -> None:
    data = hostile.api.ok(hostile.path + "/series", models.SeriesResponse, key=SCRIPT,
                          runs=f"{RUN_ID},{SCRIPT}")
    assert data["key"] == SCRIPT
    assert data["runs"][0]["id"] == RUN_ID and data["runs"][0]["y"] == [1.0]
    assert data["missing"] == [SCRIPT]


def test_error_messages_quote_hostile_values_as_text(hostile: Hostile) -> None:
    bad_id = "<img src=x onerror=alert(1)>\"'"
    err = assert_error(hostile.api.get(hostile.path + "/runs/" + quote(bad_id, safe="")),
                       404, "not_found")
    assert repr(bad_id) in err["message"]
    err = assert_error(hostile.api.get("/api/v1/projects/" + quote(PROJECT + "x", safe="")),
                       404, "not_found")
    assert repr(PROJECT + "x") in err["message"]


def test_every_run_id_can_be_asked_for(store_dir: Path, client_for) -> None:
    try:
        run = start_run(store_dir, "commas", id="lr=0.1,bs=32")
    except UsageError as exc:
        assert "," in str(exc)  # refused at init, saying why: consistent too
        return
    run.log({"loss": 1.0})
    run.finish()
    api = client_for(store_dir)
    # What a client does: take the id from the runs list, ask for its keys and series.
    (listed,) = api.ok("/api/v1/projects/commas/runs", models.RunList)["runs"]
    keys = api.ok("/api/v1/projects/commas/keys", models.KeyList, runs=listed["id"])["keys"]
    assert [k["key"] for k in keys] == ["loss"]
    data = api.ok("/api/v1/projects/commas/series", models.SeriesResponse, key="loss",
                  runs=listed["id"])
    assert data["missing"] == [] and [r["id"] for r in data["runs"]] == [run.id]
