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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload

from archivist.errors import InvalidInputError
from archivist.pipelines.capture import call_step
from archivist.pipelines.context import current_run
from archivist.pipelines.stepspec import SPEC_ATTRIBUTE, make_spec, spec_of

F = TypeVar("F", bound=Callable[..., Any])


@overload
def step(fn: F, /) -> F: ...
@overload
def step(*, name: str | None = None, outputs: Sequence[str] | None = None,
         partition_by: Sequence[str] | None = None, cache: bool = False,
         artifact_type: str | Mapping[str, str] | None = None,
         time_partition: str | None = None,
         time_partition_granularity: str = "day") -> Callable[[F], F]: ...


def step(fn: Callable[..., Any] | None = None, /, *, name: str | None = None,
         outputs: Sequence[str] | None = None, partition_by: Sequence[str] | None = None,
         cache: bool = False,
         artifact_type: str | Mapping[str, str] | None = None,
         time_partition: str | None = None, time_partition_granularity: str = "day") -> Any:
    """Declare a pipeline step (usable bare, ``@step``, or with options).

    Args:
        name: the step's name (default: the function's); also its artifact name.
        outputs: names of the items of a returned tuple, one artifact each.
        partition_by: parameters whose values become the outputs' partitions.
        cache: reuse the stored outputs of an earlier call with the same code and the
            same input digests instead of running.
        artifact_type: the outputs' type, or a mapping output name -> type.
        time_partition: the parameter (a datetime, date or ISO text) whose time is a
            partition of the outputs, stored as its ``time_partition_granularity``
            bucket (``2021-01-01`` for a day) with the key ``<name>.granularity``.
        time_partition_granularity: ``"minute"``, ``"hour"``, ``"day"`` (the default,
            as in Flyte) or ``"month"``.

    Raises:
        InvalidNameError: a malformed step or output name.
        InvalidInputError: duplicate outputs, ``partition_by`` or ``time_partition``
            naming a parameter the function does not have, an unknown granularity.
    """
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        spec = make_spec(func, name=name, outputs=outputs, partition_by=partition_by,
                     cache=cache, artifact_type=artifact_type, time_partition=time_partition,
                     time_partition_granularity=time_partition_granularity)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            active = current_run()
            if active is None:
                return func(*args, **kwargs)
            # the wrapper's spec: @partition_by_key above @step rebuilds it
            return call_step(spec_of(wrapper) or spec, active, args, kwargs)

        setattr(wrapper, SPEC_ATTRIBUTE, spec)
        return wrapper

    if fn is not None:
        if not callable(fn):
            raise InvalidInputError(f"@step decorates a function, got {type(fn).__name__}")
        return decorate(fn)
    return decorate
