"""wire.py: every record survives a JSON round trip, and decoders refuse bad shapes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archivist import wire
from archivist.backends.base import LineageRows, ListFilter, NewRun, NewVersion
from archivist.errors import (
    ArchivistError,
    ArtifactNotFoundError,
    ConflictError,
    InvalidInputError,
    InvalidQueryError,
    PermissionDeniedError,
    StorageError,
)
from archivist.model import Artifact, HistoryEntry, RunRecord, TaskRecord

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), texts)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)), max_leaves=10)
moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1),
                       timezones=st.just(UTC))


@st.composite
def artifacts(draw: st.DrawFn) -> Artifact:
    return Artifact(
        id=draw(st.uuids()).hex, name=draw(names), version=draw(st.integers(1, 10**6)),
        artifact_type=draw(names), project=draw(names), created_at=draw(moments),
        digest=draw(st.none() | st.just("sha256:" + "a" * 64)),
        size=draw(st.none() | st.integers(0, 2**62)),
        kind=draw(st.sampled_from(["file", "directory", "reference", "none"])),
        format=draw(st.none() | names), reference_uri=draw(st.none() | texts),
        storage_path=draw(st.none() | texts),
        metadata=draw(st.dictionaries(texts, json_values, max_size=4)),
        tags=draw(st.dictionaries(names, scalars, max_size=4)),
        aliases=draw(st.lists(names, max_size=3)),
        partitions=draw(st.dictionaries(names, texts, max_size=3)),
        parent_ids=draw(st.lists(names, max_size=3)), description=draw(st.none() | texts),
        source_step=draw(st.none() | texts), source_run_id=draw(st.none() | texts),
        source_pipeline=draw(st.none() | texts), user=draw(st.none() | texts),
        code_version=draw(st.none() | texts), deleted=draw(st.booleans()))


@st.composite
def new_versions(draw: st.DrawFn) -> NewVersion:
    return NewVersion(
        id=draw(names), project=draw(names), name=draw(names), artifact_type=draw(names),
        created_at=draw(st.floats(0, 4e9)), kind=draw(st.sampled_from(["file", "none"])),
        format=draw(st.none() | names), digest=draw(st.none() | st.just("sha256:" + "b" * 64)),
        size=draw(st.none() | st.integers(0, 2**62)), reference_uri=draw(st.none() | texts),
        metadata=draw(st.dictionaries(texts, json_values, max_size=4)),
        tags=draw(st.dictionaries(names, scalars, max_size=4)),
        aliases=tuple(draw(st.lists(names, max_size=3))),
        partitions=draw(st.dictionaries(names, texts, max_size=3)),
        parent_ids=tuple(draw(st.lists(names, max_size=3))),
        blob_digests=tuple(draw(st.lists(st.just("sha256:" + "c" * 64), max_size=2))),
        description=draw(st.none() | texts), source_step=draw(st.none() | texts),
        source_run_id=draw(st.none() | texts), source_pipeline=draw(st.none() | texts),
        user=draw(st.none() | texts), code_version=draw(st.none() | texts),
        version=draw(st.none() | st.integers(1, 1000)))


@st.composite
def filters(draw: st.DrawFn) -> ListFilter:
    return ListFilter(
        project=draw(names), artifact_type=draw(st.lists(names, max_size=3)),
        name=draw(st.none() | names), tags=draw(st.dictionaries(names, scalars, max_size=3)),
        partitions=draw(st.dictionaries(names, texts.filter(bool), max_size=3)),
        partition_spellings=draw(st.dictionaries(names, st.lists(st.tuples(
            texts.filter(bool), st.none() | st.sampled_from(["hour", "day", "month"])),
            min_size=1, max_size=4).map(tuple), max_size=2)),
        since=draw(st.none() | st.floats(0, 4e9)), until=draw(st.none() | st.floats(0, 4e9)),
        source_step=draw(st.none() | texts), source_run_id=draw(st.none() | texts),
        source_pipeline=draw(st.none() | texts), digest=draw(st.none() | texts),
        kind=draw(st.none() | st.sampled_from(["file", "reference"])),
        latest_only=draw(st.booleans()), include_deleted=draw(st.booleans()),
        oldest_first=draw(st.booleans()), limit=draw(st.integers(1, wire.MAX_PAGE)),
        offset=draw(st.integers(0, 10**9)))


def through_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


@settings(max_examples=150, deadline=None)
@given(artifacts())
def test_artifact_round_trips(artifact: Artifact) -> None:
    assert wire.artifact_from_dict(through_json(wire.artifact_to_dict(artifact))) == artifact
    again = wire.artifact_from_dict(through_json(artifact.to_dict()))
    assert (again.created_at, again.tags, again.deleted) == (
        artifact.created_at, artifact.tags, artifact.deleted)


@settings(max_examples=150, deadline=None)
@given(new_versions())
def test_new_version_round_trips(record: NewVersion) -> None:
    assert wire.new_version_from_dict(through_json(wire.new_version_to_dict(record))) == record


@settings(max_examples=200, deadline=None)
@given(filters())
def test_filter_round_trips_through_query_parameters(filters: ListFilter) -> None:
    params = wire.filter_to_params(filters)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params)
    decoded = wire.filter_from_params(filters.project, params)
    assert replace(decoded, artifact_type=list(decoded.artifact_type)) == replace(
        filters, artifact_type=list(filters.artifact_type))
    for key, value in filters.tags.items():  # 1 and True, 1.0 and 1 compare equal: check types
        assert type(decoded.tags[key]) is type(value)


@settings(max_examples=300, deadline=None)
@given(scalars)
def test_tag_values_keep_their_type(value: Any) -> None:
    decoded = wire.decode_tag_value(wire.encode_tag_value(value))
    assert decoded == value and type(decoded) is type(value)


def test_tag_values_on_the_wire_read_as_written_by_hand() -> None:
    assert wire.decode_tag_value("production") == "production"
    assert wire.decode_tag_value("0.9") == 0.9
    assert wire.decode_tag_value("true") is True
    assert wire.decode_tag_value('"3"') == "3"
    assert wire.decode_tag_value("NaN") == "NaN"
    assert wire.decode_tag_value("[1]") == "[1]"
    assert wire.encode_tag_value("3") == '"3"'
    assert wire.encode_tag_value("prod") == "prod"


def test_history_and_lineage_round_trip() -> None:
    entry = HistoryEntry(at=datetime(2024, 5, 1, 12, 0, 0, 123456, UTC), kind="tag",
                         key="stage", old=None, new={"x": [1]}, version_id="v1", user="ana")
    assert wire.history_entry_from_dict(through_json(wire.history_entry_to_dict(entry))) == entry
    rows = LineageRows(parents=["a"], children=["b", "c"], upstream=["a", "z"],
                       downstream=["b"], edges=[("a", "x"), ("x", "b")])
    assert wire.lineage_from_dict(through_json(wire.lineage_to_dict(rows))) == rows


@given(st.integers(0, 10**15))
def test_cursor_round_trips(offset: int) -> None:
    assert wire.decode_cursor(wire.encode_cursor(offset)) == offset


@pytest.mark.parametrize("cursor", ["", "!!", "bm90IGEgY3Vyc29y", wire.encode_cursor(1)[:-1]])
def test_a_cursor_the_api_did_not_hand_out_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidInputError, match="cursor"):
        wire.decode_cursor(cursor)


def test_pages() -> None:
    assert wire.page_from_params([]) == (100, 0)
    assert wire.page_from_params(wire.page_to_params(7, 21)) == (7, 21)
    assert wire.next_cursor(0, 10, 10) == wire.encode_cursor(10)
    assert wire.next_cursor(0, 10, 9) is None
    assert wire.page_from_params([("q", "x"), ("limit", "5")], known=["q"]) == (5, 0)


@pytest.mark.parametrize("params, message", [
    ([("limit", "0")], "limit"), ([("limit", "1001")], "limit"), ([("limit", "x")], "limit"),
    ([("bogus", "1")], "unknown query parameter"),
    ([("name", "a"), ("name", "b")], "more than once"),
    ([("tag", "novalue")], "key:value"), ([("since", "yesterday")], "since"),
    ([("partition_in", "dt:2021-01-01")], "key:granularity:value"),
    ([("since", "nan")], "since"), ([("order", "random")], "order"),
    ([("latest_only", "maybe")], "latest_only"),
])
def test_bad_query_parameters_are_refused(params: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        wire.filter_from_params("p", params)


def test_new_version_decoder_refuses_what_it_does_not_understand() -> None:
    good = wire.new_version_to_dict(NewVersion(id="i", project="p", name="n",
                                               artifact_type="File", created_at=1.0))
    with pytest.raises(InvalidInputError, match="unknown field"):
        wire.new_version_from_dict({**good, "admin": True})
    with pytest.raises(InvalidInputError, match="missing"):
        wire.new_version_from_dict({k: v for k, v in good.items() if k != "name"})
    with pytest.raises(InvalidInputError, match="'size' must be an integer"):
        wire.new_version_from_dict({**good, "size": True})
    with pytest.raises(InvalidInputError, match="'aliases' must be a list of strings"):
        wire.new_version_from_dict({**good, "aliases": [1]})
    with pytest.raises(InvalidInputError, match="JSON object"):
        wire.new_version_from_dict([good])


def test_artifact_decoder_ignores_unknown_and_derived_keys() -> None:
    art = Artifact(id="i", name="n", version=1, artifact_type="File", project="p",
                   created_at=datetime(2024, 1, 1, tzinfo=UTC))
    data = {**art.to_dict(), "from_a_newer_server": 1}
    assert wire.artifact_from_dict(data) == art
    with pytest.raises(InvalidInputError, match="created_at"):
        wire.artifact_from_dict({**data, "created_at": "yesterday"})
    naive = wire.artifact_from_dict({**data, "created_at": "2024-01-01T00:00:00"})
    assert naive.created_at == art.created_at


@pytest.mark.parametrize("error", [
    ArtifactNotFoundError("no artifact named 'x'", ref="x"),
    ConflictError("busy"), PermissionDeniedError("read-only key"),
    InvalidQueryError("unexpected ')'", position=4, token=")"),
])
def test_errors_round_trip_as_the_same_class(error: ArchivistError) -> None:
    envelope = through_json(wire.error_to_dict(error))
    rebuilt = wire.error_from_dict(type(error).status, envelope)
    assert type(rebuilt) is type(error)
    assert str(rebuilt) == str(error)
    assert rebuilt.details == error.details
    if isinstance(error, InvalidQueryError):
        assert isinstance(rebuilt, InvalidQueryError)
        assert (rebuilt.position, rebuilt.token) == (4, ")")


def test_a_not_found_error_is_still_a_key_error_remotely() -> None:
    envelope = wire.error_to_dict(ArtifactNotFoundError("gone"))
    with pytest.raises(KeyError):
        raise wire.error_from_dict(404, envelope)


@pytest.mark.parametrize("status, cls", [(404, ArtifactNotFoundError), (409, ConflictError),
                                         (403, PermissionDeniedError), (502, StorageError),
                                         (422, InvalidInputError)])
def test_a_body_that_is_not_an_envelope_maps_by_status(status: int, cls: type) -> None:
    error = wire.error_from_dict(status, "<html>Bad Gateway</html>")
    assert type(error) is cls and "Bad Gateway" in str(error)
    unknown = wire.error_from_dict(status, {"error": {"type": "from_the_future", "message": "m"}})
    assert type(unknown) is cls and str(unknown) == "m"


@st.composite
def new_runs(draw: st.DrawFn) -> NewRun:
    return NewRun(
        id=draw(names), project=draw(names), pipeline=draw(names),
        started_at=draw(st.floats(0, 4e9)), kind=draw(st.sampled_from(["pipeline", "flow"])),
        status=draw(st.sampled_from(["running", "failed"])),
        ended_at=draw(st.none() | st.floats(0, 4e9)),
        parameters=draw(st.dictionaries(texts, json_values, max_size=3)),
        user=draw(st.none() | texts), host=draw(st.none() | texts),
        code_version=draw(st.none() | texts), code_dirty=draw(st.none() | st.booleans()),
        source_hash=draw(st.none() | texts), error=draw(st.none() | texts),
        details=draw(st.dictionaries(texts, json_values, max_size=3)),
        number=draw(st.none() | st.integers(1, 10**6)))


@settings(max_examples=100, deadline=None)
@given(new_runs())
def test_new_run_round_trips(run: NewRun) -> None:
    assert wire.new_run_from_dict(through_json(wire.new_run_to_dict(run))) == run


def test_run_and_task_records_round_trip_and_refuse_bad_shapes() -> None:
    started = datetime(2024, 1, 1, tzinfo=UTC)
    task = TaskRecord(id="t", run_id="r", step="train", started_at=started,
                      consumed=["a"], data={"model": "v"})
    run = RunRecord(id="r", project="p", pipeline="flow", number=3, started_at=started,
                    tasks=[task], parameters={"lr": 0.1})
    assert wire.run_from_dict(through_json(run.to_dict())) == run
    assert wire.task_from_dict(through_json(task.to_dict())) == task
    with pytest.raises(InvalidInputError, match="malformed run"):
        wire.run_from_dict({"id": "r"})
    with pytest.raises(InvalidInputError, match="unknown field"):
        wire.new_run_from_dict({**wire.new_run_to_dict(NewRun("i", "p", "f", 1.0)), "x": 1})
