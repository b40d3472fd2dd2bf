"""Copying versions, runs and blobs into a catalog: the one implementation behind
``import_bundle`` and ``push``.

A :class:`Copier` takes a :class:`Source` — a bundle being imported, or another catalog
being pushed — and writes what the target lacks:

1. **Plan, writing nothing.** Versions whose id the target has are skipped (the same id
   with another name, number or digest is a ``ConflictError``); a version number the
   target already uses for another id is a ``ConflictError`` — or, with
   ``as_new_versions``, the name's versions land as new ones after the target's
   (:mod:`archivist.transfer.numbering`); parents in neither the source nor the target
   are dropped from the edge list and reported; every blob the new versions need must be
   in the target or the source (``IntegrityError`` otherwise), and the source checks
   those it will send (a bundle rehashes them).
2. **Bytes, then rows.** Blobs the target lacks (asked by digest, ``blobs.exists``) are
   streamed through verifying readers under a lease, so nothing corrupt becomes visible
   and a concurrent ``gc`` keeps them; then every new version lands in ONE
   ``create_versions`` transaction with its id and version number preserved.
3. **Mutable state.** Tags and aliases of versions that already existed are brought in
   line with the source (keys the source lacks are left alone), and runs are created with
   their ids and numbers, their tasks saved and their versions linked.

Running it again copies nothing: every step is keyed by id or digest (or, for a version
that landed as a new one, by the source id it records).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, Protocol

from archivist import names
from archivist.backends.base import Backend
from archivist.errors import (
    ConflictError,
    IntegrityError,
    InvalidInputError,
)
from archivist.ids import new_id
from archivist.model import Artifact, NewVersion, RunRecord
from archivist.store.blobs import Blobs
from archivist.store.hashing import Readable
from archivist.transfer.copier_runs import copy_runs, plan_runs
from archivist.transfer.numbering import Renumbered, place, remap_parents, source_of

LEASE_SECONDS = 6 * 3600.0
_PAGE = 1000


class Source(Protocol):
    """What a copy reads from: versions (with their blob lists), runs, and bytes."""

    #: where the versions come from (a catalog's folder or URL, a bundle's path): what a
    #: version landing as a new one records as ``metadata["archivist_source"]["catalog"]``
    origin: str

    def versions(self) -> Sequence[NewVersion]:
        """The version records to copy, with ``version`` set and ``blob_digests`` complete."""
        ...

    def runs(self) -> Sequence[RunRecord]:
        """The run records to copy (with their tasks and linked versions)."""
        ...

    def check_blobs(self, digests: Sequence[str]) -> None:
        """Make sure these blobs can be sent, before anything is written.

        Raises:
            IntegrityError: a blob is missing from the source or does not match its digest.
        """
        ...

    def open_blob(self, digest: str) -> BinaryIO:
        """A reader of the blob that raises ``IntegrityError`` if the bytes do not match."""
        ...

    def blob_size(self, digest: str) -> int:
        """The blob's size in bytes (for progress). Raises ``IntegrityError`` if missing."""
        ...


#: ``progress(bytes done, bytes in all)``, called as blobs stream (STYLE P8: the library
#: takes a plain callable; the CLI passes one that draws a bar).
Progress = Callable[[int, int | None], None]


def no_progress(done: int, total: int | None) -> None:
    """The null ``Progress``: shows nothing."""


class ProgressReader:
    """Wraps a reader and reports every byte read to a ``Progress`` callable."""

    def __init__(self, reader: Readable, progress: Progress, start: int,
                 total: int | None) -> None:
        self._reader = reader
        self._progress = progress
        self.done = start
        self._total = total

    def read(self, n: int = -1, /) -> bytes:
        data = self._reader.read(n)
        self.done += len(data)
        self._progress(self.done, self._total)
        return data


@dataclass(frozen=True)
class CopyReport:
    """What an import or push did. ``copied``/``skipped``/``updated`` are version ids."""

    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    runs_copied: list[str] = field(default_factory=list)
    runs_skipped: list[str] = field(default_factory=list)
    blobs_copied: int = 0
    bytes_copied: int = 0
    blobs_present: int = 0
    #: ``(child id, parent id)`` edges dropped: the parent is in neither source nor target
    missing_parents: list[tuple[str, str]] = field(default_factory=list)
    #: versions that landed as new versions (``as_new_versions``); their new ids are in
    #: ``copied``, their source ids nowhere else
    renumbered: list[Renumbered] = field(default_factory=list)
    #: source run id -> id in the target, for runs that landed as the pipeline's next run
    runs_renumbered: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether the target changed at all (``False`` for a repeated import or push)."""
        return bool(self.copied or self.updated or self.runs_copied or self.blobs_copied)

    def to_dict(self) -> dict[str, Any]:
        return {"copied": self.copied, "skipped": self.skipped, "updated": self.updated,
                "runs_copied": self.runs_copied, "runs_skipped": self.runs_skipped,
                "blobs_copied": self.blobs_copied, "bytes_copied": self.bytes_copied,
                "blobs_present": self.blobs_present,
                "missing_parents": [list(edge) for edge in self.missing_parents],
                "renumbered": [r.to_dict() for r in self.renumbered],
                "runs_renumbered": dict(self.runs_renumbered)}


@dataclass
class _Plan:
    new: list[NewVersion] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    tag_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    alias_updates: dict[str, list[str]] = field(default_factory=dict)
    missing_parents: list[tuple[str, str]] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)  # what the target lacks
    present: int = 0
    renumbered: list[Renumbered] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)  # source id -> id in the target
    taken: set[str] = field(default_factory=set)  # source ids that are others here


class Copier:
    """Writes what a :class:`Source` holds into a catalog's backend and blob store.

    Obtain one with ``Copier(catalog.backend, catalog.blobs, user=catalog.user)``; call
    :meth:`copy` with the project to write into (the target catalog's, whose blob store
    ``blobs`` is: on a server, blobs and rows must belong to the same project).
    """

    def __init__(self, backend: Backend, blobs: Blobs, *, user: str | None = None) -> None:
        self.backend = backend
        self.blobs = blobs
        self.user = user

    def copy(self, source: Source, *, project: str, as_new_versions: bool = False,
             rename: Mapping[str, str] | None = None,
             progress: Progress = no_progress) -> CopyReport:
        """Copy everything the target lacks; see the module docstring for the order.

        Args:
            project: the target project.
            as_new_versions: land the versions of a name whose numbers the target gives
                to other versions as new versions after the target's (new ids, lineage
                and run links rewritten, ``metadata["archivist_source"]`` recording the
                source), and a run whose number is taken as the pipeline's next run.
            rename: source name -> name in the target (ids and numbers kept).

        Raises:
            ConflictError: an id, version number or run number is taken by something
                else (without ``as_new_versions``), or a name exists with another case;
                nothing is written.
            IntegrityError: a blob is missing or corrupt; nothing is written.
            InvalidInputError: the source holds one id, number or alias twice.
            InvalidNameError: a malformed name in ``rename``.
        """
        scope = names.check_name(project, "project")
        renames = {names.check_name(k): names.check_name(v) for k, v in (rename or {}).items()}
        originals = source.versions()
        records = [replace(r, project=scope, name=renames.get(r.name, r.name))
                   for r in originals]
        _check_unique(records)
        plan = self._plan(records, as_new_versions, {
            r.id: source_of(r, source.origin) for r in originals})
        source_runs = source.runs()
        named = {r.source_run_id for r in records
                 if r.id in plan.moved and r.source_run_id is not None}
        runs, moved_runs = plan_runs(
            self.backend, [replace(run, project=scope) for run in source_runs],
            versions=plan.moved, as_new=as_new_versions, named=named,
            provenance={run.id: _run_source(run, source.origin) for run in source_runs})
        if moved_runs:  # a version names its run by id or by pathspec
            run_ids = {**{run.pathspec: moved_runs[run.id] for run in source_runs
                          if run.id in moved_runs}, **moved_runs}
            plan.new = [replace(r, source_run_id=run_ids[r.source_run_id])
                        if r.source_run_id in run_ids else r for r in plan.new]
        source.check_blobs(plan.blobs)
        token = new_id()  # a lease token has the form of a version id
        needed = list(dict.fromkeys(d for r in plan.new for d in r.blob_digests))
        copied_bytes = 0
        total = (sum(source.blob_size(d) for d in plan.blobs)
                 if progress is not no_progress else None)
        if needed:
            self.backend.lease_blobs(token, needed, time.time() + LEASE_SECONDS)
        try:
            for digest in plan.blobs:
                copied_bytes += self._send(source, digest, progress, copied_bytes, total)
            self.backend.create_versions(plan.new)
        finally:
            if needed:
                self.backend.release_blobs(token)
        updated = self._update(plan)
        runs_copied, runs_skipped = copy_runs(self.backend, runs)
        return CopyReport(
            copied=[r.id for r in plan.new], skipped=plan.skipped, updated=updated,
            runs_copied=runs_copied, runs_skipped=runs_skipped,
            blobs_copied=len(plan.blobs), bytes_copied=copied_bytes,
            blobs_present=plan.present, missing_parents=plan.missing_parents,
            renumbered=self._numbered(plan.renumbered),
            runs_renumbered=moved_runs)

    # -- planning --------------------------------------------------------------------------
    def _plan(self, records: list[NewVersion], as_new: bool,
              provenance: dict[str, dict[str, Any]]) -> _Plan:
        plan = _Plan()
        existing = {a.id: a for a in self._by_ids([r.id for r in records])}
        pending: list[NewVersion] = []
        for r in records:
            found = existing.get(r.id)
            if found is None:
                pending.append(r)
            elif _same(r, found):
                plan.skipped.append(r.id)
                _sync(plan, r, found)
            elif as_new:  # the id is another version here: this one lands as a new one
                pending.append(r)
                plan.taken.add(r.id)
            else:
                raise _other_version(r, found)
        placed = place(self.backend, pending, as_new=as_new, taken=plan.taken,
                       provenance=provenance)
        by_source = {r.id: r for r in records}
        for source_id, copy in placed.copies.items():
            plan.skipped.append(source_id)
            _sync(plan, by_source[source_id], copy)
        plan.moved = placed.ids
        plan.renumbered = placed.renumbered
        plan.new = remap_parents(placed.new, plan.moved)
        self._resolve_parents(plan, {r.id for r in plan.new} | set(existing))
        for digest in dict.fromkeys(d for r in plan.new for d in r.blob_digests):
            if self.blobs.exists(digest):
                plan.present += 1
            else:
                plan.blobs.append(digest)
        return plan

    def _by_ids(self, ids: Sequence[str]) -> list[Artifact]:
        found: list[Artifact] = []
        for start in range(0, len(ids), _PAGE):
            found += self.backend.get_versions_by_id(ids[start:start + _PAGE])
        return found

    def _resolve_parents(self, plan: _Plan, copied: set[str]) -> None:
        outside = list(dict.fromkeys(p for r in plan.new for p in r.parent_ids
                                     if p not in copied))
        known = {a.id for a in self._by_ids(outside)}
        kept = []
        for r in plan.new:
            lost = [p for p in r.parent_ids if p not in copied and p not in known]
            plan.missing_parents += [(r.id, p) for p in lost]
            kept.append(replace(r, parent_ids=tuple(p for p in r.parent_ids
                                                    if p not in lost)) if lost else r)
        plan.new = kept

    # -- writing ---------------------------------------------------------------------------
    def _send(self, source: Source, digest: str, progress: Progress, done: int,
              total: int | None) -> int:
        with source.open_blob(digest) as reader:
            got, size = self.blobs.put_stream(ProgressReader(reader, progress, done, total))
        if got != digest:  # the verifying reader raises first; this guards a broken source
            raise IntegrityError(f"blob {digest} arrived as {got}; nothing was written",
                                 digest=digest, actual=got)
        return size

    def _update(self, plan: _Plan) -> list[str]:
        for version_id, tags in plan.tag_updates.items():
            self.backend.update_tags(version_id, tags, (), self.user)
        for version_id, aliases in plan.alias_updates.items():
            for alias in aliases:
                self.backend.set_alias(version_id, alias, self.user)
        return list(dict.fromkeys([*plan.tag_updates, *plan.alias_updates]))

    def _numbered(self, renumbered: list[Renumbered]) -> list[Renumbered]:
        """``renumbered`` with the numbers the target gave them."""
        if not renumbered:
            return []
        numbers = {a.id: a.version for a in self._by_ids([r.id for r in renumbered])}
        return [replace(r, version=numbers.get(r.id)) for r in renumbered]


def _check_unique(records: Sequence[NewVersion]) -> None:
    ids: set[str] = set()
    numbers: set[tuple[str, str, int | None]] = set()
    aliases: dict[tuple[str, str, str], str] = {}
    for r in records:
        key = (r.project, names.fold_name(r.name), r.version)
        if r.id in ids or key in numbers:
            raise InvalidInputError(f"the source holds {r.name}:{r.version} (id {r.id}) "
                                    "twice; nothing was written")
        ids.add(r.id)
        numbers.add(key)
        for alias in r.aliases:
            other = aliases.setdefault((r.project, names.fold_name(r.name), alias), r.id)
            if other != r.id:
                raise InvalidInputError(f"the source points alias {alias!r} of {r.name!r} "
                                        "at two versions; nothing was written")


def _same(r: NewVersion, found: Artifact) -> bool:
    mine = (r.project, r.name, r.version, r.digest, r.kind)
    return mine == (found.project, found.name, found.version, found.digest, found.kind)


def _other_version(r: NewVersion, found: Artifact) -> ConflictError:
    return ConflictError(
        f"version id {r.id} is {found.project}/{found.name}:{found.version} in the "
        f"target but {r.project}/{r.name}:{r.version} in the source (digest "
        f"{found.digest} vs {r.digest}); nothing was written. If it was copied with "
        "--rename or --to-project before, copy it the same way again; to land it as a new "
        "version with a new id, use --as-new-versions (as_new_versions=True in Python)",
        id=r.id)


def _sync(plan: _Plan, r: NewVersion, found: Artifact) -> None:
    """Plan bringing ``found`` (the target's copy of ``r``) in line with ``r``'s tags and
    aliases; a tombstone in the target stays one: it is never revived."""
    if found.deleted:
        return
    tags = {k: v for k, v in r.tags.items() if k not in found.tags
            or _json(found.tags[k]) != _json(v)}
    if tags:
        plan.tag_updates[found.id] = tags
    aliases = [a for a in r.aliases if a not in found.aliases]
    if aliases:
        plan.alias_updates[found.id] = aliases


def _run_source(run: RunRecord, catalog: str) -> dict[str, Any]:
    return {"id": run.id, "pipeline": run.pipeline, "number": run.number,
            "project": run.project, "catalog": catalog}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
