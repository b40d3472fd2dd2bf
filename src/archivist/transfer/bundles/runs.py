"""Reading the run records of a bundle (``runs.jsonl``: one ``RunRecord.to_dict()`` per
line) before they reach a backend. A bundle is untrusted input: its JSON must have
exactly the keys and types of a run record, and the values are then checked with the
rules every writer of runs shares (:func:`archivist.records.check_run_record`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from archivist import names
from archivist.errors import InvalidInputError
from archivist.limits import MAX_NUMBER
from archivist.model import RUN_KINDS, RUN_STATUSES, RunRecord, TaskRecord
from archivist.records import check_run_record

_RUN_KEYS = frozenset({
    "id", "project", "pipeline", "number", "pathspec", "kind", "status", "started_at",
    "ended_at", "parameters", "user", "host", "code_version", "code_dirty", "source_hash",
    "error", "consumed", "produced", "tasks", "details"})
_TASK_KEYS = frozenset({
    "id", "run_id", "step", "index", "status", "started_at", "ended_at", "cached",
    "cache_key", "error", "consumed", "produced", "data", "details"})


def run_from_dict(raw: object, where: str) -> RunRecord:
    """One line of ``runs.jsonl`` as a record.

    Raises:
        InvalidInputError: unknown or missing keys, or a value the run API would refuse.
        InvalidNameError: a malformed project or pipeline name.
    """
    doc = _object(raw, _RUN_KEYS, where, "run record")
    run_id = _id(doc["id"], where, "id")
    pipeline = _str(doc["pipeline"], where, "pipeline")
    number = _int(doc["number"], where, "number", 1)
    if doc["pathspec"] != f"{pipeline}/{number}":
        raise InvalidInputError(f"{where}: pathspec does not match pipeline and number")
    tasks = [_task(t, f"{where} task {i}", run_id)
             for i, t in enumerate(_list(doc["tasks"], where, "tasks"))]
    if len({(t.step, t.index) for t in tasks}) != len(tasks):
        raise InvalidInputError(f"{where}: two tasks share a step and index")
    dirty = doc["code_dirty"]
    if dirty is not None and not isinstance(dirty, bool):
        raise InvalidInputError(f"{where}: code_dirty must be true, false or null")
    started = _time(doc["started_at"], where, "started_at")
    if started is None:
        raise InvalidInputError(f"{where}: started_at is required")
    return check_run_record(RunRecord(
        id=run_id, project=_str(doc["project"], where, "project"), pipeline=pipeline,
        number=number, started_at=started, kind=_choice(doc["kind"], RUN_KINDS, where, "kind"),
        status=_choice(doc["status"], RUN_STATUSES, where, "status"),
        ended_at=_time(doc["ended_at"], where, "ended_at"),
        parameters=_dict(doc["parameters"], where, "parameters"),
        user=_opt_str(doc["user"], where, "user"), host=_opt_str(doc["host"], where, "host"),
        code_version=_opt_str(doc["code_version"], where, "code_version"), code_dirty=dirty,
        source_hash=_opt_str(doc["source_hash"], where, "source_hash"),
        error=_opt_str(doc["error"], where, "error"),
        consumed=_ids(doc["consumed"], where, "consumed"),
        produced=_ids(doc["produced"], where, "produced"), tasks=tasks,
        details=_dict(doc["details"], where, "details")))


def _task(raw: object, where: str, run_id: str) -> TaskRecord:
    doc = _object(raw, _TASK_KEYS, where, "task")
    if doc["run_id"] != run_id:
        raise InvalidInputError(f"{where}: run_id is not the run's id")
    if not isinstance(doc["cached"], bool):
        raise InvalidInputError(f"{where}: cached must be true or false")
    data = _dict(doc["data"], where, "data")
    for key, value in data.items():
        _id(value, where, f"data.{key}")
    return TaskRecord(
        id=_id(doc["id"], where, "id"), run_id=run_id, step=_str(doc["step"], where, "step"),
        index=_int(doc["index"], where, "index", 0),
        status=_choice(doc["status"], RUN_STATUSES, where, "status"),
        started_at=_time(doc["started_at"], where, "started_at"),
        ended_at=_time(doc["ended_at"], where, "ended_at"), cached=doc["cached"],
        cache_key=_opt_str(doc["cache_key"], where, "cache_key"),
        error=_opt_str(doc["error"], where, "error"),
        consumed=_ids(doc["consumed"], where, "consumed"),
        produced=_ids(doc["produced"], where, "produced"), data=dict(data),
        details=_dict(doc["details"], where, "details"))


def _object(raw: object, keys: frozenset[str], where: str, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or set(raw) != keys:
        got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise InvalidInputError(f"{where}: a {what} must have exactly the keys {sorted(keys)}, "
                                f"got {got}")
    return raw


def _id(value: object, where: str, key: str) -> str:
    if not isinstance(value, str) or not names.ID_PATTERN.fullmatch(value):
        raise InvalidInputError(f"{where}: {key} must be an id")
    return value


def _ids(value: object, where: str, key: str) -> list[str]:
    return [_id(v, where, key) for v in _list(value, where, key)]


def _str(value: object, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{where}: {key} must be a string")
    return value


def _opt_str(value: object, where: str, key: str) -> str | None:
    return None if value is None else _str(value, where, key)


def _list(value: object, where: str, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInputError(f"{where}: {key} must be a list")
    return value


def _dict(value: object, where: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where}: {key} must be an object")
    return value


def _int(value: object, where: str, key: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_NUMBER:
        raise InvalidInputError(f"{where}: {key} must be an integer from {low}")
    return value


def _choice(value: object, allowed: tuple[str, ...], where: str, key: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInputError(f"{where}: {key} must be one of {', '.join(allowed)}")
    return value


def _time(value: object, where: str, key: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{where}: {key} must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"{where}: {key} {value[:40]!r} is not an ISO 8601 time") \
            from None
    if parsed.tzinfo is None:
        raise InvalidInputError(f"{where}: {key} must carry a UTC offset")
    return parsed
