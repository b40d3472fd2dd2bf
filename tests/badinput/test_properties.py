"""d.5 B4: property tests over arbitrary text (500 examples each, one catalog per property).

Each input either passes validation and round-trips unchanged, or raises the documented
``ArchivistError`` subclass and leaves the catalog snapshot and the canary folder exactly
as they were; any other exception fails the property. The query property also records
every SQL statement and fails if a distinctive piece of the query reached SQL as text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archivist import (
    ArtifactCatalog,
    ArtifactNotFoundError,
    ConflictError,
    InvalidInputError,
    InvalidNameError,
    InvalidQueryError,
    PermissionDeniedError,
)
from archivist.refs import parse_ref
from tests.badinput.conftest import Guard
from tests.badinput.sqlcheck import leaks, recorded_sql

PROPERTY = settings(max_examples=500, deadline=None, database=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

ID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

TRICKY = ["", ".", "..", "a..b", "-a", "_a", "a" * 128, "a" * 129, "a\x00", "\uff41", "\uff41b",
          "a b", "a/b", "a\\b", "a:1", "a@b", "%2e%2e", "con", "CON", "a.", "a-", "a_",
          "A", "a", "Z9", "0", "latest", "\u0430", "x\u200b", "İ", "ß", "\n", "a\n",
          "名前", "e\u0301" * 128, "e\u0301" * 129, "名" * 128, "\u0301a", "fr\u0430ud",
          "\u0430\u0431", "β_vae", "βa", "\u00b5", "a\ufe0f", "\u3164", "ﬁ", "٣"]

name_like = st.one_of(
    st.text(max_size=140),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,130}", fullmatch=True),
    st.sampled_from(TRICKY),
    st.lists(st.sampled_from(["a", "B", "7", ".", "_", "-", "..", " ", "/", ":", "@", "é",
                              "\x00", "%", "\t", "e\u0301", "\u0308", "Ä", "名", "ß", "ẞ",
                              "\u0430", "\u03b2", "\u200d", "\u202e", "\uff41", "\u0663",
                              "\u3000"]), max_size=20).map("".join),
)

#: The SPEC §9 rule, written independently of archivist.names (which takes an ASCII fast
#: path and reports the first broken rule; this checks every rule on every character).
IGNORABLE = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810), 0x3164,
             *range(0xFE00, 0xFE10), 0xFFA0, *range(0xE0100, 0xE01F0)}


def is_valid_name(text: str) -> bool:
    name = unicodedata.normalize("NFC", text)
    if not 1 <= len(name) <= 128 or ".." in name or unicodedata.normalize("NFKC", name) != name:
        return False
    kinds = [unicodedata.category(ch)[0] for ch in name]
    if kinds[0] not in "LN" or any(ord(ch) in IGNORABLE for ch in name):
        return False
    for index, (ch, kind) in enumerate(zip(name, kinds, strict=True)):
        if kind == "M":
            before = index - 1
            while before >= 0 and kinds[before] == "M":
                before -= 1
            if before < 0 or kinds[before] != "L":
                return False
        elif kind not in "LN" and ch not in "._-":
            return False
    for word in re.split("[._-]", name):
        scripts = {unicodedata.name(ch, "?").split()[0] for ch in word if ch.isalpha()}
        if len(scripts & {"LATIN", "GREEK", "CYRILLIC"}) > 1:
            return False
    return True


# -- names ----------------------------------------------------------------------------------

@PROPERTY
@given(name=name_like)
def test_B4_names(guard: Guard, cat: ArtifactCatalog, name: str) -> None:
    before = guard.state()
    try:
        version_id = cat.register(name)
    except (InvalidNameError, ConflictError) as exc:
        assert guard.state() == before
        if isinstance(exc, InvalidNameError):
            assert not is_valid_name(name) or ID_SHAPE.fullmatch(name), (
                f"a name the rule allows was refused: {name!r}")
        return
    assert is_valid_name(name), f"a name the rule forbids was accepted: {name!r}"
    art = cat.get(version_id)
    assert art.name == unicodedata.normalize("NFC", name) and art.id == version_id
    assert cat.get(f"{name}:{art.version}").id == version_id
    assert cat.get(f"archivist://default/{name}:{art.version}").id == version_id


# -- tag keys ---------------------------------------------------------------------------------

@PROPERTY
@given(key=name_like)
def test_B4_tag_keys(guard: Guard, cat: ArtifactCatalog, key: str) -> None:
    version_id = cat.register("subject") if not cat.list(name="subject") else cat.get("subject").id
    before = guard.state()
    try:
        cat.tag(version_id, **{key: "v"})
    except InvalidNameError:
        assert guard.state() == before
        assert not is_valid_name(key), f"a tag key the rule allows was refused: {key!r}"
        return
    assert is_valid_name(key), f"a tag key the rule forbids was accepted: {key!r}"
    stored = unicodedata.normalize("NFC", key)
    assert cat.get(version_id).tags[stored] == "v"
    cat.untag(version_id, key)
    assert stored not in cat.get(version_id).tags


# -- queries ---------------------------------------------------------------------------------

FRAGMENTS = ["name:", "type:", "tag.", "tags.", "metadata.", "partition.", "sort:", "sort:-",
             "-", '"', "*", ",", ":", "=", ">=", "<", "!=", ">", "~", "~2", "downstream-of:",
             "upstream-of:", "fraud", "model", "DROP TABLE versions", "' OR 1=1 --",
             "; DELETE FROM tags", "\\", "NEAR(", ")", "(", "%", "_", "1e309", "NaN",
             "2024-01-01", "10MB", "2d", " ", "İ", "ß", "\x00", "sha256:", "digest:",
             "version:", "age<", "created>", "size>", "alias:", "prod", ":3", "@prod", "{",
             "}", "^", "'", "$", "json_extract", "select", "union", "\t", "\n", " OR ",
             " AND ", "NOT ", "-(", "tpye:", " or "]

query_like = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=14)
    .map("".join),
)


@pytest.fixture
def searchable(cat: ArtifactCatalog) -> ArtifactCatalog:
    first = cat.register("fraud_model", "Model", description="fraud detector",
                         tags={"stage": "prod", "score": 0.9}, metadata={"acc": 0.93},
                         partitions={"day": "2024-01-01"})
    cat.register("model", "Dataset", parent_ids=[first], aliases=["prod"])
    return cat


@PROPERTY
@given(query=query_like)
def test_B4_queries(guard: Guard, searchable: ArtifactCatalog, sql_furniture: str,
                    query: str) -> None:
    before = guard.state()
    with recorded_sql(searchable) as statements:
        try:
            result: Any = searchable.search(query)
        except InvalidQueryError as exc:
            assert 0 <= exc.position <= len(query)
            result = None
        except ArtifactNotFoundError:  # a lineage term naming no version (documented)
            assert "downstream-of" in query.lower() or "upstream-of" in query.lower()
            result = None
    assert guard.state() == before, "a search changed the catalog"
    if result is not None:
        assert isinstance(result, list)
    found = leaks(query, statements, sql_furniture)
    assert not found, f"user text reached SQL as text: {found[:3]}"


# -- URIs ------------------------------------------------------------------------------------

SCHEMES = ["s3://", "S3://", "gs://", "az://", "abfs://", "https://", "http://", "HTTP://",
           "file://", "file:///", "memory://", "zip://", "s3:/", "ftp://", "", "s3://b/",
           "https://user:pw@", "https://127.0.0.1/", "https://example.com/"]
URI_PARTS = ["b", "k", "/", "..", ".", "%2e", "%25", "#", "?", "&", "=", ";", "::", "@", " ",
             "\r\n", "\x00", "\\", "~", "é", "%00", "x" * 50]

uri_like = st.one_of(
    st.text(max_size=80),
    st.builds(lambda scheme, parts: scheme + "".join(parts), st.sampled_from(SCHEMES),
              st.lists(st.one_of(st.sampled_from(URI_PARTS), st.text(max_size=5)),
                       max_size=10)),
)
ALLOWED = {"s3", "gs", "az", "abfs", "https", "http", "file"}
SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


@PROPERTY
@given(uri=uri_like)
def test_B4_uris(guard: Guard, cat: ArtifactCatalog, uri: str) -> None:
    before = guard.state()
    try:
        version_id = cat.register("ref", uri=uri)
    except (InvalidInputError, PermissionDeniedError):
        assert guard.state() == before
        return
    art = cat.get(version_id)
    match = SCHEME.match(uri)
    assert match is not None and match.group(1).lower() in ALLOWED
    assert art.reference_uri == match.group(1).lower() + uri[match.end(1):]
    assert art.kind == "reference"
    assert len(uri.encode("utf-8")) <= 2048
    assert not any(c.isspace() or ord(c) < 32 for c in uri)
    for token in ("#", "::", ";", "\\"):
        assert token not in uri
    authority = uri[match.end():].removeprefix("//").split("/", 1)[0].split("?", 1)[0]
    assert "@" not in authority, "userinfo accepted"
    after = guard.state()[0]
    assert after.blobs == before[0].blobs, "a reference was copied into the store"


# -- refs ------------------------------------------------------------------------------------

@pytest.fixture
def referenced(cat: ArtifactCatalog) -> dict[str, str]:
    ids = {f"model:{i}": cat.register("model") for i in (1, 2, 3)}
    cat.set_alias(ids["model:2"], "prod")
    ids["other"] = cat.register("model", project="other")
    return ids


def id_mutations(ids: list[str]) -> st.SearchStrategy[str]:
    real = st.sampled_from(ids)
    return st.one_of(real, real.map(str.upper), real.map(lambda i: i[:-1]),
                     real.map(lambda i: i + "0"), real.map(lambda i: i.replace("-", "")),
                     real.map(lambda i: "archivist://default/" + i),
                     real.map(lambda i: "archivist://other/" + i))


def ref_like(ids: list[str]) -> st.SearchStrategy[str]:
    names = st.one_of(st.sampled_from(["model", "Model", "missing", "model.", ""]), name_like)
    suffix = st.one_of(st.sampled_from(["", ":1", ":2", ":3", ":4", ":0", ":01", ":latest",
                                        "@prod", "@latest", "@3", "@", ":", "::3", ":-1",
                                        ":99999999999999999999", ":1#x", ":1?x=y"]),
                       st.text(max_size=6))
    prefix = st.sampled_from(["", "", "archivist://default/", "archivist://other/",
                              "ARCHIVIST://default/", "archivist://", "archivist:///",
                              "archivist://../"])
    structured = st.builds(lambda p, n, s: p + n + s, prefix, names, suffix)
    return st.one_of(structured, st.text(max_size=60), id_mutations(ids))


@PROPERTY
@given(data=st.data())
def test_B4_refs(guard: Guard, cat: ArtifactCatalog, referenced: dict[str, str],
                 data: st.DataObject) -> None:
    ref = data.draw(ref_like(sorted(referenced.values())), label="ref")
    before = guard.state()
    try:
        art = cat.get(ref)
    except (InvalidNameError, ArtifactNotFoundError):
        assert guard.state() == before
        return
    parsed = parse_ref(ref)
    if parsed.id is not None:
        assert art.id == parsed.id
    else:
        assert art.name == parsed.name
        if parsed.version is not None:
            assert art.version == parsed.version
        if parsed.alias is not None:
            assert parsed.alias in art.aliases
    if parsed.id is None or parsed.project is not None:  # a bare id is global
        assert art.project == (parsed.project or "default")
    assert not art.deleted or parsed.id is not None
    assert cat.get(art.id) == art
    assert guard.state() == before
