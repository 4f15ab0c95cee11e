"""Artifact references: an entry may point at content outside the blob store.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("artifact_files") as batch:
        batch.add_column(sa.Column("ref", sa.Text, nullable=True))
        batch.add_column(sa.Column("checksum", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("artifact_files") as batch:
        batch.drop_column("checksum")
        batch.drop_column("ref")
