"""The store's tables (SQLAlchemy Core). Alembic migrations create and change them.

Metric history is columnar: ``metric_chunks`` holds the numeric points of one
(run, key) as packed arrays with their count and bounds, so a chart reads a few
rows, not a million. ``history_values`` holds the rare non-numeric points.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Points per chunk: large enough that a 1M-point series is ~250 rows, small enough
# that re-encoding the open chunk on every flush stays cheap.
CHUNK_POINTS = 4096
MAX_KEY_LENGTH = 512

metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("entity", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("notes", Text, nullable=True),
    # Free text the SDK does not bound: Text, so PostgreSQL takes what SQLite takes.
    Column("run_group", Text, nullable=True),
    Column("job_type", Text, nullable=True),
    Column("tags", Text, nullable=False, server_default="[]"),
    Column("config", Text, nullable=False, server_default="{}"),
    Column("summary", Text, nullable=False, server_default="{}"),
    Column("metrics", Text, nullable=False, server_default="[]"),
    Column("meta", Text, nullable=False, server_default="{}"),
    Column("host", Text, nullable=False, server_default=""),
    Column("pid", BigInteger, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("exit_code", BigInteger, nullable=True),  # Windows' are 32-bit unsigned
    Column("traceback", Text, nullable=True),
    Column("last_seq", BigInteger, nullable=False, server_default="-1"),
    Column("last_step", BigInteger, nullable=True),
    UniqueConstraint("project_id", "run_id", name="uq_runs_project_run"),
)
Index("ix_runs_project_created", runs.c.project_id, runs.c.created_at)

metric_keys = Table(
    "metric_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_pk", Integer, ForeignKey("runs.pk"), nullable=False),
    Column("key", String(MAX_KEY_LENGTH), nullable=False),
    Column("points", BigInteger, nullable=False, server_default="0"),
    Column("chunks", Integer, nullable=False, server_default="0"),
    Column("tail", Integer, nullable=False, server_default="0"),
    Column("values_count", BigInteger, nullable=False, server_default="0"),
    Column("last_step", BigInteger, nullable=True),
    UniqueConstraint("run_pk", "key", name="uq_metric_keys_run_key"),
)

metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("key_id", Integer, ForeignKey("metric_keys.id"), primary_key=True),
    Column("chunk_no", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("step_min", BigInteger, nullable=False),
    Column("step_max", BigInteger, nullable=False),
    Column("vmin", Float, nullable=True),
    Column("vmax", Float, nullable=True),
    Column("codec", String(8), nullable=False),
    Column("steps", LargeBinary, nullable=False),
    Column("times", LargeBinary, nullable=False),
    Column("vals", LargeBinary, nullable=False),
)

history_values = Table(
    "history_values",
    metadata,
    Column("key_id", Integer, ForeignKey("metric_keys.id"), primary_key=True),
    Column("step", BigInteger, primary_key=True),
    Column("time", Float, nullable=False),
    Column("value", Text, nullable=False),
)

# -- artifacts (migration 0002) --
artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("type", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name", name="uq_artifacts_project_name"),
)

artifact_versions = Table(
    "artifact_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("description", Text, nullable=True),
    Column("meta", Text, nullable=False, server_default="{}"),
    Column("size", BigInteger, nullable=False, server_default="0"),
    Column("file_count", Integer, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
    Column("run_pk", Integer, ForeignKey("runs.pk"), nullable=True),
    Column("step", BigInteger, nullable=True),
    UniqueConstraint("artifact_id", "version", name="uq_artifact_versions_version"),
    UniqueConstraint("artifact_id", "digest", name="uq_artifact_versions_digest"),
)

artifact_aliases = Table(
    "artifact_aliases",
    metadata,
    Column("artifact_id", Integer, ForeignKey("artifacts.id"), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("version_id", Integer, ForeignKey("artifact_versions.id"), nullable=False),
)

artifact_files = Table(
    "artifact_files",
    metadata,
    Column("version_id", Integer, ForeignKey("artifact_versions.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media", Text, nullable=True),  # a media meta (JSON) when the file is a Table etc.
    Column("ref", Text, nullable=True),    # a reference's URI: content stays where it is
    Column("checksum", String(128), nullable=True),  # a reference's checksum (sha256 or ETag)
)

artifact_usage = Table(
    "artifact_usage",
    metadata,
    Column("version_id", Integer, ForeignKey("artifact_versions.id"), primary_key=True),
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("used_at", Float, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_pk", Integer, ForeignKey("runs.pk"), nullable=False),
    Column("at", Float, nullable=False),
    Column("level", String(8), nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("key", String(MAX_KEY_LENGTH), nullable=True),
    Column("step", BigInteger, nullable=True),
)
Index("ix_alerts_run", alerts.c.run_pk, alerts.c.at)

# The run's console output, a row per line (line_no counts from 0 per run, across
# resumes). stream: 1 stdout, 2 stderr, 0 both (one channel kept them in order).
console_lines = Table(
    "console_lines",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("line_no", BigInteger, primary_key=True, autoincrement=False),
    Column("at", Float, nullable=False),
    Column("stream", SmallInteger, nullable=False),
    Column("text", Text, nullable=False),
)

# API keys of a team server: only the sha256 of a key is kept (a key is 238 random
# bits, so a fast hash is as safe as a slow one and costs microseconds per request).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),   # shown in listings, to tell keys apart
    Column("read_only", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)
