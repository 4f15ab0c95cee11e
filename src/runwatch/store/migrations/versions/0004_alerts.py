"""Alerts: run.alert(...) and runwatch's own (a metric that first turned NaN or Inf).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.pk"), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("key", sa.String(512), nullable=True),
        sa.Column("step", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_alerts_run", "alerts", ["run_pk", "at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_run", table_name="alerts")
    op.drop_table("alerts")
