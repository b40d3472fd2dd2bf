"""Flows for the Dask cluster tests; a module, so the cluster's workers can import them."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from archivist import Flow, resources, step


class DiesOnceFlow(Flow):
    """A foreach whose item 1 kills its worker the first time it runs (``marker`` absent)."""

    marker: str = ""

    @step
    def start(self) -> None:
        self.items = [0, 1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        if self.input == 1 and not Path(self.marker).exists():
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(3)
        self.value = self.input * 100
        self.pid = os.getpid()
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class MemoryHungryFlow(Flow):
    """Four tasks that each ask 600 MB: a worker declaring ``MEMORY=1000`` holds one."""

    hold: float = 0.4

    @step
    def start(self) -> None:
        self.items = [0, 1, 2, 3]
        self.next(self.work, foreach="items")

    @resources(memory=600)
    @step
    def work(self) -> None:
        started = time.time()
        time.sleep(self.hold)
        self.span = [started, time.time()]
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.spans = [i.span for i in inputs]
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class GpuFlow(Flow):
    """A step that asks for a GPU."""

    @step
    def start(self) -> None:
        self.next(self.train)

    @resources(gpu=1)
    @step
    def train(self) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        pass
