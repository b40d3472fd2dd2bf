"""Records on the wire: versions, registrations, history, lineage, runs (see ``wire``)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from archivist.errors import InvalidInputError
from archivist.model import (
    Artifact,
    GcReport,
    HistoryEntry,
    LineageRows,
    NewRun,
    NewVersion,
    RunRecord,
    TaskRecord,
    VerifyReport,
)
from archivist.wire._shape import (
    as_list,
    as_object,
    get_bool,
    get_dict,
    get_int,
    get_number,
    get_str,
    get_str_dict,
    get_str_list,
    json_type,
    opt_bool,
    opt_int,
    opt_number,
    opt_str,
    refuse_unknown,
    require,
)

_NEW_VERSION_FIELDS = tuple(f.name for f in dataclasses.fields(NewVersion))
_NEW_RUN_FIELDS = tuple(f.name for f in dataclasses.fields(NewRun))
_OPTIONAL_TEXT = ("digest", "format", "reference_uri", "description", "source_step",
                  "source_run_id", "source_pipeline", "user", "code_version")


# -- Artifact -------------------------------------------------------------------------------
def artifact_to_dict(artifact: Artifact) -> dict[str, Any]:
    """The JSON form of a version (same as :meth:`Artifact.to_dict`)."""
    return artifact.to_dict()


def artifact_from_dict(data: object) -> Artifact:
    """Rebuild an :class:`Artifact` from :meth:`Artifact.to_dict` output.

    The derived keys (``artifact_id``, ``uri``) and unknown keys are ignored.

    Raises:
        InvalidInputError: a missing required field or a field of the wrong JSON type.
    """
    record = as_object(data, "artifact")
    require(record, ("id", "name", "version", "artifact_type", "project", "created_at"),
            "artifact")
    values: dict[str, Any] = {key: opt_str(record, key)
                              for key in (*_OPTIONAL_TEXT, "storage_path")}
    return Artifact(
        id=get_str(record, "id"), name=get_str(record, "name"),
        version=get_int(record, "version"), artifact_type=get_str(record, "artifact_type"),
        project=get_str(record, "project"),
        created_at=parse_timestamp(record["created_at"], "artifact.created_at"),
        kind=opt_str(record, "kind") or "none", size=opt_int(record, "size"),
        metadata=get_dict(record, "metadata"), tags=get_dict(record, "tags"),
        aliases=get_str_list(record, "aliases"), partitions=get_str_dict(record, "partitions"),
        parent_ids=get_str_list(record, "parent_ids"), deleted=get_bool(record, "deleted"),
        **values)


def artifacts_from_list(data: object, what: str = "data") -> list[Artifact]:
    """Decode a JSON list of artifacts (the ``data`` of a list response).

    Raises:
        InvalidInputError: not a list, or an element that is not an artifact.
    """
    return [artifact_from_dict(item) for item in as_list(data, what)]


def parse_timestamp(value: object, what: str = "timestamp") -> datetime:
    """An ISO 8601 string as an aware datetime (naive values are read as UTC).

    Raises:
        InvalidInputError: not a string in ISO 8601 form.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be an ISO 8601 string, got {json_type(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"{what} {value[:40]!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# -- NewVersion -----------------------------------------------------------------------------
def new_version_to_dict(record: NewVersion) -> dict[str, Any]:
    """``dataclasses.asdict(record)`` with tuples as lists (JSON has no tuples)."""
    out = dataclasses.asdict(record)
    for key in ("aliases", "parent_ids", "blob_digests"):
        out[key] = list(out[key])
    return out


def new_version_from_dict(data: object) -> NewVersion:
    """Rebuild a :class:`NewVersion` from :func:`new_version_to_dict` output.

    Raises:
        InvalidInputError: an unknown field, a missing required field, or a field of the
            wrong JSON type (the message names it).
    """
    record = as_object(data, "version")
    refuse_unknown(record, _NEW_VERSION_FIELDS, "a new version")
    require(record, ("id", "project", "name", "artifact_type", "created_at"), "version")
    values: dict[str, Any] = {key: opt_str(record, key) for key in _OPTIONAL_TEXT}
    return NewVersion(
        id=get_str(record, "id"), project=get_str(record, "project"),
        name=get_str(record, "name"), artifact_type=get_str(record, "artifact_type"),
        created_at=get_number(record, "created_at"), kind=opt_str(record, "kind") or "none",
        size=opt_int(record, "size"), version=opt_int(record, "version"),
        metadata=get_dict(record, "metadata"), tags=get_dict(record, "tags"),
        partitions=get_str_dict(record, "partitions"),
        aliases=tuple(get_str_list(record, "aliases")),
        parent_ids=tuple(get_str_list(record, "parent_ids")),
        blob_digests=tuple(get_str_list(record, "blob_digests")), **values)


# -- HistoryEntry ---------------------------------------------------------------------------
def history_entry_to_dict(entry: HistoryEntry) -> dict[str, Any]:
    """The JSON form of a history entry (same as :meth:`HistoryEntry.to_dict`)."""
    return entry.to_dict()


def history_entry_from_dict(data: object) -> HistoryEntry:
    """Rebuild a :class:`HistoryEntry` from :meth:`HistoryEntry.to_dict` output.

    Raises:
        InvalidInputError: a missing field or one of the wrong JSON type.
    """
    record = as_object(data, "history entry")
    require(record, ("at", "kind", "key"), "history entry")
    return HistoryEntry(at=parse_timestamp(record["at"], "history entry.at"),
                        kind=get_str(record, "kind"), key=get_str(record, "key"),
                        old=record.get("old"), new=record.get("new"),
                        version_id=opt_str(record, "version_id"), user=opt_str(record, "user"))


# -- LineageRows ----------------------------------------------------------------------------
def lineage_to_dict(rows: LineageRows) -> dict[str, Any]:
    """``{"parents","children","upstream","downstream","edges": [[parent, child], …]}``."""
    return {"parents": list(rows.parents), "children": list(rows.children),
            "upstream": list(rows.upstream), "downstream": list(rows.downstream),
            "edges": [[parent, child] for parent, child in rows.edges]}


def lineage_from_dict(data: object) -> LineageRows:
    """Rebuild :class:`LineageRows` from :func:`lineage_to_dict` output.

    Raises:
        InvalidInputError: a missing list, or an edge that is not a pair of strings.
    """
    record = as_object(data, "lineage")
    edges: list[tuple[str, str]] = []
    for edge in as_list(record.get("edges", []), "lineage.edges"):
        if (not isinstance(edge, list) or len(edge) != 2
                or not all(isinstance(end, str) for end in edge)):
            raise InvalidInputError("lineage.edges must be a list of [parent, child] id pairs")
        edges.append((edge[0], edge[1]))
    return LineageRows(parents=get_str_list(record, "parents"),
                       children=get_str_list(record, "children"),
                       upstream=get_str_list(record, "upstream"),
                       downstream=get_str_list(record, "downstream"), edges=edges)


# -- runs -----------------------------------------------------------------------------------
def new_run_to_dict(run: NewRun) -> dict[str, Any]:
    """``dataclasses.asdict(run)``."""
    return dataclasses.asdict(run)


def new_run_from_dict(data: object) -> NewRun:
    """Rebuild a :class:`NewRun` from :func:`new_run_to_dict` output.

    Raises:
        InvalidInputError: an unknown field, a missing required field, or a field of the
            wrong JSON type.
    """
    record = as_object(data, "run")
    refuse_unknown(record, _NEW_RUN_FIELDS, "a new run")
    require(record, ("id", "project", "pipeline", "started_at"), "run")
    return NewRun(
        id=get_str(record, "id"), project=get_str(record, "project"),
        pipeline=get_str(record, "pipeline"), started_at=get_number(record, "started_at"),
        kind=opt_str(record, "kind") or "pipeline", status=opt_str(record, "status") or "running",
        ended_at=opt_number(record, "ended_at"), parameters=get_dict(record, "parameters"),
        user=opt_str(record, "user"), host=opt_str(record, "host"),
        code_version=opt_str(record, "code_version"), code_dirty=opt_bool(record, "code_dirty"),
        source_hash=opt_str(record, "source_hash"), error=opt_str(record, "error"),
        details=get_dict(record, "details"), number=opt_int(record, "number"))


def run_from_dict(data: object) -> RunRecord:
    """:meth:`RunRecord.from_dict` with shape errors as ``InvalidInputError``.

    Raises:
        InvalidInputError: not a run record.
    """
    try:
        return RunRecord.from_dict(as_object(data, "run"))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"malformed run record: {exc!r}") from None


def task_from_dict(data: object) -> TaskRecord:
    """:meth:`TaskRecord.from_dict` with shape errors as ``InvalidInputError``.

    Raises:
        InvalidInputError: not a task record.
    """
    try:
        return TaskRecord.from_dict(as_object(data, "task"))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"malformed task record: {exc!r}") from None


# -- maintenance reports --------------------------------------------------------------------
_VERIFY_LISTS = ("corrupt", "missing", "suspicious", "changed_references", "unreferenced",
                 "stale_temp", "unchecked_references")


def verify_report_from_dict(data: object) -> VerifyReport:
    """Rebuild a :class:`VerifyReport` from its ``to_dict`` form (``ok`` is derived).

    Raises:
        InvalidInputError: a missing or mistyped field.
    """
    record = as_object(data, "verify report")
    require(record, ("checked",), "verify report")
    lists = {key: get_str_list(record, key) for key in _VERIFY_LISTS}
    return VerifyReport(checked=get_int(record, "checked"), **lists)


def gc_report_from_dict(data: object) -> GcReport:
    """Rebuild a :class:`GcReport` from its ``to_dict`` form.

    Raises:
        InvalidInputError: a missing or mistyped field.
    """
    record = as_object(data, "gc report")
    require(record, ("dry_run",), "gc report")
    return GcReport(dry_run=get_bool(record, "dry_run"), freed=get_str_list(record, "freed"),
                    freed_bytes=opt_int(record, "freed_bytes") or 0,
                    kept=get_str_dict(record, "kept"),
                    temp_removed=get_str_list(record, "temp_removed"))
