"""A query never reaches the database as text (SPEC §3; research/reliability.md b.4)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archivist.backends.sql.fulltext import fts5_string, tsquery_string
from archivist.backends.sql.search import compile_search
from archivist.errors import ArtifactNotFoundError, InvalidQueryError
from archivist.query import Group, Term, Text, parse_query
from tests.query.conftest import NOW, resolve
from tests.query.conftest import dialect as dialect_for

# Q1-Q16 inputs: each parses to something harmless or raises InvalidQueryError
HOSTILE = [
    "'; DROP TABLE artifacts; --",  # Q1
    "'; DROP TABLE artifacts; ",
    'name:" OR 1=1 --',  # Q2
    'name:" OR 1=1 "',
    "name:' OR 1=1 --'",
    "metadata.x>'1'); DELETE FROM x; --",  # Q3
    "metadata.x='1'); DELETE FROM versions; ",
    '"\x00"', "a\x00b",  # Q4
    "(((", '"unterminated', ":", "type:", "tag.:x", "-",  # Q5
    "created>notadate", "size>lots", "created<99999999d",  # Q6
    "name:fraud_", "name:100%", "name:a\\", "name:%*", "name:_*", "name:\\*",  # Q7
    "NEAR(a b)", "a OR", '"', "^x", "col:x", "*", 'x"*', "a AND", "NOT b",  # Q8
    '"NEAR(a b)"', '"a" OR "b"', "{a b}", "a:b:c", "-a -b", "a + b",
    "a & | b", "!!", "a:*", "a:* & b", "'a':*", "a <-> b", "a\\", "'\\'", "!a",  # Q9
    "metadata.accuracy>=1e309", "metadata.a>=NaN", "size>99999999999999999999PB",  # Q10
    "metadata." + ".".join(["a"] * 1000) + "=1", " ".join(["a"] * 10_000),  # Q11
    "sort:metadata.x; DROP", "sort:-created,--",  # Q12
    "digest:sha256:" + "g" * 64, "digest:sha256:",  # Q13
    "partition.report_date=2023-10-26' OR '1'='1",  # Q14
    "partition.report_date=\"2023-10-26' OR '1'='1\"",
    "İstanbul", "STRASSE", "straße",  # Q15
    'metadata."x\'); DROP TABLE tags; --"=1', "tags.a=1); DROP TABLE tags",
    "sort:tags.x;DROP", 'sort:metadata."a) DESC; DROP TABLE x; --"',
    "stage:production');DROP TABLE tags;--", "type:Model' OR '1'='1",
    "name:x' UNION SELECT id FROM versions --", "name:x' UNION SELECT id FROM versions",
    'metadata."x\') OR 1=1 --">1', "partition.report_date:2023-10-26',x*",
    "x') OR ('1'='1", "(a OR b') OR 1=1 --", "a OR (SELECT 1)", "-(a OR \"b) --\")",
    "NOT (x) OR (y)", "(((a OR b) OR c) OR d)", "a OR NEAR(b c)",
]
SQL_WORDS = re.compile(r"\bDROP\b|\bDELETE\b|\bUNION SELECT ID\b|1=1|'|--|;|\x00")


def _assert_clean(sql: str) -> None:
    """No SQL-looking user text: the only quote the compiler writes is LIKE's escape."""
    assert not SQL_WORDS.search(sql.upper().replace("ESCAPE '\\'", "")), sql


@contextmanager
def recorded(engine: sa.Engine) -> Iterator[list[str]]:
    """Every SQL text the engine sends to the database, while the block runs."""
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def _schema(engine: sa.Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return [(n, conn.exec_driver_sql(f'SELECT count(*) FROM "{n}"').scalar_one())
                for n in names]


def _run(engine: sa.Engine, text: str, dialects: tuple[str, ...] = ("sqlite",
                                                                       "postgresql")) -> None:
    try:
        query = parse_query(text)
    except InvalidQueryError:
        return
    for dialect in dialects:
        stmt = compile_search(query, project="default", dialect=dialect, resolve_seq=resolve,
                              now=NOW, limit=100, offset=0)
        shown = str(stmt.compile(dialect=dialect_for(dialect)))
        _assert_clean(shown)
    with recorded(engine) as statements, engine.connect() as conn:
        stmt = compile_search(query, project="default", dialect="sqlite", resolve_seq=resolve,
                              now=NOW, limit=100, offset=0)
        conn.execute(stmt).all()
    for statement in statements:
        _assert_clean(statement)


@pytest.mark.parametrize("text", HOSTILE, ids=[h[:40] for h in HOSTILE])
def test_hostile_queries_are_harmless(engine: sa.Engine, text: str) -> None:
    before = _schema(engine)
    with suppress(ArtifactNotFoundError):
        _run(engine, text)
    assert _schema(engine) == before


MARKED = (
    'zqword "zqphrase one" -zqneg zqtagkey:zqtagval*,zqother tags.zqnum>1 '
    'metadata.zqmeta.zqsub>=1 metadata.zqmetaval="zqstr" partition.zqpartkey=zqpartval '
    "partition.zqpk2:zqpv2* name:zqname* type:zqtype,zqt2* alias:zqalias project:zqproject "
    "pipeline:zqpipe run:zqrun step:zqstep* user:zquser digest:abc "
    "sort:-tags.zqsortkey sort:metadata.zqsortmeta "
    "(zqor1 OR zqorkey:zqorval OR metadata.zqormeta>1) -(zqneg2 OR \"zqneg three\")"
)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_no_user_text_in_the_statement(dialect: str) -> None:
    stmt = compile_search(parse_query(MARKED), project="zqscope", dialect=dialect,
                          resolve_seq=resolve, now=NOW, limit=10, offset=0)
    compiled = stmt.compile(dialect=dialect_for(dialect))
    assert "zq" not in str(compiled).lower()
    assert "abc" not in str(compiled).lower()
    assert any("zqword" in str(v) for v in compiled.params.values())  # it is bound instead


def test_no_user_text_in_executed_sql(engine: sa.Engine) -> None:
    with recorded(engine) as statements, engine.connect() as conn:
        stmt = compile_search(parse_query(MARKED.replace("project:zqproject ", "")
                                          + " downstream-of:raw_transactions:1~2"),
                              project="default", dialect="sqlite", resolve_seq=resolve,
                              now=NOW, limit=10, offset=0)
        assert conn.execute(stmt).all() == []
    assert statements
    assert not [s for s in statements if "zq" in s.lower() or "raw_transactions" in s]


FRAGMENTS = st.sampled_from([
    "fraud", "detector", "type:Model", "name:fraud*", "stage:production", "tag.type:x",
    "metadata.accuracy>=0.9", 'metadata.accuracy="n/a"', "tags.f1>0.8", "size>10MB",
    "created>=2024-01-01", "age<2d", "partition.report_date=2023-10-26", "-", "sort:-created",
    "sort:metadata.accuracy", "sort:tags.f1", "downstream-of:raw_transactions:1",
    "upstream-of:report~2", "alias:production", "version:1,2", "digest:ab", '"', " ", "*",
    "NEAR(", ")", "OR", "AND", "^", ":", ",", "'", "x", "é", "İ", "ß", "_", "&", "|", "!",
    "<->", "\\", "project:team", "-stage:dev", "user:alice", "metadata.layers.0.units=64",
    " OR ", " AND ", " NOT ", "(", "-(", ") ", " (",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.lists(FRAGMENTS, max_size=10).map("".join))
def test_any_parsed_query_runs(engine: sa.Engine, text: str) -> None:
    """Whatever parses compiles on both dialects and runs on SQLite without a DB error."""
    with suppress(ArtifactNotFoundError):
        _run(engine, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.text(max_size=30))
def test_any_text_query_runs(engine: sa.Engine, text: str) -> None:
    with suppress(ArtifactNotFoundError):
        _run(engine, text, dialects=("sqlite",))


@pytest.mark.parametrize(("texts", "fts5", "tsquery"), [
    ([Text(("fraud",))], '"fraud"*', "'fraud':*"),
    ([Text(("Fraud", "Detector"))], '"Fraud"* AND "Detector"*', "'fraud':* & 'detector':*"),
    ([Text(("fraud", "detector"), phrase=True)], '"fraud detector"',
     "('fraud' <-> 'detector')"),
    ([Text(("a",)), Text(("b", "c"), phrase=True)], '"a"* AND "b c"',
     "'a':* & ('b' <-> 'c')"),
    ([Text(("Café",))], '"Café"*', "'cafe':*"),
    ([Text(("İstanbul",))], '"İstanbul"*', "'istanbul':*"),
    ([Text(("NEAR",)), Text(("OR",))], '"NEAR"* AND "OR"*', "'near':* & 'or':*"),
    ([Text(("a\u0301",))], '"a\u0301"*', "'a':*"),
    ([Text(("\u0301",))], None, None),  # nothing left once folded: matches nothing
    ([Text(("\u0301", "b"), phrase=True)], '"b"', "('b')"),
    # defensive quoting, for words that could never come out of the lexer
    ([Text(('x"y',))], '"x""y"*', "'x\"y':*"),
    ([Text(("it's\\",))], '"it\'s\\"*', "'it''s\\\\':*"),
    # groups: alternatives in parentheses, joined by OR
    ([Group(((Text(("a",)),), (Text(("b", "c")),)))], '(("a"*) OR ("b"* AND "c"*))',
     "(('a':*) | ('b':* & 'c':*))"),
    ([Text(("x",)), Group(((Text(("a",)),), (Text(("b",), phrase=True),)))],
     '"x"* AND (("a"*) OR ("b"))', "'x':* & (('a':*) | (('b')))"),
    ([Group(((Text(("a",)), Group(((Text(("b",)),), (Text(("c",)),)))), (Text(("d",)),)))],
     '(("a"* AND (("b"*) OR ("c"*))) OR ("d"*))',
     "(('a':* & (('b':*) | ('c':*))) | ('d':*))"),
    ([Group(((Text(("\u0301",)),), (Text(("a",)),)))], '"a"*', "'a':*"),  # one left
    ([Group(((Text(("\u0301",)),), (Text(("\u0301",)),)))], None, None),
    ([Text(("x",)), Group(((Text(("\u0301",)),),))], None, None),
])
def test_text_query_strings(texts: list[Term], fts5: str | None, tsquery: str | None) -> None:
    # the user's words match the text column only, never the tag tokens beside it
    assert fts5_string(texts) == (None if fts5 is None else f"{{body}} : ({fts5})")
    assert tsquery_string(texts) == tsquery


def test_postgresql_uses_bound_tsquery_and_typed_json() -> None:
    stmt = compile_search(parse_query("fraud metadata.accuracy>=0.9 -junk"), project="p",
                          dialect="postgresql", resolve_seq=resolve, now=NOW, limit=5,
                          offset=0)
    compiled = stmt.compile(dialect=dialect_for("postgresql"))
    sql = str(compiled)
    assert sql.count("to_tsquery(CAST(") == 4  # match + rank, and the negated match
    assert "ts_rank(" in sql and "jsonb_typeof(" in sql and "@@" in sql
    assert "'fraud':*" in compiled.params.values()
    assert "'junk':*" in compiled.params.values()


def test_unknown_dialect() -> None:
    with pytest.raises(ValueError, match="mysql"):
        compile_search(parse_query("x"), project="p", dialect="mysql", resolve_seq=resolve,
                       now=NOW, limit=1, offset=0)

