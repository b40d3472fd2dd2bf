"""Registration: validate, land the content, lease its blobs, write the rows.

Bytes land before rows. Between the two, a registration holds a lease on its blobs (the
``inflight`` rows, ended by the transaction that commits the rows) so a concurrent ``gc``
keeps them; after the rows commit it checks its blobs once more and re-lands any that a
racing gc removed (content addressing makes that always correct). See docs/storage.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from archivist import names, records, tracking
from archivist.backends.base import Backend
from archivist.catalog.content import Content, Ingest
from archivist.errors import (
    ArchivistError,
    ArtifactNotFoundError,
    DuplicateArtifactWarning,
    InvalidInputError,
)
from archivist.ids import new_id
from archivist.model import Artifact, NewVersion, TaskRecord
from archivist.refs import parse_ref
from archivist.tracking import Tracker

LEASE_SECONDS = 3600.0
#: how many committed version ids and names a registrar remembers, to skip the early
#: lookups for them (a pipeline's next step names the version its previous step just
#: wrote, and every run stores under the same names)
KNOWN = 4096
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    """What :meth:`ArtifactCatalog.register` was asked, as given (unchecked): the
    argument list written once, for :meth:`Registrar.register` to check and carry out."""

    name: str
    artifact_type: str | None = None
    data: Any = None
    path: str | os.PathLike[str] | None = None
    uri: str | None = None
    metadata: Mapping[str, Any] | None = None
    tags: Mapping[str, Any] | None = None
    aliases: Sequence[str] | None = None
    parent_ids: Sequence[Any] | None = None
    partitions: Mapping[str, Any] | None = None
    description: str | None = None
    source_step: str | None = None
    source_run_id: str | None = None
    source_pipeline: str | None = None
    project: str | None = None
    code_version: str | None = None
    #: when the newest live version of ``name`` holds the same content, type, parents and
    #: partitions, answer its id instead of numbering an identical version (a re-run of
    #: an unchanged pipeline step; like W&B Artifacts, which log unchanged content once)
    reuse_unchanged: bool = False


def tracked(catalog: object, asked: Registration) -> tuple[Tracker | None, Registration]:
    """``asked`` with the provenance of the pipeline or flow step running now (its run,
    step, code version, reads as parents, partitions; what was given wins), and the
    tracker to tell what was registered; ``(None, asked)`` outside a step, for another
    store, or when the caller names a run itself (``source_run_id=``)."""
    tracker = tracking.current()
    if tracker is None or asked.source_run_id is not None:
        return None, asked
    produced_by = tracker.provenance(catalog)
    if produced_by is None:
        return None, asked
    changes: dict[str, Any] = {}
    for field, value in produced_by.items():
        if field == "parent_ids":
            changes[field] = list(dict.fromkeys([*(asked.parent_ids or ()), *value]))
        elif field == "partitions":
            changes[field] = {**value, **(asked.partitions or {})}
        elif getattr(asked, field, None) is None:
            changes[field] = value
    return tracker, replace(asked, **changes)


class Registrar:
    """Does the work of ``ArtifactCatalog.register``, ``batch`` and ``register_many``."""

    def __init__(self, backend: Backend, ingest: Ingest, user: str) -> None:
        self.backend = backend
        self.ingest = ingest
        self.user = user
        self._batch = _Batch()
        # Versions and artifact names are never removed once committed (delete is a
        # tombstone), and the rows check parents and spelling again inside the registering
        # transaction: a stale entry can only make an early check later, never skip it.
        self._committed = _Recent(KNOWN)  # version ids
        self._spelled = _Recent(KNOWN)  # (project, name) committed with this spelling

    @property
    def in_batch(self) -> bool:
        return self._batch.records is not None

    def register(self, asked: Registration, default_project: str) -> str:
        """Check ``asked``, land its content, write its rows; the new version's id.

        Raises:
            As :meth:`ArtifactCatalog.register`.
        """
        parents = _as_list(asked.parent_ids, "parent_ids")
        records.check_parent_count(len(parents))
        record = records.check_described(NewVersion(
            id=new_id(), project=default_project if asked.project is None else asked.project,
            name=asked.name, artifact_type=asked.artifact_type or "", created_at=time.time(),
            metadata=_as_object(asked.metadata), tags=_as_object(asked.tags),
            aliases=tuple(_as_list(asked.aliases, "aliases")),
            partitions=_as_object(asked.partitions), description=asked.description,
            source_step=asked.source_step, source_run_id=asked.source_run_id,
            source_pipeline=asked.source_pipeline, code_version=asked.code_version,
            user=self.user), typed=asked.artifact_type is not None)
        scope, name = record.project, record.name
        if parents:
            record = replace(record, parent_ids=tuple(self._resolve_parents(parents, scope)))
        if asked.data is not None or asked.path is not None or asked.uri is not None:
            self._check_spelling(scope, name)  # before any byte lands (the rows check again)
        with self.ingest.content(data=asked.data, path=asked.path, uri=asked.uri) as content:
            record = _with_content(record, content)
            if asked.reuse_unchanged and (same := self._unchanged(record)) is not None:
                return same
            if self._batch.records is not None:
                self._stage(record, content)
            else:
                self._commit([record], [content])
        return record.id

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        with self.task_batch():
            yield

    @contextlib.contextmanager
    def task_batch(self) -> Iterator[TaskSlot | None]:
        """A batch whose commit can also save a run's task: set ``slot.task`` inside
        the block and the backend writes it in the transaction of the batch's rows (a
        pipeline step's outputs and its finished task, one write). Joining an open batch
        yields ``None``: that batch commits later, so the caller saves its task itself."""
        if self._batch.records is not None:
            yield None
            return
        self._batch.records, self._batch.contents = [], []
        slot = TaskSlot()
        try:
            yield slot
            records, contents = self._batch.records, self._batch.contents
            self._batch.records = None
            self._commit(records, contents, leased=True, task=slot.task)
        except BaseException:
            if self._batch.records is not None:  # the block failed: nothing was written
                self._release(self._batch.records, self._batch.contents)
            raise
        finally:
            self._batch.records, self._batch.contents, self._batch.ids = None, [], set()

    def _unchanged(self, record: NewVersion) -> str | None:
        """The newest live version of ``record``'s name when it holds what ``record``
        would: the same digest, type, parents and partitions. Its blobs are the ones just
        landed (content addressing), so nothing needs releasing."""
        if record.digest is None:
            return None
        try:
            newest = self.backend.get_version(parse_ref(record.name), record.project)
        except ArtifactNotFoundError:
            return None
        same = (newest.digest == record.digest and newest.kind == record.kind
                and newest.artifact_type == record.artifact_type
                and set(newest.parent_ids) == set(record.parent_ids)
                and newest.partitions == record.partitions)
        return newest.id if same else None

    def _check_spelling(self, project: str, name: str) -> None:
        if (project, name) in self._spelled:
            return
        existing = self.backend.spelling(project, name)
        if existing is not None and existing != name:
            raise names.case_conflict(project, existing, name)

    def _stage(self, record: NewVersion, content: Content) -> None:
        """Queue a registration of the open batch. Its blobs are already in the store:
        lease them now so gc keeps them until the batch commits (a materialized temp
        file does not outlive ``register``, so it cannot be re-landed later)."""
        assert self._batch.records is not None
        self._lease(record.id, content)
        self._batch.records.append(record)
        self._batch.ids.add(record.id)
        self._batch.contents.append(replace(content, sources={}, payloads={})
                                    if content.sources or content.payloads else content)

    def _resolve_parents(self, parents: list[Any], project: str) -> list[str]:
        refs = [parse_ref(p.id if isinstance(p, Artifact) else p) for p in parents]
        # one lookup for every parent given by id (a flow's join may name hundreds)
        known = self._batch.ids | self._known([r.id for r in refs if r.id is not None])
        wanted = [r.id for r in refs if r.id is not None and r.id not in known]
        existing = {a.id for a in self.backend.get_versions_by_id(
            list(dict.fromkeys(wanted)))} if wanted else set()
        ids = []
        for ref in refs:
            if ref.id is not None and ref.id in known:
                ids.append(ref.id)
            elif ref.id is None:
                ids.append(self.backend.get_version(ref, project).id)
            elif ref.id in existing:
                ids.append(ref.id)
            else:
                raise ArtifactNotFoundError(f"parent version {ref.id!r} not found; nothing "
                                            "was registered", ref=ref.id)
        return list(dict.fromkeys(ids))

    def _known(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` this registrar committed (they exist: no lookup needed)."""
        return {i for i in ids if i in self._committed}

    def _remember(self, records: list[NewVersion]) -> None:
        self._committed.add_all(r.id for r in records)
        self._spelled.add_all((r.project, r.name) for r in records)

    def _lease(self, token: str, content: Content) -> None:
        if content.blob_digests:
            self.backend.lease_blobs(token, content.blob_digests, time.time() + LEASE_SECONDS)

    def _commit(self, records: list[NewVersion], contents: list[Content], *,
                leased: bool = False, task: TaskRecord | None = None) -> None:
        """Write the rows (and ``task``, when given); blobs stay leased until the rows
        (or the failure) are final: the backend ends the leases in the transaction that
        commits the rows."""
        try:
            if not leased:
                for record, content in zip(records, contents, strict=True):
                    self._lease(record.id, content)
            self._warn_duplicates(records)
            if task is not None:
                self.backend.create_versions(records, task=task)
            elif records:
                self.backend.create_versions(records)
        except BaseException:
            self._release(records, contents)
            raise
        self._remember(records)
        # Committed (and the leases ended with it): from here on nothing may raise, or a
        # caller would retry and register twice. A blob that a racing gc removed between
        # landing and the lease is put back.
        try:
            for content in contents:
                self.ingest.reland(content)
        except ArchivistError as exc:
            log.warning("after registering: could not re-check blobs (%s); run verify()", exc)

    def _release(self, records: list[NewVersion], contents: list[Content]) -> None:
        for record, content in zip(records, contents, strict=True):
            if content.blob_digests:
                try:
                    self.backend.release_blobs(record.id)
                except ArchivistError as exc:
                    log.warning("could not drop the lease %s (%s); it expires in %.0f s",
                                record.id, exc, LEASE_SECONDS)

    def _warn_duplicates(self, records: list[NewVersion]) -> None:
        if _ignored(DuplicateArtifactWarning):  # a pipeline re-storing content: no lookups
            return
        for record in records:
            if record.digest is None or record.kind == "reference":
                continue
            existing = self.backend.find_digest(record.digest, record.project)
            if existing:
                shown = ", ".join(f"{a.name}:{a.version}" for a in existing[:5])
                warnings.warn(
                    f"the content of {record.name!r} ({record.digest[:19]}…) is already in the "
                    f"catalog as {shown}; the bytes are stored once",
                    DuplicateArtifactWarning, stacklevel=5)


def _with_content(record: NewVersion, content: Content) -> NewVersion:
    """The record with what landed: kind, digest, size, format and the materializer's
    metadata (the user's keys win)."""
    if content.kind == "none":
        return replace(record, artifact_type=record.artifact_type or content.default_type)
    metadata = {**content.metadata, **record.metadata}
    if content.metadata:
        names.check_metadata(metadata)  # the merged object must stay within the limits
    return replace(record, kind=content.kind, digest=content.digest, size=content.size,
                   format=content.format, reference_uri=content.reference_uri,
                   metadata=metadata, artifact_type=record.artifact_type or content.default_type,
                   blob_digests=content.blob_digests)


def _ignored(category: type[Warning]) -> bool:
    """Whether a warning of ``category`` would certainly be dropped here: the first filter
    that could match it is an ``ignore`` for every message and module. A filter with a
    message or module pattern might or might not match, so it answers "not sure" (False)."""
    for action, message, kind, module, lineno in warnings.filters:
        if not issubclass(category, kind):
            continue
        if message is not None or module is not None or lineno:
            return False
        return action == "ignore"
    return False


class _Recent:
    """A bounded set, oldest entries dropped first; safe to share between threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, item: Hashable) -> bool:
        with self._lock:
            return item in self._items

    def add_all(self, items: Iterable[Hashable]) -> None:
        with self._lock:
            for item in items:
                self._items[item] = None
                self._items.move_to_end(item)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@dataclass
class TaskSlot:
    """Where the block of :meth:`Registrar.task_batch` puts the task to save with it."""

    task: TaskRecord | None = None


class _Batch(threading.local):
    """The open ``batch()`` of this thread, if any."""

    def __init__(self) -> None:
        self.records: list[NewVersion] | None = None
        self.contents: list[Content] = []
        self.ids: set[str] = set()


def _as_object(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """``None`` as ``{}``; anything else as given, for the record check to judge."""
    return {} if value is None else cast("dict[str, Any]", value)


def _as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset):
        raise InvalidInputError(f"{what} must be a list, got {type(value).__name__}")
    return list(value)
