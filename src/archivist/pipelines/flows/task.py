"""Running one task of a flow: load what it reads, call the step, persist what changed.

The same code runs a task in the flow's own process and in a worker process. Attribute
values are loaded lazily: a task reads (and so depends on) only the attributes it touches.

Persistence rules (docs/pipelines.md):

* every public attribute in the task's ``__dict__`` after the step is a candidate;
  ``_private`` ones never are, and parameters are registered once, by ``start``;
* a candidate whose content digest equals that of the version it was inherited as is
  *carried*: the task's state points at the existing version, nothing is registered;
* every other one becomes a new version ``<Flow>.<attribute>`` (one transaction per task)
  whose parents are exactly the versions the task read: inherited attributes it accessed,
  the foreach list behind ``self.input``, the join inputs it accessed or merged.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
import time
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from archivist import names, tracking
from archivist.errors import (
    ArchivistError,
    DuplicateArtifactWarning,
    InvalidFlowError,
    InvalidInputError,
    InvalidNameError,
    MergeConflictError,
    PickleWarning,
)
from archivist.pipelines.files import File, stored_path
from archivist.pipelines.flows.base import FlowBase
from archivist.pipelines.flows.current import TaskPlace, running
from archivist.pipelines.flows.graph import FlowGraph, Transition
from archivist.pipelines.flows.inputs import BranchView, JoinInputs
from archivist.pipelines.flows.nextcalls import choose_case, switch_details
from archivist.pipelines.flows.state import Held, IncludedFile, TaskOutcome, TaskSpec
from archivist.pipelines.flows.tracked import TaskTracker
from archivist.pipelines.flows.values import IMMUTABLE, ValueCache, items_of

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog

#: The ``self.<name>`` attributes the engine itself keeps on a task's flow object.
CONTEXT_ATTRIBUTE = "_archivist_task"


class TaskContext:
    """The engine side of one task: what it inherited, read, and where it went next."""

    def __init__(self, spec: TaskSpec, graph: FlowGraph, catalog: ArtifactCatalog,
                 values: ValueCache | None, parameter_names: Sequence[str]) -> None:
        self.spec = spec
        self.graph = graph
        self.catalog = catalog
        self.values = values
        self.parameter_names = tuple(parameter_names)
        self.is_join = graph.nodes[spec.step].is_join
        first = spec.inputs[0].data if spec.inputs else {}
        if self.is_join:  # a join starts from the parameters only (merge the rest)
            self.available = {k: v for k, v in first.items() if k in self.parameter_names}
        else:
            self.available = dict(first)
        self.loaded: dict[str, Any] = {}
        self.consumed: dict[str, None] = {}
        self.transition: Transition | None = None
        self.inputs = JoinInputs([BranchView(self, i) for i in spec.inputs])
        self._input: tuple[bool, Any] = (False, None)
        self._digests: dict[str, str | None] = {}
        self._parameters: dict[str, Any] = {}

    def content_keys(self, helds: Sequence[Held]) -> dict[str, str]:
        """Version id -> what identifies its content (the digest; the id when it has
        none), fetching the unknown digests in one query."""
        unknown = [h.version_id for h in helds
                   if h.digest is None and h.version_id not in self._digests]
        if unknown:
            found = {a.id: a.digest for a in self.catalog.backend.get_versions_by_id(
                list(dict.fromkeys(unknown)))}
            for version_id in unknown:
                self._digests[version_id] = found.get(version_id)
        return {h.version_id: h.digest or self._digests.get(h.version_id) or h.version_id
                for h in helds}

    # -- reading -----------------------------------------------------------------------
    def load(self, held: Held) -> Any:
        """The value of a version (recorded as read by this task), the task's own copy."""
        value, shared = self._value(held)
        return copy.deepcopy(value) if shared and not isinstance(value, IMMUTABLE) else value

    def _value(self, held: Held) -> tuple[Any, bool]:
        """The value and whether it is the cache's (shared: copy before handing it out)."""
        self.consumed[held.version_id] = None
        if self.values is not None:
            found, value = self.values.peek(held.version_id)
            if found:
                return value, True
        value = self.catalog.load(held.version_id, allow_pickle=True)
        if self.values is None:
            return value, False
        self.values.put(held.version_id, value)
        return value, True

    def attribute(self, obj: Any, name: str) -> Any:
        """``self.<name>`` not set by this task: the inherited value, loaded once."""
        held = self.available.get(name)
        if held is None:
            hint = (" (in a join, read branches through `inputs` or call "
                    "self.merge_artifacts(inputs))" if self.is_join else "")
            raise AttributeError(f"{self.spec.flow}.{self.spec.step}: attribute {name!r} is "
                                 f"not set by this step nor inherited{hint}")
        value = self.load(held)
        obj.__dict__[name] = value
        self.loaded[name] = value
        return value

    def parameter(self, attribute: str) -> Any:
        held = self.available.get(attribute)
        if held is not None:
            self.consumed[held.version_id] = None
        if attribute not in self._parameters:  # shared by every task: this one's copy
            value = self.spec.parameters[attribute]
            if isinstance(value, IncludedFile):  # IncludeFile: the content, read once
                value = value.decode(self.load(Held(value.version_id)))
            self._parameters[attribute] = value if isinstance(value, IMMUTABLE) \
                else copy.deepcopy(value)
        return self._parameters[attribute]

    def input(self) -> Any:
        """``self.input``: this foreach task's item."""
        if not self.spec.frames:
            raise InvalidFlowError(f"step {self.spec.step!r} is not inside a foreach, so it "
                                   "has no self.input", step=self.spec.step)
        if not self._input[0]:
            frame = self.spec.frames[-1]
            sequence, shared = self._value(frame.items)  # only the item is copied
            item = items_of(sequence, frame.attribute)[frame.index]
            copied = shared and not isinstance(item, IMMUTABLE)
            self._input = (True, copy.deepcopy(item) if copied else item)
        return self._input[1]

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``self.foreach_stack()``: ``(index, count, item)`` per open foreach, outermost
        first (Metaflow's shape)."""
        stack = []
        for frame in self.spec.frames:
            sequence, shared = self._value(frame.items)
            item = items_of(sequence, frame.attribute)[frame.index]
            copied = shared and not isinstance(item, IMMUTABLE)
            stack.append((frame.index, frame.count, copy.deepcopy(item) if copied else item))
        return stack

    def stores(self, name: str) -> bool:
        """Whether ``self.<name>`` is a value an earlier task stored (not a parameter)."""
        return name in self.available and name not in self.parameter_names

    # -- moving on -----------------------------------------------------------------------
    def next(self, obj: Any, targets: Sequence[Any], foreach: str | None,
             condition: str | None = None) -> None:
        step = self.spec.step
        if self.transition is not None:
            raise InvalidFlowError(f"step {step!r} called self.next twice", step=step)
        node = self.graph.nodes[step]
        if condition is not None or node.condition is not None:
            self.transition = choose_case(step, node.condition, node.cases, obj, targets,
                                          condition)
            return
        chosen = tuple(getattr(t, "__name__", repr(t)) for t in targets)
        if chosen != node.targets or foreach != node.foreach:
            raise InvalidFlowError(
                f"step {step!r} called self.next({', '.join(chosen)}"
                f"{f', foreach={foreach!r}' if foreach else ''}) but its code reads "
                f"self.next({', '.join(node.targets)}"
                f"{f', foreach={node.foreach!r}' if node.foreach else ''}); a step goes to "
                "the same steps every time", step=step)
        self.transition = Transition(chosen, foreach)

    def merge(self, obj: Any, inputs: Sequence[BranchView], include: Sequence[str] | None,
              exclude: Sequence[str] | None) -> None:
        """``merge_artifacts``: see :meth:`archivist.Flow.merge_artifacts`."""
        if not self.is_join:
            raise InvalidFlowError(f"merge_artifacts is for joins; {self.spec.step!r} is not "
                                   "one", step=self.spec.step)
        if include is not None and exclude is not None:
            raise InvalidInputError("merge_artifacts takes include= or exclude=, not both")
        sources = [b._source for b in inputs]
        present = {k for s in sources for k in s.data
                   if not k.startswith("_") and k not in self.parameter_names}
        chosen = set(present)
        if include is not None:
            missing = sorted(set(include) - present)
            if missing:
                raise InvalidInputError(f"merge_artifacts: {', '.join(missing)} is set in no "
                                        "branch; branches have: "
                                        f"{', '.join(sorted(present)) or 'nothing'}")
            chosen = set(include)
        chosen -= set(exclude or ())
        merged: dict[str, Held] = {}
        conflicts: dict[str, list[str]] = {}
        chosen = {n for n in chosen if n not in obj.__dict__}  # set in the join: kept
        keys = self.content_keys([s.data[n] for s in sources for n in chosen if n in s.data])
        for name in sorted(chosen):
            holders = [(s.label, s.data[name]) for s in sources if name in s.data]
            if len({keys[h.version_id] for _, h in holders}) > 1:
                conflicts[name] = [label for label, _ in holders]
            else:
                merged[name] = holders[0][1]
        if conflicts:
            name, labels = next(iter(conflicts.items()))
            rest = list(conflicts)[1:]
            others = f" (also differ: {', '.join(rest)})" if rest else ""
            raise MergeConflictError(
                f"merge_artifacts: attribute {name!r} has different values in branches "
                f"{', '.join(labels)}{others}; set self.{name} in the join before merging, "
                f"or pass exclude=[{name!r}]", attribute=name, branches=labels,
                attributes=sorted(conflicts))
        for name, held in merged.items():
            self.available[name] = held
            self.consumed[held.version_id] = None


def run_task(flow_cls: type[FlowBase], graph: FlowGraph, spec: TaskSpec,
             catalog: ArtifactCatalog, values: ValueCache | None) -> TaskOutcome:
    """Run one task and persist its attributes; failures come back in the outcome."""
    started = time.time()
    context = TaskContext(spec, graph, catalog, values, list(flow_cls.spec().parameters))
    obj = flow_cls.__new__(flow_cls)
    obj.__dict__[CONTEXT_ATTRIBUTE] = context
    func = flow_cls.spec().steps[spec.step]
    tracker = TaskTracker(catalog, spec, context.consumed)  # registered in the step: the task's
    try:
        with running(TaskPlace(spec.pathspec, spec.origin_run)) if spec.pathspec \
                else contextlib.nullcontext(), tracking.tracked_by(tracker):
            func(obj, context.inputs) if context.is_join else func(obj)
        node = graph.nodes[spec.step]
        if context.transition is None and node.kind != "end":
            raise InvalidFlowError(f"step {spec.step!r} ended without calling self.next(...)",
                                   step=spec.step)
        if node.foreach is not None and node.foreach not in obj.__dict__ \
                and node.foreach not in context.available:
            # a class attribute: stored, so that the foreach tasks can read their items
            obj.__dict__[node.foreach] = getattr(obj, node.foreach)
        data, produced = _persist(obj, context)
        details = switch_details(context.transition)
        count = None
        if node.foreach is not None:
            count = len(items_of(getattr(obj, node.foreach), node.foreach))
            if count == 0:
                raise InvalidInputError(f"step {spec.step!r}: foreach={node.foreach!r} over an "
                                        "empty sequence; a foreach needs at least one item")
    except Exception as exc:
        return failed_outcome(exc, context, started)
    produced = list(dict.fromkeys([*tracker.produced, *produced]))
    return TaskOutcome(data=data, produced=produced, consumed=list(context.consumed),
                       transition=context.transition, foreach_count=count, pid=os.getpid(),
                       started_at=started, ended_at=time.time(), details=details)


def failed_outcome(exc: Exception, context: TaskContext, started: float) -> TaskOutcome:
    """A failed task's outcome: the error, its qualified type and traceback."""
    kind = type(exc)
    text = "".join(traceback.format_exception(exc))
    return TaskOutcome(consumed=list(context.consumed), pid=os.getpid(), started_at=started,
                       ended_at=time.time(), error=f"{kind.__name__}: {exc}", traceback=text,
                       exception=exc, details={
                           "exception_type": f"{kind.__module__}.{kind.__qualname__}",
                           "traceback": text[-16_000:]})


def _persist(obj: Any, context: TaskContext) -> tuple[dict[str, Held], list[str]]:
    spec = context.spec
    state = dict(context.available)
    changed: dict[str, Any] = {}
    included: list[str] = []  # IncludeFile versions, stored before the run: produced by start
    if spec.step == "start":
        changed.update(spec.parameters)
        for name, value in spec.parameters.items():
            if isinstance(value, IncludedFile):
                del changed[name]
                state[name] = Held(value.version_id)
                included.append(value.version_id)
    compare: dict[str, Any] = {}
    for name, value in obj.__dict__.items():
        if name.startswith("_"):
            continue
        if name in context.graph.nodes:
            raise InvalidFlowError(f"step {spec.step!r} set self.{name}, which is the name of a "
                                   "step; later steps could not read it: rename it",
                                   step=spec.step)
        held = state.get(name)
        if held is None or stored_path(value, f"self.{name} of step {spec.step!r}"):
            changed[name] = value  # new, or a file: stored as its bytes
        elif not (name in context.loaded and context.loaded[name] is value
                  and isinstance(value, IMMUTABLE)):  # else: read, and cannot have changed
            compare[name] = value
    keys = context.content_keys([state[name] for name in compare])
    with tempfile.TemporaryDirectory(prefix="archivist-flow-") as folder:
        for index, (name, value) in enumerate(compare.items()):
            # written once: hashed to compare, and stored as is if it changed
            written = context.catalog.materializers.write(value, Path(folder) / str(index))
            if written.digest != keys[state[name].version_id]:
                changed[name] = written  # else carried: the content of the version it came from
        if not changed:
            return state, included
        parents = list(context.consumed)[:names.MAX_PARENTS]
        ids: dict[str, str] = {}
        with warnings.catch_warnings():
            # A value equal to an earlier version's is expected in a flow (the bytes are
            # stored once); the duplicate warning is for hand registrations. So is a pickle:
            # a flow keeps every attribute, as Metaflow does, and its client
            # (Run(..., allow_pickle=True)) is where loading one is consented to.
            warnings.simplefilter("ignore", DuplicateArtifactWarning)
            warnings.simplefilter("ignore", PickleWarning)
            with context.catalog.batch():
                for name, value in changed.items():
                    ids[name] = _register(context, name, value, parents)
    for name, version_id in ids.items():
        state[name] = Held(version_id)
        value = compare.get(name, changed[name])
        if context.values is not None and not isinstance(value, File | PurePath):
            context.values.put(version_id, value)  # a file is read back as its bytes
    return state, [*included, *ids.values()]


def _register(context: TaskContext, name: str, value: Any, parents: list[str]) -> str:
    spec = context.spec
    artifact = f"{spec.flow}.{name}"
    try:
        names.check_name(artifact)
    except InvalidNameError as exc:
        raise InvalidNameError(f"attribute self.{name} of step {spec.step!r} cannot be stored "
                               f"as {artifact!r}: {exc}; rename it, or make it private "
                               f"(self._{name})") from None
    try:
        path = stored_path(value, f"self.{name} of step {spec.step!r}")
        return context.catalog.register(
            artifact, data=value if path is None else None, path=path,
            parent_ids=parents, source_step=spec.step,
            source_run_id=spec.run_id, source_pipeline=spec.flow,
            code_version=spec.code_version)
    except ArchivistError as exc:
        # the same error (type, details), saying which attribute; the original is chained
        raise type(exc)(f"cannot store self.{name} of step {spec.step!r}: {exc.message}",
                        **exc.details) from exc
