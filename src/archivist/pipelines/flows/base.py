"""What the flow engine uses of a ``Flow`` subclass: :class:`FlowBase`.

The engine (:mod:`~archivist.pipelines.flows.engine`, :mod:`~archivist.pipelines.flows.task`,
:mod:`~archivist.pipelines.flows.workers`) runs a flow class without importing
:mod:`archivist.pipelines.flows.flow`, which imports the engine to run itself: it sees the class
as a ``type[FlowBase]``, the base :class:`archivist.Flow` fills in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from archivist.pipelines.flows.graph import FlowGraph


class DeclaredParameter(Protocol):
    """A parameter as a flow class declares it (:class:`archivist.Parameter`)."""

    name: str
    default: Any

    @property
    def required(self) -> bool: ...


class FlowBase:
    """The class-level questions the engine asks of a flow; :class:`archivist.Flow`
    answers them."""

    @classmethod
    def steps(cls) -> dict[str, Callable[..., Any]]:
        """Step name -> the function written under ``@step``."""
        raise NotImplementedError

    @classmethod
    def parameters(cls) -> Mapping[str, DeclaredParameter]:
        """Attribute name -> parameter, in definition order."""
        raise NotImplementedError

    @classmethod
    def graph(cls) -> FlowGraph:
        """The validated step graph."""
        raise NotImplementedError
