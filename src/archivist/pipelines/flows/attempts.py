"""One task with its step decorators applied: ``@catch`` around the attempts, ``@retry``
around each attempt, ``@timeout`` per attempt (:mod:`archivist.pipelines.flows.decorators`).

The same code runs in the flow's process and in a worker process; an attempt under
``@timeout`` runs in a process of its own (started by the caller's ``isolate``), which
is killed when its time is up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from archivist.errors import ArchivistError, InvalidFlowError
from archivist.pipelines.flows.base import FlowBase
from archivist.pipelines.flows.decorators import CaughtException, options_of
from archivist.pipelines.flows.graph import FlowGraph, Transition
from archivist.pipelines.flows.state import TaskOutcome, TaskSpec
from archivist.pipelines.flows.task import (
    CONTEXT_ATTRIBUTE,
    TaskContext,
    _persist,  # the one way a task's attributes are stored
    failed_outcome,
    run_task,
)
from archivist.pipelines.flows.values import ValueCache

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog

#: Characters kept of each failed attempt's error, and of a caught traceback, in the
#: task's details (a run's record stays small however often a step is retried).
MAX_ATTEMPT_ERROR = 1_000
MAX_TRACEBACK = 16_000

#: Runs one attempt of a task in a process of its own, killed after ``seconds``.
Isolate = Callable[[TaskSpec, float], TaskOutcome]


def run_attempts(flow_cls: type[FlowBase], graph: FlowGraph, spec: TaskSpec,
                 catalog: ArtifactCatalog, values: ValueCache | None,
                 isolate: Isolate) -> TaskOutcome:
    """Run a task as its decorators say; failures come back in the outcome."""
    options = options_of(flow_cls.spec().steps[spec.step])
    errors: list[str] = []
    outcome = TaskOutcome(error="not run")
    for attempt in range(options.retries + 1):
        if attempt and options.retry_wait:
            time.sleep(options.retry_wait)
        if options.timeout is None:
            outcome = run_task(flow_cls, graph, spec, catalog, values)
        else:
            outcome = _isolated(isolate, spec, options.timeout)
        if outcome.ok:
            break
        errors.append((outcome.error or "failed")[:MAX_ATTEMPT_ERROR])
    details: dict[str, Any] = dict(outcome.details)
    if options.retries:
        details.update(attempts=len(errors) + (1 if outcome.ok else 0),
                       attempt_errors=errors)
    if options.resources():
        details["resources"] = options.resources()
    if options.timeout is not None:
        details["timeout"] = options.timeout
    if not outcome.ok and options.catch_var is not None:
        caught = CaughtException(
            type=str(outcome.details.get("exception_type") or "Exception"),
            message=(outcome.error or "").split(": ", 1)[-1],
            traceback=outcome.traceback or "")
        recovered = run_caught(flow_cls, graph, spec, catalog, values,
                               options.catch_var or None, caught)
        if recovered.ok:
            details["caught"] = {"type": caught.type, "message": caught.message,
                                 "traceback": caught.traceback[-MAX_TRACEBACK:]}
            details.pop("traceback", None)
            details.pop("exception_type", None)
            outcome = recovered
        elif outcome.exception is not None:  # e.g. a foreach split: it needs its list
            outcome.exception.add_note(f"@catch could not go on: {recovered.error}")
    return replace(outcome, details=details)


def _isolated(isolate: Isolate, spec: TaskSpec, seconds: float) -> TaskOutcome:
    try:
        return isolate(spec, seconds)
    except ArchivistError as exc:  # cannot run it apart (a flow without a file, …)
        return TaskOutcome(error=f"{type(exc).__name__}: {exc}", exception=exc,
                           details={"exception_type": _qualified(type(exc))})


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def run_caught(flow_cls: type[FlowBase], graph: FlowGraph, spec: TaskSpec,
               catalog: ArtifactCatalog, values: ValueCache | None, var: str | None,
               caught: object) -> TaskOutcome:
    """End a task whose step failed under ``@catch``: its inputs go on to the next steps,
    with ``self.<var> = caught`` stored (a step that starts a foreach cannot go on)."""
    started = time.time()
    context = TaskContext(spec, graph, catalog, values, list(flow_cls.spec().parameters))
    obj = flow_cls.__new__(flow_cls)
    obj.__dict__[CONTEXT_ATTRIBUTE] = context
    node = graph.nodes[spec.step]
    try:
        if node.foreach is not None or node.condition is not None:
            what = "a foreach" if node.foreach is not None else "a switch"
            needs = "its list" if node.foreach is not None else "the case it chooses"
            raise InvalidFlowError(f"step {spec.step!r} starts {what}, which cannot go "
                                   f"on without {needs}; @catch cannot save it",
                                   step=spec.step)
        if var is not None:
            obj.__dict__[var] = caught
        context.transition = Transition(node.targets, None)
        data, produced = _persist(obj, context)
    except Exception as exc:
        return failed_outcome(exc, context, started)
    return TaskOutcome(data=data, produced=produced, consumed=list(context.consumed),
                       transition=context.transition, pid=os.getpid(), started_at=started,
                       ended_at=time.time())
