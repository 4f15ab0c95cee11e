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
