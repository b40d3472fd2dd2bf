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
* Every tag, alias, description and name change writes one history entry in the same
  transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from archivist.model import (
    ApiKey,
    Artifact,
    HistoryEntry,
    LineageRows,
    ListFilter,
    NewRun,
    NewVersion,
    RunRecord,
    TaskRecord,
)
from archivist.query.ast import Query
from archivist.refs import Ref


class Backend(Protocol):
    """The metadata store. See the module docstring for the rules."""

    def create_versions(self, records: Sequence[NewVersion], *,
                        task: TaskRecord | None = None) -> None:
        """Write new versions (with tags, aliases, partitions, edges, blob references).

        Leases held under a record's id (``lease_blobs(record.id, …)``, as registration
        takes them) end in the same transaction: from then on the rows keep the blobs.
        ``task``, when given, is saved as :meth:`save_task` saves it, after the versions
        (a pipeline step's outputs and its finished task; in the same transaction where
        the backend can, else right after it); ``records`` may then be empty.

        Raises:
            ArtifactNotFoundError: a parent id does not exist (nothing is written), or
                no run has ``task.run_id``.
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

    def rename(self, project: str, old: str, new: str, user: str | None) -> None:
        """Rename the name ``old`` (exact spelling) to ``new``: every version, deleted ones
        too, keeps its id, number, tags, aliases, lineage and runs; the full-text index
        finds the new name; one ``rename`` history entry (``key`` the old spelling). ``new``
        equal to ``old`` changes nothing; a case-only change is a rename.

        Raises:
            ArtifactNotFoundError: no artifact is named ``old``.
            ConflictError: another name of the project folds to ``new``'s key.
        """
        ...

    def update_description(self, version_id: str, description: str | None,
                           user: str | None) -> None:
        """Replace a live version's description (``None`` clears it), reindex it for
        full-text search and record a ``description`` history entry (none if unchanged).

        Raises:
            ArtifactNotFoundError, ConflictError: version missing or deleted.
        """
        ...

    def update_metadata(self, version_id: str, set_keys: dict[str, Any],
                        remove: Sequence[str], user: str | None) -> None:
        """Set ``set_keys`` and remove ``remove`` (absent keys ignored) among a live
        version's top-level metadata keys, in one transaction: what search and full-text
        search see changes with it, and each changed key writes one ``metadata`` history
        entry (``key`` the metadata key). Bytes, digest and every other field stay.

        Raises:
            ArtifactNotFoundError, ConflictError: version missing or deleted.
            InvalidInputError: the merged metadata breaks the metadata rules (nothing
                changes), or a changed key is longer than 128 characters.
        """
        ...

    def history(self, project: str, name: str, *, version_id: str | None = None,
                limit: int | None = None) -> list[HistoryEntry]:
        """Every tag/alias/delete change of a name, oldest first; only those of one
        version with ``version_id``, only the newest ``limit`` with ``limit``.

        Raises:
            ArtifactNotFoundError: no artifact has this name in the project.
        """
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

    # -- runs: executions of pipelines, flows and steps (docs/pipelines.md) -------------
    # A run is created ``running``, gets tasks as its steps start and end, and is ended
    # once with ``update_run``. Runs are never deleted; the versions they link are
    # plain ids (a deleted version stays linked).

    def create_run(self, run: NewRun) -> RunRecord:
        """Create a run and return it with its ``number``.

        Numbers count ``(project, pipeline)`` from 1, gap-free and safe under concurrent
        creators (like version numbers); ``run.number`` set keeps that number instead and
        raises the counter past it. The returned record has no tasks and no versions.

        Raises:
            ConflictError: the id exists, or ``run.number`` is taken for that pipeline.
        """
        ...

    def get_run(self, ref: str, project: str) -> RunRecord:
        """The run ``ref`` names in ``project``: its id or its pathspec
        ``"<pipeline>/<number>"``, with its tasks (in start order) and its consumed and
        produced version ids (the union of its tasks' and of ``link_run_versions``).

        Raises:
            ArtifactNotFoundError: no such run; the message lists the pipeline's run
                numbers, or the project's pipelines when the pipeline is unknown.
        """
        ...

    def list_runs(self, project: str, pipeline: str | None, status: str | None,
                  limit: int, offset: int) -> list[RunRecord]:
        """Runs of ``project`` (of one pipeline, in one status, when given), newest first
        (by start time, then number), full records as :meth:`get_run` returns them."""
        ...

    def update_run(self, run_id: str, status: str, ended_at: float | None,
                   error: str | None, details: dict[str, Any] | None = None) -> None:
        """Set a run's status, end time and error text; ``details`` (when not ``None``)
        replaces the run's free JSON details.

        Raises:
            ArtifactNotFoundError: no run has this id.
        """
        ...

    def save_task(self, task: TaskRecord) -> None:
        """Insert or replace (by ``task.id``) one task of a run, and link the versions in
        its ``consumed``/``produced`` to the run. Call it when a task starts and again
        when it ends; ``(run, step, index)`` identifies at most one task.

        Raises:
            ArtifactNotFoundError: no run has ``task.run_id``.
            ConflictError: another task of the run already has this step and index.
        """
        ...

    def save_tasks(self, tasks: Sequence[TaskRecord]) -> None:
        """:meth:`save_task` of each task in order, in one transaction where the backend
        can (the cached steps of a re-run are written together).

        Raises:
            as :meth:`save_task`; in one transaction, nothing is then saved.
        """
        ...

    def link_run_versions(self, run_id: str, consumed: Sequence[str],
                          produced: Sequence[str]) -> None:
        """Link versions to a run outside any task (idempotent: links are a set).

        Raises:
            ArtifactNotFoundError: no run has this id.
        """
        ...

    def find_cached_task(self, project: str, cache_key: str) -> TaskRecord | None:
        """The newest ``succeeded`` task of any run of ``project`` whose ``cache_key`` is
        ``cache_key``, or ``None`` (a cache miss)."""
        ...

    def find_cached_outputs(self, project: str, cache_key: str
                            ) -> tuple[TaskRecord, list[Artifact]] | None:
        """:meth:`find_cached_task` and the records of the versions in its ``data``
        (:meth:`get_versions_by_id`), in one read where the backend can: what a cached
        step asks before answering from the cache."""
        ...


# -- the catalog server's own rows (API keys) and what it asks of the store ------------
# Not part of ``Backend``: a remote backend has no key table of its own. The server needs
# its backend to be a ``ServerStore`` as well (``SqlBackend`` is one).


@runtime_checkable
class ServerStore(Protocol):
    """API keys (see :mod:`archivist.keys`; the secret's hash is stored, never the secret)
    and the two questions a catalog server asks of the metadata store."""

    def create_key(self, key: ApiKey, secret_hash: str) -> None:
        """Store a new key with the SHA-256 (hex) of its secret.

        Raises:
            ConflictError: the id or the hash exists.
        """
        ...

    def get_key(self, key_id: str) -> ApiKey:
        """The key with this id, revoked or not.

        Raises:
            ArtifactNotFoundError: no such key.
        """
        ...

    def get_key_by_hash(self, secret_hash: str) -> tuple[ApiKey, str]:
        """The key whose secret hashes to ``secret_hash``, and the stored hash.

        Raises:
            ArtifactNotFoundError: no such key.
        """
        ...

    def list_keys(self, project: str | None) -> list[ApiKey]:
        """Every key (of ``project`` when given), oldest first, revoked ones included."""
        ...

    def revoke_key(self, key_id: str, at: float) -> None:
        """Mark a key revoked at ``at`` (epoch seconds); revoking twice keeps the first time.

        Raises:
            ArtifactNotFoundError: no such key.
        """
        ...

    def ping(self) -> None:
        """One round trip to the database (the server's readiness check).

        Raises:
            StorageError: the database does not answer, or not in time.
        """
        ...

    def count_versions(self) -> dict[str, int]:
        """Live versions per project (for the server's metrics)."""
        ...

    def count_types(self, project: str) -> dict[str, int]:
        """Live versions of ``project`` per artifact type (the web UI's home page)."""
        ...

    def recent_ids(self, project: str, limit: int) -> list[str]:
        """Ids of the newest ``limit`` live versions of ``project`` by creation time (the
        web UI's home page)."""
        ...

    def aliased(self, project: str, limit: int) -> list[tuple[str, str, str, int]]:
        """``(name, alias, version id, version number)`` of every alias of ``project``,
        by name then alias, at most ``limit`` of them (the web UI's home page)."""
        ...

    def visible_blobs(self, project: str, digests: Iterable[str]) -> set[str]:
        """Which of ``digests`` ``project`` may see in a blob store shared by projects:
        those one of its versions needs (deleted ones included) or it uploaded itself
        (:meth:`claim_blobs`). Never decided by a digest's name alone."""
        ...

    def project_blobs(self, project: str) -> set[str]:
        """Every digest ``project`` may see (as :meth:`visible_blobs`)."""
        ...

    def claim_blobs(self, project: str, digests: Iterable[str], at: float) -> None:
        """Record that ``project`` uploaded these blobs' bytes (its proof of holding them)."""
        ...

    def forget_blobs(self, digests: Iterable[str]) -> None:
        """Drop every project's claim on these digests (gc removed their bytes)."""
        ...

    def lease_project_blobs(self, project: str, token: str, digests: Iterable[str],
                            expires_at: float) -> None:
        """``Backend.lease_blobs`` on behalf of ``project``: the lease is the project's.

        Raises:
            ConflictError: another project holds a lease under ``token``.
        """
        ...

    def release_project_blobs(self, project: str, token: str) -> None:
        """Drop ``project``'s lease ``token`` (another project's is left alone)."""
        ...

    def project_leased_digests(self, project: str, now: float) -> set[str]:
        """Digests under a lease of ``project`` that has not expired at ``now``."""
        ...

    def project_blob_references(self, project: str) -> dict[str, bool]:
        """As ``Backend.blob_references``, for the versions of one project."""
        ...

    def run_project(self, run_id: str) -> str:
        """The project of the run with this id.

        Raises:
            ArtifactNotFoundError: no run has this id.
        """
        ...
