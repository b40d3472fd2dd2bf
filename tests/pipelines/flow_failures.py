"""Flows that fail in awkward ways (worker processes import them from here)."""

from __future__ import annotations

import os
from pathlib import Path

from archivist import Flow, catch, resources, retry, step, timeout


class OddError(Exception):
    """Pickles but does not unpickle: ``__init__`` takes other arguments than ``args``."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a}/{b}")


def _fail(exc: Exception) -> None:
    raise exc


class OddFailureFlow(Flow):
    """A foreach whose item 1 raises :class:`OddError`."""

    @step
    def start(self) -> None:
        self.items = [0, 1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        if self.input == 1:
            raise OddError(1, 2)
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs: list[object]) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class DyingFlow(Flow):
    """A foreach whose item 1 kills its worker process."""

    @step
    def start(self) -> None:
        self.items = [0, 1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        if self.input == 1:
            os._exit(3)
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs: list[object]) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class DecoratedFlow(Flow):
    """``@retry``, ``@catch``, ``@timeout`` and ``@resources`` on the steps of a foreach."""

    counter: str = ""
    sleep: float = 0.0
    failures: int = 2

    @step
    def start(self) -> None:
        self.items = [0, 1]
        self.next(self.flaky, foreach="items")

    @resources(cpu=2, memory=512)
    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self) -> None:
        path = Path(f"{self.counter}.{self.input}")
        attempts = int(path.read_text()) + 1 if path.exists() else 1
        path.write_text(str(attempts))
        if attempts <= self.failures:
            raise ValueError(f"attempt {attempts} of item {self.input} fails")
        self.value = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs: list[object]) -> None:
        self.values = sorted(i.value for i in inputs)  # type: ignore[attr-defined]
        self.next(self.risky)

    @catch(var="error")
    @step
    def risky(self) -> None:
        self.error = None
        _fail(OddError(3, 4))
        self.next(self.slow)

    @catch(var="slow_error")
    @timeout(seconds=1)
    @step
    def slow(self) -> None:
        import time

        self.slow_error = None
        time.sleep(self.sleep)
        self.next(self.end)

    @step
    def end(self) -> None:
        self.summary = f"{type(self.error).__name__}: {self.error}"
