"""Renaming a name and editing a version's description and metadata: rows, history and
the full-text documents changed in one transaction.

A rename changes the ``artifacts`` row (spelling and folded key) and the ``name`` copied
on each of its version rows; everything else hangs on the name's ``pk`` or on version
``seq`` numbers (aliases, tags, lineage edges, runs by id), so it follows unchanged. The
history entry is ``kind="rename"``, ``key`` the old spelling, so a lookup of the old name
can answer "renamed to …" (reads.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from archivist.backends.sql import documents, locks
from archivist.backends.sql.tables import artifacts, history, search_docs, tags, versions
from archivist.errors import ArtifactNotFoundError, ConflictError
from archivist.names import check_metadata, check_metadata_keys, fold_name


def rename(conn: sa.Connection, project: str, old: str, new: str, user: str | None) -> None:
    """Rename ``old`` to ``new`` in ``project`` (see ``Backend.rename``)."""
    locks.lock_name(conn, project, old)
    pk = conn.execute(sa.select(artifacts.c.pk).where(
        artifacts.c.project == project, artifacts.c.name == old)).scalar()
    if pk is None:
        raise ArtifactNotFoundError(f"no artifact named {old!r} in project {project!r}")
    if old == new:
        return
    taken = conn.execute(sa.select(artifacts.c.name).where(
        artifacts.c.project == project, artifacts.c.name_folded == fold_name(new),
        artifacts.c.pk != pk)).scalar()
    if taken is not None:
        raise ConflictError(
            f"cannot rename {old!r} to {new!r}: an artifact named {taken!r} already exists "
            f"in project {project!r} (names are unique regardless of case); pick another "
            "name", existing=taken)
    conn.execute(artifacts.update().where(artifacts.c.pk == pk)
                 .values(name=new, name_folded=fold_name(new)))
    conn.execute(versions.update().where(versions.c.artifact_pk == pk).values(name=new))
    conn.execute(history.insert(), [{"artifact_pk": pk, "seq": None, "kind": "rename",
                                     "key": old, "old": old, "new": new, "user": user,
                                     "at": time.time()}])
    live = conn.execute(sa.select(versions.c.seq).where(
        versions.c.artifact_pk == pk, versions.c.deleted_at.is_(None))).scalars().all()
    for start in range(0, len(live), 5_000):  # stay under SQLite's variable limit
        reindex(conn, [int(s) for s in live[start:start + 5_000]])


def describe(conn: sa.Connection, row: Any, description: str | None,
             user: str | None) -> None:
    """Set the description of the live, locked version ``row``; one history entry."""
    if row.description == description:
        return
    conn.execute(versions.update().where(versions.c.seq == row.seq)
                 .values(description=description))
    conn.execute(history.insert(), [{"artifact_pk": row.artifact_pk, "seq": row.seq,
                                     "kind": "description", "key": "description",
                                     "old": row.description, "new": description,
                                     "user": user, "at": time.time()}])
    reindex(conn, [row.seq])


def update_metadata(conn: sa.Connection, row: Any, set_keys: dict[str, Any],
                    remove: Sequence[str], user: str | None) -> None:
    """Set and remove top-level metadata keys of the live, locked version ``row``: one
    ``metadata`` history entry per key whose value changed; the merged object must keep
    to the metadata rules (1 MiB), else nothing changes."""
    current = dict(row.metadata or {})
    changes: list[tuple[str, Any, Any]] = []
    for key in remove:
        if key in current:
            changes.append((key, current.pop(key), None))
    for key, value in set_keys.items():
        if key not in current or current[key] != value:
            changes.append((key, current.get(key), value))
        current[key] = value
    if not changes:
        return
    check_metadata_keys([key for key, _, _ in changes])
    merged = check_metadata(current)
    conn.execute(versions.update().where(versions.c.seq == row.seq).values(metadata=merged))
    now = time.time()
    conn.execute(history.insert(), [{"artifact_pk": row.artifact_pk, "seq": row.seq,
                                     "kind": "metadata", "key": key, "old": old, "new": new,
                                     "user": user, "at": now} for key, old, new in changes])
    reindex(conn, [row.seq])


def reindex(conn: sa.Connection, seqs: list[int]) -> None:
    """Rewrite the full-text documents of these live versions from their rows."""
    if not seqs:
        return
    values: dict[int, dict[str, Any]] = {s: {} for s in seqs}
    for seq, key, value in conn.execute(sa.select(tags.c.seq, tags.c.key, tags.c.value)
                                        .where(tags.c.seq.in_(seqs))):
        values[int(seq)][key] = value
    rows = conn.execute(sa.select(versions.c.seq, versions.c.name, versions.c.description,
                                  versions.c.metadata).where(versions.c.seq.in_(seqs))).all()
    conn.execute(search_docs.delete().where(search_docs.c.rowid.in_(seqs)))
    documents.insert_documents(conn, [
        documents.doc_row(int(r.seq), r.name, r.description, values[int(r.seq)], r.metadata)
        for r in rows])
