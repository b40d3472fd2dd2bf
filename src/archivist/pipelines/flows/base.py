"""What the flow engine uses of a ``Flow`` subclass: :class:`FlowBase`.

The engine (:mod:`~archivist.pipelines.flows.engine`, :mod:`~archivist.pipelines.flows.task`,
:mod:`~archivist.pipelines.flows.workers`) runs a flow class without importing
:mod:`archivist.pipelines.flows.flow`, which imports the engine to run itself: it sees the class
as a ``type[FlowBase]``, the base :class:`archivist.Flow` fills in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from archivist.pipelines.flows.graph import FlowGraph


class DeclaredParameter(Protocol):
    """A parameter as a flow class declares it (:class:`archivist.Parameter`)."""

    name: str
    default: Any

    @property
    def required(self) -> bool: ...

    def split(self, value: Any) -> Any:
        """The value a step sees for ``value`` (text split on the separator, if any)."""
        ...


_P = TypeVar("_P", bound=DeclaredParameter, covariant=True)


@dataclass(frozen=True)
class FlowShape(Generic[_P]):
    """What a flow class declares, read once per class: ``MyFlow.spec()``.

    It lives on the class, not on ``self``, so that a step may store ``self.parameters``,
    ``self.steps`` or ``self.graph`` like any other attribute.
    """

    name: str
    #: Step name -> the function written under ``@step``.
    steps: Mapping[str, Callable[..., Any]]
    #: Attribute name -> parameter, in definition order.
    parameters: Mapping[str, _P]
    #: The validated step graph.
    graph: FlowGraph


class FlowBase:
    """The class-level question the engine asks of a flow; :class:`archivist.Flow`
    answers it."""

    @classmethod
    def spec(cls) -> FlowShape[DeclaredParameter]:
        """The flow's steps, parameters and validated graph."""
        raise NotImplementedError
