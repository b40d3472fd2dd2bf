"""What the catalog tells a pipeline run in progress: the versions read and logged.

The catalog sits below :mod:`archivist.pipelines` and never imports it. While a run
executes, a :class:`Tracker` is current in the executing context (set by
:func:`archivist.pipelines.context.running`); the catalog reports each version read
through it (:func:`note_read`: the running step's parents) and asks it what a version
logged now was produced by (:meth:`Tracker.provenance`, used by ``log_dataset`` and the
other logging helpers); before reading runs it lets the tracker write what it holds back
(:func:`settle`).

Context variables follow the executing context: two threads (or asyncio tasks) running
different pipelines never see each other's tracker.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Protocol

from archivist.model import Artifact


class Tracker(Protocol):
    """A run in progress, as the catalog sees it. ``catalog`` is the catalog object the
    call went through: a tracker answers only for catalogs on its run's store."""

    def read(self, catalog: object, artifact: Artifact) -> None:
        """``artifact`` was read through ``catalog``."""
        ...

    def provenance(self, catalog: object) -> dict[str, Any] | None:
        """The ``register`` keywords of a version logged now through ``catalog``
        (``source_run_id``, ``source_pipeline``, ``code_version``, and inside a step
        ``source_step`` and the step's reads as ``parent_ids``); ``None`` when
        ``catalog`` is not the run's."""
        ...

    def logged(self, catalog: object, key: str, value: Any, artifact: Artifact) -> None:
        """``value`` was logged through ``catalog`` as ``artifact`` under ``key``."""
        ...

    def settle(self, catalog: object) -> None:
        """Runs are about to be read through ``catalog``: write the rows the run holds
        back (deferred task rows), so the reader sees its own run as it is."""
        ...


_TRACKER: ContextVar[Tracker | None] = ContextVar("archivist_tracker", default=None)


def current() -> Tracker | None:
    """The tracker of the run executing in this context, if any."""
    return _TRACKER.get()


@contextlib.contextmanager
def tracked_by(tracker: Tracker | None) -> Iterator[None]:
    """Make ``tracker`` current for the block."""
    token = _TRACKER.set(tracker)
    try:
        yield
    finally:
        _TRACKER.reset(token)


def settle(catalog: object) -> None:
    """Called by the catalog before it reads runs (see :meth:`Tracker.settle`)."""
    tracker = _TRACKER.get()
    if tracker is not None:
        tracker.settle(catalog)


def note_read(catalog: object, artifact: Artifact) -> None:
    """Called by the catalog whenever a version is read through it."""
    tracker = _TRACKER.get()
    if tracker is not None:
        tracker.read(catalog, artifact)
