"""Schema drift is a test (STYLE P34): the Alembic revisions build exactly tables.py."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from archivist.backends.sql.backend import SqlBackend
from archivist.backends.sql.engine import MIGRATIONS
from archivist.backends.sql.tables import metadata_obj


def test_migrations_match_the_tables(tmp_path: Path) -> None:
    backend = SqlBackend(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        with backend.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            diff = [d for d in compare_metadata(context, metadata_obj)
                    if not _is_fts_shadow(d)]
        assert diff == [], (
            "EXPECTED: alembic upgrade head == tables.py\n"
            f"DIFF: {diff}\n"
            "HOW TO FIX: add a revision under backends/sql/migrations/versions/ "
            "for the change made to tables.py")
    finally:
        backend.close()


def test_opening_twice_migrates_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    SqlBackend(url).close()
    backend = SqlBackend(url)
    with backend.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    backend.close()
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None and head != "0001", "the runs revision (0002) follows 0001"
    assert rows == [(head,)]


def _is_fts_shadow(entry: object) -> bool:
    """The FTS5 table and its shadow tables are created by the migration on purpose and
    are not in tables.py's metadata (SQLite virtual tables have no Core equivalent)."""
    if isinstance(entry, tuple) and entry and entry[0] == "remove_table":
        return str(entry[1].name).startswith("search_docs")
    return False
