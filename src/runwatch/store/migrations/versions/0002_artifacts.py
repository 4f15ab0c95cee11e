"""Artifacts: names, versions (deduplicated by digest), aliases, files, usage.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_artifacts_project_name"),
    )
    op.create_table(
        "artifact_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("artifact_id", sa.Integer, sa.ForeignKey("artifacts.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("meta", sa.Text, nullable=False, server_default="{}"),
        sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("file_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.pk"), nullable=True),
        sa.Column("step", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("artifact_id", "version", name="uq_artifact_versions_version"),
        sa.UniqueConstraint("artifact_id", "digest", name="uq_artifact_versions_digest"),
    )
    op.create_table(
        "artifact_aliases",
        sa.Column("artifact_id", sa.Integer, sa.ForeignKey("artifacts.id"), primary_key=True),
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("artifact_versions.id"),
                  nullable=False),
    )
    op.create_table(
        "artifact_files",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("artifact_versions.id"),
                  primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("media", sa.Text, nullable=True),
    )
    op.create_table(
        "artifact_usage",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("artifact_versions.id"),
                  primary_key=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.pk"), primary_key=True),
        sa.Column("used_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("artifact_usage", "artifact_files", "artifact_aliases", "artifact_versions",
                  "artifacts"):
        op.drop_table(table)
