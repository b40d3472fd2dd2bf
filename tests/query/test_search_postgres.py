"""The same search cases on PostgreSQL (tsvector + GIN) as on SQLite (FTS5).

Every query of test_search_compile.py must find the same versions, and every ordered
query must give the same order; relevance ranking (bm25 against ts_rank) may differ and
is not compared. The hostile inputs of test_query_injection.py run too: each either
raises ``InvalidQueryError`` at parse time or runs, and none changes the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from archivist.backends.sql.search import compile_search
from archivist.errors import InvalidQueryError
from archivist.query import parse_query
from tests.fixtures.postgres import PostgresCluster
from tests.query.conftest import NOW, build, resolve
from tests.query.test_query_injection import HOSTILE
from tests.query.test_search_compile import CASES, SORTS

Search = Callable[..., list[int]]


@pytest.fixture(scope="module")
def pg_engine(postgres_cluster: PostgresCluster) -> Iterator[sa.Engine]:
    name = postgres_cluster.create_database()
    engine = sa.create_engine(postgres_cluster.url(name))
    build(engine)
    yield engine
    engine.dispose()
    postgres_cluster.drop_database(name)


@pytest.fixture(scope="module")
def pg_search(pg_engine: sa.Engine) -> Search:
    def run(text: str, *, project: str = "default", limit: int = 100, offset: int = 0) -> list[int]:
        stmt = compile_search(parse_query(text), project=project, dialect="postgresql",
                              resolve_seq=resolve, now=NOW, limit=limit, offset=offset)
        with pg_engine.connect() as conn:
            return [int(s) for s in conn.execute(stmt).scalars()]

    return run


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0] for c in CASES])
def test_query_finds_the_same(pg_search: Search, query: str, expected: list[int]) -> None:
    assert sorted(pg_search(query)) == sorted(expected)


@pytest.mark.parametrize(("query", "expected"), SORTS, ids=[c[0] for c in SORTS])
def test_sort_gives_the_same_order(pg_search: Search, query: str, expected: list[int]) -> None:
    assert pg_search(query) == expected


def test_text_matches_rank_first_and_page(pg_search: Search) -> None:
    found = pg_search("fraud")
    assert sorted(found) == [1, 2, 6, 7]
    assert pg_search("fraud", limit=2, offset=1) == found[1:3]
    either = pg_search("fraud OR type:Dataset")  # text matches first, then the others
    assert sorted(either[:4]) == [1, 2, 6, 7] and either[4:] == [3]
    assert sorted(pg_search("fraud OR raw")) == [1, 2, 3, 6, 7]


def _schema(engine: sa.Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [(t, conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one())
                for t in sorted(sa.inspect(conn).get_table_names())]


@pytest.mark.parametrize("text", HOSTILE, ids=[h[:40] for h in HOSTILE])
def test_hostile_queries_are_harmless(pg_engine: sa.Engine, pg_search: Search,
                                      text: str) -> None:
    before = _schema(pg_engine)
    try:
        parse_query(text)
    except InvalidQueryError:
        return
    pg_search(text)  # runs: no database error for any input that parses
    assert _schema(pg_engine) == before
