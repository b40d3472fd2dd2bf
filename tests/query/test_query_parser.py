"""parse_query: every form of SPEC §3 to its AST; every malformed query to an
InvalidQueryError pointing at the offending token; never another exception. AND, OR,
NOT and parentheses; misspelt fields are errors, usual tag keys stay tags."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archivist.errors import InvalidQueryError
from archivist.query import (
    Compare,
    FieldTerm,
    Group,
    LineageTerm,
    PartitionTerm,
    Query,
    Sort,
    TagTerm,
    Text,
    parse_query,
)

DAY = 86400.0
JAN1 = 1704067200.0  # 2024-01-01T00:00:00Z

FORMS = [
    ("", Query()),
    ("   \t\n", Query()),
    ("fraud", Query((Text(("fraud",)),))),
    ("fraud_detector-v2", Query((Text(("fraud", "detector", "v2")),))),
    ("a.b/c", Query((Text(("a", "b", "c")),))),
    ("fraud detector", Query((Text(("fraud",)), Text(("detector",))))),
    ('"fraud detector"', Query((Text(("fraud", "detector"), phrase=True),))),
    ('-"fraud detector"', Query((Text(("fraud", "detector"), phrase=True, negated=True),))),
    ('"say \\"hi\\""', Query((Text(("say", "hi"), phrase=True),))),
    ("-fraud", Query((Text(("fraud",), negated=True),))),
    ("NEAR(a)", Query((Text(("NEAR",)), Text(("a",))))),
    ("'1'='1", Query((Text(("1", "1")),))),
    ("café", Query((Text(("café",)),))),
    ("stage:production", Query((TagTerm("stage", ("production",)),))),
    ("Stage:Production", Query((TagTerm("Stage", ("Production",)),))),
    ("stage=production", Query((TagTerm("stage", ("production",)),))),
    ("stage!=dev", Query((TagTerm("stage", ("dev",), negated=True),))),
    ("-stage!=dev", Query((TagTerm("stage", ("dev",)),))),
    ("-stage:dev", Query((TagTerm("stage", ("dev",), negated=True),))),
    ("stage:production,staging", Query((TagTerm("stage", ("production", "staging")),))),
    ("stage:prod*", Query((TagTerm("stage", (), ("prod",)),))),
    ("stage:*", Query((TagTerm("stage", (), ("",)),))),
    ('stage:"prod*"', Query((TagTerm("stage", ("prod*",)),))),
    ('team:"a b",c', Query((TagTerm("team", ("a b", "c")),))),
    ("a.b:x", Query((TagTerm("a.b", ("x",)),))),
    ("tag.type:x", Query((TagTerm("type", ("x",)),))),
    ("tags.type:x", Query((TagTerm("type", ("x",)),))),
    ("tags.a.b:x", Query((TagTerm("a.b", ("x",)),))),
    ('tags."a.b":x', Query((TagTerm("a.b", ("x",)),))),
    ("tags.f1_score>0.8", Query((Compare("tags", ("f1_score",), ">", 0.8),))),
    ("tags.f1=0.91", Query((Compare("tags", ("f1",), "=", 0.91),))),
    ("tags.ok=true", Query((Compare("tags", ("ok",), "=", True),))),
    ("tags.stage=prod", Query((TagTerm("stage", ("prod",)),))),
    ('tags.day>="2024"', Query((Compare("tags", ("day",), ">", "2024"),)) if False else
     Query((Compare("tags", ("day",), ">=", "2024"),))),
    ("f1:0.91", Query((TagTerm("f1", ("0.91",)),))),
    ("type:Model", Query((FieldTerm("type", ("Model",)),))),
    ("TYPE:Model", Query((FieldTerm("type", ("Model",)),))),
    ("type:Model,Dataset", Query((FieldTerm("type", ("Model", "Dataset")),))),
    ("-type:Model,Dataset", Query((FieldTerm("type", ("Model", "Dataset"), negated=True),))),
    ("type=Model", Query((FieldTerm("type", ("Model",)),))),
    ("type!=Model", Query((FieldTerm("type", ("Model",), negated=True),))),
    ("name:fraud*", Query((FieldTerm("name", (), ("fraud",)),))),
    ("name:fraud*,churn", Query((FieldTerm("name", ("churn",), ("fraud",)),))),
    ('name:"x y"', Query((FieldTerm("name", ("x y",)),))),
    ('name:"fraud"*', Query((FieldTerm("name", (), ("fraud",)),))),
    ("name:fraud_", Query((FieldTerm("name", ("fraud_",)),))),
    ("name:a\\", Query((FieldTerm("name", ("a\\",)),))),
    ("project:p", Query((FieldTerm("project", ("p",)),))),
    ("alias:production", Query((FieldTerm("alias", ("production",)),))),
    ("version:3", Query((FieldTerm("version", ("3",)),))),
    ("version:1,2", Query((FieldTerm("version", ("1", "2")),))),
    ("version>=3", Query((Compare("version", (), ">=", 3.0),))),
    ("pipeline:p", Query((FieldTerm("pipeline", ("p",)),))),
    ("run:run-abc-123", Query((FieldTerm("run", ("run-abc-123",)),))),
    ("step:s", Query((FieldTerm("step", ("s",)),))),
    ("user:u", Query((FieldTerm("user", ("u",)),))),
    ("digest:sha256:ab12", Query((FieldTerm("digest", (), ("sha256:ab12",)),))),
    ("digest:AB12", Query((FieldTerm("digest", (), ("sha256:ab12",)),))),
    ("digest:sha256:" + "a" * 64, Query((FieldTerm("digest", ("sha256:" + "a" * 64,)),))),
    ("metadata.accuracy>=0.9", Query((Compare("metadata", ("accuracy",), ">=", 0.9),))),
    ("metadata.accuracy:0.9", Query((Compare("metadata", ("accuracy",), "=", 0.9),))),
    ("metadata.a.b<-1e3", Query((Compare("metadata", ("a", "b"), "<", -1000.0),))),
    ("metadata.layers.0.units>3", Query((Compare("metadata", ("layers", 0, "units"), ">",
                                                 3.0),))),
    ('metadata."0"=1', Query((Compare("metadata", ("0",), "=", 1.0),))),
    ('metadata."a.b".c="x y"', Query((Compare("metadata", ("a.b", "c"), "=", "x y"),))),
    ("metadata.framework=sklearn", Query((Compare("metadata", ("framework",), "=",
                                                  "sklearn"),))),
    ('metadata.framework="3"', Query((Compare("metadata", ("framework",), "=", "3"),))),
    ('metadata.day>="2024-01-01"', Query((Compare("metadata", ("day",), ">=",
                                                  "2024-01-01"),))),
    ("metadata.flag=false", Query((Compare("metadata", ("flag",), "=", False),))),
    ("metadata.x!=1", Query((Compare("metadata", ("x",), "=", 1.0, negated=True),))),
    ("size>10MB", Query((Compare("size", (), ">", 10e6),))),
    ("size>1.5GiB", Query((Compare("size", (), ">", 1.5 * 2**30),))),
    ("size<=512KB", Query((Compare("size", (), "<=", 512e3),))),
    ("size<512kib", Query((Compare("size", (), "<", 512.0 * 1024),))),
    ("size=100", Query((Compare("size", (), "=", 100.0),))),
    ("size:100B", Query((Compare("size", (), "=", 100.0),))),
    ("created>=2024-01-01", Query((Compare("created", (), ">=", JAN1, span=DAY),))),
    ("created<2024-01-01T10:30", Query((Compare("created", (), "<", JAN1 + 37800,
                                                span=60.0),))),
    ("created>2024-01-01T00:00:01Z", Query((Compare("created", (), ">", JAN1 + 1,
                                                    span=1.0),))),
    ("created>2024-01-01T01:00:00+01:00", Query((Compare("created", (), ">", JAN1,
                                                         span=1.0),))),
    ("created=2024-01-01T00:00:00.5", Query((Compare("created", (), "=", JAN1 + 0.5,
                                                     span=0.1),))),
    ("age<2d", Query((Compare("age", (), "<", 2 * DAY),))),
    ("age>=36h", Query((Compare("age", (), ">=", 36 * 3600.0),))),
    ("age<1.5w", Query((Compare("age", (), "<", 1.5 * 7 * DAY),))),
    ("age>90s", Query((Compare("age", (), ">", 90.0),))),
    ("age<30m", Query((Compare("age", (), "<", 1800.0),))),
    ("partition.report_date=2023-10-26", Query((PartitionTerm(  # the day and its times
        "report_date", "=", ("2023-10-26",), ("2023-10-26T",), times=True),))),
    ("partition.report_date:2023-10-26,2023-10-27",
     Query((PartitionTerm("report_date", "=", ("2023-10-26", "2023-10-27"),
                          ("2023-10-26T", "2023-10-27T"), times=True),))),
    ("partition.day:2023-10*", Query((PartitionTerm("day", "=", (), ("2023-10",)),))),
    ("partition.report_date>=2023-10-01", Query((PartitionTerm("report_date", ">=",
                                                               ("2023-10",), times=True),))),
    ("-partition.region=eu", Query((PartitionTerm("region", "=", ("eu",), negated=True),))),
    ("partition.region!=eu", Query((PartitionTerm("region", "=", ("eu",), negated=True),))),
    ("sort:-created", Query(sort=(Sort("created", descending=True),))),
    ("sort:name", Query(sort=(Sort("name"),))),
    ("sort:metadata.accuracy", Query(sort=(Sort("metadata", ("accuracy",)),))),
    ("sort:-tags.f1,name", Query(sort=(Sort("tags", ("f1",), True), Sort("name")))),
    ("sort:size sort:-version", Query(sort=(Sort("size"), Sort("version", descending=True)))),
    ("sort:TYPE", Query(sort=(Sort("type"),))),
    ("sort:name,-name sort:name", Query(sort=(Sort("name"),))),
    ("sort:" + ",".join(["name"] * 800), Query(sort=(Sort("name"),))),
    ('sort:metadata."a b"', Query(sort=(Sort("metadata", ("a b",)),))),
    ("downstream-of:raw_transactions:3",
     Query((LineageTerm("downstream", "raw_transactions:3"),))),
    ('upstream-of:"fraud_detector@production"~2',
     Query((LineageTerm("upstream", "fraud_detector@production", 2),))),
    ("downstream-of:raw~1", Query((LineageTerm("downstream", "raw", 1),))),
    ("-upstream-of:archivist://team/raw:3",
     Query((LineageTerm("upstream", "archivist://team/raw:3", negated=True),))),
    ("type:Model alias:production downstream-of:raw:3",
     Query((FieldTerm("type", ("Model",)), FieldTerm("alias", ("production",)),
            LineageTerm("downstream", "raw:3")))),
    ("fraud stage:production team:fraud sort:-created",
     Query((Text(("fraud",)), TagTerm("stage", ("production",)), TagTerm("team", ("fraud",))),
           (Sort("created", descending=True),))),
]

A, B, C, D = (Text((w,)) for w in "abcd")
BOOLEAN = [
    ("a OR b", Query((Group(((A,), (B,))),))),
    ("a b OR c", Query((Group(((A, B), (C,))),))),  # AND binds tighter
    ("a OR b c", Query((Group(((A,), (B, C))),))),
    ("a AND b OR c AND d", Query((Group(((A, B), (C, D))),))),
    ("a AND b", Query((A, B))),
    ("(a OR b) c", Query((Group(((A,), (B,))), C))),
    ("(a OR b)", Query((Group(((A,), (B,))),))),
    ("(a OR b) OR c", Query((Group(((A,), (B,), (C,))),))),
    ("a OR (b OR c)", Query((Group(((A,), (B,), (C,))),))),
    ("a OR (b OR c) d", Query((Group(((A,), (Group(((B,), (C,))), D))),))),
    ("(a b)", Query((A, B))),
    ("((a))", Query((A,))),
    ("-(a OR b)", Query((Group(((A,), (B,)), negated=True),))),
    ("NOT (a OR b)", Query((Group(((A,), (B,)), negated=True),))),
    ("-(a b)", Query((Group(((A, B),), negated=True),))),
    ("-(a)", Query((Text(("a",), negated=True),))),
    ("-(-a)", Query((A,))),
    ("NOT a", Query((Text(("a",), negated=True),))),
    ("NOT stage:dev", Query((TagTerm("stage", ("dev",), negated=True),))),
    ("a -(b OR c)", Query((A, Group(((B,), (C,)), negated=True)))),
    ("((a OR b) c) OR d", Query((Group(((Group(((A,), (B,))), C), (D,))),))),
    ("NEAR(a b)", Query((Text(("NEAR",)), A, B))),
    ("f(x)", Query((Text(("f",)), Text(("x",))))),
    ("(a)b", Query((A, B))),
    ("a or b", Query((A, Text(("or",)), B))),
    ("a and not b", Query((A, Text(("and",)), Text(("not",)), B))),
    ('a "OR" b', Query((A, Text(("OR",), phrase=True), B))),
    ("a -OR", Query((A, Text(("OR",), negated=True)))),
    ("state:OR", Query((TagTerm("state", ("OR",)),))),
    ("type:Model (stage:production OR alias:production)",
     Query((FieldTerm("type", ("Model",)), Group(((TagTerm("stage", ("production",)),),
                                                  (FieldTerm("alias", ("production",)),)))))),
    ("downstream-of:raw:3 OR upstream-of:m~1",
     Query((Group(((LineageTerm("downstream", "raw:3"),),
                   (LineageTerm("upstream", "m", 1),))),))),
    ("(a OR b) sort:name", Query((Group(((A,), (B,))),), (Sort("name"),))),
    ("sort:name (a OR b)", Query((Group(((A,), (B,))),), (Sort("name"),))),
    ("a AND sort:name", Query((A,), (Sort("name"),))),
    ('"(a OR b)"', Query((Text(("a", "OR", "b"), phrase=True),))),
    ('metadata.formula="f(x)"', Query((Compare("metadata", ("formula",), "=", "f(x)"),))),
]


@pytest.mark.parametrize(("query", "expected"), BOOLEAN, ids=[b[0] for b in BOOLEAN])
def test_parses_and_or_not_and_parentheses(query: str, expected: Query) -> None:
    assert parse_query(query) == expected


@pytest.mark.parametrize(("query", "expected"), FORMS, ids=[f[0] or "empty" for f in FORMS])
def test_parses(query: str, expected: Query) -> None:
    assert parse_query(query) == expected


BAD = [
    # (query, position, token starts with)
    ("(((", 0, "((("),
    ('"unterminated', 0, '"unterminated'),
    ('fraud "a b', 6, '"a b'),
    ('"a\\"', 0, '"a'),
    (":", 0, ":"),
    (":x", 0, ":x"),
    ("type:", 4, ":"),
    ("type:Model,", 4, ":"),
    ("tag.:x", 4, ":x"),
    ("tag:x", 0, "tag:x"),
    ("metadata>1", 0, "metadata"),
    ("-", 0, "-"),
    ("a - b", 2, "-"),
    ("--a", 0, "--"),
    ("*", 0, "*"),
    ('""', 0, '""'),
    ('"..."', 0, '"..."'),
    ('fraud"x"', 5, '"x"'),
    ('"x"y', 3, "y"),
    ("created>notadate", 8, "notadate"),
    ("created>2024-13-01", 8, "2024-13-01"),
    ("created>0000-01-01", 8, "0000-01-01"),
    ("created>20240101", 8, "20240101"),
    ("created<99999999d", 8, "99999999d"),
    ("size>lots", 5, "lots"),
    ("size>-5", 5, "-5"),
    ("size>10XB", 5, "10XB"),
    ("size>99999999999999999999PB", 5, "99999999999999999999PB"),
    ("size>10MB,20MB", 5, "10MB"),
    ("age<99999999d", 4, "99999999d"),
    ("age<2", 4, "2"),
    ("age=2d", 4, "2d"),
    ("age:2d", 4, "2d"),
    ("metadata.accuracy>=1e309", 19, "1e309"),
    ("metadata.a>=NaN", 12, "NaN"),
    ("metadata.a=inf", 11, "inf"),
    ("metadata.a>high", 11, "high"),
    ("metadata.a>true", 11, "true"),
    ("tags.a>=nan", 8, "nan"),
    ("metadata.a..b=1", 11, ".b=1"),
    ("metadata.a;b=1", 9, "a;b"),
    ('metadata."a"b=1', 12, "b=1"),
    ('metadata."x\\"y"=1', 9, '"x'),
    ("accuracy>0.9", 0, "accuracy"),
    ("version:0", 8, "0"),
    ("version:latest", 8, "latest"),
    ("version:3*", 8, "3"),
    ("version>1.5", 8, "1.5"),
    ("digest:sha256:", 7, "sha256:"),
    ("digest:sha256:" + "g" * 64, 7, "sha256:ggg"),
    ("digest:sha256:" + "a" * 65, 7, "sha256:aaa"),
    ("sort:metadata.x; DROP", 14, "x;"),
    ("sort:-created,--", 15, "-"),
    ("sort:-", 5, "-"),
    ("sort:bogus", 5, "bogus"),
    ("sort:metadata", 5, "metadata"),
    ("sort:created,", 4, ":"),
    ("sort:" + ",".join(f"tags.t{i}" for i in range(9)), 69, "tags.t8"),
    ("-sort:created", 0, "-sort"),
    ("sort>created", 0, "sort"),
    ("downstream-of:raw~0", 17, "~0"),
    ("downstream-of:raw~1001", 17, "~1001"),
    ("downstream-of:raw~x", 17, "~x"),
    ('downstream-of:"bad name"', 14, '"bad name"'),
    ("downstream-of:raw:0", 14, "raw:0"),
    ("downstream-of:raw@latest", 14, "raw@latest"),
    ("upstream-of>raw", 11, ">raw"),
    ("bad$key:x", 0, "bad$key"),
    # parentheses and operators
    ("(a", 0, "(a"),
    ("a)", 1, ")"),
    ("(a))", 3, ")"),
    (")(", 0, ")("),
    ("()", 0, "()"),
    ("( )", 0, "( )"),
    ("a ()", 2, "()"),
    ("NEAR(a", 4, "(a"),
    ("(" * 9 + "a" + ")" * 9, 8, "(a)"),
    ("OR", 0, "OR"),
    ("a OR", 2, "OR"),
    ("OR a", 0, "OR a"),
    ("a OR OR b", 2, "OR OR"),
    ("(a OR) b", 3, "OR)"),
    ("(OR a)", 1, "OR a"),
    ("a OR AND b", 2, "OR AND"),
    ("AND a", 0, "AND"),
    ("a AND", 2, "AND"),
    ("a AND AND b", 2, "AND AND"),
    ("a AND OR b", 2, "AND OR"),
    ("NOT", 0, "NOT"),
    ("a NOT", 2, "NOT"),
    ("NOT OR a", 0, "NOT OR"),
    ("NOT -a", 0, "NOT -a"),
    ("NOT NOT a", 0, "NOT NOT"),
    ("NOT -(a)", 0, "NOT -("),
    ("-)", 0, "-"),
    ("(a -)", 3, "-"),
    ("stage:(a OR b)", 6, "(a OR b)"),
    ("-stage:(a)", 7, "(a)"),
    ("stage:prod(x)", 10, "(x)"),
    ('name:"x"(y)', 8, "(y)"),
    ("metadata.f=f(x)", 12, "(x)"),
    # sort stands outside parentheses and OR
    ("(sort:name)", 1, "sort:name"),
    ("(a sort:name)", 3, "sort:name"),
    ("a OR b sort:name", 7, "sort:name"),
    ("sort:name a OR b", 0, "sort:name"),
    ("a OR sort:name", 5, "sort:name"),
    ("NOT sort:name", 4, "sort:name"),
    ("-(a sort:name)", 4, "sort:name"),
    # misspelt fields and prefixes
    ("tpye:Model", 0, "tpye:Model"),
    ("-tpye:Model", 1, "tpye:Model"),
    ("a OR tpye:Model", 5, "tpye:Model"),
    ("TPYE:Model", 0, "TPYE"),
    ("nmae:fraud*", 0, "nmae"),
    ("types:Model,Dataset", 0, "types"),
    ("sise>10MB", 0, "sise>10MB"),
    ("sizes<1", 0, "sizes"),
    ("metdata.accuracy>0.9", 0, "metdata.accuracy"),
    ("metadta.accuracy:0.9", 0, "metadta"),
    ("tgas.stage:x", 0, "tgas"),
    ("partiton.day=1", 0, "partiton"),
    ("creatd>=2024-01-01", 0, "creatd"),
    ("verison:3", 0, "verison"),
    ("pipline:p", 0, "pipline"),
    ("projetc:p", 0, "projetc"),
    ("downstream_of:raw", 0, "downstream_of"),
    ("upstraem-of:raw", 0, "upstraem-of"),
    ("srot:name", 0, "srot"),
    ("alais:production", 0, "alais"),
    ("sort:craeted", 5, "craeted"),
    ("a\x00b", 1, "\x00"),
    ("\x00", 0, "\x00"),
    ("x\x1by", 1, "\x1b"),
]


@pytest.mark.parametrize(("query", "position", "token"), BAD, ids=[b[0][:40] for b in BAD])
def test_malformed(query: str, position: int, token: str) -> None:
    with pytest.raises(InvalidQueryError) as info:
        parse_query(query)
    assert (info.value.position, info.value.token[:len(token)]) == (position, token)
    assert info.value.details == {"position": position, "token": info.value.token}
    assert str(position) in str(info.value)


def test_limits_are_checked_at_the_cap_and_past_it() -> None:
    parse_query("a" * 4096)
    with pytest.raises(InvalidQueryError, match="4096") as info:
        parse_query("a" * 4097)
    assert info.value.position == 4096
    parse_query(" ".join(["a"] * 64))
    with pytest.raises(InvalidQueryError, match="the limit is 64") as info:
        parse_query(" ".join(["a"] * 65))
    assert info.value.position == 128
    parse_query("metadata." + ".".join(["a"] * 16) + "=1")
    with pytest.raises(InvalidQueryError, match="16 levels"):
        parse_query("metadata." + ".".join(["a"] * 17) + "=1")
    parse_query("downstream-of:raw~1000")


@pytest.mark.parametrize("query", [
    "metadata." + ".".join(["a"] * 1000) + "=1",
    " ".join(["a"] * 10_000),
    "a" * (1 << 20),
    '"' * 4096,
    "-" * 4096,
    "(" * 4096,
    "metadata.a" + ".a" * 2000 + "=1",
])
def test_huge_queries_are_rejected_fast(query: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidQueryError):
        parse_query(query)
    assert time.perf_counter() - started < 0.05


def test_non_string_query() -> None:
    with pytest.raises(InvalidQueryError):
        parse_query(None)  # type: ignore[arg-type]


ALPHABET = st.sampled_from(list('abcAZ09 _-.:,*"\\~=!<>()\'/;%@$^&|é\x00\t'))
FRAGMENTS = st.sampled_from([
    "type:", "name:", "tag.", "tags.", "metadata.", "partition.", "sort:", "size>",
    "created>=", "age<", "version:", "digest:sha256:", "downstream-of:", "upstream-of:",
    "alias:", "project:", "-", '"', "~2", "2024-01-01", "10MB", "1e309", "NaN", ",", "*",
    " ", "x", "0.5", "true", "raw:3", "@prod", "..", "\\", " OR ", " AND ", "NOT ", "(",
    ")", "-(", "tpye:", "sise>",
])


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_any_text_parses_or_raises_invalid_query(text: str) -> None:
    try:
        parse_query(text)
    except InvalidQueryError as exc:
        assert 0 <= exc.position <= len(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(FRAGMENTS, max_size=12).map("".join))
def test_any_fragments_parse_or_raise_invalid_query(text: str) -> None:
    try:
        parse_query(text)
    except InvalidQueryError as exc:
        assert 0 <= exc.position <= len(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_unicode_parses_or_raises_invalid_query(text: str) -> None:
    try:
        parse_query(text)
    except InvalidQueryError as exc:
        assert 0 <= exc.position <= len(text)
