"""Record the SQL a catalog executes and check that no user text reached it as text."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from archivist import ArtifactCatalog

WINDOW = 4


@contextlib.contextmanager
def recorded_sql(catalog: ArtifactCatalog) -> Iterator[list[str]]:
    """Collect the text of every statement executed on the catalog's engine."""
    engine: sa.Engine = catalog.backend.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


def schema_words(catalog: ArtifactCatalog) -> set[str]:
    """Table and column names of the catalog's database (lower-case)."""
    engine: sa.Engine = catalog.backend.engine  # type: ignore[attr-defined]
    words: set[str] = set()
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in inspector.get_table_names():
            words.add(table.lower())
            words.update(c["name"].lower() for c in inspector.get_columns(table))
    return words


def leaks(user_text: str, statements: list[str], furniture: str) -> list[str]:
    """User substrings of ``WINDOW``+ characters found in ``statements``.

    A substring is excused when it also occurs in ``furniture``: the text of statements
    run for queries that carry no distinctive user text, plus the schema's table and
    column names (a user typing ``versions`` is not a leak because the SQL mentions the
    table ``versions``).
    """
    found: list[str] = []
    folded_furniture = furniture.lower()
    for statement in statements:
        folded = statement.lower()
        for i in range(len(user_text) - WINDOW + 1):
            window = user_text[i:i + WINDOW].lower()
            if window.strip() != window or not window.strip():
                continue  # leading/trailing blanks only add SQL spacing matches
            if window in folded and window not in folded_furniture:
                found.append(f"{user_text[i:i + WINDOW]!r} in {statement[:300]!r}")
    return found


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
