"""Copying runs (part of :class:`archivist.transfer.copier.Copier`): ids and ``pipeline/number``
kept, tasks and version links added where the target lacks them, a status that moved on
(pushed while running, finished since) brought in line. Clashes are found by
:func:`plan_runs` before the copy writes anything; with ``as_new_versions`` a run whose
``pipeline/number`` (or id) the target gives to another run lands as the pipeline's next
run instead, with new ids and ``details["archivist_source"]``, found again by that key
on the next copy (see :mod:`archivist.transfer.numbering`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from archivist.backends.base import Backend
from archivist.errors import ArtifactNotFoundError, ConflictError
from archivist.ids import new_id
from archivist.model import RunRecord
from archivist.records import new_run_of
from archivist.transfer.numbering import SOURCE_KEY

_PAGE = 1000
_REMEDY = ("; to copy it anyway as the pipeline's next run, with its versions, use "
           "--as-new-versions (as_new_versions=True in Python)")


@dataclass(frozen=True)
class Planned:
    """A run as it is to be in the target, with the target's copy of it (``None``: new).
    ``numbered=False``: the target gives it the pipeline's next number."""

    run: RunRecord
    held: RunRecord | None
    numbered: bool = True


def plan_runs(backend: Backend, runs: Sequence[RunRecord], *,
              versions: Mapping[str, str] | None = None, as_new: bool = False,
              provenance: Mapping[str, dict[str, Any]] | None = None,
              named: Collection[str] = (),
              ) -> tuple[list[Planned], dict[str, str]]:
    """Each run with the target's copy of it, refusing clashes of ids, ``pipeline/number``
    or task slots before anything is written; and source id -> id in the target of the
    runs that land under another id.

    Args:
        versions: source version id -> id in the target, for versions that landed under
            another id (their links and tasks follow them).
        as_new: renumber a run whose id or number is taken instead of refusing it.
        provenance: source run id -> what a renumbered run records under ``SOURCE_KEY``.
        named: ids (or pathspecs) of runs that versions in ``versions`` name as
            their ``source_run_id``.

    With ``as_new``, a run that links a version landing under another id (or that such
    a version names) is renumbered even when its id and number are free: its copy links
    other ids than the source's run, so it is another record. (It also keeps a run's id
    out of a target where a copy into another project may hold it already: run ids are
    the catalog's, but runs are looked up per project.)

    Raises:
        ConflictError: the target gives the run's id, number or a task slot to another.
    """
    planned: list[Planned] = []
    moved: dict[str, str] = {}
    versions = versions or {}
    for run in runs:
        touched = as_new and (run.id in named or run.pathspec in named
                              or any(v in versions for v in _links(run)))
        run = _follow(run, versions)
        held = _held_run(backend, run.id, run.project)
        if held is not None and (held.pipeline, held.number) == (run.pipeline, run.number):
            _check_slots(run, held)
            planned.append(Planned(run, held))
            continue
        other = None if held is not None else _held_run(backend, run.pathspec, run.project)
        if held is None and other is None and not touched:
            planned.append(Planned(run, None))
            continue
        if not as_new:
            if held is not None:
                raise ConflictError(
                    f"run {run.id} is {held.pathspec} in the target but {run.pathspec} in "
                    f"the source; nothing was written{_REMEDY}", run=run.id)
            assert other is not None
            raise ConflictError(
                f"the target already has run {run.pathspec} in project {run.project!r} as "
                f"another run (id {other.id}, the source's is {run.id}); run numbers are "
                f"kept on copy; nothing was written{_REMEDY}", run=run.id, existing=other.id)
        copy = _copy_of(backend, run)
        fresh = _renumbered(run, copy, (provenance or {}).get(run.id, {"id": run.id}))
        if copy is not None:
            _check_slots(fresh, copy)
        moved[run.id] = fresh.id
        planned.append(Planned(fresh, copy, numbered=copy is not None))
    return planned, moved


def _check_slots(run: RunRecord, held: RunRecord) -> None:
    slots = {(t.step, t.index): t.id for t in held.tasks}
    for task in run.tasks:
        if slots.get((task.step, task.index), task.id) != task.id:
            raise ConflictError(
                f"run {run.pathspec} has another task {task.step}[{task.index}] "
                "in the target; nothing was written", run=run.id)


def _links(run: RunRecord) -> Iterator[str]:
    """Every version id ``run`` links, by itself or through its tasks."""
    yield from run.consumed
    yield from run.produced
    for task in run.tasks:
        yield from (*task.consumed, *task.produced, *task.data.values())


def _follow(run: RunRecord, versions: Mapping[str, str]) -> RunRecord:
    """``run`` with the version ids it links rewritten where those landed elsewhere."""
    if not versions:
        return run

    def ids(values: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(versions.get(v, v) for v in values))

    tasks = [replace(t, consumed=ids(t.consumed), produced=ids(t.produced),
                     data={k: versions.get(v, v) for k, v in t.data.items()})
             for t in run.tasks]
    return replace(run, consumed=ids(run.consumed), produced=ids(run.produced), tasks=tasks)


def _copy_of(backend: Backend, run: RunRecord) -> RunRecord | None:
    """The run an earlier renumbering copy made of ``run`` in the target, if any."""
    seen = 0
    while True:
        page = backend.list_runs(run.project, run.pipeline, None, _PAGE, seen)
        for held in page:
            source = held.details.get(SOURCE_KEY)
            if isinstance(source, dict) and source.get("id") == run.id:
                return held
        seen += len(page)
        if len(page) < _PAGE:
            return None


def _renumbered(run: RunRecord, copy: RunRecord | None,
                source: dict[str, Any]) -> RunRecord:
    """``run`` as its renumbered copy: the earlier ``copy``'s ids, or new ones."""
    run_id = new_id() if copy is None else copy.id
    slots = {} if copy is None else {(t.step, t.index): t.id for t in copy.tasks}
    tasks = [replace(t, id=slots.get((t.step, t.index)) or new_id(), run_id=run_id)
             for t in run.tasks]
    recorded = source if copy is None else copy.details.get(SOURCE_KEY, source)
    return replace(run, id=run_id, number=run.number if copy is None else copy.number,
                   details={**run.details, SOURCE_KEY: recorded}, tasks=tasks)


def _held_run(backend: Backend, ref: str, project: str) -> RunRecord | None:
    try:
        return backend.get_run(ref, project)
    except ArtifactNotFoundError:
        return None

def copy_runs(backend: Backend, planned: Sequence[Planned]) -> tuple[list[str], list[str]]:
    """Write what the target lacks; return the ids of the runs changed and skipped."""
    copied: list[str] = []
    skipped: list[str] = []
    for run, held, numbered in ((p.run, p.held, p.numbered) for p in planned):
        if held is None:
            made = new_run_of(run)
            backend.create_run(made if numbered else replace(made, number=None))
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
