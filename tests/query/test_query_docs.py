"""Every example of docs/query-language.md parses, compiles on both dialects and runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from archivist.backends.sql.search import compile_search
from archivist.query import parse_query
from tests.query.conftest import NOW, dialect

DOC = Path(__file__).resolve().parents[2] / "docs" / "query-language.md"
EXAMPLES = [line for block in re.findall(r"```query\n(.*?)```", DOC.read_text(), re.S)
            for line in block.splitlines() if line.strip()]


def test_the_document_has_examples() -> None:
    assert len(EXAMPLES) > 80


@pytest.mark.parametrize("query", EXAMPLES)
def test_documented_query_runs(engine: sa.Engine, query: str) -> None:
    parsed = parse_query(query)
    stmts = {dialect: compile_search(parsed, project="default", dialect=dialect,
                                     resolve_seq=lambda ref: 3, now=NOW, limit=10, offset=0)
             for dialect in ("postgresql", "sqlite")}
    assert "select" in str(stmts["postgresql"].compile(dialect=dialect("postgresql"))).lower()
    with engine.connect() as conn:
        conn.execute(stmts["sqlite"]).all()
