"""Copying runs (part of :class:`archivist.transfer.copier.Copier`): ids and ``pipeline/number``
kept, tasks and version links added where the target lacks them, a status that moved on
(pushed while running, finished since) brought in line. Clashes are found by
:func:`plan_runs` before the copy writes anything."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from archivist.backends.base import Backend
from archivist.errors import ArtifactNotFoundError, ConflictError
from archivist.model import RunRecord
from archivist.records import new_run_of

#: A run of the source with the target's copy of it (``None``: the target lacks it).
Planned = tuple[RunRecord, RunRecord | None]


def plan_runs(backend: Backend, runs: Sequence[RunRecord]) -> list[Planned]:
    """Each run with the target's copy of it (``None``: new), refusing clashes of
    ids, ``pipeline/number`` or task slots before anything is written.

    Raises:
        ConflictError: the target gives the run's id, number or a task slot to another.
    """
    planned: list[Planned] = []
    for run in runs:
        held = _held_run(backend, run.id, run.project)
        if held is None:
            other = _held_run(backend, run.pathspec, run.project)
            if other is not None:
                raise ConflictError(
                    f"the target already has run {run.pathspec} in project "
                    f"{run.project!r} as another run (id {other.id}, the source's is "
                    f"{run.id}); run numbers are kept on copy; nothing was written",
                    run=run.id, existing=other.id)
        elif (held.pipeline, held.number) != (run.pipeline, run.number):
            raise ConflictError(
                f"run {run.id} is {held.pathspec} in the target but {run.pathspec} in "
                "the source; nothing was written", run=run.id)
        else:
            slots = {(t.step, t.index): t.id for t in held.tasks}
            for task in run.tasks:
                if slots.get((task.step, task.index), task.id) != task.id:
                    raise ConflictError(
                        f"run {run.pathspec} has another task {task.step}[{task.index}] "
                        "in the target; nothing was written", run=run.id)
        planned.append((run, held))
    return planned

def _held_run(backend: Backend, ref: str, project: str) -> RunRecord | None:
    try:
        return backend.get_run(ref, project)
    except ArtifactNotFoundError:
        return None

def copy_runs(backend: Backend, planned: Sequence[Planned]) -> tuple[list[str], list[str]]:
    """Write what the target lacks; return the ids of the runs changed and skipped."""
    copied: list[str] = []
    skipped: list[str] = []
    for run, held in planned:
        if held is None:
            backend.create_run(new_run_of(run))
        ended = (run.status, run.ended_at, run.error, run.details)
        changed = held is not None and (
            held.status, held.ended_at, held.error, held.details) != ended
        if changed:  # pushed while running, finished since
            backend.update_run(run.id, run.status, _epoch(run.ended_at), run.error,
                                    dict(run.details))
        have = {} if held is None else {t.id: t for t in held.tasks}
        missing_tasks = [t for t in run.tasks if have.get(t.id) != t]
        for task in missing_tasks:
            backend.save_task(task)
        consumed = _missing(run.consumed, [] if held is None else held.consumed)
        produced = _missing(run.produced, [] if held is None else held.produced)
        if consumed or produced:
            backend.link_run_versions(run.id, consumed, produced)
        if held is None or changed or missing_tasks or consumed or produced:
            copied.append(run.id)
        else:
            skipped.append(run.id)
    return copied, skipped


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _missing(wanted: Iterable[str], have: Iterable[str]) -> list[str]:
    held = set(have)
    return [v for v in dict.fromkeys(wanted) if v not in held]
