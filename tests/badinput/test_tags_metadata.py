"""b.3 Tags, metadata, partitions (T1-T13, T15, T16).

Limits (``archivist.names``): tag keys follow the name rule, at most 256 tags, tag values
are JSON scalars with strings of at most 4 KiB; metadata is a JSON object of at most 1 MiB
(compact UTF-8) nested at most 64 deep, integers of at most 30 digits; partition keys
follow the name rule and values are non-empty printable strings of at most 1 KiB.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Any

import numpy as np
import pytest

from archivist import ArtifactCatalog, InvalidInputError, InvalidNameError
from tests.badinput.conftest import Guard

MIB = 1024 * 1024


@pytest.fixture
def version_id(cat: ArtifactCatalog) -> str:
    return cat.register("subject", "Model", tags={"stage": "dev"})


# -- T1 tag keys ----------------------------------------------------------------------------

BAD_KEYS = [("T1-empty", ""), ("T1-space", "a b"), ("T1-colon", "a:b"), ("T1-equals", "a=b"),
            ("T1-comma", "a,b"), ("T1-dash", "-a"), ("T1-nul", "a\x00"), ("T1-dot-dot", "a..b"),
            ("T1-quote", 'a"b'), ("T1-129", "k" * 129), ("T1-zero-width", "cl\u200bé"),
            ("T1-fullwidth", "\uff4bey"), ("T1-mixed-scripts", "st\u0430ge"),
            ("T1-newline", "a\nb")]


@pytest.mark.parametrize("key", [k for _, k in BAD_KEYS], ids=[i for i, _ in BAD_KEYS])
def test_T1_bad_tag_key_rejected(guard: Guard, cat: ArtifactCatalog, version_id: str,
                                 key: str) -> None:
    guard.rejected(InvalidNameError, cat.register, "m", tags={key: 1})
    guard.rejected(InvalidNameError, cat.register, "m", data=b"t1", tags={key: 1})
    guard.rejected(InvalidNameError, cat.tag, version_id, **{key: 1})
    guard.rejected(InvalidNameError, cat.untag, version_id, key)
    guard.rejected(InvalidNameError, cat.list, tags={key: 1})


def test_T1_keys_in_any_script(cat: ArtifactCatalog, version_id: str) -> None:
    """Decision (issue 12): tag and partition keys follow the name rule, letters of any
    script included, NFC-normalized (``clé`` typed with a combining accent is ``clé``)."""
    cat.tag(version_id, **{"cle\u0301": 1, "段階": "本番"})
    assert cat.get(version_id).tags == {"stage": "dev", "clé": 1, "段階": "本番"}
    assert [a.id for a in cat.list(tags={"段階": "本番"})] == [version_id]
    assert [a.id for a in cat.search("段階:本番 tags.clé:1")] == [version_id]
    cat.untag(version_id, "clé")
    assert "clé" not in cat.get(version_id).tags
    other = cat.register("m", partitions={"日付": "2024-01-01"})
    assert [a.id for a in cat.list(partitions={"日付": "2024-01-01"})] == [other]
    assert [a.id for a in cat.search("partition.日付:2024-01-01")] == [other]


@pytest.mark.parametrize("key", [k for _, k in BAD_KEYS], ids=[i.replace("T1", "T13")
                                                                for i, _ in BAD_KEYS])
def test_T13_bad_partition_key_rejected(guard: Guard, cat: ArtifactCatalog, key: str) -> None:
    guard.rejected(InvalidNameError, cat.register, "m", partitions={key: "v"})


# -- T2/T3/T4 values no backend can store identically --------------------------------------

BAD_METADATA: list[tuple[str, dict[Any, Any]]] = [
    ("T2-nul-value", {"s": "\u0000"}),
    ("T2-nul-inside", {"s": "x\x00y"}),
    ("T2-nul-key", {"a\x00": 1}),
    ("T2-nul-nested", {"a": [{"b": "\x00"}]}),
    ("T3-lone-surrogate", {"s": "\ud800"}),
    ("T3-surrogate-key", {"\udfff": 1}),
    ("T3-surrogate-nested", {"a": {"b": ["ok", "\udc80"]}}),
    ("T4-nan", {"x": float("nan")}),
    ("T4-inf", {"x": float("inf")}),
    ("T4-minus-inf", {"x": float("-inf")}),
    ("T4-nan-nested", {"x": [1.0, {"y": float("nan")}]}),
    ("T7-1e400", {"x": 1e400}),
    ("T7-5000-digits", {"x": 10**4999}),
    ("T7-31-digits", {"x": 10**30}),
    ("T7-negative-5000-digits", {"x": -(10**4999)}),
    ("T9-int-and-str-key", {1: "a", "1": "b"}),
    ("T9-int-key", {1: "a"}),
    ("T9-none-key", {None: "a"}),
    ("T9-tuple-key", {(1, 2): "a"}),
    ("T10-set", {"x": {1, 2}}),
    ("T10-bytes", {"x": b"raw"}),
    ("T10-datetime", {"x": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}),
    ("T10-date", {"x": dt.date(2024, 1, 1)}),
    ("T10-decimal", {"x": decimal.Decimal("1.10")}),
    ("T10-complex", {"x": 1j}),
    ("T10-numpy-int64", {"x": np.int64(3)}),
    ("T10-numpy-bool", {"x": np.bool_(True)}),
    ("T10-numpy-array", {"x": np.arange(3)}),
    ("T10-object", {"x": object()}),
]


@pytest.mark.parametrize("metadata", [m for _, m in BAD_METADATA],
                         ids=[i for i, _ in BAD_METADATA])
def test_bad_metadata_rejected(guard: Guard, cat: ArtifactCatalog,
                               metadata: dict[Any, Any]) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", metadata=metadata)
    guard.rejected(InvalidInputError, cat.register, "m", data=b"meta", metadata=metadata)


@pytest.mark.parametrize(("metadata", "path"), [
    ({"x": {1, 2}}, "metadata.x"), ({"a": {"b": b"x"}}, "metadata.a.b"),
    ({"a": [0, {"c": decimal.Decimal(1)}]}, "metadata.a[1].c"),
    ({"deep": {"nan": float("nan")}}, "metadata.deep.nan"),
], ids=["T10-path-top", "T10-path-nested", "T10-path-list", "T4-path"])
def test_T10_error_names_the_offending_path(cat: ArtifactCatalog, metadata: dict[str, Any],
                                            path: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        cat.register("m", metadata=metadata)
    assert path in str(info.value)


def test_T7_int64_bounds_round_trip_exactly(cat: ArtifactCatalog) -> None:
    """Decision (names.MAX_INT_BITS): integers are signed 64-bit on every database."""
    big = 2**63 - 1
    version_id = cat.register("m", metadata={"x": big, "y": -big}, tags={"n": big})
    art = cat.get(version_id)
    assert art.metadata == {"x": big, "y": -big}
    assert art.tags["n"] == big and type(art.tags["n"]) is int


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**29, 10**4999],
                         ids=["2^63", "-2^63-1", "29-digits", "5000-digits"])
def test_T7_integers_beyond_int64_are_refused(guard: Guard, cat: ArtifactCatalog,
                                              value: int) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", metadata={"x": value})
    guard.rejected(InvalidInputError, cat.register, "m", tags={"n": value})


class Color(enum.IntEnum):
    RED = 1


def test_T10_documented_coercions(cat: ArtifactCatalog) -> None:
    """Decision (names._clean_json): ``float``/``int`` subclasses (numpy.float64, IntEnum)
    become plain floats/ints and tuples become lists; everything else non-JSON is refused."""
    version_id = cat.register("m", metadata={"f": np.float64(1.5), "e": Color.RED,
                                              "t": (1, "a")})
    meta = cat.get(version_id).metadata
    assert meta == {"f": 1.5, "e": 1, "t": [1, "a"]}
    assert type(meta["f"]) is float and type(meta["e"]) is int


BAD_TAG_VALUES: list[tuple[str, Any]] = [
    ("T2-nul", "x\x00y"), ("T3-surrogate", "\ud800"), ("T4-nan", float("nan")),
    ("T4-inf", float("inf")), ("T7-5000-digits", 10**4999), ("T7-31-digits", 10**30),
    ("T8-4097-bytes", "v" * 4097), ("T8-multibyte-over", "é" * 2049), ("T8-1MiB", "v" * MIB),
    ("T11-list", [1, 2]), ("T11-dict", {"a": 1}), ("T11-tuple", (1,)), ("T11-bytes", b"x"),
    ("T11-set", {1}), ("T11-datetime", dt.datetime(2024, 1, 1)),
    ("T11-numpy-int", np.int64(1)),
]


@pytest.mark.parametrize("value", [v for _, v in BAD_TAG_VALUES],
                         ids=[i for i, _ in BAD_TAG_VALUES])
def test_bad_tag_value_rejected(guard: Guard, cat: ArtifactCatalog, version_id: str,
                                value: Any) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", tags={"k": value})
    guard.rejected(InvalidInputError, cat.tag, version_id, k=value)
    guard.rejected(InvalidInputError, cat.tag, version_id, stage=value)


@pytest.mark.parametrize("value", ["v" * 4096, "é" * 2048, "", None, True, False, 0, -1.5,
                                   2**63 - 1, "<img src=x onerror=alert(1)>"],
                         ids=["T8-4096-bytes", "T8-multibyte-at-cap", "T11-empty-string",
                              "T11-null", "T11-true", "T11-false", "T11-zero", "T11-float",
                              "T11-int64-max", "T15-xss"])
def test_tag_value_at_limits_round_trips(cat: ArtifactCatalog, version_id: str,
                                         value: Any) -> None:
    cat.tag(version_id, k=value)
    got = cat.get(version_id).tags["k"]
    assert got == value and type(got) is type(value)
    other = cat.register("m", tags={"k": value})
    assert cat.get(other).tags["k"] == value


# -- T5 depth, T6/T8 size ---------------------------------------------------------------------

def _nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [65, 1000, 10_000, 100_000],
                         ids=["T5-65", "T5-1000", "T5-10000", "T5-100000"])
def test_T5_deep_nesting_rejected_without_recursion_error(guard: Guard, cat: ArtifactCatalog,
                                                          depth: int) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", metadata={"x": _nested(depth)})
    deep_dict: dict[str, Any] = {}
    node = deep_dict
    for _ in range(depth):
        node["k"] = {}
        node = node["k"]
    guard.rejected(InvalidInputError, cat.register, "m", metadata=deep_dict)


def test_T5_depth_at_cap_round_trips(cat: ArtifactCatalog) -> None:
    """Decision (names.MAX_JSON_DEPTH): the top-level object is depth 0; a value may sit
    at depth 64 (64 containers counting the top object: ``{"x": [[…1…]]}`` with 63 lists)."""
    metadata = {"x": _nested(63)}
    version_id = cat.register("m", metadata=metadata)
    assert cat.get(version_id).metadata == metadata
    with pytest.raises(InvalidInputError):
        cat.register("m", metadata={"x": _nested(65)})


def _sized(total: int) -> dict[str, str]:
    overhead = len('{"k":""}')
    return {"k": "x" * (total - overhead)}


def test_T6_metadata_at_cap_round_trips(cat: ArtifactCatalog) -> None:
    metadata = _sized(MIB)
    version_id = cat.register("m", metadata=metadata)
    assert cat.get(version_id).metadata == metadata


@pytest.mark.parametrize("total", [MIB + 1, 100 * MIB], ids=["T6-1MiB+1", "T6-100MB"])
def test_T6_metadata_over_cap_rejected(guard: Guard, cat: ArtifactCatalog, total: int) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", metadata=_sized(total))


def test_T6_cap_counts_utf8_bytes(guard: Guard, cat: ArtifactCatalog) -> None:
    overhead = len('{"k":""}')
    guard.rejected(InvalidInputError, cat.register, "m",
                   metadata={"k": "é" * ((MIB - overhead) // 2 + 1)})


def test_T8_100000_metadata_keys_rejected(guard: Guard, cat: ArtifactCatalog) -> None:
    guard.rejected(InvalidInputError, cat.register, "m",
                   metadata={f"key{i:06d}": i for i in range(100_000)})


@pytest.mark.parametrize("count", [257, 10_000], ids=["T8-257-tags", "T8-10000-tags"])
def test_T8_too_many_tags_rejected(guard: Guard, cat: ArtifactCatalog, version_id: str,
                                   count: int) -> None:
    tags = {f"k{i}": i for i in range(count)}
    guard.rejected(InvalidInputError, cat.register, "m", tags=tags)
    guard.rejected(InvalidInputError, cat.tag, version_id, **tags)


def test_T8_256_tags_accepted(cat: ArtifactCatalog) -> None:
    tags = {f"k{i}": i for i in range(256)}
    version_id = cat.register("m", tags=tags)
    assert cat.get(version_id).tags == tags


@pytest.mark.parametrize("value", [[("k", 1)], "k=1", 3],
                         ids=["tags-list-of-pairs", "tags-string", "tags-int"])
def test_tags_must_be_a_mapping(guard: Guard, cat: ArtifactCatalog, value: object) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", tags=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [["a"], "k=1", 3],
                         ids=["metadata-list", "metadata-string", "metadata-int"])
def test_metadata_must_be_a_mapping(guard: Guard, cat: ArtifactCatalog, value: object) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", metadata=value)  # type: ignore[arg-type]


# -- T12 field-name tag keys --------------------------------------------------------------------

@pytest.mark.parametrize("key", ["type", "name", "version", "project", "alias", "digest",
                                 "user", "step", "run", "pipeline"],
                         ids=lambda k: f"T12-{k}")
def test_T12_field_named_tag_keys_are_tags(cat: ArtifactCatalog, key: str) -> None:
    tagged = cat.register("tagged", "Dataset", tags={key: "x"})
    cat.register("x", "x", tags={"other": "x"}, aliases=["x"])
    assert cat.get(tagged).tags == {key: "x"}
    assert [a.id for a in cat.search(f"tag.{key}:x")] == [tagged]


@pytest.mark.parametrize("key", ["ref", "self", "tags", "keys"], ids=lambda k: f"T12-kwarg-{k}")
def test_T12_tag_keys_named_like_parameters(cat: ArtifactCatalog, version_id: str,
                                            key: str) -> None:
    """A valid tag key must be settable with ``tag`` even when it is the name of one of
    its parameters (``tag(ref, ref="x")``)."""
    cat.tag(version_id, **{key: "x"})
    assert cat.get(version_id).tags[key] == "x"
    cat.untag(version_id, key)
    assert key not in cat.get(version_id).tags


def test_T12_type_field_and_type_tag_are_distinct(cat: ArtifactCatalog) -> None:
    tagged = cat.register("tagged", "Dataset", tags={"type": "Model"})
    model = cat.register("model", "Model")
    assert [a.id for a in cat.search("type:Model")] == [model]
    assert [a.id for a in cat.search("tag.type:Model")] == [tagged]


# -- T13 partitions -------------------------------------------------------------------------------

BAD_PARTITIONS: list[tuple[str, Any]] = [
    ("T13-int", 3), ("T13-newline", "2023-10-26\n"), ("T13-empty", ""), ("T13-nul", "a\x00"),
    ("T13-tab", "a\tb"), ("T13-none", None), ("T13-float", 1.5), ("T13-list", ["a"]),
    ("T13-1025", "p" * 1025), ("T13-surrogate", "\ud800"), ("T13-escape", "\x1b[31m"),
]


@pytest.mark.parametrize("value", [v for _, v in BAD_PARTITIONS],
                         ids=[i for i, _ in BAD_PARTITIONS])
def test_T13_bad_partition_value_rejected(guard: Guard, cat: ArtifactCatalog,
                                          value: Any) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", partitions={"report_date": value})
    guard.rejected(InvalidInputError, cat.register, "m", data=b"t13",
                   partitions={"report_date": value})


@pytest.mark.parametrize("value", ["../..", "/etc/passwd", "p" * 1024, "a b", "2023-10-26",
                                   "C:\\x", "café"],
                         ids=["T13-traversal-is-data", "T13-absolute-is-data", "T13-1024",
                              "T13-space", "T13-date", "T13-backslash", "T13-non-ascii"])
def test_T13_partition_values_are_data_never_paths(guard: Guard, cat: ArtifactCatalog,
                                                   value: str) -> None:
    version_id = guard.no_files_outside(cat.register, "m", data=b"t13 ok",
                                        partitions={"report_date": value})
    assert cat.get(version_id).partitions == {"report_date": value}
    assert [a.id for a in cat.list(partitions={"report_date": value})] == [version_id]
    assert cat.get_latest("m", partitions={"report_date": value}).id == version_id


@pytest.mark.parametrize("value", [[("a", "b")], "a=b"], ids=["T13-pairs", "T13-string"])
def test_T13_partitions_must_be_a_mapping(guard: Guard, cat: ArtifactCatalog,
                                          value: object) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", partitions=value)  # type: ignore[arg-type]


# -- T15/T16 hostile strings are data ---------------------------------------------------------

HOSTILE = ["<img src=x onerror=alert(1)>", "javascript:alert(1)", "{{7*7}}", "${7*7}",
           "<script>alert(1)</script>", "'; DROP TABLE versions; --", "]--> X; click A call e()"]


@pytest.mark.parametrize("text", HOSTILE, ids=[f"T15-{i}" for i in range(len(HOSTILE))])
def test_T15_hostile_strings_stored_verbatim(cat: ArtifactCatalog, text: str) -> None:
    version_id = cat.register("m", tags={"note": text}, metadata={"note": text, text: 1},
                              description=text)
    art = cat.get(version_id)
    assert art.tags == {"note": text}
    assert art.metadata == {"note": text, text: 1}
    assert art.description == text
    cat.tag(version_id, note2=text)
    assert cat.get(version_id).tags["note2"] == text


def test_T16_prototype_keys_stored_verbatim(cat: ArtifactCatalog) -> None:
    metadata = {"__proto__": {"polluted": True}, "constructor": {"prototype": {"x": 1}},
                "prototype": "p", "toString": "s", "hasOwnProperty": 1}
    version_id = cat.register("m", metadata=metadata)
    assert cat.get(version_id).metadata == metadata
    assert dict(cat.get(version_id))["metadata"] == metadata
