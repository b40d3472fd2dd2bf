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
import json
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from archivist.errors import InvalidFlowError, InvalidInputError
from archivist.pipelines.flows.base import FlowBase
from archivist.pipelines.flows.graph import FlowGraph
from archivist.pipelines.flows.task import CONTEXT_ATTRIBUTE, BranchView, TaskContext
from archivist.pipelines.stepspec import spec_of

if TYPE_CHECKING:
    import os

    from archivist.catalog import ArtifactCatalog
    from archivist.pipelines.client import Run

_MISSING: Any = object()
#: Names a step or parameter may not take: they are the Flow API.
RESERVED = frozenset({"next", "merge_artifacts", "input", "run", "resume", "graph", "steps",
                      "parameters", "catalog", "max_workers", "project", "openlineage"})
_SIMPLE_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


class Parameter:
    """A flow parameter: ``alpha = Parameter("alpha", default=0.5)``.

    Given to ``MyFlow().run(alpha=0.7)`` or ``archivist flow run flow.py --param
    alpha=0.7`` (converted to the default's type, or ``type``; JSON otherwise).

    Args:
        name: the name ``run()`` and ``--param`` use (default: the attribute's name).
        default: the value when none is given; without one the parameter is required.
        type: ``int``, ``float``, ``bool`` or ``str`` for ``--param`` text.
        help: shown by ``archivist flow show``.
    """

    def __init__(self, name: str | None = None, *, default: Any = _MISSING,
                 type: type | None = None, help: str | None = None) -> None:
        self.name: str = name or ""
        self.default = default
        self.type = type
        self.help = help
        self.attribute = name or ""

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute
        self.name = self.name or attribute

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        context: TaskContext | None = obj.__dict__.get(CONTEXT_ATTRIBUTE)
        if context is None:
            return None if self.required else self.default
        return context.parameter(self.attribute)

    def __set__(self, obj: object, value: Any) -> None:
        raise InvalidInputError(f"parameter {self.name!r} is read-only in steps; give it to "
                                f"run({self.name}=...) or store the new value under another "
                                "attribute")

    def convert(self, text: str) -> Any:
        """The value of ``--param name=text``.

        Raises:
            InvalidInputError: ``text`` does not parse as the parameter's type.
        """
        kind = self.type or (type(self.default) if not self.required else None)
        try:
            if kind is bool:
                if text.lower() in ("1", "true", "yes", "on"):
                    return True
                if text.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(text)
            if kind in (int, float, str):
                return kind(text)
        except ValueError:
            raise InvalidInputError(f"parameter {self.name!r} expects a "
                                    f"{getattr(kind, '__name__', kind)}, got {text!r}") from None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def __repr__(self) -> str:
        default = "required" if self.required else f"default={self.default!r}"
        return f"Parameter({self.name!r}, {default})"


class Flow(FlowBase):
    """Base class of class flows; see the module docstring for an example.

    Subclasses define ``@step`` methods, among them ``start`` and ``end``; the graph is
    validated when the class is used (:meth:`graph`), before anything runs.
    """

    _archivist_graph: ClassVar[FlowGraph | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._archivist_graph = None
        annotations = inspect.get_annotations(cls)
        for attribute, annotation in annotations.items():
            if attribute.startswith("_") or _is_classvar(annotation):
                continue
            if isinstance(cls.__dict__.get(attribute), Parameter):
                continue
            default = cls.__dict__.get(attribute, _MISSING)
            parameter = Parameter(attribute, default=default,
                                  type=_simple_type(annotation))
            parameter.__set_name__(cls, attribute)
            setattr(cls, attribute, parameter)

    # -- the class -----------------------------------------------------------------------
    @classmethod
    def steps(cls) -> dict[str, Callable[..., Any]]:
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

    @classmethod
    def parameters(cls) -> dict[str, Parameter]:
        """Attribute name -> :class:`Parameter`, in definition order."""
        found: dict[str, Parameter] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Parameter):
                    found[name] = value
        return found

    @classmethod
    def graph(cls) -> FlowGraph:
        """The validated step graph (built once per class).

        Raises:
            InvalidFlowError: the graph is malformed; the message names the step.
        """
        graph = cls.__dict__.get("_archivist_graph")
        if graph is None:
            steps = cls.steps()
            for name in (*steps, *cls.parameters()):
                if name in RESERVED:
                    raise InvalidFlowError(f"{cls.__name__}.{name}: {name!r} is part of the "
                                           "Flow API; give the step or parameter another "
                                           "name", step=name)
            for name in steps:
                spec = spec_of(getattr(cls, name))
                if spec is not None and (spec.outputs or spec.partition_by or spec.cache
                                         or spec.artifact_type):
                    raise InvalidFlowError(
                        f"{cls.__name__}.{name}: outputs=, partition_by=, cache= and "
                        "artifact_type= are options of function steps; a flow stores its "
                        "attributes (use a plain @step)", step=name)
            clash = set(steps) & set(cls.parameters())
            if clash:
                name = sorted(clash)[0]
                raise InvalidFlowError(f"{cls.__name__}.{name} is both a step and a "
                                       "parameter", step=name)
            graph = FlowGraph.build(cls.__name__, steps)
            cls._archivist_graph = graph
        return graph

    # -- inside a step -----------------------------------------------------------------
    def next(self, *steps: Any, foreach: str | None = None) -> None:
        """Go on to ``steps`` after this one: one step, several (branches that run in
        parallel and meet in a join), or one with ``foreach="attr"`` (a task per item of
        ``self.attr``, each reading its item as ``self.input``).

        Raises:
            InvalidFlowError: called twice, outside a run, or with other targets than the
                step's code reads.
        """
        self._archivist_context().next(steps, foreach)

    @property
    def input(self) -> Any:
        """Inside a foreach: this task's item of the foreach's sequence.

        Raises:
            InvalidFlowError: the step is not inside a foreach.
        """
        return self._archivist_context().input()

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
            **parameters: Any) -> Run:
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
            **parameters: values of the flow's parameters, by name.

        Raises:
            InvalidFlowError: the graph is malformed (nothing runs).
            InvalidInputError: an unknown or missing parameter, a bad max_workers.
            Exception: the exception of a failed step, re-raised after the run is recorded
                as failed (its note names the run to resume).
        """
        from archivist.pipelines.flows.engine import start_run

        return start_run(type(self), parameters, catalog=catalog, max_workers=max_workers,
                         project=project, openlineage=openlineage)

    def resume(self, run: str | None = None, *,
               catalog: ArtifactCatalog | str | os.PathLike[str] | None = None,
               max_workers: int = 1, project: str | None = None,
               openlineage: Any = None) -> Run:
        """Run again from the step that failed in ``run`` (a pathspec ``"MyFlow/3"`` or an
        id; default: this flow's latest run), reusing the finished steps' versions.

        The new run keeps the old run's parameters; reused tasks are recorded as cached,
        with the task they were taken from. ``catalog``, ``max_workers``, ``project`` and
        ``openlineage`` as for :meth:`run`.

        Raises:
            ArtifactNotFoundError: no such run (or this flow has none).
            InvalidInputError: the run belongs to another flow.
            Exception: as :meth:`run`.
        """
        from archivist.pipelines.flows.engine import resume_run

        return resume_run(type(self), run, catalog=catalog, max_workers=max_workers,
                          project=project, openlineage=openlineage)


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
        return annotation if annotation in _SIMPLE_TYPES.values() else None
    return _SIMPLE_TYPES.get(str(annotation))
