"""The server's second look at a registration: the same rules the client's catalog
applied (:mod:`archivist.names`, :mod:`archivist.refs`, :mod:`archivist.store`), because
a request need not come from our client.
"""

from __future__ import annotations

import math
from dataclasses import replace

from archivist import names
from archivist.errors import InvalidInputError, InvalidNameError
from archivist.model import KINDS, RUN_KINDS, NewRun, NewVersion, TaskRecord, check_status
from archivist.store.blobs import Blobs
from archivist.store.hashing import check_digest
from archivist.store.manifest import MAX_MANIFEST_BYTES, Manifest
from archivist.store.references import check_uri

MAX_BLOBS = 1_000_000


def check_version_id(value: str, what: str = "version id") -> str:
    """Return ``value`` if it is a version id (UUIDv7).

    Raises:
        InvalidNameError: anything else (path traversal, names, refs).
    """
    if not names.ID_PATTERN.fullmatch(value):
        raise InvalidNameError(f"invalid {what} {value[:60]!r}: expected a UUIDv7 such as "
                               "0193f0c2-9b7e-7c3a-8f00-1a2b3c4d5e6f")
    return value


def check_new_version(record: NewVersion, project: str) -> NewVersion:
    """``record`` with its values normalized, if it may be registered in ``project``.

    Raises:
        InvalidNameError: a malformed id, name, alias, tag key, type or parent id.
        InvalidInputError: another project than the path's, a bad kind, time, size,
            digest, URI, or metadata/tags/partitions/texts over the limits of SPEC §9.
    """
    if record.project != project:
        raise InvalidInputError(f"version {record.id!r:.60} is for project "
                                f"{record.project!r:.60}, but was sent to project {project!r}")
    check_version_id(record.id)
    names.check_name(record.name)
    names.check_artifact_type(record.artifact_type)
    if record.kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}, got "
                                f"{record.kind!r:.40}")
    if not math.isfinite(record.created_at) or record.created_at < 0:
        raise InvalidInputError("created_at must be a time in epoch seconds")
    if record.size is not None and not 0 <= record.size < 2**63:
        raise InvalidInputError("size must be a non-negative 64-bit integer")
    if record.version is not None and not 1 <= record.version < 2**31:
        raise InvalidInputError("version must be a positive 32-bit integer")
    if len(record.parent_ids) > names.MAX_PARENTS:
        raise InvalidInputError(f"{len(record.parent_ids)} parents; the limit is "
                                f"{names.MAX_PARENTS}")
    for parent in record.parent_ids:
        check_version_id(parent, "parent id")
    if len(record.blob_digests) > MAX_BLOBS:
        raise InvalidInputError(f"{len(record.blob_digests)} blobs; the limit is {MAX_BLOBS}")
    for digest in record.blob_digests:
        check_digest(digest)
    if record.digest is not None:
        check_digest(record.digest)
    uri = None if record.reference_uri is None else check_uri(record.reference_uri,
                                                               allow_file=False)
    return replace(
        record, reference_uri=uri, metadata=names.check_metadata(record.metadata),
        tags=names.check_tags(record.tags),
        aliases=tuple(dict.fromkeys(names.check_alias(a) for a in record.aliases)),
        partitions=names.check_partitions(record.partitions),
        description=names.check_text(record.description, "description",
                                     names.MAX_DESCRIPTION),
        format=names.check_text(record.format, "format", 64),
        source_step=names.check_text(record.source_step, "source_step"),
        source_run_id=names.check_text(record.source_run_id, "source_run_id"),
        source_pipeline=names.check_text(record.source_pipeline, "source_pipeline"),
        user=names.check_text(record.user, "user"),
        code_version=names.check_text(record.code_version, "code_version"))


def check_content(record: NewVersion, blobs: Blobs) -> None:
    """Whether ``record`` describes the bytes the store holds for it (its blobs exist).

    A file's ``size`` must be its blob's; a directory's manifest must be one the client
    would accept on download (no ``../``, absolute or ``.git`` paths, no setuid bits …),
    list only files among the record's ``blob_digests``, and add up to its ``size``.

    Raises:
        InvalidInputError: naming the first mismatch.
    """
    if record.kind not in ("file", "directory") or record.digest is None:
        return
    if record.digest not in record.blob_digests:
        raise InvalidInputError(f"the {record.kind} version {record.name!r} has digest "
                                f"{record.digest}, which is not among its blob_digests")
    stored = blobs.size(record.digest)
    if record.kind == "file":
        if record.size is not None and record.size != stored:
            raise InvalidInputError(f"the version {record.name!r} says it is {record.size} "
                                    f"bytes, but blob {record.digest} holds {stored}")
        return
    if stored > MAX_MANIFEST_BYTES:
        raise InvalidInputError(f"the manifest of {record.name!r} is {stored} bytes; the "
                                f"limit is {MAX_MANIFEST_BYTES}")
    with blobs.open(record.digest) as handle:
        data = handle.read(MAX_MANIFEST_BYTES + 1)
    try:
        manifest = Manifest.from_bytes(data)
    except InvalidInputError as exc:
        raise InvalidInputError(f"the directory version {record.name!r} has a manifest "
                                f"the catalog refuses: {exc}") from None
    listed = set(record.blob_digests)
    unlisted = sorted({e.digest for e in manifest.entries} - listed)
    if unlisted:
        raise InvalidInputError(f"the manifest of {record.name!r} lists files whose blobs "
                                f"are not among its blob_digests: {', '.join(unlisted[:5])}",
                                digests=unlisted[:100])
    if record.size is not None and record.size != manifest.size:
        raise InvalidInputError(f"the directory version {record.name!r} says it is "
                                f"{record.size} bytes, but its files add up to "
                                f"{manifest.size}")


def _check_time(value: float | None, what: str) -> None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise InvalidInputError(f"{what} must be a time in epoch seconds")


def check_new_run(run: NewRun, project: str) -> NewRun:
    """``run`` normalized, if it may be created in ``project``.

    Raises:
        InvalidNameError: a malformed id or pipeline name.
        InvalidInputError: another project than the path's, an unknown kind or status,
            a bad time or number, parameters/details that are not JSON within limits.
    """
    if run.project != project:
        raise InvalidInputError(f"run {run.id!r:.60} is for project {run.project!r:.60}, "
                                f"but was sent to project {project!r}")
    check_version_id(run.id, "run id")
    names.check_name(run.pipeline, "pipeline")
    if run.kind not in RUN_KINDS:
        raise InvalidInputError(f"run kind must be one of {', '.join(RUN_KINDS)}")
    check_status(run.status)
    _check_time(run.started_at, "started_at")
    _check_time(run.ended_at, "ended_at")
    if run.number is not None and not 1 <= run.number < 2**31:
        raise InvalidInputError("number must be a positive 32-bit integer")
    return replace(
        run, parameters=names.check_metadata(run.parameters),
        details=names.check_metadata(run.details), user=names.check_text(run.user, "user"),
        host=names.check_text(run.host, "host"),
        code_version=names.check_text(run.code_version, "code_version"),
        source_hash=names.check_text(run.source_hash, "source_hash"),
        error=names.check_text(run.error, "error", names.MAX_DESCRIPTION))


def check_task(task: TaskRecord, run_id: str, task_id: str) -> TaskRecord:
    """``task`` normalized, if it may be saved as task ``task_id`` of run ``run_id``.

    Raises:
        InvalidNameError: a malformed id, step name or version id.
        InvalidInputError: ids that differ from the path's, a bad status, index, time,
            or details/data that are not JSON within limits.
    """
    if task.run_id != run_id or task.id != task_id:
        raise InvalidInputError("the task's id and run_id must equal those of the path")
    check_version_id(task.id, "task id")
    names.check_name(task.step, "step")
    check_status(task.status)
    if not 0 <= task.index < 2**31:
        raise InvalidInputError("index must be a non-negative 32-bit integer")
    for moment, what in ((task.started_at, "started_at"), (task.ended_at, "ended_at")):
        _check_time(None if moment is None else moment.timestamp(), what)
    for version_id in (*task.consumed, *task.produced, *task.data.values()):
        check_version_id(version_id)
    for key in task.data:
        names.check_text(key, "data key")
    return replace(task, details=names.check_metadata(task.details),
                   cache_key=None if task.cache_key is None else check_digest(task.cache_key),
                   error=names.check_text(task.error, "error", names.MAX_DESCRIPTION))
