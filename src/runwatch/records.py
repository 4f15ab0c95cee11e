"""The batch records: the one wire format and the store's only input.

A run is a stream of :class:`Batch` objects, each carrying ``(run_id, seq)``.
The local sink hands them to ``store.write_batch``; a server receives the same
bytes (msgpack of these structs) and applies them the same way; the spill file
holds them framed on disk. Applying a batch twice is a no-op.
"""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec

from runwatch.errors import UsageError

# States a run can be in, as in wandb.
RUNNING, FINISHED, FAILED, CRASHED, KILLED = "running", "finished", "failed", "crashed", "killed"
STATES = (RUNNING, FINISHED, FAILED, CRASHED, KILLED)


class RunStart(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Creates the run (or, with ``resumed``, marks an existing one running again)."""

    name: str
    created_at: float
    entity: str | None = None
    tags: list[str] = []
    notes: str | None = None
    group: str | None = None
    job_type: str | None = None
    host: str = ""
    pid: int = 0
    resumed: bool = False
    metadata: dict[str, Any] = {}


class RunUpdate(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Changes to a run's descriptive fields after start (``run.tags = ...``)."""

    name: str | None = None
    tags: list[str] | None = None
    notes: str | None = None
    group: str | None = None
    job_type: str | None = None
    # Keys merged into the run's metadata (the environment, captured after start).
    metadata: dict[str, Any] | None = None


class MetricDef(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``define_metric``: how a key (or trailing-* glob) is summarised and charted."""

    name: str
    step_metric: str | None = None
    summary: list[str] | None = None
    hidden: bool | None = None
    goal: str | None = None


class Series(msgspec.Struct, array_like=True):
    """Numeric points of one key: parallel columns, one entry per step."""

    key: str
    steps: list[int]
    times: list[float]
    values: list[float | int]


class ValueSeries(msgspec.Struct, array_like=True):
    """Non-numeric points of one key (str, bool, None, lists...), each as JSON text."""

    key: str
    steps: list[int]
    times: list[float]
    values: list[str]


class StateChange(msgspec.Struct, kw_only=True, omit_defaults=True):
    state: str
    at: float
    exit_code: int | None = None
    traceback: str | None = None


class Blob(msgspec.Struct, array_like=True):
    """Content for the blob store, named by its sha256 (an image's PNG, a table file)."""

    sha256: str
    data: bytes


class ArtifactFile(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One entry of an artifact version: content in the blob store by ``sha256``, or a
    reference (``ref`` URI + ``checksum``) whose content is not copied."""

    path: str
    sha256: str
    size: int
    media: str | None = None   # JSON meta when the file is a logged object (a Table...)
    ref: str | None = None
    checksum: str | None = None


class ArtifactVersion(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A version of an artifact this run logged; the store numbers it (or finds the
    version with the same digest) and moves ``latest`` and ``aliases`` to it."""

    name: str
    type: str
    digest: str
    files: list[ArtifactFile]
    project: str | None = None   # default: the run's project (a model registry link sets it)
    aliases: list[str] = []
    description: str | None = None
    metadata: str = "{}"       # JSON text (jsonvalue)
    step: int | None = None


class ArtifactUse(msgspec.Struct, kw_only=True):
    """The run used ``project/name`` at ``version`` (an input in the lineage)."""

    project: str
    name: str
    version: int
    at: float


ALERT_LEVELS = ("INFO", "WARN", "ERROR")


class Alert(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``run.alert(...)``, or runwatch's own (a metric that first turned NaN or Inf)."""

    title: str
    text: str
    level: str = "INFO"
    at: float
    key: str | None = None     # the metric an automatic alert is about
    step: int | None = None


class ConsoleLine(msgspec.Struct, array_like=True):
    """A line of the run's console output: when it started, which stream (1 stdout,
    2 stderr, 0 both: they shared one channel to keep their order) and its text."""

    at: float
    stream: int
    text: str


class Batch(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Everything one flush of one run carries, applied in field order."""

    project: str
    run_id: str
    seq: int
    sent_at: float
    start: RunStart | None = None
    update: RunUpdate | None = None
    config: dict[str, str] = {}          # key -> JSON text (jsonvalue)
    config_delete: list[str] = []
    metrics: list[MetricDef] = []
    series: list[Series] = []
    values: list[ValueSeries] = []
    summary: dict[str, str] = {}         # key -> JSON text (jsonvalue)
    summary_delete: list[str] = []
    blobs: list[Blob] = []                 # stored before anything that refers to them
    artifacts: list[ArtifactVersion] = []
    uses: list[ArtifactUse] = []
    alerts: list[Alert] = []
    # System metrics: steps are milliseconds of wall time, apart from the run's steps.
    system: list[Series] = []
    console: list[ConsoleLine] = []
    state: StateChange | None = None

    def point_count(self) -> int:
        return (sum(len(s.steps) for s in self.series) + sum(len(v.steps) for v in self.values)
                + sum(len(s.steps) for s in self.system))


def manifest_digest(files: list[ArtifactFile]) -> str:
    """An artifact version's digest: sha256 of its sorted ``path, sha256`` pairs."""
    import hashlib

    lines = sorted(f"{f.path}\0{f.sha256}\0{f.ref or ''}\0{f.checksum or ''}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


# Commas separate run ids in the dashboard's URLs and the series API (runs=a,b).
_BAD_ID = re.compile(r"[/\\#?%:,\s\x00]")
_BAD_PROJECT = re.compile(r"[/\\#?%:\x00]")


def check_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not run_id:
        raise UsageError(f"Run id must be a non-empty string, got {run_id!r}.")
    if len(run_id) > 64 or _BAD_ID.search(run_id) or run_id in (".", ".."):
        raise UsageError(
            f"Run id {run_id!r} is not allowed: use at most 64 characters, none of "
            "'/ \\ # ? % : ,' or whitespace, and not '.' or '..'."
        )
    return run_id


def check_project(project: object) -> str:
    if not isinstance(project, str) or not project.strip():
        raise UsageError(f"Project must be a non-empty string, got {project!r}.")
    if len(project) > 128 or _BAD_PROJECT.search(project):
        raise UsageError(
            f"Project name {project!r} is not allowed: use at most 128 characters and none of "
            "'/ \\ # ? % :'. Pass the entity separately: init(entity=..., project=...)."
        )
    return project


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Batch)


def encode(batch: Batch) -> bytes:
    return _encoder.encode(batch)


def decode(data: bytes) -> Batch:
    return _decoder.decode(data)


# -- what a batch from elsewhere must satisfy ----------------------------------------------
# The SDK only makes valid batches; a server also takes them from any client, so it checks
# each one before the store sees it (a bad one is refused whole, with the reason).

ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_json_decode = msgspec.json.Decoder().decode


def _finite(value: float, what: str) -> None:
    if not math.isfinite(value):
        raise UsageError(f"{what} is {value!r}; times must be finite numbers of seconds.")


def _json_text(text: str, what: str) -> None:
    try:
        _json_decode(text)
    except msgspec.DecodeError as exc:
        raise UsageError(f"{what} is not JSON text ({exc}).") from None


def _columns(items: list[Series] | list[ValueSeries], what: str, json: bool = False) -> None:
    for s in items:
        if not (len(s.steps) == len(s.times) == len(s.values)):
            raise UsageError(f"{what} {s.key!r} has {len(s.steps)} steps, {len(s.times)} times "
                             f"and {len(s.values)} values; they must be as many.")
        # One C loop over the column; the slow search only when something is off (a sum
        # of finite times stays finite: times are ~1e9 s, far from overflowing).
        if not math.isfinite(sum(s.times)):
            for t in s.times:
                _finite(t, f"A time of {what} {s.key!r}")
        if json:
            for v in s.values:
                _json_text(v, f"A value of {s.key!r}")


def check_entry_path(path: str) -> str:
    """A file's path inside an artifact: relative, without '..'."""
    from pathlib import PurePosixPath

    pure = PurePosixPath(path)
    if not path.strip("/") or "\\" in path or "\x00" in path or pure.is_absolute() \
            or ".." in pure.parts:
        raise UsageError(f"Artifact entry name {path!r} must be a relative path inside the "
                         "artifact (no leading '/', no '..', no backslash).")
    return path


def check_batch(batch: Batch) -> None:
    """Raise :class:`UsageError` saying what is wrong with a batch the SDK would not make."""
    check_project(batch.project)
    check_run_id(batch.run_id)
    if batch.seq < 0:
        raise UsageError(f"Batch seq {batch.seq} is negative; runs count from 0.")
    _finite(batch.sent_at, "sent_at")
    if batch.start is not None:
        _finite(batch.start.created_at, "start.created_at")
    if batch.state is not None:
        _finite(batch.state.at, "state.at")
        if batch.state.state not in STATES:
            raise UsageError(f"Run state {batch.state.state!r} is not one of {STATES}.")
    for what, texts in (("Config", batch.config), ("Summary", batch.summary)):
        for key, text in texts.items():
            _json_text(text, f"{what} value {key!r}")
    _columns(batch.series, "Series")
    _columns(batch.system, "System series")
    _columns(batch.values, "Value series", json=True)
    for line in batch.console:
        _finite(line.at, "A console line's time")
        if line.stream not in (0, 1, 2):
            raise UsageError(f"Console stream {line.stream} is not 0, 1 or 2.")
    for alert in batch.alerts:
        _finite(alert.at, "An alert's time")
        if alert.level not in ALERT_LEVELS:
            raise UsageError(f"Alert level {alert.level!r} is not one of {ALERT_LEVELS}.")
    for version in batch.artifacts:
        if not ARTIFACT_NAME.match(version.name):
            raise UsageError(f"Artifact name {version.name!r} is not allowed: 1-128 "
                             "characters from [A-Za-z0-9._-].")
        if version.project is not None:
            check_project(version.project)
        _json_text(version.metadata, f"Metadata of artifact {version.name!r}")
        for entry in version.files:
            check_entry_path(entry.path)
            if entry.media is not None:
                _json_text(entry.media, f"The object description of {entry.path!r}")
    for use in batch.uses:
        check_project(use.project)
        if not ARTIFACT_NAME.match(use.name):
            raise UsageError(f"Artifact name {use.name!r} is not allowed.")
