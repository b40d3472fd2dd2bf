"""Unicode names: the case-folded name may be longer than the name (``ß`` -> ``ss``).

Names may hold letters of any script since this revision; their uniqueness key
``artifacts.name_folded`` is ``names.fold_name(name)``, which is the lower case for the ASCII
names stored so far, so existing rows keep their keys. Full case folding turns one
character into up to three, so the column grows to 512 characters on PostgreSQL, which
enforces the length; SQLite does not, and its table is left as it is.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("artifacts", "name_folded", type_=sa.String(512),
                        existing_type=sa.String(128), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("artifacts", "name_folded", type_=sa.String(128),
                        existing_type=sa.String(512), existing_nullable=False)
