"""Class flows: ``class MyFlow(Flow)`` with ``@step`` methods and ``self.next(...)``.

::

    from archivist import Flow, Parameter, step

    class TrainFlow(Flow):
        alpha = Parameter("alpha", default=0.5)   # or: alpha: float = 0.5

        @step
        def start(self):
            self.rows = [1, 2, 3]
            self.next(self.train, foreach="rows")

        @step
        def train(self):
            self.score = self.input * self.alpha
            self.next(self.join)

        @step
        def join(self, inputs):
            self.best = max(i.score for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass

    run = TrainFlow().run(alpha=0.7)      # a archivist.Run: run["join"].task.data.best

Parameters are class attributes: a :class:`Parameter`, or a public annotated attribute
(``alpha: float = 0.5``; without a default it is required). Their values are read-only
in steps, recorded with the run and stored as versions by ``start``. Other public
attributes set on ``self`` are stored per task (see :mod:`archivist.pipelines.flows.task`);
``_private`` ones live only as long as the task. Steps must not rely on ``__init__``:
each task gets a fresh object.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from archivist.errors import InvalidFlowError
from archivist.pipelines.flows import script
from archivist.pipelines.flows.base import FlowBase, FlowShape
from archivist.pipelines.flows.graph import FlowGraph
from archivist.pipelines.flows.inputs import BranchView
from archivist.pipelines.flows.parameter import MISSING, SIMPLE_TYPES, Parameter
from archivist.pipelines.flows.task import CONTEXT_ATTRIBUTE, TaskContext
from archivist.pipelines.stepspec import spec_of

if TYPE_CHECKING:
    import os

    from archivist.catalog import ArtifactCatalog
    from archivist.pipelines.client import Run

#: What a step reads on ``self`` besides its data, as in Metaflow's ``FlowSpec``: no
#: attribute, step or parameter may take these names.
RESERVED = frozenset({"next", "input", "index", "foreach_stack", "merge_artifacts"})
#: Methods of the class: no step or parameter may take these names (they would hide
#: them), but a step may store an attribute called so.
CLASS_API = frozenset({"run", "resume", "spec"})


class Flow(FlowBase):
    """Base class of class flows; see the module docstring for an example.

    Subclasses define ``@step`` methods, among them ``start`` and ``end``; the graph is
    validated when the class is used (:meth:`spec`), before anything runs.

    Only the names of :data:`RESERVED` are off limits for what steps store; everything
    else (``parameters``, ``config``, ``graph``, ``run``, ``name``…) is an attribute like
    any other, and a value a step stored wins over a class attribute of the same name.
    """

    _archivist_spec: ClassVar[FlowShape[Parameter] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._archivist_spec = None
        # now, not in spec(): a step or parameter called ``spec`` would hide spec() itself
        _check_names(cls, [n for n in RESERVED | CLASS_API
                           if step_function(cls.__dict__.get(n)) is not None
                           or isinstance(cls.__dict__.get(n), Parameter)
                           or n in inspect.get_annotations(cls)])
        annotations = inspect.get_annotations(cls)
        for attribute, annotation in annotations.items():
            if attribute.startswith("_") or _is_classvar(annotation):
                continue
            if isinstance(cls.__dict__.get(attribute), Parameter):
                continue
            default = cls.__dict__.get(attribute, MISSING)
            parameter = Parameter(attribute, default=default,
                                  type=_simple_type(annotation))
            parameter.__set_name__(cls, attribute)
            setattr(cls, attribute, parameter)

    def __init__(self, use_cli: bool | None = None) -> None:
        """A plain object, except as the statement ``MyFlow()`` ending a script run as
        ``python myflow.py run|resume|show`` (Metaflow's ``if __name__ == "__main__":
        MyFlow()``): then the command line runs, as ``archivist flow`` (see
        :mod:`~archivist.pipelines.flows.script`). ``use_cli`` forces it either way."""
        if use_cli or (use_cli is None and script.called_as_script(type(self),
                                                                   sys._getframe(1))):
            script.dispatch(type(self))

    # -- the class -----------------------------------------------------------------------
    @classmethod
    def spec(cls) -> FlowShape[Parameter]:
        """The class's steps, parameters and validated graph (built once per class).

        Raises:
            InvalidFlowError: the graph is malformed, or a step or parameter takes a name
                of the Flow API; the message names the step.
        """
        spec = cls.__dict__.get("_archivist_spec")
        if spec is None:
            steps, parameters = _steps_of(cls), _parameters_of(cls)
            _check_names(cls, [*steps, *parameters])  # also those of mixin classes
            for name in steps:
                found = spec_of(getattr(cls, name))
                if found is not None and (found.outputs or found.partition_by or found.cache
                                          or found.artifact_type):
                    raise InvalidFlowError(
                        f"{cls.__name__}.{name}: outputs=, partition_by=, cache= and "
                        "artifact_type= are options of function steps; a flow stores its "
                        "attributes (use a plain @step)", step=name)
            clash = set(steps) & set(parameters)
            if clash:
                name = sorted(clash)[0]
                raise InvalidFlowError(f"{cls.__name__}.{name} is both a step and a "
                                       "parameter", step=name)
            spec = FlowShape(cls.__name__, steps, parameters,
                            FlowGraph.build(cls.__name__, steps))
            cls._archivist_spec = spec
        return spec

    # -- inside a step -----------------------------------------------------------------
    def next(self, *steps: Any, foreach: str | None = None,
             condition: str | None = None) -> None:
        """Go on to ``steps`` after this one: one step, several (branches that run in
        parallel and meet in a join), one with ``foreach="attr"`` (a task per item of
        ``self.attr``, each reading its item as ``self.input``), or a switch: a dict of
        cases with ``condition="attr"`` (``self.next({"a": self.a, "b": self.b},
        condition="mode")`` goes on to the one step whose key equals ``self.mode``).

        Raises:
            InvalidFlowError: called twice, outside a run, with other targets than the
                step's code reads, or a switch whose ``self.<condition>`` is missing or
                not one of its keys.
        """
        self._archivist_context().next(self, steps, foreach, condition)

    @property
    def input(self) -> Any:
        """Inside a foreach: this task's item of the foreach's sequence.

        Raises:
            InvalidFlowError: the step is not inside a foreach.
        """
        return self._archivist_context().input()

    @property
    def index(self) -> int | None:
        """Inside a foreach: this task's position in the foreach's sequence (else ``None``)."""
        frames = self._archivist_context().spec.frames
        return frames[-1].index if frames else None

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """The open foreaches around this task, outermost first: ``(index, number of
        tasks, item)`` each, as in Metaflow (the last one is ``self.index``,
        ``self.input``); ``[]`` outside a foreach."""
        return self._archivist_context().foreach_stack()

    def merge_artifacts(self, inputs: Iterable[BranchView], include: Sequence[str] | None = None,
                        exclude: Sequence[str] | None = None) -> None:
        """In a join: take over the branches' attributes.

        For each public attribute of any branch (only those in ``include``; none of those
        in ``exclude``): if the join already set it, the join's value is kept; a value
        present in one branch, or the same value (same content) in every branch that has
        it, is merged without storing anything new; different values raise.

        Raises:
            MergeConflictError: an attribute differs between branches (named, with them).
            InvalidInputError: both include and exclude, or include names an attribute no
                branch has.
            InvalidFlowError: the step is not a join.
        """
        self._archivist_context().merge(self, list(inputs), include, exclude)

    def __getattribute__(self, name: str) -> Any:
        # A value stored by an earlier task wins over the class: a constant, a method
        # (``run``, ``spec``) or a step function must not hide what a step stored.
        if name[0] != "_" and name not in RESERVED:
            found = object.__getattribute__(self, "__dict__")
            if name not in found:
                context: TaskContext | None = found.get(CONTEXT_ATTRIBUTE)
                if context is not None and context.stores(name):
                    return context.attribute(self, name)
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in RESERVED:
            raise InvalidFlowError(f"{type(self).__name__}: self.{name} is part of the Flow "
                                   f"API (reserved: {', '.join(sorted(RESERVED))}); store "
                                   "the value under another name", step=name)
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        context: TaskContext | None = self.__dict__.get(CONTEXT_ATTRIBUTE)
        if context is None:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r} (attributes "
                                 "set in steps are read back with archivist.Run)")
        return context.attribute(self, name)

    def _archivist_context(self) -> TaskContext:
        context: TaskContext | None = self.__dict__.get(CONTEXT_ATTRIBUTE)
        if context is None:
            raise InvalidFlowError(f"{type(self).__name__}: next, input and merge_artifacts "
                                   "work inside a step of a running flow; start one with "
                                   f"{type(self).__name__}().run()", step="")
        return context

    # -- running -----------------------------------------------------------------------
    def run(self, *, catalog: ArtifactCatalog | str | os.PathLike[str] | None = None,
            max_workers: int = 1, project: str | None = None, openlineage: Any = None,
            executor: Any = None, **parameters: Any) -> Run:
        """Run the flow and return its :class:`archivist.Run`.

        Args:
            catalog: where to record (default: the default catalog resolution).
            max_workers: above 1, branches and foreach tasks run in that many worker
                processes (each opens the catalog at the same location).
            project: the catalog project (default: the catalog's).
            openlineage: emit OpenLineage events for the run and every task: an
                ``http(s)://`` URL, a file path, an ``OpenLineageClient``, ``False``;
                ``None`` follows the environment (``OPENLINEAGE_URL``,
                ``ARCHIVIST_OPENLINEAGE_FILE``), as ``pipeline()`` does.
            executor: where branches and foreach tasks run: ``None`` (or ``"local"``) in
                this process or ``max_workers`` local processes; a Dask cluster as
                ``"dask://host:8786"``, a ``distributed.Client`` or a
                :class:`~archivist.pipelines.flows.executors.DaskExecutor` (``max_workers``
                above 1 then caps the tasks in flight). Needs the ``dask`` extra.
            **parameters: values of the flow's parameters, by name.

        Raises:
            InvalidFlowError: the graph is malformed (nothing runs).
            InvalidInputError: an unknown or missing parameter, a bad max_workers or
                executor, a cluster that cannot be reached or whose workers cannot reach
                the catalog.
            Exception: the exception of a failed step, re-raised after the run is recorded
                as failed (its note names the run to resume).
        """
        from archivist.pipelines.flows.engine import start_run

        return start_run(type(self), parameters, catalog=catalog, max_workers=max_workers,
                         project=project, openlineage=openlineage, executor=executor)

    def resume(self, run: str | None = None, *,
               catalog: ArtifactCatalog | str | os.PathLike[str] | None = None,
               max_workers: int = 1, project: str | None = None,
               openlineage: Any = None, step: str | None = None,
               executor: Any = None) -> Run:
        """Run again from the step that failed in ``run`` (a pathspec ``"MyFlow/3"`` or an
        id; default: this flow's latest run), reusing the finished steps' versions.

        The new run keeps the old run's parameters; reused tasks are recorded as cached,
        with the task they were taken from. ``step`` restarts from that step instead (as
        Metaflow's ``resume STEP``): its tasks and every task after it run again, even in
        a run that succeeded. ``catalog``, ``max_workers``, ``project``, ``openlineage``
        and ``executor`` as for :meth:`run`.

        Raises:
            ArtifactNotFoundError: no such run (or this flow has none).
            InvalidInputError: the run belongs to another flow, or ``step`` is not one.
            Exception: as :meth:`run`.
        """
        from archivist.pipelines.flows.engine import resume_run

        return resume_run(type(self), run, catalog=catalog, max_workers=max_workers,
                          project=project, openlineage=openlineage, step=step,
                          executor=executor)


def _check_names(cls: type, names: Iterable[str]) -> None:
    """Raise if a step or parameter of ``cls`` takes a name of the Flow API."""
    for name in names:
        if name in RESERVED or name in CLASS_API:
            raise InvalidFlowError(f"{cls.__name__}.{name}: {name!r} is part of the Flow "
                                   "API; give the step or parameter another name", step=name)


def _steps_of(cls: type) -> dict[str, Callable[..., Any]]:
    """Step name -> the function written under ``@step``, for every step of the class."""
    found: dict[str, Callable[..., Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            func = step_function(value)
            if func is not None:
                found[name] = func
            elif name in found:
                del found[name]  # overridden by a plain attribute
    return found


def _parameters_of(cls: type) -> dict[str, Parameter]:
    """Attribute name -> :class:`Parameter`, in definition order."""
    found: dict[str, Parameter] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Parameter):
                found[name] = value
    return found


def step_function(value: object) -> Callable[..., Any] | None:
    """The plain function under a ``@step``-decorated method, or ``None``.

    Flows use the same ``@step`` as function pipelines; its wrapper carries the
    :class:`~archivist.pipelines.stepspec.StepSpec` whose ``fn`` the engine calls directly
    (so a flow's step never records itself as a function step as well).
    """
    spec = spec_of(value)
    return spec.fn if spec is not None else None


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


def _simple_type(annotation: object) -> type | None:
    if isinstance(annotation, type):
        return annotation if annotation in SIMPLE_TYPES.values() else None
    return SIMPLE_TYPES.get(str(annotation))
