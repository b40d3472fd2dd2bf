"""A misspelt field is an error that names the field; a usual tag key stays a tag."""

from __future__ import annotations

import pytest

from archivist.errors import InvalidQueryError
from archivist.query import Compare, TagTerm, parse_query
from archivist.query.spelling import near, slips

#: tag keys people use; none may be mistaken for a misspelt field
TAG_KEYS = [
    "team", "stage", "owner", "env", "environment", "region", "status", "priority",
    "dataset", "model", "source", "domain", "tier", "site", "side", "state", "label",
    "kind", "group", "author", "creator", "framework", "task", "phase", "release",
    "branch", "commit", "ticket", "lang", "language", "scope", "zone", "lane", "split",
    "fold", "seed", "epoch", "metric", "score", "cost", "note", "notes", "purpose", "mode",
    "flavor", "variant", "experiment", "runner", "data", "date", "time", "stem", "stop",
    "game", "same", "tape", "tyre", "uses", "usage", "use", "usr", "typ", "sorted",
    "approved", "reviewed", "validated", "deployed", "meta", "customer", "client",
    "country", "city", "cluster", "node", "host", "gpu", "device", "queue", "pool",
    "batch", "layer", "family", "algorithm", "library", "runtime", "python", "origin",
    "vendor", "product", "service", "component", "module", "package", "feature", "flag",
    "sprint", "quarter", "year", "month", "week", "day", "hour", "shard", "tenant",
    "account", "email", "revision", "creation", "created_by", "runs", "ages", "pages",
    "username", "dept", "style", "frame", "plan", "digit", "person", "object", "pipe",
    "line", "alien", "upstream", "downstream", "f1", "f1_score", "accuracy",
]


@pytest.mark.parametrize("key", TAG_KEYS)
def test_usual_tag_keys_stay_tags(key: str) -> None:
    assert parse_query(f"{key}:x") == parse_query(f"tag.{key}:x")
    assert parse_query(f"{key}:x").terms == (TagTerm(key, ("x",)),)
    assert parse_query(f"{key}=1").terms == (Compare("tags", (key,), "=", 1.0),)


@pytest.mark.parametrize(("key", "keyword"), [
    ("tpye", "type"), ("tyoe", "type"), ("types", "type"), ("rype", "type"),
    ("nmae", "name"), ("names", "name"), ("anme", "name"),
    ("sise", "size"), ("szie", "size"), ("sizes", "size"),
    ("uaer", "user"), ("users", "user"), ("stpe", "step"), ("steps", "step"),
    ("alais", "alias"), ("aliaz", "alias"), ("srot", "sort"),
    ("projet", "project"), ("projects", "project"), ("verison", "version"),
    ("versions", "version"), ("pipline", "pipeline"), ("pipelines", "pipeline"),
    ("digets", "digest"), ("creatd", "created"), ("create", "created"),
    ("metdata", "metadata"), ("metadeta", "metadata"), ("meta_data", "metadata"),
    ("partiton", "partition"), ("partitons", "partitions"),
    ("downstream_of", "downstream-of"), ("downsteam-of", "downstream-of"),
    ("upstream_of", "upstream-of"), ("TPYE", "type"),
])
def test_near_misses_of_keywords(key: str, keyword: str) -> None:
    from archivist.query.terms import _KEYWORDS

    assert near(key, _KEYWORDS) == keyword


def test_the_message_names_the_field_and_the_tag_form() -> None:
    with pytest.raises(InvalidQueryError) as info:
        parse_query("fraud tpye:Model")
    assert info.value.position == 6
    assert str(info.value).startswith(
        "unknown field 'tpye'; did you mean 'type'? (to match a tag named 'tpye', write "
        "tag.tpye:Model)")
    assert parse_query("tag.tpye:Model").terms == (TagTerm("tpye", ("Model",)),)
    with pytest.raises(InvalidQueryError, match=r"did you mean 'size'\? \(to compare a tag "
                                                r"named 'sise', write tag\.sise>10MB\)"):
        parse_query("sise>10MB")
    with pytest.raises(InvalidQueryError, match=r"write -tag\.tpye:Model"):
        parse_query("-tpye:Model")
    with pytest.raises(InvalidQueryError, match=r"'metdata'; did you mean 'metadata'\?"):
        parse_query("metdata.accuracy>0.9")
    assert parse_query('"tpye":Model').terms == (TagTerm("tpye", ("Model",)),)


def test_a_dotted_key_is_compared_with_the_prefixes_only() -> None:
    assert parse_query("nmae.x:y").terms == (TagTerm("nmae.x", ("y",)),)
    with pytest.raises(InvalidQueryError, match="'tags'"):
        parse_query("tgas.x:y")


@pytest.mark.parametrize(("key", "keyword", "expected"), [
    ("tpye", "type", 1),  # swapped neighbours
    ("tyoe", "type", 1),  # o is next to p
    ("tape", "type", 2),  # a is not next to y
    ("typ", "type", 1), ("types", "type", 1),
    ("site", "size", 2),  # z is not next to t
    ("team", "name", 3), ("owner", "user", 3),  # 3: over the budget of 2
    ("metadata", "metadata", 0),
    ("downstream_of", "downstream-of", 1),  # one key, with and without shift
])
def test_slips(key: str, keyword: str, expected: int) -> None:
    assert slips(key, keyword, 2) == expected
