"""``list`` with a time as a partition value: it matches the stored instant and every
granularity bucket holding it (docs/concepts.md, "Time partitions").

``get_latest("report", partitions={"report_date": datetime(2023, 10, 26, 13, 5)})`` finds
a version stored with that instant, or with ``2023-10-26`` by a step declaring the
partition by day, on every backend: the time becomes its accepted spellings
(:func:`archivist.timepartitions.spellings`, ``ListFilter.partition_spellings``), which a
backend answers in one query — one request to a catalog server — in the order and page
asked for.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archivist import timepartitions
from archivist.backends.base import Backend
from archivist.catalog.arguments import list_filter
from archivist.model import Artifact, ListFilter


def list_matching(backend: Backend, project: str, partitions: Any, *, limit: int,
                  offset: int, **filters: Any) -> list[Artifact]:
    """``list_versions`` of :func:`time_filter`.

    Raises:
        InvalidNameError, InvalidInputError: a bad filter or page.
    """
    return backend.list_versions(time_filter(project, partitions, limit=limit, offset=offset,
                                             **filters))


def time_filter(project: str, partitions: Any, **filters: Any) -> ListFilter:
    """The :func:`~archivist.catalog.arguments.list_filter` of ``filters``, a time among
    ``partitions`` matching its buckets too.

    Raises:
        InvalidNameError, InvalidInputError: a bad filter or page.
    """
    checked = list_filter(project, partitions=partitions, **filters)
    exact, accepted = timepartitions.spellings(checked.partitions)
    return replace(checked, partitions=exact, partition_spellings=accepted)
