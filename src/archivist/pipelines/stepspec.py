"""What a ``@step`` declaration says: :class:`StepSpec`, made and checked once when the
function is decorated (:func:`make_spec`), and found again on the function
(:func:`spec_of`). Kept apart from :mod:`archivist.pipelines.step` (the decorator) so
that :mod:`~archivist.pipelines.capture`, which runs a step, reads the spec without
importing the decorator that calls it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archivist import names, timepartitions
from archivist.errors import InvalidInputError
from archivist.pipelines.provenance import function_hash

#: The attribute of a decorated function that holds its :class:`StepSpec`.
SPEC_ATTRIBUTE = "__archivist_step__"
#: The attribute of a function that ``@partition_by_key``/``@partition_by_date`` marked:
#: ``(key, granularity or None)`` pairs, read by :func:`make_spec`.
MARKS_ATTRIBUTE = "__archivist_partitions__"


@dataclass(frozen=True)
class StepSpec:
    """How a ``@step`` was declared."""

    fn: Callable[..., Any]
    name: str
    outputs: tuple[str, ...] | None
    partition_by: tuple[str, ...]
    cache: bool
    #: the parameter whose value is stored as a time bucket of ``granularity``
    time_partition: str | None
    granularity: str
    artifact_type: str | Mapping[str, str] | None
    signature: inspect.Signature
    code_hash: str

    def artifact_names(self) -> list[tuple[str, str]]:
        """``(output name, artifact name)`` of each output, in order."""
        if self.outputs is None:
            return [(self.name, self.name)]
        return [(o, f"{self.name}.{o}") for o in self.outputs]

    def type_of(self, output: str) -> str | None:
        """The artifact type declared for an output (``None``: the materializer's)."""
        if self.artifact_type is None or isinstance(self.artifact_type, str):
            return self.artifact_type
        return self.artifact_type.get(output)


def mark_partition(func: Callable[..., Any], key: str, granularity: str | None) -> None:
    """Record on ``func`` that its step partitions by ``key`` (a time partition of
    ``granularity`` when given); a ``@step`` wrapper gets its spec rebuilt."""
    marks = [*getattr(func, MARKS_ATTRIBUTE, ()), (key, granularity)]
    spec = spec_of(func)
    if spec is None:
        setattr(func, MARKS_ATTRIBUTE, marks)
        return
    setattr(spec.fn, MARKS_ATTRIBUTE, [*getattr(spec.fn, MARKS_ATTRIBUTE, ()),
                                       (key, granularity)])
    rebuilt = make_spec(spec.fn, name=spec.name, outputs=spec.outputs,
                        partition_by=spec.partition_by, cache=spec.cache,
                        artifact_type=spec.artifact_type, time_partition=spec.time_partition,
                        time_partition_granularity=spec.granularity)
    setattr(func, SPEC_ATTRIBUTE, rebuilt)


def spec_of(value: object) -> StepSpec | None:
    """The :class:`StepSpec` of a ``@step``-decorated function, or ``None``."""
    spec = getattr(value, SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, StepSpec) else None


def make_spec(func: Callable[..., Any], *, name: str | None, outputs: Sequence[str] | None,
          partition_by: Sequence[str] | None, cache: bool,
          artifact_type: str | Mapping[str, str] | None, time_partition: str | None = None,
          time_partition_granularity: str = "day") -> StepSpec:
    """The :class:`StepSpec` of ``@step(...)`` on ``func``.

    Raises:
        InvalidNameError: a malformed step or output name.
        InvalidInputError: duplicate outputs, ``partition_by`` or ``time_partition``
            naming a parameter the function does not have, an unknown granularity.
    """
    step_name = names.check_name(name if name is not None else func.__name__, "step")
    outs: tuple[str, ...] | None = None
    if outputs is not None:
        if isinstance(outputs, str) or not outputs:
            raise InvalidInputError("outputs must be a non-empty list of names")
        outs = tuple(names.check_name(o, "output") for o in outputs)
        if len(set(outs)) != len(outs):
            raise InvalidInputError(f"outputs of step {step_name!r} repeat a name: {outs}")
    signature = inspect.signature(func)
    parts = tuple(partition_by or ())
    if isinstance(partition_by, str):
        raise InvalidInputError("partition_by must be a list of parameter names")
    for key, by in getattr(func, MARKS_ATTRIBUTE, ()):  # @partition_by_key / _date
        parts = tuple(dict.fromkeys([*parts, key]))
        if by is not None:
            if time_partition is not None and time_partition != key:
                raise InvalidInputError(f"step {step_name!r} has two time partitions, "
                                        f"{time_partition!r} and {key!r}; keep one")
            time_partition, time_partition_granularity = key, by
    granularity = timepartitions.check_granularity(time_partition_granularity)
    if time_partition is not None:
        parts = tuple(dict.fromkeys([*parts, time_partition]))
    open_kwargs = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for key in parts:
        names.check_name(key, "partition key")
        if key not in signature.parameters and not open_kwargs:
            option = "time_partition" if key == time_partition else "partition_by"
            raise InvalidInputError(f"{option} names {key!r}, which is not a parameter "
                                    f"of {func.__name__}{signature}")
    if artifact_type is not None:
        types = [artifact_type] if isinstance(artifact_type, str) else list(
            artifact_type.values())
        for t in types:
            names.check_artifact_type(t)
    return StepSpec(fn=func, name=step_name, outputs=outs, partition_by=parts,
                    time_partition=time_partition, granularity=granularity,
                    cache=bool(cache), artifact_type=artifact_type, signature=signature,
                    code_hash=function_hash(func))
