"""b.2 Versions, aliases, references (V1-V6, V8-V10).

Decisions in ``archivist.refs``: version numbers are positive integers without leading
zeros, so ``:0``, ``:01``, ``:-1`` and ``:1.0`` are *invalid references*
(``InvalidNameError``), not missing versions; only lower-case UUIDv7 strings are ids,
anything else is read as a name.
"""

from __future__ import annotations

import pytest

from archivist import (
    ArtifactCatalog,
    ArtifactNotFoundError,
    ConflictError,
    InvalidInputError,
    InvalidNameError,
)
from archivist.ids import new_id
from tests.badinput.conftest import Guard


@pytest.fixture
def three(cat: ArtifactCatalog) -> list[str]:
    """``name`` versions 1-3, version 3 aliased ``prod``."""
    ids = [cat.register("name", "Model", metadata={"i": i}) for i in range(3)]
    cat.set_alias(ids[-1], "prod")
    return ids


BAD_VERSIONS = [
    ("V1-zero", "name:0"), ("V1-negative", "name:-1"), ("V1-leading-zero", "name:01"),
    ("V1-decimal", "name:1.0"), ("V1-empty-version", "name:"), ("V1-double-colon", "name::3"),
    ("V1-plus", "name:+1"), ("V1-space", "name: 1"), ("V1-hex", "name:0x1"),
    ("V1-unicode-digit", "name:\u0663"), ("V1-exponent", "name:1e3"),
    ("V1-latest-case", "name:LATEST"), ("V1-colon-then-alias", "name:1@prod"),
    ("V5-empty-alias", "name@"), ("V5-double-at", "name@@x"), ("V5-alias-traversal", "name@../x"),
    ("V5-alias-latest", "name@latest"), ("V5-alias-digits", "name@3"),
    ("V8-uri-traversal", "archivist://p/../q/n:1"), ("V8-uri-fragment", "archivist://p/n:1#frag"),
    ("V8-uri-query", "archivist://p/n:1?x=y"), ("V8-uri-no-name", "archivist://p/"),
    ("V8-uri-no-slash", "archivist://p"), ("V8-uri-extra-segment", "archivist://p/q/n:1"),
    ("V8-uri-encoded", "archivist://p/n%3A1"), ("V8-uri-userinfo", "archivist://u@p/n:1"),
    ("V8-uri-empty-project", "archivist:///name:1"),
    ("V9-empty", ""), ("V9-10000-chars", "0" * 10_000), ("V9-513-chars", "a" * 513),
    ("V9-id-with-nul", "0193f0c2-1b2c-7d3e-8f40-0123456789a\x00"),
]


@pytest.mark.parametrize("ref", [r for _, r in BAD_VERSIONS], ids=[i for i, _ in BAD_VERSIONS])
def test_malformed_reference_is_invalid(guard: Guard, cat: ArtifactCatalog, three: list[str],
                                        ref: str) -> None:
    guard.rejected(InvalidNameError, cat.get, ref)


@pytest.mark.parametrize("ref", [r for _, r in BAD_VERSIONS], ids=[i for i, _ in BAD_VERSIONS])
def test_malformed_reference_as_parent_writes_nothing(guard: Guard, cat: ArtifactCatalog,
                                                      three: list[str], ref: str) -> None:
    guard.rejected(InvalidNameError, cat.register, "child", parent_ids=[ref])
    guard.rejected(InvalidNameError, cat.register, "child", data=b"v-child", parent_ids=[ref])


@pytest.mark.parametrize("ref", [r for _, r in BAD_VERSIONS], ids=[i for i, _ in BAD_VERSIONS])
def test_malformed_reference_in_mutations_writes_nothing(guard: Guard, cat: ArtifactCatalog,
                                                         three: list[str], ref: str) -> None:
    guard.rejected(InvalidNameError, cat.tag, ref, stage="x")
    guard.rejected(InvalidNameError, cat.set_alias, ref, "champion")
    guard.rejected(InvalidNameError, cat.delete, ref)


@pytest.mark.parametrize("ref", [123, None, b"name:1", 1.5, ["name"]],
                         ids=["V9-int", "V9-none", "V9-bytes", "V9-float", "V9-list"])
def test_non_string_reference_is_invalid(guard: Guard, cat: ArtifactCatalog, three: list[str],
                                         ref: object) -> None:
    guard.rejected(InvalidNameError, cat.get, ref)  # type: ignore[arg-type]


@pytest.mark.parametrize("ref", ["name:99999999999999999999", "name:2147483648",
                                 "name:9223372036854775808", "name:4",
                                 "archivist://default/name:99999999999999999999"],
                         ids=["V2-huge", "V2-int32-plus-1", "V2-int64-plus-1", "V2-next",
                              "V2-uri-huge"])
def test_V2_missing_version_is_not_found(guard: Guard, cat: ArtifactCatalog, three: list[str],
                                         ref: str) -> None:
    err = guard.rejected(ArtifactNotFoundError, cat.get, ref)
    assert "live versions: 1, 2, 3" in str(err)
    assert isinstance(err, KeyError)


def test_V2_huge_version_as_parent_is_not_found(guard: Guard, cat: ArtifactCatalog,
                                                three: list[str]) -> None:
    guard.rejected(ArtifactNotFoundError, cat.register, "child",
                   parent_ids=["name:99999999999999999999"])


def test_V3_deleted_version_is_not_found_and_lists_live(guard: Guard, cat: ArtifactCatalog,
                                                       three: list[str]) -> None:
    cat.delete("name:2")
    err = guard.rejected(ArtifactNotFoundError, cat.get, "name:2")
    assert "live versions: 1, 3" in str(err)
    # by id the deleted version is still reachable (lineage shows it) and says so
    assert cat.get(three[1]).deleted


def test_V4_latest_when_every_version_is_deleted(guard: Guard, cat: ArtifactCatalog,
                                                 three: list[str]) -> None:
    for version_id in three:
        cat.delete(version_id)
    for ref in ("name", "name:latest", "name:1", "name@prod", "archivist://default/name"):
        err = guard.rejected(ArtifactNotFoundError, cat.get, ref)
        assert isinstance(err, KeyError)
    assert cat.get_latest("name") is None


def test_V6_alias_on_deleted_version_by_id_conflicts(guard: Guard, cat: ArtifactCatalog,
                                                     three: list[str]) -> None:
    cat.delete(three[0])
    guard.rejected(ConflictError, cat.set_alias, three[0], "champion")
    guard.rejected(ConflictError, cat.tag, three[0], stage="x")
    guard.rejected(ConflictError, cat.untag, three[0], "stage")
    guard.rejected(ConflictError, cat.delete, three[0])


def test_V6_alias_on_deleted_version_by_name_is_not_found(guard: Guard, cat: ArtifactCatalog,
                                                          three: list[str]) -> None:
    """Decision (reads.resolve_seq): names resolve to live versions only, so a deleted
    ``name:1`` is not found rather than a conflict."""
    cat.delete(three[0])
    guard.rejected(ArtifactNotFoundError, cat.set_alias, "name:1", "champion")


def test_V6_alias_of_deleted_version_is_gone(cat: ArtifactCatalog, three: list[str]) -> None:
    cat.delete(three[2])
    with pytest.raises(ArtifactNotFoundError):
        cat.get("name@prod")
    assert cat.get("name").id == three[1]


UNKNOWN_IDS = [
    ("V9-ulid-25", "01ARZ3NDEKTSV4RRFFQ69G5FA"),
    ("V9-ulid-26", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ("V9-upper-uuid", "0193F0C2-1B2C-7D3E-8F40-0123456789AB"),
    ("V9-uuid4", "0193f0c2-1b2c-4d3e-8f40-0123456789ab"),
    ("V9-fresh-uuid7", None),
    ("V9-forbidden-letters", "01ILOU3NDEKTSV4RRFFQ69G5FA"),
]


@pytest.mark.parametrize("ref", [r for _, r in UNKNOWN_IDS], ids=[i for i, _ in UNKNOWN_IDS])
def test_V9_id_lookalikes_are_invalid_or_not_found(guard: Guard, cat: ArtifactCatalog,
                                                   three: list[str], ref: str | None) -> None:
    """Decision (refs.parse_ref): only lower-case UUIDv7 is an id; other id-like strings
    are read as names and so are not found — never a SQL error."""
    guard.rejected((InvalidNameError, ArtifactNotFoundError), cat.get, ref or new_id())
    guard.rejected((InvalidNameError, ArtifactNotFoundError), cat.register, "child",
                   parent_ids=[ref or new_id()])


def test_V9_id_in_another_project_uri_is_not_found(guard: Guard, cat: ArtifactCatalog,
                                                   three: list[str]) -> None:
    guard.rejected(ArtifactNotFoundError, cat.get, f"archivist://other/{three[0]}")
    assert cat.get(f"archivist://default/{three[0]}").id == three[0]


# -- V10 parents --------------------------------------------------------------------------

def test_V10_unknown_future_id_as_parent_writes_nothing(guard: Guard, cat: ArtifactCatalog,
                                                        three: list[str]) -> None:
    guard.rejected(ArtifactNotFoundError, cat.register, "child", parent_ids=[new_id()])
    guard.rejected(ArtifactNotFoundError, cat.register, "child", data=b"v10",
                   parent_ids=[three[0], new_id()])


def test_V10_deleted_parent_by_id_is_allowed(guard: Guard, cat: ArtifactCatalog,
                                             three: list[str]) -> None:
    """Decision (catalog._existing_id): a deleted parent named by id is kept in lineage;
    by name it is not found (names resolve to live versions)."""
    cat.delete(three[0])
    child = guard.no_files_outside(cat.register, "child", parent_ids=[three[0]])
    assert cat.get(child).parent_ids == [three[0]]
    guard.rejected(ArtifactNotFoundError, cat.register, "child", parent_ids=["name:1"])


@pytest.mark.parametrize("count", [1001, 100_000], ids=["V10-1001", "V10-100000"])
def test_V10_too_many_parents_rejected(guard: Guard, cat: ArtifactCatalog, three: list[str],
                                       count: int) -> None:
    guard.rejected(InvalidInputError, cat.register, "child", parent_ids=[three[0]] * count)


def test_V10_parents_at_cap_accepted_and_deduplicated(cat: ArtifactCatalog,
                                                      three: list[str]) -> None:
    child = cat.register("child", parent_ids=[three[0], *([three[1]] * 999)])
    assert sorted(cat.get(child).parent_ids) == sorted(three[:2])


@pytest.mark.parametrize("value", ["name:1", 3, {"name:1": 1}],
                         ids=["V10-string", "V10-int", "V10-mapping"])
def test_V10_parent_ids_must_be_a_list(guard: Guard, cat: ArtifactCatalog, three: list[str],
                                       value: object) -> None:
    guard.rejected(InvalidInputError, cat.register, "child", parent_ids=value)  # type: ignore[arg-type]


def test_V10_self_reference_by_name_is_previous_version(cat: ArtifactCatalog,
                                                        three: list[str]) -> None:
    """A new version naming its own artifact as parent gets the *previous* latest: no
    self-loop is possible because the new id does not exist yet."""
    child = cat.register("name", parent_ids=["name"])
    assert cat.get(child).parent_ids == [three[2]]
    assert child not in cat.get(child).parent_ids


@pytest.mark.parametrize(("ref", "expected"), [
    ("store://datasets/default/name", 2), ("store://models/default/name:latest", 2),
    ("store://artifacts/default/name:1", 0), ("store://datasets/default/name:prod", 2)])
def test_mlrun_store_uris_are_references(cat: ArtifactCatalog, three: list[str], ref: str,
                                         expected: int) -> None:
    assert cat.get(ref).id == three[expected]


@pytest.mark.parametrize("ref", ["store://datasets/name", "store:///default/name",
                                 "store://datasets/default/name#1",
                                 "store://datasets/default/name@0191",
                                 "store://datasets/default/a/b"])
def test_malformed_store_uris_name_the_archivist_form(guard: Guard, cat: ArtifactCatalog,
                                                      three: list[str], ref: str) -> None:
    error = guard.rejected(InvalidNameError, cat.get, ref)
    assert "archivist://" in str(error)
