"""Flows with ``@resources`` for the resource tests; a module, so workers can import them."""

from __future__ import annotations

import time

from archivist import Flow, Parameter, resources, step
from archivist.pipelines.flows.resources import Machine

#: What this machine offers (the same in the worker processes, which import this again).
MACHINE = Machine.current()


def most_at_once(spans: list[list[float]]) -> int:
    """The largest number of the (start, end) intervals that overlap at one moment."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


class ResourceFlow(Flow):
    """Foreach steps whose tasks record when they ran: one without @resources (it also
    warms the worker processes up), one asking every CPU, one asking one CPU, one asking
    60% of the memory free when the module was imported."""

    width = Parameter("width", default=4)
    nap = Parameter("nap", default=0.6)

    @step
    def start(self) -> None:
        self.items = list(range(self.width))
        self.next(self.free, foreach="items")

    @resources(cpu=MACHINE.cpu)
    @step
    def whole(self) -> None:
        self.span = _napped(self.nap)
        self.next(self.join_whole)

    @step
    def join_whole(self, inputs) -> None:  # type: ignore[no-untyped-def]
        self.whole_spans = [i.span for i in inputs]
        self.items = list(range(self.width))
        self.next(self.single, foreach="items")

    @resources(cpu=1)
    @step
    def single(self) -> None:
        self.span = _napped(self.nap)
        self.next(self.join_single)

    @step
    def join_single(self, inputs) -> None:  # type: ignore[no-untyped-def]
        self.single_spans = [i.span for i in inputs]
        self.items = list(range(self.width))
        self.next(self.memory, foreach="items")

    @resources(memory=max(1, MACHINE.memory * 6 // 10))
    @step
    def memory(self) -> None:
        self.span = _napped(self.nap)
        self.next(self.join_memory)

    @step
    def join_memory(self, inputs) -> None:  # type: ignore[no-untyped-def]
        self.memory_spans = [i.span for i in inputs]
        self.next(self.end)

    @step
    def free(self) -> None:
        self.span = _napped(self.nap)
        self.next(self.join_free)

    @step
    def join_free(self, inputs) -> None:  # type: ignore[no-untyped-def]
        self.free_spans = [i.span for i in inputs]
        self.items = list(range(self.width))
        self.next(self.whole, foreach="items")

    @step
    def end(self) -> None:
        pass


def _napped(seconds: float) -> tuple[float, float]:
    started = time.time()
    time.sleep(seconds)
    return started, time.time()
