"""b.4 Search queries on SQLite (Q1-Q15): never SQL text, typed errors with positions.

Each query runs with SQL statement recording on: the test fails if a distinctive piece of
the query (4+ characters not also found in the SQL of plain queries) appears in any
executed statement, and if the catalog snapshot changed (the search is read-only).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from archivist import Artifact, ArtifactCatalog, InvalidQueryError
from tests.badinput.conftest import Guard
from tests.badinput.sqlcheck import leaks, recorded_sql

MIB = 1024 * 1024


@pytest.fixture
def seeded(cat: ArtifactCatalog) -> dict[str, str]:
    ids = {
        "fraud_detector": cat.register(
            "fraud_detector", "Model", description="Fraud detector for Istanbul cards",
            tags={"stage": "production", "team": "fraud", "col": "y"},
            metadata={"accuracy": 0.93, "x": "1"}, partitions={"report_date": "2023-10-26"}),
        "fraudX": cat.register("fraudX", "Model", tags={"stage": "dev"}),
        "fraud_": cat.register("fraud_", "Dataset", tags={"stage": "prod_ction"}),
        "pct": cat.register("a100x", "File", description="one hundred"),
        "strasse": cat.register("street", "File", description="Große Straße"),
        "turkish": cat.register("city", "File", description="İzmir İstanbul"),
    }
    return ids


def run(guard: Guard, cat: ArtifactCatalog, query: str,
        furniture: str) -> list[Artifact] | InvalidQueryError:
    """Search; return the records or the InvalidQueryError. Asserts: read-only, no other
    exception type, no user text in SQL, a sane error position."""
    before = guard.state()
    with recorded_sql(cat) as statements:
        try:
            result: Any = cat.search(query)
        except InvalidQueryError as exc:
            result = exc
    assert guard.state() == before, "a search changed the catalog"
    assert statements or isinstance(result, InvalidQueryError), "SQL recording saw nothing"
    found = leaks(query, statements, furniture)
    assert not found, f"user text reached SQL as text: {found[:3]}"
    if isinstance(result, InvalidQueryError):
        assert isinstance(result.position, int) and 0 <= result.position <= len(query)
        assert str(result.position) in str(result)
    return result


def names_of(result: list[Artifact] | InvalidQueryError) -> list[str]:
    assert isinstance(result, list), f"expected records, got {result!r}"
    return sorted(a.name for a in result)


INJECTIONS = [
    ("Q1-drop-table", "'; DROP TABLE artifacts; --"),
    ("Q1-drop-quoted", "\"'; DROP TABLE artifacts; --\""),
    ("Q2-or-1-1", 'name:" OR 1=1 --'),
    ("Q2-or-1-1-closed", 'name:" OR 1=1 --"'),
    ("Q2-tag-or", "stage:production' OR '1'='1"),
    ("Q3-metadata-delete", "metadata.x>'1'); DELETE FROM x; --"),
    ("Q3-metadata-quoted", "metadata.x=\"1'); DELETE FROM versions; --\""),
    ("Q3-union", "name:x' UNION SELECT id FROM versions --"),
    ("Q3-json-path", 'metadata."x\') OR 1=1 --">1'),
    ("Q14-partition-or", "partition.report_date=2023-10-26' OR '1'='1"),
    ("Q14-partition-quoted", "partition.report_date=\"2023-10-26' OR '1'='1\""),
    ("Q14-partition-list", "partition.report_date:2023-10-26',x*"),
]


#: Injections whose OR is this language's own: the alternative ``'1'='1`` is the full
#: text ``1 1``, which fraud_detector holds (its metadata ``x`` is the string "1").
MATCHING_TEXT = {"stage:production' OR '1'='1": ["fraud_detector"],
                 "partition.report_date=2023-10-26' OR '1'='1": ["fraud_detector"]}


@pytest.mark.parametrize("query", [q for _, q in INJECTIONS], ids=[i for i, _ in INJECTIONS])
def test_injection_is_text_or_invalid(guard: Guard, cat: ArtifactCatalog,
                                      seeded: dict[str, str], sql_furniture: str,
                                      query: str) -> None:
    result = run(guard, cat, query, sql_furniture)
    if isinstance(result, list):
        assert names_of(result) == MATCHING_TEXT.get(query, []), "an injection matched"
    assert sorted(a.name for a in cat.list(limit=100)) == sorted(
        ["fraud_detector", "fraudX", "fraud_", "a100x", "street", "city"])


INVALID = [
    ("Q4-nul", "\x00"), ("Q4-nul-inside", "a\x00b"), ("Q4-nul-in-value", "stage:a\x00"),
    ("Q4-escape", "\x1b[2J"), ("Q4-surrogate", "\ud800"),
    ("Q5-parens", "((("), ("Q5-unterminated", '"unterminated'), ("Q5-colon", ":"),
    ("Q5-empty-value", "type:"), ("Q5-empty-tag-key", "tag.:x"), ("Q5-dash", "-"),
    ("Q5-double-dash", "--x"), ("Q5-empty-list-item", "type:Model,,Dataset"),
    ("Q5-metadata-no-key", "metadata>1"), ("Q5-quote-glued", 'a"b c"'),
    ("Q6-not-a-date", "created>notadate"), ("Q6-not-a-size", "size>lots"),
    ("Q6-duration-as-date", "created<99999999d"), ("Q6-age-century", "age<99999999d"),
    ("Q6-bad-month", "created>2024-13-01"), ("Q6-age-equal", "age=2d"),
    ("Q6-year-zero", "created>0000-01-01"), ("Q6-year-huge", "created>99999-01-01"),
    ("Q10-1e309", "metadata.accuracy>=1e309"), ("Q10-nan", "metadata.a>=NaN"),
    ("Q10-inf", "metadata.a<inf"), ("Q10-huge-size", "size>99999999999999999999PB"),
    ("Q10-huge-version", "version:99999999999"), ("Q10-version-zero", "version:0"),
    ("Q10-tag-nan", "tags.f1>nan"), ("Q10-string-order", "metadata.a>abc"),
    ("Q12-sort-semicolon", "sort:metadata.x; DROP"), ("Q12-sort-dashes", "sort:-created,--"),
    ("Q12-sort-unknown", "sort:id"), ("Q12-sort-sql", "sort:created)--"),
    ("Q12-sort-negated", "-sort:name"), ("Q12-sort-paren", "sort:metadata.a(1)"),
    ("Q13-digest-non-hex", "digest:sha256:" + "g" * 64), ("Q13-digest-empty", "digest:sha256:"),
    ("Q13-digest-long", "digest:sha256:" + "a" * 65), ("Q13-digest-md5", "digest:md5:abc"),
    ("lineage-bad-ref", "downstream-of:../x"), ("lineage-bad-depth", "upstream-of:a:1~0"),
    ("lineage-huge-depth", "upstream-of:a:1~99999999999999999999"),
    ("or-trailing", "fraud OR"), ("or-leading", "OR fraud"), ("or-double", "a OR OR b"),
    ("and-trailing", "fraud AND"), ("not-trailing", "fraud NOT"), ("not-dash", "NOT -a"),
    ("paren-unclosed", "(fraud OR raw"), ("paren-unopened", "fraud)"), ("paren-empty", "()"),
    ("paren-deep", "(" * 9 + "a" + ")" * 9), ("paren-value", "stage:(a OR b)"),
    ("paren-glued", "metadata.f=f(x)"), ("sort-in-or", "fraud OR raw sort:name"),
    ("sort-in-parens", "(fraud sort:name)"), ("sort-not", "NOT sort:name"),
    ("typo-field", "tpye:Model"), ("typo-compare", "sise>10MB"),
    ("typo-prefix", "metdata.accuracy>0.9"), ("typo-in-or", "fraud OR tpye:Model"),
    ("marks-257", "(a) " * 129),
]


@pytest.mark.parametrize("query", [q for _, q in INVALID], ids=[i for i, _ in INVALID])
def test_malformed_query_is_invalid_with_position(guard: Guard, cat: ArtifactCatalog,
                                                  seeded: dict[str, str], sql_furniture: str,
                                                  query: str) -> None:
    result = run(guard, cat, query, sql_furniture)
    assert isinstance(result, InvalidQueryError), f"accepted: {result!r}"


@pytest.mark.parametrize("query", [None, 3, b"fraud", ["fraud"]],
                         ids=["Q5-none", "Q5-int", "Q5-bytes", "Q5-list"])
def test_non_string_query_is_invalid(guard: Guard, cat: ArtifactCatalog, query: object) -> None:
    guard.rejected(InvalidQueryError, cat.search, query)  # type: ignore[arg-type]


# -- Q7 LIKE wildcards are literals -----------------------------------------------------------

@pytest.mark.parametrize(("query", "expected"), [
    ("name:fraud_", ["fraud_"]),
    ("name:FRAUD_", ["fraud_"]),
    ("name:fraud_*", ["fraud_", "fraud_detector"]),
    ("name:fraud%", []),
    ("name:fraud%*", []),
    ("name:fraud_d*", ["fraud_detector"]),
    ("name:100%", []),
    ("name:a100%*", []),
    ("name:a%*", []),
    ("name:a_00x", []),
    ("name:a\\", []),
    ('name:"a\\\\"*', []),
    ("type:M_del", []),
    ("type:Mod%*", []),
    ("stage:prod_ction", ["fraud_"]),
    ("stage:prod_*", ["fraud_"]),
    ("stage:prod%*", []),
    ("team:FRAUD", []),
    ("digest:sha256:%*", None),
], ids=["Q7-underscore-exact", "Q7-underscore-case", "Q7-underscore-prefix", "Q7-percent",
        "Q7-percent-prefix", "Q7-underscore-mid-prefix", "Q7-percent-literal",
        "Q7-percent-in-prefix", "Q7-percent-prefix-short", "Q7-underscore-not-wildcard",
        "Q7-backslash", "Q7-backslash-prefix", "Q7-type-underscore", "Q7-type-percent",
        "Q7-tag-underscore-literal", "Q7-tag-underscore-prefix", "Q7-tag-percent-prefix",
        "Q7-tag-values-case-sensitive", "Q7-digest-percent"])
def test_Q7_wildcards_are_literal(guard: Guard, cat: ArtifactCatalog, seeded: dict[str, str],
                                  sql_furniture: str, query: str,
                                  expected: list[str] | None) -> None:
    result = run(guard, cat, query, sql_furniture)
    if expected is None:  # digest prefixes must be hex: an error is the right answer
        assert isinstance(result, InvalidQueryError)
        return
    assert names_of(result) == sorted(expected)


# -- Q8/Q9 full-text syntax is literal --------------------------------------------------------

@pytest.mark.parametrize("query", [
    "NEAR(a b)", "a or", "^x", "col:x", "fraud*", "fraud not detector", "fraud and",
    "NEAR", "{a b}:c", "a + b", "x:y:z", "AND OR NOT", "fraud^", "\"fraud\" OR \"x\"",
    "a & | b", "!!", "a:*", "a <-> b", "'a'", "a\\:b",
], ids=["Q8-near", "Q8-trailing-or-word", "Q8-caret", "Q8-column-filter", "Q8-star",
        "Q8-not", "Q8-trailing-and", "Q8-near-bare", "Q8-column-set", "Q8-plus", "Q8-colons",
        "Q8-keywords", "Q8-trailing-caret", "Q8-quoted-or", "Q9-tsquery-ops", "Q9-bangs",
        "Q9-prefix-star", "Q9-followed-by", "Q9-quotes", "Q9-escaped-colon"])
def test_Q8_fts_syntax_is_literal(guard: Guard, cat: ArtifactCatalog, seeded: dict[str, str],
                                  sql_furniture: str, query: str) -> None:
    """Either records or InvalidQueryError — never an FTS5 syntax error (OperationalError
    would escape ``run`` as an untyped exception)."""
    run(guard, cat, query, sql_furniture)


@pytest.mark.parametrize(("query", "expected"), [
    ("fraud OR hundred", ["a100x", "fraud_", "fraud_detector", "fraudX"]),
    ("istanbul OR straße", ["city", "fraud_detector", "street"]),
    ('"fraud detector" OR "große straße"', ["fraud_detector", "street"]),
    ("fraud -(stage:dev OR stage:prod_ction)", ["fraud_detector"]),
    ("NOT (type:Model OR type:Dataset)", ["a100x", "city", "street"]),
    ("type:Model (stage:production OR col:y) team:fraud", ["fraud_detector"]),
    ("(name:fraud_ OR name:fraudX) OR metadata.accuracy>0.9", ["fraud_", "fraudX",
                                                                 "fraud_detector"]),
    ("stage:production' OR 'z'='z", []),
    ("(x' OR 'z'='z) OR (\"q') --\")", []),
    ("fraud OR ((((((((one))))))))", ["a100x", "fraud_", "fraud_detector", "fraudX"]),
], ids=["or-words", "or-folded", "or-phrases", "not-group", "not-either", "and-or-and",
        "or-fields-metadata", "Q2-or-is-a-value", "or-injection-in-groups", "or-deepest"])
def test_boolean_queries(guard: Guard, cat: ArtifactCatalog, seeded: dict[str, str],
                         sql_furniture: str, query: str, expected: list[str]) -> None:
    """OR, NOT and parentheses: the right versions, read-only, no user text in SQL."""
    assert names_of(run(guard, cat, query, sql_furniture)) == sorted(expected)


@pytest.mark.parametrize(("query", "expected"), [
    ("NEAR(a b)", []), ("fraud and", []), ("fraud or", []), ("fraud not", []),
    ("^fraud", ["fraud_", "fraud_detector", "fraudX"]), ("fraud*", ["fraud_", "fraud_detector",
                                                                   "fraudX"]),
    ("fraud detector", ["fraud_detector"]), ('"fraud detector"', ["fraud_detector"]),
    ('"istanbul fraud"', []), ("col:x", []), ("col:y", ["fraud_detector"]),
], ids=["Q8-near-no-match", "Q8-and-is-a-word", "Q8-or-is-a-word", "Q8-not-is-a-word",
        "Q8-caret-ignored", "Q8-star-is-separator", "Q8-words", "Q8-phrase",
        "Q8-phrase-order", "Q8-col-is-a-tag", "Q8-col-tag-match"])
def test_Q8_fts_operators_are_words(guard: Guard, cat: ArtifactCatalog, seeded: dict[str, str],
                                    sql_furniture: str, query: str,
                                    expected: list[str]) -> None:
    assert names_of(run(guard, cat, query, sql_furniture)) == sorted(expected)


# -- Q11 size limits, fast ----------------------------------------------------------------------

HUGE = [
    ("Q11-path-1000-deep", "metadata." + ".".join(["a"] * 1000) + "=1"),
    ("Q11-path-17-deep", "metadata." + ".".join(["a"] * 17) + "=1"),
    ("Q11-10000-terms", " ".join(["a"] * 10_000)),
    ("Q11-65-terms", " ".join(["a"] * 65)),
    ("Q11-1MiB", "a" * MIB),
    ("Q11-4097", "a" * 4097),
    ("Q11-1MiB-quotes", '"' * MIB),
    ("Q11-sort-1000-keys", "sort:" + ",".join(["name"] * 1000)),
    ("Q11-list-4097-chars", "type:" + ",".join(["M"] * 2047)),
]


@pytest.mark.parametrize("query", [q for _, q in HUGE], ids=[i for i, _ in HUGE])
def test_Q11_huge_query_rejected_fast(guard: Guard, cat: ArtifactCatalog,
                                      seeded: dict[str, str], query: str) -> None:
    cat.search("warm")
    start = time.perf_counter()
    with pytest.raises(InvalidQueryError):
        cat.search(query)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.05, f"rejecting took {elapsed * 1000:.1f} ms (target 10 ms)"
    guard.rejected(InvalidQueryError, cat.search, query)


@pytest.mark.parametrize("query", [
    "metadata." + ".".join(["a"] * 16) + "=1",
    " ".join(["fraud"] * 64),
    "fraud " + "x" * (4096 - 6),
    "type:" + ",".join(["M"] * 2045),
    "sort:" + ",".join(["name"] * 800),
], ids=["Q11-path-16-deep-ok", "Q11-64-terms-ok", "Q11-4096-chars-ok",
        "Q11-list-of-2045-ok", "Q11-sort-800-keys-ok"])
def test_Q11_queries_at_the_limits_run(guard: Guard, cat: ArtifactCatalog,
                                       seeded: dict[str, str], sql_furniture: str,
                                       query: str) -> None:
    result = run(guard, cat, query, sql_furniture)
    assert isinstance(result, list)


# -- Q14/Q15 ------------------------------------------------------------------------------------

def test_Q14_partition_value_is_literal(guard: Guard, cat: ArtifactCatalog,
                                        seeded: dict[str, str], sql_furniture: str) -> None:
    assert names_of(run(guard, cat, "partition.report_date=2023-10-26",
                        sql_furniture)) == ["fraud_detector"]
    for query in ("partition.report_date=\"2023-10-26' OR '1'='1\"",
                  "partition.report_date=2023-10-2_", "partition.report_date:2023-10-2%*"):
        assert names_of(run(guard, cat, query, sql_furniture)) == []


@pytest.mark.parametrize(("query", "expected"), [
    ("İstanbul", ["city", "fraud_detector"]),
    ("istanbul", ["city", "fraud_detector"]),
    ("ISTANBUL", ["city", "fraud_detector"]),
    ("izmir", ["city"]),
    ("straße", ["street"]),
    ("STRAẞE", ["street"]),
    ("STRASSE", []),
    ("grosse", []),
    ("große", ["street"]),
], ids=["Q15-dotted-capital-I", "Q15-lower", "Q15-upper", "Q15-document-side-dotted-I",
        "Q15-eszett", "Q15-capital-eszett", "Q15-no-ss-folding", "Q15-no-ss-folding-2",
        "Q15-eszett-2"])
def test_Q15_documented_case_folding(guard: Guard, cat: ArtifactCatalog, seeded: dict[str, str],
                                     sql_furniture: str, query: str,
                                     expected: list[str]) -> None:
    """Documented folding (query/lexer.fold, FTS5 unicode61 remove_diacritics 2): lower-case
    and strip diacritics; ``ß`` is not ``ss``."""
    assert names_of(run(guard, cat, query, sql_furniture)) == sorted(expected)


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (10**9, 0), (10, -5),
                                               (True, 0), ("10", 0), (10, 1.5)],
                         ids=["limit-0", "limit-negative", "limit-huge", "offset-negative",
                              "limit-bool", "limit-string", "offset-float"])
def test_bad_paging_is_rejected(guard: Guard, cat: ArtifactCatalog, limit: Any,
                                offset: Any) -> None:
    from archivist import InvalidInputError

    guard.rejected(InvalidInputError, cat.search, "fraud", limit=limit, offset=offset)
    guard.rejected(InvalidInputError, cat.list, limit=limit, offset=offset)


def test_the_sql_oracle_catches_inlined_text(sql_furniture: str) -> None:
    """Self-test of ``sqlcheck.leaks``: inlined user text is caught, bound text is not."""
    query = "metadata.zqxv_acc>1 stage:prodqq"
    inlined = ["SELECT versions.seq FROM versions WHERE json_extract(versions.metadata, "
               "'$.\"zqxv_acc\"') > 1"]
    bound = ["SELECT versions.seq FROM versions WHERE json_extract(versions.metadata, ?) > ?"]
    assert leaks(query, inlined, sql_furniture)
    assert not leaks(query, bound, sql_furniture)
    assert not leaks("versions metadata", bound, sql_furniture)
