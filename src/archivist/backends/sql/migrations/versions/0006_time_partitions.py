"""Time partition values in their one stored form.

Since this revision a partition value that is a date and a time is stored as ISO 8601 in
UTC with its offset (``2021-01-01T13:05:00+00:00``, ``archivist.timepartitions``), which
sorts in time order and is what queries compare with. Catalogs written before stored
``str(datetime)`` (``2021-01-01 13:05:00``) or naive ISO text; this rewrites those values,
in the ``partitions`` rows and in each version's ``partitions`` object, so that a query
given the datetime finds them. Values that are not a date and a time are left alone;
downgrading keeps the rewritten values (they are valid text for the older code too).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
                       r"(Z|[+-]\d{2}:?\d{2})?")
_PARTITIONS = sa.table("partitions", sa.column("seq", sa.BigInteger),
                       sa.column("key", sa.String), sa.column("value", sa.String))
_VERSIONS = sa.table("versions", sa.column("seq", sa.BigInteger),
                     sa.column("partitions",
                               sa.JSON().with_variant(JSONB(), "postgresql")))
_BATCH = 1000


def canonical(text: str) -> str:
    """The stored form of ``text`` when it is a date and a time, else ``text``."""
    if not _DATETIME.fullmatch(text):
        return text
    try:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return text


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_PARTITIONS.c.seq, _PARTITIONS.c.key, _PARTITIONS.c.value)
                        .where(_PARTITIONS.c.value.like("____-__-__%:%"))).all()
    changed: dict[int, dict[str, str]] = {}
    for seq, key, value in rows:
        stored = canonical(value)
        if stored != value:
            changed.setdefault(seq, {})[key] = stored
    if not changed:
        return
    seqs = list(changed)
    for start in range(0, len(seqs), _BATCH):
        chunk = seqs[start:start + _BATCH]
        objects = dict(bind.execute(sa.select(_VERSIONS.c.seq, _VERSIONS.c.partitions)
                                    .where(_VERSIONS.c.seq.in_(chunk))).all())
        for seq in chunk:
            for key, stored in changed[seq].items():
                bind.execute(_PARTITIONS.update()
                             .where(_PARTITIONS.c.seq == seq, _PARTITIONS.c.key == key)
                             .values(value=stored))
            current = objects.get(seq)
            if isinstance(current, dict):
                bind.execute(_VERSIONS.update().where(_VERSIONS.c.seq == seq)
                             .values(partitions={**current, **changed[seq]}))


def downgrade() -> None:
    """Nothing to undo: the rewritten values are valid text for older code too."""
