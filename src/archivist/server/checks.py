"""The server's second look at a registration: the same rules the client's catalog
applied (:mod:`archivist.names`, :mod:`archivist.refs`, :mod:`archivist.store`), because
a request need not come from our client.
"""

from __future__ import annotations

import math
from dataclasses import replace

from archivist import names
from archivist.backends.base import NewVersion
from archivist.errors import InvalidInputError, InvalidNameError
from archivist.model import KINDS
from archivist.store.hashing import check_digest
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
