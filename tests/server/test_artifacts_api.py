"""Artifacts over the API: a project's artifacts by type, an artifact's versions, one
version with its files (downloaded through /blobs), and lineage graphs, read from a
store the SDK logged: a data run, a training run that uses the data and logs (and
registers) a model, an evaluation run that uses the model."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import runwatch
from runwatch.records import ArtifactFile, ArtifactVersion, Batch, manifest_digest
from runwatch.server import models
from runwatch.store import open_store, read
from tests.server.conftest import ApiClient, assert_error, start_run, tee_for, validate

SCRIPT = "<script>alert(1)</script>"
MARKUP = "<img src=x onerror=alert(1)>"  # no '/' or ':': a valid alias and artifact type
# Project names may not hold / \ # ? % : (the SDK refuses them); all else is fair game.
HOSTILE_PROJECT = "<b>lab<i> \"q\" 'a' &amp; é漢字"
HOSTILE_RUN = "<svg_onload=alert(1)>\"'&"
# The SDK refuses such an artifact name; another writer of the store may not.
HOSTILE_NAME = "<img src=x onerror=alert(1)> \"q\" 'a' é"

API = "/api/v1/projects/lab"
TRAIN = b"a,b\n1,2\n"
TRAIN_V1 = b"a,b\n1,2\n3,4\n"
README = "hello <b>world</b>"
RAW = b"\x00raw bytes kept where they are\xff"
MODEL = bytes(range(256)) * 8


@dataclass
class Lab:
    store: Path
    prep: str
    train: str
    evaluate: str
    other: str  # the run of the hostile project
    raw_uri: str
    url: str | None = None  # the database the API reads (None: the SQLite file)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hostile_artifact(store: Path, project: str, run_id: str, url: str | None = None) -> None:
    """A version whose name, path, type and texts hold markup, written straight into the
    store (or the database at ``url``) as the last batch of a finished run (the SDK would
    refuse the name)."""
    settings = runwatch.settings.resolve({"dir": str(store)})
    st = open_store(url or settings.store_url, Path(settings.dir) / "blobs")
    try:
        with st.read() as conn:
            seq = read.get_run(conn, project, run_id).last_seq
        entry = ArtifactFile(path=f"{MARKUP}/{SCRIPT}.txt", sha256=_sha(TRAIN), size=len(TRAIN))
        problems: list[str] = []
        st.write(Batch(project=project, run_id=run_id, seq=seq + 1, sent_at=time.time(),
                       artifacts=[ArtifactVersion(
                           name=HOSTILE_NAME, type=SCRIPT, digest=manifest_digest([entry]),
                           files=[entry], aliases=[MARKUP], description=SCRIPT,
                           metadata=runwatch.jsonvalue.dumps({SCRIPT: MARKUP}))]), problems)
        assert not problems, problems
    finally:
        st.close()


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        module_backend: str) -> Lab:
    """Logged with the SDK to a SQLite file and, on PostgreSQL, to a database as well."""
    root = tmp_path_factory.mktemp("artifacts")
    store, src = root / "store", root / "src"
    with pytest.MonkeyPatch.context() as mp, tee_for(request, module_backend, store) as tee:
        # Artifacts built outside a run stage their files in the default store: this one.
        mp.setenv("RUNWATCH_DIR", str(store))
        mp.chdir(root)  # use_model downloads under ./artifacts

        prep = start_run(store, "lab", name="prep", job_type="data")
        ds = runwatch.Artifact("mnist", type="dataset", description=f"{SCRIPT} first cut",
                               metadata={"rows": 1, "note": SCRIPT, "nan": math.nan,
                                         "nest": {MARKUP: [math.inf, None]}})
        ds.add_file(_write(src / "v0" / "train.csv", TRAIN))
        with ds.new_file("notes/readme.txt") as f:
            f.write(README)
        prep.log_artifact(ds, aliases=["raw"])
        ds = runwatch.Artifact("mnist", type="dataset", description="second cut",
                               metadata={"rows": 2})
        ds.add_file(_write(src / "v1" / "train.csv", TRAIN_V1))
        with ds.new_file("notes/readme.txt") as f:
            f.write(README)
        raw = _write(src / "raw data.bin", RAW)
        ds.add_reference(raw.as_uri())
        prep.log_artifact(ds, aliases=["best"])
        # A table becomes the run_table artifact run-<id>-preds.
        prep.log({"preds": runwatch.Table(columns=["i", "text"], data=[[1, SCRIPT], [2, "b"]])})
        # Content logged again makes no new version; "latest" moves back to it.
        for content in (b"A", b"B", b"A"):
            flip = runwatch.Artifact("flip", type="misc")
            flip.add_file(_write(src / "flip" / content.decode(), content), name="f.txt")
            prep.log_artifact(flip)
        odd = runwatch.Artifact("odd", type=MARKUP, description=SCRIPT,
                                metadata={SCRIPT: [SCRIPT, math.inf, -math.inf]})
        with odd.new_file("x.txt") as f:
            f.write("x")
        odd.add(runwatch.Table(columns=["x"], data=[[SCRIPT]]), "samples")
        prep.log_artifact(odd, aliases=[MARKUP])
        prep.finish()

        train = start_run(store, "lab", name="train", job_type="train")
        train.use_artifact("mnist:best")
        model_path = _write(src / "model.pth", MODEL)
        train.log_model(model_path, name="mnist-cnn", aliases=["candidate"])
        # Registered in the model-registry project: same files, so mnist-cnn gets no new
        # version; "production" names the registry's v0.
        train.link_model(model_path, "mnist-classifier", name="mnist-cnn",
                         aliases=["production"])
        train.finish()

        evaluate = start_run(store, "lab", name="evaluate", job_type="eval")
        path = evaluate.use_model("mnist-cnn:latest")
        assert Path(path).read_bytes() == MODEL
        evaluate.finish()

        other = start_run(store, HOSTILE_PROJECT, id=HOSTILE_RUN, name=SCRIPT)
        other.use_artifact("lab/mnist:v0")  # a use from another project
        other.finish()
        _hostile_artifact(store, HOSTILE_PROJECT, HOSTILE_RUN)
        if tee is not None:
            _hostile_artifact(store, HOSTILE_PROJECT, HOSTILE_RUN, tee.url)
    return Lab(store=store, prep=prep.id, train=train.id, evaluate=evaluate.id,
               other=HOSTILE_RUN, raw_uri=raw.as_uri(), url=None if tee is None else tee.url)


@pytest.fixture(scope="module")
def api(lab: Lab) -> Iterator[ApiClient]:
    c = ApiClient(lab.store, lab.url)
    yield c
    c.close()


def _run(lab: Lab, run_id: str, project: str = "lab") -> dict[str, str]:
    names = {lab.prep: "prep", lab.train: "train", lab.evaluate: "evaluate", lab.other: SCRIPT}
    return {"id": run_id, "name": names[run_id], "project": project}


# -- the list ------------------------------------------------------------------------

def test_artifacts_grouped_by_type(lab: Lab, api: ApiClient) -> None:
    data = api.ok(f"{API}/artifacts", models.ArtifactList)
    assert data["project"] == "lab"
    types = {t["type"]: t["artifacts"] for t in data["types"]}
    assert [t["type"] for t in data["types"]] == sorted(types) == sorted(
        ["dataset", "misc", "model", "run_table", MARKUP])
    (mnist,) = types["dataset"]
    assert mnist["name"] == "mnist" and mnist["versions"] == 2 and mnist["latest"] == "v1"
    assert mnist["aliases"] == ["best", "latest"]
    assert mnist["size"] == len(TRAIN_V1) + len(README) + len(RAW)
    assert mnist["description"] == "second cut"
    assert abs(mnist["updated_at"] - time.time()) < 600
    (table,) = types["run_table"]
    assert table["name"] == f"run-{lab.prep}-preds" and table["latest"] == "v0"
    (model,) = types["model"]
    assert model["name"] == "mnist-cnn" and model["aliases"] == ["candidate", "latest"]
    assert model["size"] == len(MODEL)
    # "latest" names the last version logged, not the highest number.
    (flip,) = types["misc"]
    assert flip["versions"] == 2 and flip["latest"] == "v0" and flip["size"] == 1
    (odd,) = types[MARKUP]
    assert odd["aliases"] == sorted(["latest", MARKUP]) and odd["description"] == SCRIPT


def test_artifacts_sorted_by_name_within_a_type(lab: Lab, tmp_path: Path) -> None:
    store = tmp_path / "sorted"
    run = start_run(store, "p")
    for name in ("zeta", "Alpha", "beta"):
        art = runwatch.Artifact(name, type="dataset")
        with art.new_file("f.txt") as f:
            f.write(name)
        run.log_artifact(art)
    run.finish()
    c = ApiClient(store)
    try:
        data = c.ok("/api/v1/projects/p/artifacts", models.ArtifactList)
        assert [a["name"] for a in data["types"][0]["artifacts"]] == ["Alpha", "beta", "zeta"]
        # A project without artifacts lists none.
        run = start_run(store, "empty")
        run.finish()
        assert c.ok("/api/v1/projects/empty/artifacts", models.ArtifactList) == {
            "project": "empty", "types": []}
    finally:
        c.close()


# -- one artifact --------------------------------------------------------------------

def test_artifact_versions_newest_first(lab: Lab, api: ApiClient) -> None:
    data = api.ok(f"{API}/artifacts/mnist", models.ArtifactDetail)
    assert (data["project"], data["name"], data["type"]) == ("lab", "mnist", "dataset")
    assert data["description"] == "second cut"
    v1, v0 = data["versions"]
    assert (v1["version"], v1["index"], v0["version"], v0["index"]) == ("v1", 1, "v0", 0)
    assert v1["aliases"] == ["best", "latest"] and v0["aliases"] == ["raw"]
    assert v0["file_count"] == 2 and v1["file_count"] == 3
    assert v0["size"] == len(TRAIN) + len(README)
    assert len(v0["digest"]) == 64 and v0["digest"] != v1["digest"]
    assert v0["created_at"] <= v1["created_at"]
    assert v1["metadata"] == {"rows": 2}
    assert v0["logged_by"] == v1["logged_by"] == _run(lab, lab.prep)
    assert v1["used_by"] == [_run(lab, lab.train)]
    assert v0["used_by"] == [_run(lab, lab.other, HOSTILE_PROJECT)]
    assert "files" not in v0


def test_model_is_logged_and_used(lab: Lab, api: ApiClient) -> None:
    (v0,) = api.ok(f"{API}/artifacts/mnist-cnn", models.ArtifactDetail)["versions"]
    assert v0["logged_by"] == _run(lab, lab.train)
    assert v0["used_by"] == [_run(lab, lab.evaluate)]
    # The registry's version is the same files, logged by the training run of "lab".
    reg = api.ok("/api/v1/projects/model-registry/artifacts/mnist-classifier/production",
                 models.ArtifactVersionDetail)
    assert reg["version"] == "v0" and reg["type"] == "model"
    assert reg["logged_by"] == _run(lab, lab.train) and reg["used_by"] == []
    assert reg["digest"] == v0["digest"] and reg["description"] == "linked from lab/mnist-cnn:v0"


# -- one version ---------------------------------------------------------------------

@pytest.mark.parametrize("ref, version", [("v0", "v0"), ("v1", "v1"), ("latest", "v1"),
                                          ("best", "v1"), ("raw", "v0")])
def test_version_by_number_or_alias(api: ApiClient, ref: str, version: str) -> None:
    data = api.ok(f"{API}/artifacts/mnist/{ref}", models.ArtifactVersionDetail)
    assert data["version"] == version and data["name"] == "mnist"
    listed = {v["version"]: v for v in api.get(f"{API}/artifacts/mnist").json()["versions"]}
    assert {k: v for k, v in data.items() if k not in ("project", "name", "type", "files")} \
        == listed[version]


def test_version_files(lab: Lab, api: ApiClient) -> None:
    data = api.ok(f"{API}/artifacts/mnist/v1", models.ArtifactVersionDetail)
    assert data["files"] == [
        {"path": "notes/readme.txt", "sha256": _sha(README.encode()), "size": len(README),
         "ref": None, "checksum": None, "media": None, "table_sha256": None, "meta": None},
        {"path": "raw data.bin", "sha256": None, "size": len(RAW), "ref": lab.raw_uri,
         "checksum": "sha256:" + _sha(RAW), "media": None, "table_sha256": None, "meta": None},
        {"path": "train.csv", "sha256": _sha(TRAIN_V1), "size": len(TRAIN_V1), "ref": None,
         "checksum": None, "media": None, "table_sha256": None, "meta": None},
    ]
    assert data["size"] == sum(f["size"] for f in data["files"])


def test_table_entries_name_their_table_file(lab: Lab, api: ApiClient) -> None:
    data = api.ok(f"{API}/artifacts/run-{lab.prep}-preds/latest", models.ArtifactVersionDetail)
    assert data["type"] == "run_table" and data["logged_by"] == _run(lab, lab.prep)
    odd = api.ok(f"{API}/artifacts/odd/latest", models.ArtifactVersionDetail)
    assert [f["path"] for f in odd["files"]] == ["samples.table.json", "x.txt"]
    for entry in (data["files"][0], odd["files"][0]):
        assert entry["path"].endswith(".table.json") and entry["media"] == "table"
        # The entry is the table's description; it names the columnar file.
        described = api.get(f"/api/v1/blobs/{entry['sha256']}", name="t.json").json()
        assert described["_type"] == "table" and described["sha256"] == entry["table_sha256"]
        assert api.get(f"/api/v1/blobs/{entry['table_sha256']}").status_code == 200
    assert odd["files"][1]["media"] is None and odd["files"][1]["table_sha256"] is None


def test_files_download_through_blobs(api: ApiClient) -> None:
    files = api.get(f"{API}/artifacts/mnist-cnn/latest").json()["files"]
    (model,) = files
    resp = api.get(f"/api/v1/blobs/{model['sha256']}", name=model["path"])
    assert resp.status_code == 200 and resp.content == MODEL
    assert resp.headers["content-type"] == "application/octet-stream"
    assert 'filename="model.pth"' in resp.headers["content-disposition"]
    readme = api.get(f"{API}/artifacts/mnist/v0").json()["files"][0]
    resp = api.get(f"/api/v1/blobs/{readme['sha256']}", name=readme["path"].rsplit("/")[-1])
    assert resp.content == README.encode()


def test_markup_comes_back_byte_identical(lab: Lab, api: ApiClient) -> None:
    v0 = api.get(f"{API}/artifacts/mnist/v0")
    assert v0.json()["description"] == f"{SCRIPT} first cut"
    # The stored JSON goes out as it is: NaN and ±Inf stay tagged, markup unescaped.
    assert v0.json()["metadata"] == {"rows": 1, "note": SCRIPT, "nan": {"$float": "nan"},
                                     "nest": {MARKUP: [{"$float": "inf"}, None]}}
    assert SCRIPT.encode() in v0.content and MARKUP.encode() in v0.content
    odd = api.ok(f"{API}/artifacts/odd/{quote(MARKUP, safe='')}", models.ArtifactVersionDetail)
    assert odd["type"] == MARKUP and odd["description"] == SCRIPT
    assert odd["aliases"] == sorted(["latest", MARKUP])
    assert odd["metadata"] == {SCRIPT: [SCRIPT, {"$float": "inf"}, {"$float": "-inf"}]}


def test_hostile_project_and_name(lab: Lab, api: ApiClient) -> None:
    base = "/api/v1/projects/" + quote(HOSTILE_PROJECT, safe="")
    listed = api.ok(f"{base}/artifacts", models.ArtifactList)
    assert listed == {"project": HOSTILE_PROJECT, "types": [{"type": SCRIPT, "artifacts": [{
        "name": HOSTILE_NAME, "versions": 1, "latest": "v0", "aliases": sorted(["latest", MARKUP]),
        "updated_at": listed["types"][0]["artifacts"][0]["updated_at"], "size": len(TRAIN),
        "description": SCRIPT}]}]}
    name = quote(HOSTILE_NAME, safe="")
    detail = api.ok(f"{base}/artifacts/{name}", models.ArtifactDetail)
    assert detail["name"] == HOSTILE_NAME and detail["type"] == SCRIPT
    version = api.ok(f"{base}/artifacts/{name}/{quote(MARKUP, safe='')}",
                     models.ArtifactVersionDetail)
    assert version["files"][0]["path"] == f"{MARKUP}/{SCRIPT}.txt"
    assert version["metadata"] == {SCRIPT: MARKUP}
    assert version["logged_by"] == _run(lab, lab.other, HOSTILE_PROJECT)
    graph = api.ok(f"{base}/lineage", models.Lineage, run=HOSTILE_RUN, depth=1)
    assert graph["root"] == f"run:{HOSTILE_RUN}"
    assert {n["id"] for n in graph["nodes"]} == {
        f"run:{HOSTILE_RUN}", f"artifact:{HOSTILE_NAME}:v0", "artifact:lab/mnist:v0"}


# -- lineage -------------------------------------------------------------------------

def _ids(graph: dict[str, Any]) -> set[str]:
    return {n["id"] for n in graph["nodes"]}


def _edges(graph: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["from"], e["kind"], e["to"]) for e in graph["edges"]}


def test_lineage_from_a_model_back_to_its_data(lab: Lab, api: ApiClient) -> None:
    graph = api.ok(f"{API}/lineage", models.Lineage, artifact="mnist-cnn:latest")
    assert graph["root"] == "artifact:mnist-cnn:v0" and graph["depth"] == 2
    assert graph["truncated"] is False
    assert graph["nodes"][0] == {"id": "artifact:mnist-cnn:v0", "kind": "artifact",
                                 "label": "mnist-cnn:v0", "project": "lab",
                                 "name": "mnist-cnn", "version": "v0", "type": "model"}
    train, evaluate = f"run:{lab.train}", f"run:{lab.evaluate}"
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes[train] == {"id": train, "kind": "run", "label": "train", "project": "lab",
                            "run_id": lab.train, "state": "finished"}
    # Two hops: the runs around the model, then what the training run used and logged.
    assert _ids(graph) == {"artifact:mnist-cnn:v0", train, evaluate, "artifact:mnist:v1",
                           "artifact:model-registry/mnist-classifier:v0"}
    assert _edges(graph) == {
        (train, "logged", "artifact:mnist-cnn:v0"),
        ("artifact:mnist-cnn:v0", "used", evaluate),
        ("artifact:mnist:v1", "used", train),
        (train, "logged", "artifact:model-registry/mnist-classifier:v0"),
    }
    assert nodes["artifact:mnist:v1"]["type"] == "dataset"
    # One more hop reaches the run that logged the data, and its other artifacts.
    deeper = api.ok(f"{API}/lineage", models.Lineage, artifact="mnist-cnn:v0", depth=3)
    assert f"run:{lab.prep}" in _ids(deeper) and (
        f"run:{lab.prep}", "logged", "artifact:mnist:v1") in _edges(deeper)
    assert _ids(graph) < _ids(deeper)
    assert f"artifact:run-{lab.prep}-preds:v0" not in _ids(deeper)
    deepest = api.ok(f"{API}/lineage", models.Lineage, artifact="mnist-cnn", depth=5)
    assert {f"artifact:run-{lab.prep}-preds:v0", "artifact:mnist:v0",
            f"run:{HOSTILE_PROJECT}/{HOSTILE_RUN}"} <= _ids(deepest)


def test_lineage_from_a_run(lab: Lab, api: ApiClient) -> None:
    graph = api.ok(f"{API}/lineage", models.Lineage, run=lab.train, depth=1)
    train = f"run:{lab.train}"
    assert graph["root"] == train and graph["nodes"][0]["id"] == train
    assert _edges(graph) == {
        ("artifact:mnist:v1", "used", train),
        (train, "logged", "artifact:mnist-cnn:v0"),
        (train, "logged", "artifact:model-registry/mnist-classifier:v0"),
    }
    # From the registry's side, the lab's run is in another project.
    reg = api.ok("/api/v1/projects/model-registry/lineage", models.Lineage,
                 artifact="mnist-classifier:production", depth=1)
    assert _edges(reg) == {(f"run:lab/{lab.train}", "logged", "artifact:mnist-classifier:v0")}


def test_lineage_caps_nodes(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from runwatch.server import artifacts

    monkeypatch.setattr(artifacts, "MAX_NODES", 3)
    graph = api.ok(f"{API}/lineage", models.Lineage, artifact="mnist:v1", depth=5)
    assert len(graph["nodes"]) == 3 and graph["truncated"] is True
    ids = _ids(graph)
    assert all(e["from"] in ids and e["to"] in ids for e in graph["edges"])


# -- errors --------------------------------------------------------------------------

@pytest.mark.parametrize("path, mentions", [
    ("/api/v1/projects/nope/artifacts", ["'nope'", "/api/v1/projects"]),
    ("/api/v1/projects/nope/artifacts/mnist", ["'nope'", "/api/v1/projects"]),
    ("/api/v1/projects/nope/artifacts/mnist/v0", ["'nope'", "/api/v1/projects"]),
    ("/api/v1/projects/nope/lineage?artifact=mnist", ["'nope'", "/api/v1/projects"]),
    ("/api/v1/projects/nope/lineage?run=abc", ["'nope'", "/api/v1/projects"]),
    (f"{API}/artifacts/nope", ["'nope'", f"{API}/artifacts"]),
    (f"{API}/artifacts/nope/v0", ["'nope'", f"{API}/artifacts"]),
    (f"{API}/artifacts/mnist/v7", ["'v7'", "v0, v1", "best, latest, raw",
                                   f"{API}/artifacts/mnist"]),
    (f"{API}/artifacts/mnist/production", ["'production'", "v0, v1"]),
    (f"{API}/lineage?artifact=nope:v0", ["'nope'", f"{API}/artifacts"]),
    (f"{API}/lineage?artifact=mnist:v9", ["'v9'", f"{API}/artifacts/mnist"]),
    (f"{API}/lineage?run=nosuch-run", ["'nosuch-run'", f"{API}/runs"]),
    (f"{API}/artifacts/mnist/v0/extra", ["/api/v1/docs"]),
])
def test_unknown_things_are_404(api: ApiClient, path: str, mentions: list[str]) -> None:
    assert_error(api.get(path), 404, "not_found", *mentions)


def test_run_of_another_project_has_no_lineage_here(lab: Lab, api: ApiClient) -> None:
    assert_error(api.get("/api/v1/projects/model-registry/lineage", run=lab.train), 404,
                 "not_found", repr(lab.train))


@pytest.mark.parametrize("query, mentions", [
    ({"artifact": "mnist", "depth": "0"}, ["depth", "'0'"]),
    ({"artifact": "mnist", "depth": "6"}, ["depth", "'6'"]),
    ({"artifact": "mnist", "depth": "deep"}, ["depth", "'deep'"]),
    ({"run": "x", "depth": "-1"}, ["depth", "'-1'"]),
    ({}, ["artifact", "run", "neither"]),
    ({"artifact": "mnist", "run": "x"}, ["artifact", "run", "both"]),
    ({"artifact": ""}, ["artifact"]),
])
def test_bad_lineage_parameters_are_422(api: ApiClient, query: dict, mentions: list[str]) -> None:
    assert_error(api.get(f"{API}/lineage", **query), 422, "invalid_parameter", *mentions)


def test_wrong_method_is_405(api: ApiClient) -> None:
    assert_error(api.request("DELETE", f"{API}/artifacts/mnist"), 405, "method_not_allowed")


def test_openapi_documents_the_artifact_routes(api: ApiClient) -> None:
    doc = api.get("/api/v1/openapi.json").json()
    for path, model in [("/api/v1/projects/{project}/artifacts", "ArtifactList"),
                        ("/api/v1/projects/{project}/artifacts/{name}", "ArtifactDetail"),
                        ("/api/v1/projects/{project}/artifacts/{name}/{version}",
                         "ArtifactVersionDetail"),
                        ("/api/v1/projects/{project}/lineage", "Lineage")]:
        ok = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["$ref"].endswith("/" + model), path
    validate(models.LineageEdge, {"from": "a", "to": "b", "kind": "used"})
