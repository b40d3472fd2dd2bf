"""Running a flow: schedule its tasks, record them, resume a failed run.

The engine walks the validated graph (:mod:`archivist.pipelines.flows.graph`): when a task
ends, its successors become ready — one task per branch, one per foreach item, and a join
once every input it closes has arrived. With ``max_workers > 1`` ready tasks run in a
:class:`~archivist.pipelines.flows.workers.WorkerPool`, with ``executor=`` on a cluster
(:mod:`archivist.pipelines.flows.executors`); otherwise in this process. Every run
and task is written through :class:`~archivist.pipelines.runs.RunRecorder`.

Resume: a task of the new run is *reused* (not executed; recorded ``cached``, with the
task it was taken from) when the old run has a succeeded task with the same step and
foreach position and every input of it was reused too; from the first task that runs
again, everything downstream runs again.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from archivist.errors import (
    ArchivistError,
    ArtifactNotFoundError,
    InvalidInputError,
    StepFailedError,
)
from archivist.model import RunRecord, TaskRecord
from archivist.pipelines.flows.attempts import run_attempts
from archivist.pipelines.flows.base import FlowBase
from archivist.pipelines.flows.executors import DaskExecutor, TaskPool, executor_of
from archivist.pipelines.flows.graph import FlowGraph
from archivist.pipelines.flows.parameter import (
    include_files,
    recorded_parameters,
    resolve_parameters,
)
from archivist.pipelines.flows.resources import ResourceBudget, check_resources
from archivist.pipelines.flows.state import Frame, Held, TaskInput, TaskOutcome, TaskSpec
from archivist.pipelines.flows.values import ValueCache
from archivist.pipelines.flows.workers import (
    CatalogLocation,
    FlowLocator,
    WorkerPool,
    run_isolated,
)
from archivist.pipelines.openlineage import listener_for
from archivist.pipelines.runs import RunListener, RunRecorder, error_text

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog
    from archivist.pipelines.client import Run

CatalogArg = Any  # ArtifactCatalog | str | os.PathLike[str] | None


def start_run(flow_cls: type[FlowBase], given: Mapping[str, Any], *, catalog: CatalogArg,
              max_workers: int, project: str | None, openlineage: Any = None,
              executor: Any = None) -> Run:
    """``Flow.run``: see there."""
    graph = flow_cls.spec().graph
    _check_workers(max_workers)
    cluster = executor_of(executor)
    if cluster is None:  # local processes: a step asking more than the machine never starts
        check_resources(flow_cls)
    parameters = resolve_parameters(flow_cls, given)
    with _opened(catalog, project) as cat:
        parameters = include_files(flow_cls, parameters, flow_cls.__name__, cat)
        recorder = RunRecorder(cat, flow_cls.__name__, kind="flow", source=flow_cls,
                               parameters=recorded_parameters(flow_cls, parameters),
                               details={"graph": graph.record()},
                               listeners=_listeners(openlineage, cat))
        Engine(flow_cls, graph, cat, recorder, parameters, max_workers, catalog,
               cluster).execute()
        return _client_run(recorder.pathspec, cat, catalog)


def resume_run(flow_cls: type[FlowBase], ref: str | None, *, catalog: CatalogArg,
               max_workers: int, project: str | None, openlineage: Any = None,
               step: str | None = None, executor: Any = None) -> Run:
    """``Flow.resume``: see there."""
    graph = flow_cls.spec().graph
    _check_workers(max_workers)
    cluster = executor_of(executor)
    if cluster is None:  # local processes: a step asking more than the machine never starts
        check_resources(flow_cls)
    if step is not None and step not in graph.nodes:
        raise InvalidInputError(f"{flow_cls.__name__} has no step {step!r} to resume from; "
                                f"steps: {', '.join(graph.order())}")
    with _opened(catalog, project) as cat:
        old = _old_run(cat, flow_cls.__name__, ref)
        given = {k: v for k, v in old.parameters.items()
                 if k in {p.name for p in flow_cls.spec().parameters.values()}}
        parameters = include_files(flow_cls, resolve_parameters(flow_cls, given),
                                   flow_cls.__name__, cat)
        recorder = RunRecorder(cat, flow_cls.__name__, kind="flow", source=flow_cls,
                               parameters=recorded_parameters(flow_cls, parameters),
                               details={"resumed_from": old.pathspec,
                                        "resumed_from_id": old.id,
                                        "graph": graph.record()},
                               listeners=_listeners(openlineage, cat))
        engine = Engine(flow_cls, graph, cat, recorder, parameters, max_workers, catalog,
                        cluster)
        engine.reuse_from(old, step)
        engine.execute()
        return _client_run(recorder.pathspec, cat, catalog)


class Engine:
    """Schedules, runs and records the tasks of one run."""

    def __init__(self, flow_cls: type[FlowBase], graph: FlowGraph, catalog: ArtifactCatalog,
                 recorder: RunRecorder, parameters: dict[str, Any], max_workers: int,
                 given_catalog: CatalogArg, executor: DaskExecutor | None = None) -> None:
        self.flow_cls = flow_cls
        self.graph = graph
        self.catalog = catalog
        self.recorder = recorder
        self.parameters = parameters
        self.max_workers = max_workers
        self.given_catalog = given_catalog
        self.executor = executor
        #: @resources held by running tasks (local worker processes only)
        self.budget = ResourceBudget(flow_cls) if executor is None and max_workers > 1 \
            else None
        self.values = ValueCache()
        self.ready: deque[TaskSpec] = deque()
        self.counts: dict[tuple[str, tuple[int, ...]], int] = {}
        self.waiting: dict[tuple[str, tuple[int, ...]], dict[int, TaskInput]] = {}
        self.failure: tuple[TaskSpec, TaskOutcome] | None = None
        self.old: RunRecord | None = None
        self.reusable: dict[tuple[str, tuple[int, ...], int], TaskRecord] = {}
        #: tasks submitted to the pool and not finished (failed if the run ends early)
        self.running: dict[Future[TaskOutcome], tuple[TaskSpec, TaskRecord]] = {}

    def reuse_from(self, old: RunRecord, step: str | None = None) -> None:
        """Make the succeeded tasks of ``old`` reusable by this run, except those of
        ``step`` (then the steps after it run again too: their inputs are new)."""
        self.old = old
        for task in old.tasks:
            if task.status == "succeeded" and task.step != step:
                key = (task.step, tuple(task.details.get("foreach", ())),
                       int(task.details.get("visit", 0)))
                self.reusable[key] = task

    def execute(self) -> None:
        """Run every task; re-raise the first failure after the run is recorded failed.

        Raises:
            Exception: the failed step's exception (with a note naming the run).
        """
        self.recorder.start()
        pool: TaskPool | None = None
        try:
            if self.executor is not None:
                pool = self.executor.open(self.flow_cls, self.catalog, self.recorder.id,
                                          self.max_workers)
            elif self.max_workers > 1:
                location = CatalogLocation.of(self.catalog, self.given_catalog)
                pool = WorkerPool(self.flow_cls, location, self.max_workers)
            self.ready.append(self._spec("start", (), (), ()))
            self._loop(pool)
        except BaseException as exc:
            for _, task in self.running.values():  # never leave a task "running"
                self.recorder.fail_task(task, f"the run ended early ({error_text(exc)})")
            self.running.clear()
            self.recorder.finish(error=exc)
            _note(exc, self.recorder.pathspec, None, self.flow_cls.__name__)
            raise
        finally:
            if pool is not None:
                pool.close()
        if self.failure is not None:
            spec, outcome = self.failure
            self.recorder.finish(error=outcome.error)
            failed = outcome.exception or ArchivistError(
                f"step {spec.step!r} of {self.recorder.pathspec} failed: {outcome.error}")
            if outcome.traceback and pool is not None:
                failed.add_note(f"in a worker process:\n{outcome.traceback}")
            _note(failed, self.recorder.pathspec, spec.step, self.flow_cls.__name__)
            raise failed
        self.recorder.finish()

    # -- the loop ----------------------------------------------------------------------
    def _loop(self, pool: TaskPool | None) -> None:
        running = self.running
        limit = pool.capacity if pool is not None else 1
        while True:
            while self.ready and self.failure is None and len(running) < limit:
                spec = self._pop_ready()
                if spec is None:  # every ready task waits for @resources to be released
                    break
                if self._reuse(spec):
                    self._release(spec)
                    continue
                # the "running" row only for a task still running a moment later
                task = self.recorder.start_task(spec.step, details=spec.placed(), defer=True)
                spec = replace(spec, pathspec=f"{self.recorder.pathspec}/{spec.step}/{task.index}")
                if pool is None:
                    try:
                        outcome = run_attempts(self.flow_cls, self.graph, spec, self.catalog,
                                               self.values, self._isolate)
                    except BaseException as exc:  # Ctrl-C in a step: never left "running"
                        self.recorder.fail_task(task, exc)
                        raise
                    self._finish(spec, task, outcome)
                else:
                    running[pool.submit(spec)] = (spec, task)
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                spec, task = running.pop(future)
                self._release(spec)
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker died (BrokenProcessPool, …)
                    died = StepFailedError(
                        f"the worker process running step {spec.step!r} died or its result "
                        f"could not be read ({type(exc).__name__}: {exc})", step=spec.step)
                    outcome = TaskOutcome(error=f"StepFailedError: {died}", exception=died)
                self._finish(spec, task, outcome)

    def _pop_ready(self) -> TaskSpec | None:
        """The first ready task whose ``@resources`` fit in what running tasks leave."""
        if self.budget is None:
            return self.ready.popleft()
        blocked: set[str] = set()  # the tasks of a step ask the same
        for index, spec in enumerate(self.ready):
            if spec.step not in blocked:
                if self.budget.take(spec.step, alone=not self.running):
                    del self.ready[index]
                    return spec
                blocked.add(spec.step)
        return None

    def _release(self, spec: TaskSpec) -> None:
        if self.budget is not None:
            self.budget.release(spec.step)

    def _isolate(self, spec: TaskSpec, seconds: float) -> TaskOutcome:
        """Run an attempt of a task under ``@timeout`` in a process of its own."""
        location = CatalogLocation.of(self.catalog, self.given_catalog)
        return run_isolated(FlowLocator.of(self.flow_cls), location, spec, seconds)

    def _finish(self, spec: TaskSpec, task: TaskRecord, outcome: TaskOutcome) -> None:
        if not outcome.ok:
            self.recorder.fail_task(task, outcome.error or "failed",
                                    consumed=outcome.consumed, produced=outcome.produced,
                                    details=outcome.details)
            if self.failure is None:
                self.failure = (spec, outcome)
            return
        details: dict[str, Any] = {**outcome.details, "pid": outcome.pid}
        if outcome.foreach_count is not None:
            details["foreach_count"] = outcome.foreach_count
        done = self.recorder.finish_task(
            task, consumed=outcome.consumed, produced=outcome.produced,
            data={k: h.version_id for k, h in outcome.data.items()}, details=details)
        self._advance(spec, done, outcome, reused=False)

    def _reuse(self, spec: TaskSpec) -> bool:
        old = self.reusable.get(spec.key)
        if old is None or not all(i.reused for i in spec.inputs) or self.old is None:
            return False
        data = {k: Held(v) for k, v in old.data.items()}
        count = old.details.get("foreach_count")
        kept = {k: old.details[k] for k in ("switch",) if k in old.details}
        outcome = TaskOutcome(data=data, foreach_count=int(count) if count is not None else None,
                              details=kept)
        task = self.recorder.start_task(spec.step, defer=True, details={
            **spec.placed(), "reused_from": old.id, "reused_from_run": self.old.pathspec})
        if count:
            kept["foreach_count"] = count
        done = self.recorder.finish_task(task, consumed=old.consumed, produced=old.produced,
                                         data=old.data, cached=True, details=kept or None)
        self._advance(spec, done, outcome, reused=True)
        return True

    # -- what comes next ---------------------------------------------------------------
    def _advance(self, spec: TaskSpec, task: TaskRecord, outcome: TaskOutcome, *,
                 reused: bool) -> None:
        node = self.graph.nodes[spec.step]
        if node.foreach is not None:
            count = outcome.foreach_count or 0
            self.counts[(spec.step, spec.stack)] = count
            items = outcome.data[node.foreach]
            for i in range(count):
                source = TaskInput(spec.step, task.index, spec.step, outcome.data, reused)
                frame = Frame(spec.step, node.foreach, items, i, count)
                self.ready.append(self._spec(node.targets[0], (*spec.stack, i),
                                             (*spec.frames, frame), (source,)))
            return
        targets = node.targets
        if node.condition is not None:  # a switch: the case its task took
            targets = (str(outcome.details["switch"]["step"]),)
        for target in targets:
            if self.graph.nodes[target].is_join:
                self._arrive(target, spec, task, outcome, reused)
            else:
                source = TaskInput(spec.step, task.index, spec.step, outcome.data, reused)
                visit = spec.visit + 1 if target == spec.step else 0
                self.ready.append(self._spec(target, spec.stack, spec.frames, (source,),
                                             visit))

    def _arrive(self, join: str, spec: TaskSpec, task: TaskRecord, outcome: TaskOutcome,
                reused: bool) -> None:
        fan_out = self.graph.fan_out_of[join]
        if self.graph.nodes[fan_out].kind == "foreach":
            stack, frames = spec.stack[:-1], spec.frames[:-1]
            position = spec.stack[-1]
            expected = self.counts[(fan_out, stack)]
            label = f"{spec.step}[{position}]"
        else:
            stack, frames = spec.stack, spec.frames
            position = self.graph.branch_of[(join, spec.step)]
            expected, label = self.graph.branches(join), spec.step
        arrived = self.waiting.setdefault((join, stack), {})
        arrived[position] = TaskInput(spec.step, task.index, label, outcome.data, reused)
        if len(arrived) == expected:
            del self.waiting[(join, stack)]
            inputs = tuple(arrived[k] for k in sorted(arrived))
            self.ready.append(self._spec(join, stack, frames, inputs))

    def _spec(self, step: str, stack: tuple[int, ...], frames: tuple[Frame, ...],
              inputs: tuple[TaskInput, ...], visit: int = 0) -> TaskSpec:
        return TaskSpec(run_id=self.recorder.id, flow=self.flow_cls.__name__, step=step,
                        stack=stack, frames=frames, inputs=inputs,
                        parameters=self.parameters, code_version=self.recorder.code_version,
                        origin_run=self.old.pathspec if self.old is not None else None,
                        visit=visit)


def _check_workers(max_workers: object) -> None:
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) \
            or not 1 <= max_workers <= 256:
        raise InvalidInputError(f"max_workers must be an integer from 1 to 256, got "
                                f"{max_workers!r}")


@contextlib.contextmanager
def _opened(catalog: CatalogArg, project: str | None) -> Iterator[ArtifactCatalog]:
    from archivist.catalog import ArtifactCatalog

    if isinstance(catalog, ArtifactCatalog):
        if project is not None and project != catalog.project:
            raise InvalidInputError(f"project={project!r} differs from the catalog's project "
                                    f"{catalog.project!r}; open the catalog with that project")
        yield catalog
        return
    if catalog is not None and not isinstance(catalog, str | os.PathLike):
        raise InvalidInputError(f"catalog must be an ArtifactCatalog, a folder or a URL, got "
                                f"{type(catalog).__name__}")
    with ArtifactCatalog(catalog, project) as opened:
        yield opened


def _old_run(catalog: ArtifactCatalog, flow: str, ref: str | None) -> RunRecord:
    if ref is None:
        latest = catalog.runs(pipeline=flow, limit=1)
        if not latest:
            raise ArtifactNotFoundError(f"{flow} has no run to resume in project "
                                        f"{catalog.project!r}")
        return latest[0]
    old = catalog.get_run(ref)
    if old.pipeline != flow or old.kind != "flow":
        raise InvalidInputError(f"run {old.pathspec} is a {old.kind} of {old.pipeline!r}, not a "
                                f"run of the flow {flow}")
    return old


def _listeners(openlineage: Any, catalog: ArtifactCatalog) -> list[RunListener]:
    emitter = listener_for(openlineage, catalog)
    return [emitter] if emitter is not None else []


def _client_run(pathspec: str, catalog: ArtifactCatalog, given: CatalogArg) -> Run:
    from archivist.catalog import ArtifactCatalog
    from archivist.pipelines.client import Run

    if isinstance(given, ArtifactCatalog):
        return Run(pathspec, catalog=catalog)
    return Run(pathspec, catalog=given, project=catalog.project)


def _note(exc: BaseException, pathspec: str, step: str | None, flow: str) -> None:
    where = f" at step {step!r}" if step else ""
    exc.add_note(f"archivist: run {pathspec} failed{where}; resume it with "
                 f"{flow}().resume({pathspec!r}) or `archivist flow resume FILE --run "
                 f"{pathspec}`")
    with contextlib.suppress(AttributeError, TypeError):
        exc.__dict__["archivist_run"] = pathspec  # read by the CLI
