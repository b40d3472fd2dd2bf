"""``@step``: a function whose calls inside a run record themselves.

::

    from archivist import pipeline, step

    @step
    def load_raw() -> pd.DataFrame: ...

    @step(outputs=["train", "test"], partition_by=["report_date"], cache=True)
    def split(df: pd.DataFrame, report_date: str) -> tuple[pd.DataFrame, pd.DataFrame]: ...

    with pipeline("fraud_detection") as run:
        train, test = split(load_raw(), report_date="2023-10-26")

Outside a run the function is called as it is. Inside one, see
:mod:`archivist.pipelines.capture` for what a call records. Artifact names: a step
without ``outputs`` stores its return value as the artifact ``<step>``; with
``outputs=["a", "b"]`` it returns a tuple whose items are stored as ``<step>.a`` and
``<step>.b``. A ``None`` return value (or item) stores nothing.

The wrapper carries its :class:`StepSpec` as ``__archivist_step__`` (see :func:`spec_of`),
which is how class flows find their ``@step`` methods.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from archivist import names
from archivist.errors import InvalidInputError
from archivist.pipelines.provenance import function_hash

F = TypeVar("F", bound=Callable[..., Any])
SPEC_ATTRIBUTE = "__archivist_step__"


@dataclass(frozen=True)
class StepSpec:
    """How a ``@step`` was declared."""

    fn: Callable[..., Any]
    name: str
    outputs: tuple[str, ...] | None
    partition_by: tuple[str, ...]
    cache: bool
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


@overload
def step(fn: F, /) -> F: ...
@overload
def step(*, name: str | None = None, outputs: Sequence[str] | None = None,
         partition_by: Sequence[str] | None = None, cache: bool = False,
         artifact_type: str | Mapping[str, str] | None = None) -> Callable[[F], F]: ...


def step(fn: Callable[..., Any] | None = None, /, *, name: str | None = None,
         outputs: Sequence[str] | None = None, partition_by: Sequence[str] | None = None,
         cache: bool = False,
         artifact_type: str | Mapping[str, str] | None = None) -> Any:
    """Declare a pipeline step (usable bare, ``@step``, or with options).

    Args:
        name: the step's name (default: the function's); also its artifact name.
        outputs: names of the items of a returned tuple, one artifact each.
        partition_by: parameters whose values become the outputs' partitions.
        cache: reuse the stored outputs of an earlier call with the same code and the
            same input digests instead of running.
        artifact_type: the outputs' type, or a mapping output name -> type.

    Raises:
        InvalidNameError: a malformed step or output name.
        InvalidInputError: duplicate outputs, or ``partition_by`` naming a parameter
            the function does not have.
    """
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        spec = _spec(func, name=name, outputs=outputs, partition_by=partition_by,
                     cache=cache, artifact_type=artifact_type)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from archivist.pipelines.capture import call_step
            from archivist.pipelines.context import current_run

            active = current_run()
            if active is None:
                return func(*args, **kwargs)
            return call_step(spec, active, args, kwargs)

        setattr(wrapper, SPEC_ATTRIBUTE, spec)
        return wrapper

    if fn is not None:
        if not callable(fn):
            raise InvalidInputError(f"@step decorates a function, got {type(fn).__name__}")
        return decorate(fn)
    return decorate


def spec_of(value: object) -> StepSpec | None:
    """The :class:`StepSpec` of a ``@step``-decorated function, or ``None``."""
    spec = getattr(value, SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, StepSpec) else None


def _spec(func: Callable[..., Any], *, name: str | None, outputs: Sequence[str] | None,
          partition_by: Sequence[str] | None, cache: bool,
          artifact_type: str | Mapping[str, str] | None) -> StepSpec:
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
    open_kwargs = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for key in parts:
        names.check_name(key, "partition key")
        if key not in signature.parameters and not open_kwargs:
            raise InvalidInputError(f"partition_by names {key!r}, which is not a parameter "
                                    f"of {func.__name__}{signature}")
    if artifact_type is not None:
        types = [artifact_type] if isinstance(artifact_type, str) else list(
            artifact_type.values())
        for t in types:
            names.check_artifact_type(t)
    return StepSpec(fn=func, name=step_name, outputs=outs, partition_by=parts,
                    cache=bool(cache), artifact_type=artifact_type, signature=signature,
                    code_hash=function_hash(func))
