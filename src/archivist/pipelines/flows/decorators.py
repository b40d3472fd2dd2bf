"""Metaflow's step decorators for class flows: ``@retry``, ``@catch``, ``@timeout``,
``@resources``.

Each records an option on the step function (above or below ``@step``, in any order);
:func:`options_of` reads them back for the engine, which applies them the way Metaflow
stacks them: ``@catch`` around every attempt, ``@retry`` around each attempt, ``@timeout``
per attempt::

    @catch(var="error")
    @retry(times=2)
    @timeout(seconds=60)
    @resources(cpu=2, memory=4096)
    @step
    def train(self): ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from archivist.errors import InvalidInputError
from archivist.pipelines.stepspec import spec_of

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute of a step function that holds its :class:`StepOptions`.
OPTIONS_ATTRIBUTE = "__archivist_step_options__"


@dataclass(frozen=True)
class StepOptions:
    """The decorators on one step (defaults: none of them)."""

    retries: int = 0
    retry_wait: float = 0.0
    catch_var: str | None = None
    timeout: float | None = None
    cpu: int | None = None
    memory: int | None = None
    gpu: int | None = None

    def resources(self) -> dict[str, int]:
        """What ``@resources`` asked for (recorded in the task details)."""
        asked = {"cpu": self.cpu, "memory": self.memory, "gpu": self.gpu}
        return {k: v for k, v in asked.items() if v is not None}


@dataclass(frozen=True)
class CaughtException:
    """What ``@catch(var=...)`` sets on the flow when a step failed (Metaflow's
    ``MetaflowExceptionWrapper``): the exception's qualified ``type``, its ``message`` and
    its ``traceback`` text. Later steps read it as ``self.<var>``."""

    type: str
    message: str
    traceback: str

    def __str__(self) -> str:
        return f"{self.type.rsplit('.', 1)[-1]}: {self.message}"


def options_of(func: object) -> StepOptions:
    """The :class:`StepOptions` recorded on a step function (or its ``@step`` wrapper)."""
    found = getattr(func, OPTIONS_ATTRIBUTE, None)
    return found if isinstance(found, StepOptions) else StepOptions()


def retry(func: F | None = None, /, *, times: int = 3,
          minutes_between_retries: float = 2) -> Any:
    """Run a failed task again, up to ``times`` more attempts (Metaflow's ``@retry``).

    Every attempt starts from the task's inputs; the attempts are recorded in the task's
    details (``attempts``, ``attempt_errors``).

    Raises:
        InvalidInputError: ``times`` is not 0 to 100 or the wait is negative.
    """
    if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= 100:
        raise InvalidInputError(f"@retry(times=...) takes 0 to 100, got {times!r}")
    if not isinstance(minutes_between_retries, int | float) or minutes_between_retries < 0:
        raise InvalidInputError("@retry(minutes_between_retries=...) must be >= 0, got "
                                f"{minutes_between_retries!r}")
    return _option(func, retries=times, retry_wait=60.0 * minutes_between_retries)


def catch(func: F | None = None, /, *, var: str | None = None) -> Any:
    """Let a task that failed (after its retries) succeed: the flow goes on, and with
    ``var`` the step's ``self.<var>`` is a :class:`CaughtException` describing the
    failure (Metaflow's ``@catch``). Not for a step that starts a foreach.

    Raises:
        InvalidInputError: ``var`` is not a public attribute name.
    """
    if var is not None and (not var.isidentifier() or var.startswith("_")):
        raise InvalidInputError(f"@catch(var=...) must be a public attribute name, got {var!r}")
    return _option(func, catch_var=var or "")


def timeout(func: F | None = None, /, *, seconds: float = 0, minutes: float = 0,
            hours: float = 0) -> Any:
    """Fail an attempt of the task that runs longer than the given time (Metaflow's
    ``@timeout``). Such a task runs in a process of its own, which is killed when the
    time is up (a thread cannot be stopped): its flow must be importable (defined in a
    file, at module level) and its catalog reopenable by location.

    Raises:
        InvalidInputError: no positive duration.
    """
    total = float(seconds) + 60.0 * float(minutes) + 3600.0 * float(hours)
    if total <= 0:
        raise InvalidInputError("@timeout needs seconds=, minutes= or hours= above 0")
    return _option(func, timeout=total)


def resources(func: F | None = None, /, *, cpu: int | None = None,
              memory: int | None = None, gpu: int | None = None) -> Any:
    """What a task needs: ``cpu`` cores, ``memory`` in MB, ``gpu`` devices (Metaflow's
    ``@resources``). Recorded in the task's details. With local worker processes
    (``max_workers`` above 1) the tasks running at once never ask more, together, than
    the machine's CPUs, the memory free when the run started and its GPUs; a step asking
    more than the machine has fails the run before it starts
    (:mod:`~archivist.pipelines.flows.resources`).

    Raises:
        InvalidInputError: a value that is not a positive integer (``gpu`` may be 0).
    """
    for label, value, least in (("cpu", cpu, 1), ("memory", memory, 1), ("gpu", gpu, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < least):
            kind = "a positive integer" if least else "an integer >= 0"
            raise InvalidInputError(f"@resources({label}=...) must be {kind}, got {value!r}")
    return _option(func, cpu=cpu, memory=memory, gpu=gpu)


def _option(func: Callable[..., Any] | None, **changes: Any) -> Any:
    def decorate(target: F) -> F:
        if not callable(target):
            raise InvalidInputError(f"a step decorator decorates a step, got "
                                    f"{type(target).__name__}")
        options = replace(options_of(target), **changes)
        setattr(target, OPTIONS_ATTRIBUTE, options)
        spec = spec_of(target)
        if spec is not None:  # above @step: the engine calls the function under it
            setattr(spec.fn, OPTIONS_ATTRIBUTE, options)
        return target

    return decorate(func) if func is not None else decorate
