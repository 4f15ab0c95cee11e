"""Response shapes, for the OpenAPI schema (``/api/v1/openapi.json``) and contract tests.

Endpoints encode with msgspec for speed and declare these models as documentation;
the contract tests validate real responses against them, so they cannot drift.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    status: int
    code: str = Field(description="Stable machine-readable code, e.g. not_found.")
    message: str = Field(description="What went wrong, with the offending value, and what to do.")
    detail: Any | None = None


class Error(BaseModel):
    error: ErrorBody


class Project(BaseModel):
    name: str
    entity: str | None
    created_at: float = Field(description="Unix seconds.")
    run_count: int
    running_count: int
    last_activity: float | None


class ProjectList(BaseModel):
    projects: list[Project]


class Run(BaseModel):
    id: str
    name: str
    project: str
    entity: str | None
    state: str = Field(description="running, finished, failed, crashed or killed.")
    notes: str | None
    group: str | None
    job_type: str | None
    tags: list[str]
    config: dict[str, Any] = Field(
        description='User values as JSON; NaN and ±Inf appear as {"$float": "nan"|"inf"|"-inf"}.')
    summary: dict[str, Any]
    created_at: float
    updated_at: float
    heartbeat_at: float
    finished_at: float | None
    exit_code: int | None
    last_step: int | None
    host: str
    seq: int = Field(description="The run's last applied batch; it grows with every change.")


class RunList(BaseModel):
    project: str
    runs: list[Run]


class Key(BaseModel):
    key: str
    runs: int = Field(description="How many runs logged it.")
    points: int = Field(description="Numeric points over those runs.")
    values: int = Field(description="Non-numeric values (media, text) over those runs.")
    numeric: bool
    hidden: bool = Field(description="define_metric(hidden=True): not charted by default.")
    step_metric: str | None = Field(description="define_metric(step_metric=...): default x-axis.")


class KeyList(BaseModel):
    project: str
    keys: list[Key]


class RunDetail(Run):
    metadata: dict[str, Any]
    traceback: str | None
    metrics: list[dict[str, Any]] = Field(description="The run's define_metric calls.")
    keys: list[Key]


class RunSeries(BaseModel):
    id: str
    x: list[float]
    y: list[float | None] = Field(description="Bucket means (raw values when not sampled); "
                                              "null where no finite value.")
    min: list[float | None] | None = Field(description="Bucket minimum; null when raw.")
    max: list[float | None] | None = Field(description="Bucket maximum; null when raw.")
    points: int = Field(description="Points in the x range before downsampling.")
    sampled: bool
    nonfinite: int = Field(description="NaN and ±Inf values in range, not drawn.")
    last_step: int | None = Field(description="Highest step in the answer: pass it as `after`.")


class SeriesResponse(BaseModel):
    key: str
    x: str
    width: int
    runs: list[RunSeries]
    missing: list[str] = Field(description="Asked-for run ids this project does not have.")


# -- artifacts --

class ArtifactSummary(BaseModel):
    name: str
    versions: int = Field(description="How many versions it has.")
    latest: str = Field(description='The version "latest" names, e.g. "v3".')
    aliases: list[str] = Field(description="The latest version's aliases.")
    updated_at: float = Field(description="When its newest version was logged (Unix seconds).")
    size: int = Field(description="Bytes of the latest version's files.")
    description: str | None


class ArtifactType(BaseModel):
    type: str
    artifacts: list[ArtifactSummary]


class ArtifactList(BaseModel):
    project: str
    types: list[ArtifactType] = Field(description="Sorted by type; artifacts by name.")


class RunRef(BaseModel):
    id: str
    name: str
    project: str = Field(description="The run's project (a registry link's run is elsewhere).")


class ArtifactVersionInfo(BaseModel):
    version: str = Field(description='"v0", "v1", ...')
    index: int
    aliases: list[str]
    digest: str = Field(description="sha256 of the version's manifest.")
    size: int = Field(description="Bytes of its files (references included).")
    file_count: int
    created_at: float
    step: int | None = Field(description="The logging run's step when it was logged.")
    metadata: dict[str, Any] = Field(
        description='As logged; NaN and ±Inf appear as {"$float": "nan"|"inf"|"-inf"}.')
    description: str | None
    logged_by: RunRef | None
    used_by: list[RunRef] = Field(description="In order of first use.")


class ArtifactDetail(BaseModel):
    project: str
    name: str
    type: str
    description: str | None = Field(description="The latest version's.")
    versions: list[ArtifactVersionInfo] = Field(description="Newest first.")


class ArtifactFileInfo(BaseModel):
    path: str
    sha256: str | None = Field(description="Its blob (GET /api/v1/blobs/{sha256}?name=...); "
                                           "null for a reference.")
    size: int
    ref: str | None = Field(description="A reference's URI (file://, s3://): not copied.")
    checksum: str | None = Field(description="A reference's checksum (sha256:... or etag:...).")
    media: str | None = Field(description="The kind of a logged object (table, image...).")
    table_sha256: str | None = Field(description="A table's (or a chart's) columnar file: "
                                                 "its pages at GET /api/v1/tables/{sha256}.")
    meta: dict[str, Any] | None = Field(None, description="A logged object's description "
                                                          "(what Artifact.get rebuilds it from).")


class ArtifactVersionDetail(ArtifactVersionInfo):
    project: str
    name: str
    type: str
    files: list[ArtifactFileInfo] = Field(description="Sorted by path.")


class LineageNode(BaseModel):
    id: str = Field(description='"run:<run id>" or "artifact:<name>:<vN>"; nodes of another '
                                'project put "<project>/" before the run id or name.')
    kind: str = Field(description="run or artifact.")
    label: str
    project: str
    run_id: str | None = Field(None, description="Runs only.")
    state: str | None = Field(None, description="Runs only.")
    name: str | None = Field(None, description="Artifacts only.")
    version: str | None = Field(None, description="Artifacts only.")
    type: str | None = Field(None, description="Artifacts only: the artifact's type.")


class LineageEdge(BaseModel):
    model_config = {"populate_by_name": True, "serialize_by_alias": True}

    from_: str = Field(alias="from")
    to: str
    kind: str = Field(description="logged (run -> version) or used (version -> run).")


class Lineage(BaseModel):
    project: str
    root: str = Field(description="The id of the node asked about.")
    depth: int
    nodes: list[LineageNode] = Field(description="The root first, then by distance.")
    edges: list[LineageEdge]
    truncated: bool = Field(description="True when nodes beyond the cap (500) were left out.")


class ConsoleLineInfo(BaseModel):
    n: int = Field(description="Line number, from 0, in the run's whole output.")
    at: float = Field(description="Unix seconds when the line's first character was written.")
    stream: int = Field(description="1 stdout, 2 stderr, 0 both (they shared one channel to "
                                    "keep their order on the terminal).")
    text: str


class ConsolePage(BaseModel):
    project: str
    run: str
    total: int = Field(description="Lines the run has.")
    matched: int = Field(description="Lines matching q and stream (total without them).")
    lines: list[ConsoleLineInfo]
    more: bool = Field(description="More matching lines lie beyond this page: earlier ones "
                                   "(the default tail, before=) or later ones (after=).")
