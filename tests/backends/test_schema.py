"""Schema drift is a test (STYLE P34): the Alembic revisions build exactly tables.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from archivist.backends.sql.backend import SqlBackend
from archivist.backends.sql.engine import MIGRATIONS
from archivist.backends.sql.tables import metadata_obj


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind the SQL backend supports."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'catalog.db'}"


def test_migrations_match_the_tables(database_url: str) -> None:
    backend = SqlBackend(database_url)
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


def test_opening_twice_migrates_once(database_url: str) -> None:
    SqlBackend(database_url).close()
    backend = SqlBackend(database_url)
    with backend.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    backend.close()
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None and head != "0001", "the runs revision (0002) follows 0001"
    assert rows == [(head,)]


def _is_fts_shadow(entry: object) -> bool:
    """The full-text table is created by the migration on purpose and is not in tables.py's
    metadata: SQLite's FTS5 virtual table and its shadow tables have no Core equivalent,
    and PostgreSQL's tsvector table follows it (its GIN index goes with it)."""
    if isinstance(entry, tuple) and entry and entry[0] == "remove_table":
        return str(entry[1].name).startswith("search_docs")
    if isinstance(entry, tuple) and entry and entry[0] == "remove_index":
        return str(entry[1].table.name) == "search_docs"
    return False
