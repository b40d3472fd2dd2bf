"""One validator per record written to a metadata store, whoever sends it: a client of
the catalog server, a bundle being imported, and the catalog's own ``register`` (which
checks what a version says of itself, :func:`check_described`, before its bytes land).

Each function returns the record with its values normalized (aliases de-duplicated,
a reference URI's scheme lowercased) or raises the typed error naming the first rule
broken: ``InvalidNameError`` for a malformed id, name, alias or key, ``InvalidInputError``
for everything else.
"""

from __future__ import annotations

import math
from dataclasses import replace

from archivist import names
from archivist.errors import InvalidInputError, InvalidNameError
from archivist.limits import MAX_BLOBS, MAX_NUMBER
from archivist.model import (
    KINDS,
    RUN_KINDS,
    NewRun,
    NewVersion,
    RunRecord,
    TaskRecord,
    check_status,
)
from archivist.store.hashing import check_digest
from archivist.store.references import check_uri


def check_version_id(value: str, what: str = "version id") -> str:
    """Return ``value`` if it is a version id (UUIDv7).

    Raises:
        InvalidNameError: anything else (path traversal, names, refs).
    """
    if not isinstance(value, str) or not names.ID_PATTERN.fullmatch(value):
        raise InvalidNameError(f"invalid {what} {str(value)[:60]!r}: expected a UUIDv7 such "
                               "as 0193f0c2-9b7e-7c3a-8f00-1a2b3c4d5e6f")
    return value


def check_new_version(record: NewVersion, *, allow_file_uri: bool = False) -> NewVersion:
    """``record``, normalized, if it may be written: :func:`check_described`, then what
    it says of its content.

    Args:
        allow_file_uri: accept ``file:///…`` references (a bundle made from a local
            catalog); a catalog server refuses them.

    Raises:
        InvalidNameError: a malformed id, project, name, alias, tag key, type or parent id.
        InvalidInputError: a bad kind, time, size, number, digest or URI; blobs that do
            not fit the kind; metadata, tags, partitions or texts over the limits.
    """
    record = check_described(record)
    if record.kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}, got "
                                f"{record.kind!r:.40}")
    _check_time(record.created_at, "created_at", required=True)
    if record.size is not None and not 0 <= record.size < 2**63:
        raise InvalidInputError("size must be a non-negative 64-bit integer")
    _check_number(record.version, "version")
    if len(record.blob_digests) > MAX_BLOBS:
        raise InvalidInputError(f"{len(record.blob_digests)} blobs; the limit is {MAX_BLOBS}")
    blobs = tuple(check_digest(d) for d in record.blob_digests)
    digest = None if record.digest is None else check_digest(record.digest)
    _check_blobs(record.kind, digest, blobs, record.reference_uri)
    uri = None if record.reference_uri is None else check_uri(record.reference_uri,
                                                               allow_file=allow_file_uri)
    return replace(record, reference_uri=uri)


def check_described(record: NewVersion, *, typed: bool = True) -> NewVersion:
    """``record``, normalized, if what it says of itself may be written: its ids, names,
    aliases, parents, metadata, tags, partitions and texts (not its content). The
    catalog's ``register`` checks this much before any byte lands.

    Args:
        typed: the artifact type is known (``register`` may learn it from the content).

    Raises:
        InvalidNameError: a malformed id, project, name, alias, tag key, type or parent id.
        InvalidInputError: too many parents; metadata, tags, partitions or texts over the
            limits.
    """
    check_version_id(record.id)
    project = names.check_name(record.project, "project")
    name = names.check_name(record.name)
    if typed or record.artifact_type:
        names.check_artifact_type(record.artifact_type)
    check_parent_count(len(record.parent_ids))
    for parent in record.parent_ids:
        check_version_id(parent, "parent id")
    return replace(
        record, project=project, name=name, metadata=names.check_metadata(record.metadata),
        tags=names.check_tags(record.tags),
        aliases=tuple(dict.fromkeys(names.check_alias(a) for a in record.aliases)),
        parent_ids=tuple(dict.fromkeys(record.parent_ids)),
        partitions=names.check_partitions(record.partitions),
        description=names.check_text(record.description, "description",
                                     names.MAX_DESCRIPTION),
        format=names.check_text(record.format, "format", names.MAX_TYPE),
        source_step=names.check_text(record.source_step, "source_step"),
        source_run_id=names.check_text(record.source_run_id, "source_run_id"),
        source_pipeline=names.check_text(record.source_pipeline, "source_pipeline"),
        user=names.check_text(record.user, "user"),
        code_version=names.check_text(record.code_version, "code_version"))


def check_parent_count(count: int) -> None:
    """Raises ``InvalidInputError`` when a version names more parents than allowed."""
    if count > names.MAX_PARENTS:
        raise InvalidInputError(f"{count} parents; the limit is {names.MAX_PARENTS}")


def _check_blobs(kind: str, digest: str | None, blobs: tuple[str, ...],
                 reference_uri: object) -> None:
    """The blobs a record claims must be the ones its kind needs."""
    if kind == "file" and (digest is None or blobs != (digest,)):
        raise InvalidInputError("a file version needs its digest as its only blob")
    if kind == "directory" and (digest is None or not blobs or blobs[0] != digest):
        raise InvalidInputError("a directory version needs its manifest digest as its "
                                "first blob")
    if kind in ("reference", "none") and blobs:
        raise InvalidInputError(f"a {kind} version stores no blobs")
    if kind == "none" and digest is not None:
        raise InvalidInputError("a metadata-only version has no digest")
    if (kind == "reference") != (reference_uri is not None):
        raise InvalidInputError("reference_uri is set exactly for references")


def check_new_run(run: NewRun) -> NewRun:
    """``run``, normalized, if it may be created.

    Raises:
        InvalidNameError: a malformed id, project or pipeline name.
        InvalidInputError: an unknown kind or status, a bad time or number,
            parameters/details that are not JSON within limits.
    """
    check_version_id(run.id, "run id")
    project = names.check_name(run.project, "project")
    pipeline = names.check_name(run.pipeline, "pipeline")
    if run.kind not in RUN_KINDS:
        raise InvalidInputError(f"run kind must be one of {', '.join(RUN_KINDS)}")
    check_status(run.status)
    _check_time(run.started_at, "started_at", required=True)
    _check_time(run.ended_at, "ended_at")
    _check_number(run.number, "number")
    return replace(
        run, project=project, pipeline=pipeline, parameters=names.check_metadata(run.parameters),
        details=names.check_metadata(run.details), user=names.check_text(run.user, "user"),
        host=names.check_text(run.host, "host"),
        code_version=names.check_text(run.code_version, "code_version"),
        source_hash=names.check_text(run.source_hash, "source_hash"),
        error=names.check_text(run.error, "error", names.MAX_DESCRIPTION))


def check_run_record(run: RunRecord) -> RunRecord:
    """``run`` (a whole run, with its tasks: a bundle's), if it may be written: its run
    checked as :func:`check_new_run`, each task as :func:`check_task`, and the versions
    it links are ids.

    Raises:
        As :func:`check_new_run` and :func:`check_task`.
    """
    new = check_new_run(new_run_of(run))
    tasks = [check_task(t) for t in run.tasks]
    for version_id in (*run.consumed, *run.produced):
        check_version_id(version_id)
    return replace(run, pipeline=new.pipeline, parameters=new.parameters,
                   details=new.details, tasks=tasks)


def new_run_of(run: RunRecord) -> NewRun:
    """What creating ``run`` in another catalog writes (its number kept)."""
    return NewRun(
        id=run.id, project=run.project, pipeline=run.pipeline,
        started_at=run.started_at.timestamp(), kind=run.kind, status=run.status,
        ended_at=None if run.ended_at is None else run.ended_at.timestamp(),
        parameters=dict(run.parameters), user=run.user, host=run.host,
        code_version=run.code_version, code_dirty=run.code_dirty,
        source_hash=run.source_hash, error=run.error, details=dict(run.details),
        number=run.number)


def check_task(task: TaskRecord) -> TaskRecord:
    """``task``, normalized, if it may be saved.

    Raises:
        InvalidNameError: a malformed id, step name or version id.
        InvalidInputError: a bad status, index or time, or details/data that are not JSON
            within limits.
    """
    check_version_id(task.id, "task id")
    check_version_id(task.run_id, "run id")
    step = names.check_name(task.step, "step")
    check_status(task.status)
    if not 0 <= task.index < 2**31:
        raise InvalidInputError("index must be a non-negative 32-bit integer")
    for moment, what in ((task.started_at, "started_at"), (task.ended_at, "ended_at")):
        _check_time(None if moment is None else moment.timestamp(), what)
    for version_id in (*task.consumed, *task.produced, *task.data.values()):
        check_version_id(version_id)
    for key in task.data:
        names.check_text(key, "data key")
    return replace(task, step=step, details=names.check_metadata(task.details),
                   cache_key=None if task.cache_key is None else check_digest(task.cache_key),
                   error=names.check_text(task.error, "error", names.MAX_DESCRIPTION))


def _check_time(value: float | None, what: str, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if (value is None or isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value < 0):
        raise InvalidInputError(f"{what} must be a time in epoch seconds")


def _check_number(value: int | None, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or not 1 <= value <= MAX_NUMBER):
        raise InvalidInputError(f"{what} must be an integer from 1 to {MAX_NUMBER}")
