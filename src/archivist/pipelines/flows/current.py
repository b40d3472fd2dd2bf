"""``archivist.current``: which flow, run, step and task is running, as Metaflow's
``current``::

    from archivist import Flow, current, step

    class Hello(Flow):
        @step
        def start(self):
            self.where = current.pathspec      # "Hello/3/start/0"
            self.next(self.end)

Outside a running step every attribute is ``None`` and ``is_running_flow`` is ``False``.
The value lives in a context variable set around each step call, so it is right in
worker processes and threads alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class TaskPlace:
    """Where a task runs: its pathspec ``Flow/run/step/task`` and, in a resumed run, the
    pathspec of the run it resumes."""

    pathspec: str
    origin_run: str | None = None


_PLACE: ContextVar[TaskPlace | None] = ContextVar("archivist_current", default=None)


class Current:
    """The running task (read ``archivist.current``; steps need not create one)."""

    def _part(self, index: int) -> str | None:
        place = _PLACE.get()
        return place.pathspec.split("/")[index] if place is not None else None

    @property
    def is_running_flow(self) -> bool:
        """Whether a flow's step is running here."""
        return _PLACE.get() is not None

    @property
    def pathspec(self) -> str | None:
        """``Flow/run/step/task``, as :class:`archivist.Task` takes it."""
        place = _PLACE.get()
        return place.pathspec if place is not None else None

    @property
    def flow_name(self) -> str | None:
        """The flow class's name."""
        return self._part(0)

    @property
    def run_id(self) -> str | None:
        """The run's number in its flow, as text (``"3"`` for ``Flow/3``)."""
        return self._part(1)

    @property
    def step_name(self) -> str | None:
        """The running step."""
        return self._part(2)

    @property
    def task_id(self) -> str | None:
        """The task's index within its step, as text."""
        return self._part(3)

    @property
    def origin_run_id(self) -> str | None:
        """In a resumed run: the number of the run it resumes; else ``None``."""
        place = _PLACE.get()
        if place is None or place.origin_run is None:
            return None
        return place.origin_run.rsplit("/", 1)[-1]

    def __repr__(self) -> str:
        return f"<current {self.pathspec or 'outside a flow'}>"


current = Current()


@contextlib.contextmanager
def running(place: TaskPlace) -> Iterator[None]:
    """Make ``current`` describe ``place`` while the block runs."""
    token = _PLACE.set(place)
    try:
        yield
    finally:
        _PLACE.reset(token)
