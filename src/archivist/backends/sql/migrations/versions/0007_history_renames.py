"""An index for "it was renamed to …": history rows by kind and key.

A lookup of a name that no longer exists asks for the newest ``rename`` history row whose
key is that name (``reads.py``); without this index it scanned every history row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_history_kind_key", "history", ["kind", "key"])


def downgrade() -> None:
    op.drop_index("ix_history_kind_key", table_name="history")
