"""The metadata-store contract: what every backend does, documented once.

A backend stores rows — versions, tags, aliases, partitions, lineage edges, history and
in-flight blob leases — for one catalog. It never sees bytes (that is ``store/``), never
validates user input (that is ``names.py``/``refs.py``, called by the catalog before any
backend), and raises only the typed errors of :mod:`archivist.errors`.

Rules every implementation keeps (``tests/contract`` checks them on each):

* ``create_versions`` is all-or-nothing: every record lands in one transaction or none
  does. Version numbers are assigned by the backend, gap-free per ``(project, name)``,
  never reused (tombstoned versions keep their numbers), and safe under concurrent writers
  in several processes.
* Names are unique per project case-insensitively: registering ``Fraud`` when ``fraud``
  exists raises ``ConflictError`` naming the existing spelling.
* ``get_*`` raise ``ArtifactNotFoundError`` (listing what does exist) and never return
  ``None``; deleted versions are found by id only (with ``deleted=True``).
* Reads see committed state only: a reader never sees version *k* of a name without *k-1*.
* Every tag and alias change writes one history entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from archivist.model import Artifact, HistoryEntry
from archivist.query.ast import Query
from archivist.refs import Ref


@dataclass(frozen=True)
class NewVersion:
    """A validated registration, ready to be written (the catalog builds it)."""

    id: str
    project: str
    name: str
    artifact_type: str
    created_at: float
    kind: str = "none"
    format: str | None = None
    digest: str | None = None
    size: int | None = None
    reference_uri: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    partitions: dict[str, str] = field(default_factory=dict)
    parent_ids: tuple[str, ...] = ()
    blob_digests: tuple[str, ...] = ()
    description: str | None = None
    source_step: str | None = None
    source_run_id: str | None = None
    source_pipeline: str | None = None
    user: str | None = None
    code_version: str | None = None
    #: version number to keep (bundle import); ``None`` lets the backend assign the next
    version: int | None = None


@dataclass(frozen=True)
class ListFilter:
    """Filters of ``list_versions``; every field set must hold."""

    project: str
    artifact_type: Sequence[str] = ()
    name: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    partitions: dict[str, str] = field(default_factory=dict)
    since: float | None = None
    until: float | None = None
    source_step: str | None = None
    source_run_id: str | None = None
    source_pipeline: str | None = None
    digest: str | None = None
    kind: str | None = None
    latest_only: bool = False
    include_deleted: bool = False
    oldest_first: bool = False
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class LineageRows:
    """Result of a lineage walk: ids within reach, per direction, and the edges seen."""

    parents: list[str]
    children: list[str]
    upstream: list[str]
    downstream: list[str]
    edges: list[tuple[str, str]]


class Backend(Protocol):
    """The metadata store. See the module docstring for the rules."""

    def create_versions(self, records: Sequence[NewVersion]) -> None:
        """Write new versions (with tags, aliases, partitions, edges, blob references).

        Raises:
            ArtifactNotFoundError: a parent id does not exist; nothing is written.
            ConflictError: a case-insensitive name clash, a duplicate id, or a busy store.
        """
        ...

    def get_version(self, ref: Ref, project: str) -> Artifact:
        """Resolve a parsed reference (id, name, name:N, name@alias) in ``project``.

        Raises:
            ArtifactNotFoundError: listing the live versions or close names that exist.
        """
        ...

    def get_versions_by_id(self, ids: Sequence[str]) -> list[Artifact]:
        """Records for these ids (deleted ones included), in the order given; missing skipped."""
        ...

    def list_versions(self, filters: ListFilter) -> list[Artifact]:
        """Live versions matching every filter, newest first (or oldest with the flag)."""
        ...

    def search(self, query: Query, project: str, limit: int, offset: int) -> list[Artifact]:
        """Live versions matching a parsed query (SPEC §3), in the query's order."""
        ...

    def spelling(self, project: str, name: str) -> str | None:
        """How ``name`` is spelled in ``project`` if it exists in any case, else ``None``."""
        ...

    def find_digest(self, digest: str, project: str) -> list[Artifact]:
        """Live versions of ``project`` whose content digest is ``digest``."""
        ...

    def update_tags(self, version_id: str, set_tags: dict[str, Any], remove: Sequence[str],
                    user: str | None) -> None:
        """Set and remove tags of a live version, recording each change in the history.

        Raises:
            ArtifactNotFoundError, ConflictError: version missing or deleted.
        """
        ...

    def set_alias(self, version_id: str, alias: str, user: str | None) -> None:
        """Point ``alias`` of the version's name at it, moving it if it pointed elsewhere.

        Raises:
            ConflictError: the version is deleted.
        """
        ...

    def remove_alias(self, project: str, name: str, alias: str, user: str | None) -> None:
        """Remove an alias.

        Raises:
            ArtifactNotFoundError: no such alias.
        """
        ...

    def delete_version(self, version_id: str, user: str | None) -> None:
        """Tombstone a version: hidden from list/search/latest, kept in lineage; its
        aliases are removed (recorded in history)."""
        ...

    def history(self, project: str, name: str) -> list[HistoryEntry]:
        """Every tag/alias/delete change of a name, oldest first."""
        ...

    def lineage(self, version_id: str, direction: str, depth: int | None) -> LineageRows:
        """Walk edges from a version; ``depth=None`` means unbounded. Terminates on cycles."""
        ...

    def blob_references(self) -> dict[str, bool]:
        """Every digest any version refers to -> True if a live version refers to it."""
        ...

    def lease_blobs(self, token: str, digests: Iterable[str], expires_at: float) -> None:
        """Record (or extend) an in-flight lease: gc keeps these digests until it expires."""
        ...

    def release_blobs(self, token: str) -> None:
        """Drop an in-flight lease (the registration committed or failed)."""
        ...

    def leased_digests(self, now: float) -> set[str]:
        """Digests under a lease that has not expired at ``now``."""
        ...

    def projects(self) -> list[str]:
        """Every project that has at least one version."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
