"""Row locks that serialize concurrent writers on PostgreSQL.

SQLite needs none of this: every write transaction starts with ``BEGIN IMMEDIATE`` and
holds the one write lock (engine.py); SQLAlchemy compiles ``FOR UPDATE`` away there. On
PostgreSQL, writers run side by side under READ COMMITTED, so each change first locks
the rows it reads before writing:

- a registration locks its name's counter row through the upsert that bumps it
  (``INSERT … ON CONFLICT DO UPDATE`` holds the row until commit), so versions of one
  name are numbered one writer at a time, gap-free; a batch locks its names in sorted
  order, so two batches never wait on each other in a cycle;
- a tag change, alias move or delete locks the version row (:data:`LIVE_ROW`): the
  second of two writers waits, then reads the first one's result (e.g. "deleted");
- alias moves and deletes also lock the name's row (:func:`lock_artifact`), so an
  alias's history is one chain (each entry's ``old`` is the previous entry's ``new``).

Locks are ``FOR NO KEY UPDATE``: the foreign-key checks of concurrent inserts (a new
version whose parent is the locked one) take ``KEY SHARE`` and pass. Order is always
version row, then name row, and a registration takes no version-row lock, so no cycle.
"""

from __future__ import annotations

import sqlalchemy as sa

from archivist.backends.sql.tables import artifacts, versions

#: The ``versions`` row of ``:id``, locked.
LIVE_ROW = sa.select(versions).where(versions.c.id == sa.bindparam("id")).with_for_update(
    key_share=True)
_ARTIFACT = sa.select(artifacts.c.pk).where(
    artifacts.c.pk == sa.bindparam("pk")).with_for_update(key_share=True)
_NAME = sa.select(artifacts.c.pk).where(
    artifacts.c.project == sa.bindparam("project"),
    artifacts.c.name == sa.bindparam("name")).with_for_update(key_share=True)


def lock_artifact(conn: sa.Connection, pk: int) -> None:
    """Lock the name (``artifacts`` row) ``pk`` until the transaction ends."""
    conn.execute(_ARTIFACT, {"pk": pk})


def lock_name(conn: sa.Connection, project: str, name: str) -> None:
    """Lock the name ``project``/``name`` (if it exists) until the transaction ends."""
    conn.execute(_NAME, {"project": project, "name": name})
