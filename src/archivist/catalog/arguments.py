"""The façade's arguments, checked and turned into what a backend takes: list filters,
page bounds, lineage directions and depths."""

from __future__ import annotations

import builtins
import getpass
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeAlias, TypedDict

from archivist import names
from archivist.errors import InvalidInputError
from archivist.limits import MAX_LINEAGE_DEPTH, MAX_LIST
from archivist.model import Artifact, ListFilter
from archivist.timeutil import to_epoch

#: ``list`` is also a method name of the catalog; annotate with this alias inside it.
Artifacts: TypeAlias = builtins.list[Artifact]
#: A partition value as given: text, or a datetime or date (stored as ISO text, in UTC).
Partitions: TypeAlias = Mapping[str, str | date]



class VersionFields(TypedDict, total=False):
    """Keyword arguments of ``register`` that describe a version, not its content:
    what ``register_artifact`` and the ``log_*`` helpers pass on (typed, written once)."""

    tags: Mapping[str, Any] | None
    aliases: Sequence[str] | None
    parent_ids: Sequence[str] | None
    partitions: Partitions | None
    description: str | None
    source_step: str | None
    source_run_id: str | None
    source_pipeline: str | None
    project: str | None
    code_version: str | None


class LogFields(VersionFields, total=False):
    """What the ``log_*`` helpers pass on to ``register``: :class:`VersionFields`, a type
    instead of the helper's, and metadata merged over the helper's keys."""

    artifact_type: str | None
    metadata: Mapping[str, Any] | None


class Filters(TypedDict, total=False):
    """Filters of ``list`` besides the name and page, for the calls that pass them on
    (``list_artifacts``, ``get_latest``)."""

    artifact_type: str | Sequence[str] | None
    tags: Mapping[str, Any] | None
    partitions: Partitions | None
    since: datetime | str | float | None
    until: datetime | str | float | None
    latest_only: bool
    source_step: str | None
    source_run_id: str | None
    source_pipeline: str | None
    project: str | None


_DIRECTIONS = {"both": "both", "up": "up", "upstream": "up", "parents": "up", "down": "down",
               "downstream": "down", "children": "down"}


def list_filter(project: str, *, artifact_type: Any = None, tags: Any = None,
                partitions: Any = None, since: Any = None, until: Any = None,
                limit: int = 100, offset: int = 0, **rest: Any) -> ListFilter:
    """The :class:`ListFilter` of a ``list`` call in ``project`` (already checked).

    Raises:
        InvalidNameError, InvalidInputError: a bad type, name, tag, partition, time or page.
    """
    types = [artifact_type] if isinstance(artifact_type, str) else list(artifact_type or ())
    for t in types:
        names.check_artifact_type(t)
    if rest.get("name") is not None:
        rest["name"] = names.check_name(rest["name"])
    limit, offset = page(limit, offset)
    return ListFilter(project=project, artifact_type=types, tags=names.check_tags(tags),
                      partitions=names.check_partitions(partitions), since=to_epoch(since),
                      until=to_epoch(until), limit=limit, offset=offset, **rest)


def page(limit: int, offset: int) -> tuple[int, int]:
    """``limit`` (1 to :data:`MAX_LIST`) and ``offset`` (0 or more), checked.

    Raises:
        InvalidInputError: anything else.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
        raise InvalidInputError(f"limit must be an integer from 1 to {MAX_LIST}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInputError("offset must be a non-negative integer")
    return limit, offset


def direction_of(direction: str) -> str:
    """``up``, ``down`` or ``both``, from any of their spellings.

    Raises:
        InvalidInputError: another word.
    """
    if direction not in _DIRECTIONS:
        raise InvalidInputError("direction must be 'up', 'down' or 'both'")
    return _DIRECTIONS[direction]


def depth_of(depth: int | None) -> int | None:
    """A lineage depth: 1 to :data:`~archivist.limits.MAX_LINEAGE_DEPTH`, or ``None``
    (unbounded).

    Raises:
        InvalidInputError: anything else.
    """
    if depth is None:
        return None
    if (isinstance(depth, bool) or not isinstance(depth, int)
            or not 1 <= depth <= MAX_LINEAGE_DEPTH):
        raise InvalidInputError(f"depth must be an integer from 1 to {MAX_LINEAGE_DEPTH} "
                                "(or None: unbounded)")
    return depth


def is_id(text: str) -> bool:
    """Whether ``text`` has the form of a version id."""
    return bool(names.ID_PATTERN.fullmatch(text))


def login() -> str:
    """The user recorded for changes made through a catalog opened without ``user=``."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
