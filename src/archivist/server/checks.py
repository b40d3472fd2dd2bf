"""The server's second look at what a request asks to write: the record rules every
writer shares (:mod:`archivist.records`, applied again because a request need not come
from our client), that the record is for the project of the path, and that a version
describes the bytes the server holds for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from archivist import records
from archivist.errors import InvalidInputError
from archivist.model import NewRun, NewVersion, TaskRecord
from archivist.records import check_version_id
from archivist.store.blobs import Blobs
from archivist.store.manifest import MAX_MANIFEST_BYTES, Manifest

__all__ = ["check_content", "check_new_run", "check_new_version", "check_task",
           "check_version_id"]


def check_new_version(record: NewVersion, project: str) -> NewVersion:
    """``record`` normalized (:func:`archivist.records.check_new_version`; no ``file://``
    references), if it is for ``project``.

    Raises:
        InvalidNameError, InvalidInputError: as the records rule, or another project.
    """
    if record.project != project:
        raise InvalidInputError(f"version {record.id!r:.60} is for project "
                                f"{record.project!r:.60}, but was sent to project {project!r}")
    return records.check_new_version(record, allow_file_uri=False)


def check_new_run(run: NewRun, project: str) -> NewRun:
    """``run`` normalized (:func:`archivist.records.check_new_run`), if it is for
    ``project``.

    Raises:
        InvalidNameError, InvalidInputError: as the records rule, or another project.
    """
    if run.project != project:
        raise InvalidInputError(f"run {run.id!r:.60} is for project {run.project!r:.60}, "
                                f"but was sent to project {project!r}")
    return records.check_new_run(run)


def check_task(task: TaskRecord, run_id: str, task_id: str) -> TaskRecord:
    """``task`` normalized (:func:`archivist.records.check_task`), if it is task
    ``task_id`` of run ``run_id`` (the path's).

    Raises:
        InvalidNameError, InvalidInputError: as the records rule, or other ids.
    """
    if task.run_id != run_id or task.id != task_id:
        raise InvalidInputError("the task's id and run_id must equal those of the path")
    return records.check_task(task)


def check_content(record: NewVersion, blobs: Blobs, sizes: Mapping[str, int]) -> None:
    """Whether ``record`` describes the bytes the store holds for it; ``sizes`` holds the
    size of each of its blobs, as the store reported them.

    A file's ``size`` must be its blob's; a directory's manifest must be one the client
    would accept on download (no ``../``, absolute or ``.git`` paths, no setuid bits …),
    list only files among the record's ``blob_digests``, and add up to its ``size``.

    Raises:
        InvalidInputError: naming the first mismatch.
    """
    # (that a file's or directory's digest is among its blobs is a record rule, checked)
    if record.kind not in ("file", "directory") or record.digest is None:
        return
    stored = sizes[record.digest]
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
