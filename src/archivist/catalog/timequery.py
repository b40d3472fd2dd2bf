"""``list`` with a time as a partition value: the union of the exact-match filters of
:func:`archivist.timepartitions.alternatives`, read from the backend and merged newest
first (docs/concepts.md, "Time partitions").

``get_latest("report", partitions={"report_date": datetime(2023, 10, 26, 13, 5)})`` finds
a version stored with that instant, or with ``2023-10-26`` by a step declaring the
partition by day, on every backend: each alternative is an ordinary partition filter, so
a catalog server answers it as it answers any ``list``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archivist import timepartitions
from archivist.backends.base import Backend
from archivist.catalog.arguments import list_filter, page
from archivist.limits import MAX_LIST
from archivist.model import Artifact


def list_matching(backend: Backend, project: str, partitions: Any, *, limit: int,
                  offset: int, **filters: Any) -> list[Artifact]:
    """``list_versions`` of the :func:`~archivist.catalog.arguments.list_filter` of
    ``filters``, a time among ``partitions`` matching its buckets too.

    Raises:
        InvalidNameError, InvalidInputError: a bad filter or page.
    """
    options = time_alternatives(partitions)
    if len(options) == 1:
        return backend.list_versions(list_filter(project, partitions=options[0], limit=limit,
                                                 offset=offset, **filters))
    limit, offset = page(limit, offset)
    wanted = limit + offset
    found: dict[str, Artifact] = {}
    for option in options:
        got = 0
        while got < wanted:
            size = min(MAX_LIST, wanted - got)
            chunk = backend.list_versions(list_filter(project, partitions=option, limit=size,
                                                      offset=got, **filters))
            for artifact in chunk:
                found.setdefault(artifact.id, artifact)
            got += len(chunk)
            if len(chunk) < size:
                break
    ordered = sorted(found.values(), key=lambda a: (a.created_at, a.id), reverse=True)
    return ordered[offset:offset + limit]


def time_alternatives(partitions: Any) -> list[Any]:
    """The alternatives of ``partitions``; anything but a non-empty mapping as it is (the
    filter checks it)."""
    if isinstance(partitions, Mapping) and partitions:
        return list(timepartitions.alternatives(partitions))
    return [partitions]
