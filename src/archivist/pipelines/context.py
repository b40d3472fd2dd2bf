"""The run and the step being executed, held in context variables (not globals).

``catalog.get``/``load``/``open``/``download`` report each read to the current
:class:`~archivist.tracking.Tracker` (:data:`TRACKER`, made current by :func:`running`);
while a step runs,
every version read through the run's catalog (or another catalog object on the same store,
see :func:`same_catalog`) becomes one of the step's parents. Values a
step returns are remembered per run, by identity and by content digest, so a later step
given such a value links to the version it became.

Context variables follow the executing context: two threads (or asyncio tasks) running
different pipelines never see each other's run, and a thread started inside a step does
not inherit it unless started with ``contextvars.copy_context().run``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archivist import tracking
from archivist.model import Artifact

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog
    from archivist.pipelines.runs import RunRecorder


@dataclass
class ActiveRun:
    """A run in progress: its recorder and what its steps have produced so far."""

    recorder: RunRecorder
    catalog: ArtifactCatalog
    #: id(value) -> (value, version id); the value is held so its id cannot be reused
    by_identity: dict[int, tuple[Any, str]] = field(default_factory=dict)
    #: content digest -> version id of values produced in this run
    by_digest: dict[str, str] = field(default_factory=dict)
    #: version id -> its digest, for every version remembered (cache keys need them)
    digests: dict[str, str | None] = field(default_factory=dict)
    #: versions logged in the run body (outside any step)
    produced: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    #: versions remembered by id only, their digests not read yet (see :meth:`digest_map`)
    pending: list[str] = field(default_factory=list)

    def remember(self, value: Any, artifact: Artifact | str) -> None:
        """Remember that ``value`` was stored as ``artifact`` (a record, or just its id:
        the digest is then read when first needed, in one query for all pending)."""
        vid = artifact if isinstance(artifact, str) else artifact.id
        with self.lock:
            if _trackable(value):
                self.by_identity[id(value)] = (value, vid)
            if isinstance(artifact, str):
                self.pending.append(vid)
                return
            self.digests[vid] = artifact.digest
            if artifact.digest is not None:
                self.by_digest.setdefault(artifact.digest, vid)

    def digest_map(self) -> dict[str, str]:
        """Content digest -> version id of every value remembered (reads pending ones)."""
        with self.lock:
            pending, self.pending = self.pending, []
        if pending:
            for a in self.catalog.backend.get_versions_by_id(pending):
                self.remember(None, a)
        return self.by_digest

    def digest_of(self, version_ids: list[str]) -> dict[str, str | None]:
        """Digests of these versions (those not remembered are read, once)."""
        unknown = [i for i in version_ids if i not in self.digests]
        if unknown:
            self.digest_map()
            unknown = [i for i in unknown if i not in self.digests]
        if unknown:
            for a in self.catalog.backend.get_versions_by_id(unknown):
                self.digests[a.id] = a.digest
        return {i: self.digests.get(i) for i in version_ids}

    def produced_by_identity(self, value: Any) -> str | None:
        """The version id ``value`` (this very object) became, if a step returned it."""
        if not _trackable(value):
            return None
        found = self.by_identity.get(id(value))
        return found[1] if found is not None and found[0] is value else None


@dataclass
class StepCapture:
    """What one executing step read and logged."""

    step: str
    catalog: ArtifactCatalog
    consumed: dict[str, None] = field(default_factory=dict)  # ordered set of version ids
    logged: dict[str, str] = field(default_factory=dict)  # key -> version id
    paused: int = 0
    #: the step's partitions: versions registered inside it get them too
    partitions: dict[str, str] = field(default_factory=dict)

    def read(self, artifact: Artifact) -> None:
        if not self.paused:
            self.consumed.setdefault(artifact.id, None)


_RUN: ContextVar[ActiveRun | None] = ContextVar("archivist_run", default=None)
_STEP: ContextVar[StepCapture | None] = ContextVar("archivist_step", default=None)


def current_run() -> ActiveRun | None:
    """The run executing in this context, if any."""
    return _RUN.get()


def current_step() -> StepCapture | None:
    """The step executing in this context, if any."""
    return _STEP.get()


@contextlib.contextmanager
def running(active: ActiveRun) -> Iterator[ActiveRun]:
    """Make ``active`` the current run for the block (and :data:`TRACKER` what the
    catalog reports to)."""
    token = _RUN.set(active)
    outer = _STEP.set(None)
    try:
        with tracking.tracked_by(TRACKER):
            yield active
    finally:
        _STEP.reset(outer)
        _RUN.reset(token)


@contextlib.contextmanager
def capturing(capture: StepCapture) -> Iterator[StepCapture]:
    """Make ``capture`` the current step for the block."""
    token = _STEP.set(capture)
    try:
        yield capture
    finally:
        _STEP.reset(token)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Reads inside the block are the engine's own (cache lookups), not the step's."""
    capture = _STEP.get()
    if capture is None:
        yield
        return
    capture.paused += 1
    try:
        yield
    finally:
        capture.paused -= 1


class _ContextTracker:
    """The :class:`~archivist.tracking.Tracker` of the run and step current in the
    executing context."""

    def read(self, catalog: object, artifact: Artifact) -> None:
        # inside a step of a run on the same store, the version becomes a step's parent
        capture = _STEP.get()
        if capture is not None and same_catalog(capture.catalog, catalog):
            capture.read(artifact)

    def provenance(self, catalog: object) -> dict[str, Any] | None:
        active = _RUN.get()
        if active is None or not same_catalog(active.catalog, catalog):
            return None
        recorder = active.recorder
        found: dict[str, Any] = {"source_run_id": recorder.id,
                                 "source_pipeline": recorder.pipeline,
                                 "code_version": recorder.code_version}
        step = _STEP.get()
        if step is not None and same_catalog(step.catalog, catalog):
            found["source_step"] = step.step
            found["parent_ids"] = list(step.consumed)
            if step.partitions:
                found["partitions"] = dict(step.partitions)
        return found

    def logged(self, catalog: object, key: str, value: Any, artifact: Artifact) -> None:
        active = _RUN.get()
        if active is None or not same_catalog(active.catalog, catalog):
            return
        active.remember(value, artifact)
        step = _STEP.get()
        if step is not None and same_catalog(step.catalog, catalog):
            step.logged[key] = artifact.id
        else:
            active.recorder.link(produced=[artifact.id])
            active.produced.append(artifact.id)


    def settle(self, catalog: object) -> None:
        active = _RUN.get()
        if active is not None and same_catalog(active.catalog, catalog):
            active.recorder.flush()


#: What the catalog reports reads and logged versions to while a run executes.
TRACKER = _ContextTracker()


def same_catalog(a: object, b: object) -> bool:
    """Whether two catalog objects hold the same versions: the same backend object, or
    backends at the same URL (two ``ArtifactCatalog()`` of one home) in the same project.
    Only then can a version read through one be a parent of a version written by the
    other."""
    backend_a, backend_b = getattr(a, "backend", None), getattr(b, "backend", None)
    if a is b or (backend_a is not None and backend_a is backend_b):
        return True
    url_a, url_b = getattr(backend_a, "url", None), getattr(backend_b, "url", None)
    return (url_a is not None and url_a == url_b and type(backend_a) is type(backend_b)
            and getattr(a, "project", None) == getattr(b, "project", None))


def _trackable(value: Any) -> bool:
    """Singletons and booleans are the same object everywhere: never matched by identity."""
    return value is not None and not isinstance(value, bool)
