"""What the server does for one caller: every operation of the HTTP API, checked and
carried out against the metadata store and the project's blob store.

The routes only translate HTTP (path, query, body, answer) to and from these methods;
everything a request may do to the catalog goes through here, so each rule (who sees
what, which scope writes, what a record must satisfy) is written once:

    service = Service(state, principal)
    service.register("fraud", versions)

Checks follow :mod:`archivist.records` (the rules every writer shares), visibility
:class:`~archivist.server.auth.Principal` (another project's things are "not found").

It is one module of a little over 400 lines on purpose: each operation is a few lines of
checks and one backend call, and the server's rules read best as one list.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from archivist import maintenance, names
from archivist.errors import ArtifactNotFoundError, IntegrityError, InvalidInputError, StorageError
from archivist.limits import MAX_PAGE
from archivist.model import (
    ApiKey,
    Artifact,
    GcReport,
    HistoryEntry,
    LineageRows,
    ListFilter,
    NewRun,
    NewVersion,
    RunRecord,
    TaskRecord,
    VerifyReport,
    check_status,
)
from archivist.query.parser import parse_query
from archivist.records import check_version_id
from archivist.refs import check_run_ref, parse_ref
from archivist.server import keys
from archivist.server.auth import Principal, project_not_found, version_not_found
from archivist.server.checks import check_content, check_new_run, check_new_version, check_task
from archivist.server.scoped import ProjectRows
from archivist.server.state import ServerState
from archivist.store.adopt import adopt
from archivist.store.blobs import Blobs
from archivist.store.hashing import check_digest
from archivist.store.spool import reclaim_spools, spools


class Service:
    """The operations one caller may run on the server's catalog.

    Every method raises the typed errors the API maps to 4xx answers:
    ``InvalidNameError``/``InvalidInputError`` for bad input, ``ArtifactNotFoundError``
    for what does not exist or is not visible, ``PermissionDeniedError`` for a scope
    too low.
    """

    def __init__(self, state: ServerState, principal: Principal) -> None:
        self.state = state
        self.principal = principal
        self._backend = state.backend
        self._store = state.store

    # -- versions ----------------------------------------------------------------------
    def register(self, project: str, versions: Sequence[NewVersion]) -> list[str]:
        """Write ``versions`` (for ``project``, already entered with write scope), all or
        none; their ids. Each is checked with the record rules, its parents must be
        visible, its blobs uploaded to (or needed in) the project, and a file's size or
        a directory's manifest must match the bytes held.
        """
        records = [check_new_version(v, project) for v in versions]
        self._check_parents(records)
        blobs = self.state.blobs(project)
        needed = list(dict.fromkeys(d for r in records for d in r.blob_digests))
        seen = self.state.visible_blobs(project, needed)
        sizes: dict[str, int] = {}
        for digest in needed:
            size = _stored_size(blobs, digest) if digest in seen else None
            if size is None:
                raise InvalidInputError(f"blob {digest} was not uploaded to project "
                                        f"{project!r}; PUT its bytes to …/projects/{project}/"
                                        f"blobs/{digest} first", digest=digest)
            sizes[digest] = size
        for record in records:
            check_content(record, blobs, sizes)
        user = self.principal.user
        records = [r if r.user is not None else replace(r, user=user) for r in records]
        self._backend.create_versions(records)
        return [r.id for r in records]

    def _check_parents(self, records: list[NewVersion]) -> None:
        """Parents outside the request must exist and be visible to the caller (a parent
        of another project is reported exactly like a missing one)."""
        ours = {r.id for r in records}
        outside = list(dict.fromkeys(p for r in records for p in r.parent_ids
                                     if p not in ours))
        if not outside:
            return
        found = {a.id for a in self._backend.get_versions_by_id(outside)
                 if self.principal.sees(a.project)}
        missing = [p for p in outside if p not in found]
        if missing:
            raise ArtifactNotFoundError(f"parent version(s) not found: "
                                        f"{', '.join(missing[:10])}; nothing was registered",
                                        missing=missing)

    def lookup(self, ids: Sequence[str]) -> list[Artifact]:
        """Versions by id (deleted ones included), in the order asked; those the caller
        does not see are left out."""
        self.principal.require("read")
        found = self._backend.get_versions_by_id([check_version_id(i) for i in ids])
        return [a for a in found if self.principal.sees(a.project)]

    def list_versions(self, filters: ListFilter) -> list[Artifact]:
        """Live versions matching ``filters`` (one page: limit + 1 rows tell if more)."""
        for artifact_type in filters.artifact_type:
            names.check_artifact_type(artifact_type)
        filters = replace(filters, tags=names.check_tags(filters.tags),
                          partitions=names.check_partitions(filters.partitions),
                          partition_spellings=names.check_partition_spellings(
                              filters.partition_spellings),
                          name=None if filters.name is None else names.check_name(filters.name))
        for text, what in ((filters.source_step, "step"), (filters.source_run_id, "run"),
                           (filters.source_pipeline, "pipeline"), (filters.kind, "kind"),
                           (filters.digest, "digest")):
            names.check_text(text, what)
        return self._backend.list_versions(filters)

    def get_version(self, project: str, ref: str) -> Artifact:
        """The version ``ref`` names in ``project``: ``name``, ``name:3``, ``name@alias``
        or an id of the project."""
        parsed = parse_ref(ref)
        if parsed.project is not None and parsed.project != project:
            raise InvalidInputError(f"the reference {ref!r:.80} names project "
                                    f"{parsed.project!r}, but the path names project "
                                    f"{project!r}")
        found = self._backend.get_version(parsed, project)
        if found.project != project:  # an id of another project: as if it did not exist
            raise version_not_found(ref)
        return found

    def delete_version(self, version_id: str) -> None:
        """Tombstone a version (its aliases are removed; lineage keeps it)."""
        self._version(version_id, "write")
        self._backend.delete_version(version_id, self.principal.user)

    def _version(self, version_id: str, needed: str) -> Artifact:
        """The version ``version_id`` if the caller sees it with scope ``needed``."""
        check_version_id(version_id)
        return self.principal.version(self._backend.get_versions_by_id([version_id]),
                                      version_id, needed)

    # -- tags, aliases, names ------------------------------------------------------------
    def update_tags(self, version_id: str, set_tags: Mapping[str, object],
                    remove: Sequence[str]) -> None:
        """Set and remove tags of a live version (each change goes to the history)."""
        check_version_id(version_id)
        clean = names.check_tags(set_tags)
        keys_gone = [names.check_name(key, "tag key") for key in remove]
        self._version(version_id, "write")
        self._backend.update_tags(version_id, clean, keys_gone, self.principal.user)

    def set_alias(self, version_id: str, alias: str) -> None:
        """Point an alias of the version's name at it (moving it if set elsewhere)."""
        check_version_id(version_id)
        alias = names.check_alias(alias)
        self._version(version_id, "write")
        self._backend.set_alias(version_id, alias, self.principal.user)

    def remove_alias(self, project: str, name: str, alias: str) -> None:
        name, alias = names.check_name(name), names.check_alias(alias)
        self._backend.remove_alias(project, name, alias, self.principal.user)

    def rename(self, project: str, old: str, new: str) -> None:
        """Rename a name of the project (versions, aliases, lineage kept)."""
        old, new = names.check_name(old), names.check_name(new)
        self._backend.rename(project, old, new, self.principal.user)

    def update_description(self, version_id: str, description: str | None) -> None:
        """Replace a live version's description (recorded in the history)."""
        check_version_id(version_id)
        text = names.check_text(description, "description", names.MAX_DESCRIPTION)
        self._version(version_id, "write")
        self._backend.update_description(version_id, text, self.principal.user)

    def update_metadata(self, version_id: str, set_keys: Mapping[str, object],
                        remove: Sequence[str]) -> None:
        """Set and remove top-level metadata keys of a live version (each change goes to
        the history; bytes and digest stay)."""
        check_version_id(version_id)
        clean = names.check_metadata(set_keys)
        names.check_metadata_keys(clean)
        gone = names.check_metadata_keys(remove)
        self._version(version_id, "write")
        self._backend.update_metadata(version_id, clean, gone, self.principal.user)

    def history(self, project: str, name: str, *, version_id: str | None = None,
                limit: int | None = None) -> list[HistoryEntry]:
        """The name's changes, oldest first (of one version, the newest ``limit``)."""
        if version_id is not None:
            check_version_id(version_id)
        if limit is not None and not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be from 1 to {MAX_PAGE}")
        return self._backend.history(project, names.check_name(name), version_id=version_id,
                                     limit=limit)

    def spelling(self, project: str, name: str) -> str | None:
        return self._backend.spelling(project, names.check_name(name))

    def find_digest(self, project: str, digest: str) -> list[Artifact]:
        return self._backend.find_digest(check_digest(digest), project)

    def count_types(self, project: str) -> dict[str, int]:
        """Live versions of ``project`` per artifact type (up to ten seconds old:
        :meth:`ServerState.type_counts`)."""
        return self.state.type_counts(project)

    def recent(self, project: str, limit: int) -> list[Artifact]:
        """The newest ``limit`` live versions of ``project``, by creation time."""
        ids = self._store.recent_ids(project, min(limit, MAX_PAGE))
        return self._backend.get_versions_by_id(ids)

    def aliased(self, project: str, limit: int) -> list[tuple[str, str, str, int]]:
        """``(name, alias, version id, number)`` of the project's aliases."""
        return self._store.aliased(project, limit)

    def projects(self) -> list[str]:
        """The projects the caller sees: its key's, or all with versions (no keys)."""
        if self.principal.key is not None:
            return [self.principal.key.project]
        return self._backend.projects()

    # -- search and lineage --------------------------------------------------------------
    def search(self, project: str, query: str, limit: int, offset: int) -> list[Artifact]:
        return self._backend.search(parse_query(query), project, limit, offset)

    def lineage(self, version_id: str, direction: str, depth: int | None) -> LineageRows:
        """The walk from a version, without versions of projects the caller does not see
        (a registration may name a parent of another project on a catalog without
        keys)."""
        self._version(version_id, "read")
        rows = self._backend.lineage(version_id, direction, depth)
        if self.principal.key is None:
            return rows
        ids = list(dict.fromkeys([*rows.upstream, *rows.downstream, *rows.parents,
                                  *rows.children, *(end for e in rows.edges for end in e)]))
        seen = {a.id for a in self._backend.get_versions_by_id(ids)
                if self.principal.sees(a.project)}
        if len(seen) == len(ids):
            return rows
        return LineageRows(parents=[i for i in rows.parents if i in seen],
                           children=[i for i in rows.children if i in seen],
                           upstream=[i for i in rows.upstream if i in seen],
                           downstream=[i for i in rows.downstream if i in seen],
                           edges=[(p, c) for p, c in rows.edges if p in seen and c in seen])

    # -- runs ----------------------------------------------------------------------------
    def create_run(self, project: str, run: NewRun) -> RunRecord:
        return self._backend.create_run(check_new_run(run, project))

    def list_runs(self, project: str, pipeline: str | None, status: str | None,
                  limit: int, offset: int) -> list[RunRecord]:
        if pipeline is not None:
            pipeline = names.check_name(pipeline, "pipeline")
        return self._backend.list_runs(project, pipeline, check_status(status), limit, offset)

    def get_run(self, project: str, run_ref: str) -> RunRecord:
        return self._backend.get_run(check_run_ref(run_ref), project)

    def cached_task(self, project: str, cache_key: str) -> TaskRecord | None:
        return self._backend.find_cached_task(project, check_digest(cache_key))

    def update_run(self, run_id: str, status: str, ended_at: float | None,
                   error: str | None, details: dict[str, object] | None) -> None:
        """End a run (or change its status), with its end time, error and details."""
        self._enter_run(run_id)
        clean_error = names.check_text(error, "error", names.MAX_DESCRIPTION)
        clean_details = None if details is None else names.check_metadata(details)
        if ended_at is not None and not 0 <= ended_at < 2**40:
            raise InvalidInputError("ended_at must be a time in epoch seconds")
        check_status(status)
        self._backend.update_run(run_id, status, ended_at, clean_error, clean_details)

    def save_task(self, run_id: str, task_id: str, task: TaskRecord) -> None:
        self._enter_run(run_id)
        self._backend.save_task(check_task(task, run_id, task_id))

    def link_versions(self, run_id: str, consumed: Sequence[str],
                      produced: Sequence[str]) -> None:
        self._enter_run(run_id)
        self._backend.link_run_versions(run_id, [check_version_id(v) for v in consumed],
                                        [check_version_id(v) for v in produced])

    def _enter_run(self, run_id: str) -> str:
        """The run's project, if the caller may write to it (else the 404 of a missing
        run)."""
        check_version_id(run_id, "run id")
        try:
            project = self._store.run_project(run_id)
        except ArtifactNotFoundError:
            project = None
        if project is None or not self.principal.sees(project):
            raise ArtifactNotFoundError(f"no run with id {run_id!r}", ref=run_id)
        self.principal.require("write")
        return project

    # -- blobs and leases ----------------------------------------------------------------
    def list_blobs(self, project: str, limit: int, offset: int) -> list[str]:
        """The digests of the project's blob store the project may see, sorted."""
        mine = self.state.project_digests(project)
        return sorted(mine(self.state.blobs(project).iter_digests()))[offset:offset + limit]

    def missing_blobs(self, project: str, digests: Sequence[str]) -> list[str]:
        """Which of ``digests`` the project must upload (see docs/server.md)."""
        wanted = list(dict.fromkeys(check_digest(d) for d in digests))
        blobs = self.state.blobs(project)
        seen = self.state.visible_blobs(project, wanted)
        return [d for d in wanted if d not in seen or not blobs.exists(d)]

    def readable_blob(self, project: str, digest: str) -> Blobs:
        """The project's blob store, if it holds ``digest`` and the project may read it."""
        check_digest(digest)
        blobs = self.state.blobs(project)
        if not self.state.visible_blobs(project, [digest]) or not blobs.exists(digest):
            raise ArtifactNotFoundError(f"blob {digest} is not in this project",
                                        digest=digest)
        return blobs

    def version_blobs(self, version: Artifact) -> Blobs:
        """The blob store holding the blobs of ``version``, a version the caller was given
        (by :meth:`lookup` or :meth:`get_version`): a project may read every blob its
        versions need, so the folder's files need no check one by one."""
        if not self.principal.sees(version.project):
            raise version_not_found(version.id)
        return self.state.blobs(version.project)

    def store_upload(self, project: str, digest: str, spooled: str, size: int) -> int:
        """Hand a spooled upload, known to hash to ``digest``, to the project's store
        (which takes the file without reading it again); its size."""
        stored, kept = adopt(self.state.blobs(project), spooled, digest, size)
        if stored != digest or kept != size:
            raise StorageError(f"the blob store kept {stored} ({kept} bytes) for {digest}",
                               digest=digest)
        if not self.state.settings.blobs_per_project:
            self._store.claim_blobs(project, [digest], time.time())
        return kept

    def lease(self, project: str, token: str, digests: Sequence[str],
              expires_at: float) -> None:
        check_version_id(token, "lease token")
        clean = [check_digest(d) for d in digests]
        if not math.isfinite(expires_at):
            raise InvalidInputError("expires_at must be a time in epoch seconds")
        self._store.lease_project_blobs(project, token, clean, expires_at)

    def release(self, project: str, token: str) -> None:
        self._store.release_project_blobs(project, check_version_id(token, "lease token"))

    def leased(self, project: str, now: float) -> list[str]:
        if not math.isfinite(now):
            raise InvalidInputError("now must be a time in epoch seconds")
        return sorted(self._store.project_leased_digests(project, now))

    # -- maintenance ---------------------------------------------------------------------
    def verify(self, project: str) -> VerifyReport:
        """verify over the project's rows and the blobs it may see; references are listed,
        never fetched (the server does not read what a record points at)."""
        state = self.state
        within = None if state.settings.blobs_per_project else state.project_digests(project)
        # The store is this server's (shared by its projects): unfinished multipart
        # uploads under its prefix are its own writers' leftovers, listed to any admin.
        report = maintenance.verify(ProjectRows(self._backend, self._store, project),
                                    state.blobs(project), within=within,
                                    fetch_references=False, temps=True)
        return replace(report, stale_temp=_with(report.stale_temp, self._dead_spools()))

    def _dead_spools(self) -> list[str]:
        """This server's upload spools whose process was killed (verify and gc are
        admin routes; a spool's name tells nothing of its upload)."""
        return [path for path, mtime in spools(self.state.settings.spool_dir) if mtime == 0.0]

    def gc(self, project: str, dry_run: bool, grace: float) -> GcReport:
        """gc of the project's blobs; in a store shared by projects, a blob that any
        project's live version needs is kept."""
        state = self.state
        if state.settings.blobs_per_project:
            return maintenance.gc(ProjectRows(self._backend, self._store, project),
                                  state.blobs(project), dry_run=dry_run, grace=grace)
        report = maintenance.gc(self._backend, state.blobs(project), dry_run=dry_run,
                                grace=grace, within=state.project_digests(project),
                                temps=True)
        if report.freed and not dry_run:
            self._store.forget_blobs(report.freed)
        dead = self._dead_spools()
        if not dry_run:
            reclaim_spools(state.settings.spool_dir)
        return replace(report, temp_removed=_with(report.temp_removed, dead))

    def blob_references(self, project: str) -> dict[str, bool]:
        return self._store.project_blob_references(project)

    # -- keys ----------------------------------------------------------------------------
    def create_key(self, project: str, scope: str, name: str | None) -> tuple[ApiKey, str]:
        """A new key of ``project`` (the admin key's own) and its secret."""
        self.principal.require("admin")
        if not self.principal.sees(project):
            raise project_not_found(project)
        if name is not None and not name.strip():
            raise InvalidInputError("a key name must not be blank")
        return keys.create_key(self._store, project, scope, name)

    def list_keys(self) -> list[ApiKey]:
        self.principal.require("admin")
        return keys.list_keys(self._store, self._own_project())

    def revoke_key(self, key_id: str) -> None:
        self.principal.require("admin")
        keys.revoke_key(self._store, key_id, project=self._own_project())
        self.state.keys.forget(key_id)  # at once in this process; others within the TTL

    def _own_project(self) -> str | None:
        return None if self.principal.key is None else self.principal.key.project


def _stored_size(blobs: Blobs, digest: str) -> int | None:
    """The size of a stored blob, or ``None`` when its bytes are not there: one look at
    the store answers both."""
    try:
        return blobs.size(digest)
    except IntegrityError:
        return None


def _with(paths: list[str], more: list[str]) -> list[str]:
    return sorted(set(paths) | set(more))
