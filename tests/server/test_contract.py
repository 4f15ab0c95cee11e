"""The API's contract: the OpenAPI document, and one error shape for every failure."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from runwatch.server import (
    alerts,
    artifacts,
    auth,
    blobs,
    console,
    events,
    files,
    history,
    ingest,
    media,
    models,
    projects,
    runs,
    series,
    uploads,
)
from tests.server.conftest import API_ROUTES, WRITE_ROUTES, ApiClient, World, assert_error


def test_openapi_lists_every_route_with_its_models(world_api: ApiClient) -> None:
    doc = world_api.ok("/api/v1/openapi.json", _AnyJSON)
    assert set(doc["paths"]) == API_ROUTES
    # ... and the routers define no API route the document leaves out.
    served = {"/api/v1" + r.path for module in (projects, runs, series, media, files, blobs,
                                                 artifacts, alerts, console, events, history,
                                                 ingest, uploads, auth)
              for r in module.router.routes if isinstance(r, APIRoute)}
    assert served == API_ROUTES
    for path, ops in doc["paths"].items():
        assert set(ops) == WRITE_ROUTES.get(path, {"get"}), path
    schemas = set(doc["components"]["schemas"])
    for model in (models.ProjectList, models.Project, models.RunList, models.RunDetail,
                  models.KeyList, models.SeriesResponse, models.Error):
        assert model.__name__ in schemas
    ok_schema = doc["paths"]["/api/v1/projects/{project}/series"]["get"]["responses"]["200"]
    assert ok_schema["content"]["application/json"]["schema"]["$ref"].endswith("/SeriesResponse")
    assert "text/event-stream" in (
        doc["paths"]["/api/v1/events"]["get"]["responses"]["200"]["content"])


class _AnyJSON(models.BaseModel):
    model_config = {"extra": "allow"}


SERIES = "/api/v1/projects/vision/series"


@pytest.mark.parametrize("path, mentions", [
    ("/api/v1/projects/nosuch-proj", ["'nosuch-proj'", "/api/v1/projects"]),
    ("/api/v1/projects/nosuch-proj/runs", ["'nosuch-proj'"]),
    ("/api/v1/projects/nosuch-proj/runs/abc", ["'nosuch-proj'"]),
    ("/api/v1/projects/nosuch-proj/keys", ["'nosuch-proj'"]),
    ("/api/v1/projects/nosuch-proj/series?key=loss&runs=abc", ["'nosuch-proj'"]),
    ("/api/v1/events?project=nosuch-proj", ["'nosuch-proj'"]),
    ("/api/v1/projects/vision/runs/nosuch-run", ["'nosuch-run'", "/api/v1/projects/vision/runs"]),
    ("/api/v1/nosuch/path", ["'/api/v1/nosuch/path'", "/api/v1/docs"]),
    ("/nosuch", ["'/nosuch'"]),
    ("/static/nosuch.js", ["'/static/nosuch.js'"]),
    ("/static/%2E%2E/server/app.py", ["'/static/../server/app.py'"]),
])
def test_not_found_has_the_error_shape(world_api: ApiClient, path: str,
                                       mentions: list[str]) -> None:
    assert_error(world_api.get(path), 404, "not_found", *mentions)


def test_run_of_another_project_is_not_found(world: World, world_api: ApiClient) -> None:
    assert_error(world_api.get(f"/api/v1/projects/vision/runs/{world.gamma}"), 404, "not_found",
                 repr(world.gamma))


@pytest.mark.parametrize("query, mentions", [
    ({"width": "0"}, ["width", "'0'"]),
    ({"width": "10001"}, ["width", "'10001'"]),
    ({"width": "wide"}, ["width", "'wide'"]),
    ({"xmin": "37.5", "xmax": "12.25"}, ["xmin", "37.5", "xmax", "12.25"]),
    ({"xmin": "nan"}, ["xmin", "nan"]),
    ({"xmax": "NaN"}, ["xmax", "nan"]),
    ({"xmin": "inf"}, ["xmin", "inf"]),
    ({"xmax": "-Infinity"}, ["xmax", "-inf"]),
    ({"xmin": "left"}, ["xmin", "'left'"]),
    ({"after": "later"}, ["after", "'later'"]),
    ({"runs": ",".join(f"r{i}" for i in range(1001))}, ["1001", "1000"]),
    ({"runs": None}, ["runs"]),
    ({"key": None}, ["key"]),
    ({"key": ""}, ["key"]),
])
def test_bad_series_parameters_are_422(world: World, world_api: ApiClient, query: dict,
                                       mentions: list[str]) -> None:
    params = {"key": "loss", "runs": world.alpha, **query}
    params = {k: v for k, v in params.items() if v is not None}
    assert_error(world_api.get(SERIES, **params), 422, "invalid_parameter", *mentions)


def test_validation_errors_carry_details(world: World, world_api: ApiClient) -> None:
    err = assert_error(world_api.get(SERIES, key="loss", runs=world.alpha, width="-3"),
                       422, "invalid_parameter")
    assert err["detail"] == [{"parameter": "query.width",
                              "problem": "Input should be greater than or equal to 1",
                              "value": "-3"}]


@pytest.mark.parametrize("method, path", [
    ("POST", "/api/v1/projects"),
    ("DELETE", "/api/v1/projects/vision/runs"),
    ("PUT", "/api/v1/projects/vision/series?key=loss&runs=x"),
    ("POST", "/api/v1/events"),
])
def test_wrong_method_is_405_with_the_error_shape(world_api: ApiClient, method: str,
                                                  path: str) -> None:
    assert_error(world_api.request(method, path), 405, "method_not_allowed")


def test_wrong_method_says_what_is_allowed(world_api: ApiClient) -> None:
    resp = world_api.request("POST", "/api/v1/projects")
    assert resp.status_code == 405
    assert resp.headers.get("allow") == "GET"


def test_wrong_method_message_names_the_method_and_path(world_api: ApiClient) -> None:
    assert_error(world_api.request("DELETE", "/api/v1/projects/vision/runs"), 405,
                 "method_not_allowed", "DELETE", "/api/v1/projects/vision/runs")
