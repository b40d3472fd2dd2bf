"""Project isolation in a shared blob store: who uploaded which blob, whose lease it is.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_claims",
        sa.Column("project", sa.String(128), primary_key=True),
        sa.Column("digest", sa.String(71), primary_key=True),
        sa.Column("claimed_at", sa.Float, nullable=False),
    )
    op.create_index("ix_blob_claims_digest", "blob_claims", ["digest"])
    op.add_column("inflight", sa.Column("project", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("inflight") as batch:
        batch.drop_column("project")
    op.drop_index("ix_blob_claims_digest", table_name="blob_claims")
    op.drop_table("blob_claims")
