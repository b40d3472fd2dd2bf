"""The aliases a registration sets, written for a whole batch in a few statements."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa

from archivist.backends.sql.tables import aliases, history, versions

_CHUNK = 5_000  # (artifact_pk, alias) pairs per lookup: two variables each, under SQLite's limit
_PAIRS: sa.BindParameter[list[tuple[int, str]]] = sa.bindparam("pairs", expanding=True)
_CURRENT = (
    sa.select(aliases.c.artifact_pk, aliases.c.alias, versions.c.id)
    .join(versions, versions.c.seq == aliases.c.seq)
    .where(sa.tuple_(aliases.c.artifact_pk, aliases.c.alias).in_(_PAIRS))
)
# Bind names must differ from the table's column names (SQLAlchemy reserves those).
_MOVE = aliases.update().where(
    aliases.c.artifact_pk == sa.bindparam("b_pk"), aliases.c.alias == sa.bindparam("b_alias"),
).values(seq=sa.bindparam("b_seq"))


class NewAlias(NamedTuple):
    """An alias a new version takes: ``alias`` of name ``artifact_pk`` -> ``seq`` (``id``)."""

    artifact_pk: int
    seq: int
    id: str
    alias: str
    user: str | None


def register_aliases(conn: sa.Connection, wanted: Sequence[NewAlias]) -> None:
    """Point each alias at its new version, in order, with one history entry per move.

    The result is that of setting the aliases one by one (a later record of the batch
    takes an alias from an earlier one; an alias already on its version is no change),
    in one lookup, one insert, one update and one history insert. The caller holds the
    names' rows locked (the registration's counter upsert does, until commit), so no
    other writer moves these aliases meanwhile (locks.py).
    """
    if not wanted:
        return
    pairs = list(dict.fromkeys((w.artifact_pk, w.alias) for w in wanted))
    current: dict[tuple[int, str], str] = {}
    for start in range(0, len(pairs), _CHUNK):
        for pk, alias, version_id in conn.execute(
                _CURRENT, {"pairs": pairs[start:start + _CHUNK]}):
            current[(int(pk), alias)] = version_id
    existed = set(current)
    target: dict[tuple[int, str], int] = {}
    changes = []
    now = time.time()
    for w in wanted:
        key = (w.artifact_pk, w.alias)
        old = current.get(key)
        if old == w.id:
            continue
        current[key] = w.id
        target[key] = w.seq
        changes.append({"artifact_pk": w.artifact_pk, "seq": w.seq, "kind": "alias",
                        "key": w.alias, "old": old, "new": w.id, "user": w.user, "at": now})
    added = [{"artifact_pk": pk, "alias": alias, "seq": seq}
             for (pk, alias), seq in target.items() if (pk, alias) not in existed]
    moved = [{"b_pk": pk, "b_alias": alias, "b_seq": seq}
             for (pk, alias), seq in target.items() if (pk, alias) in existed]
    if added:
        conn.execute(aliases.insert(), added)
    if moved:
        conn.execute(_MOVE, moved)
    if changes:
        conn.execute(history.insert(), changes)
