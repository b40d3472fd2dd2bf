"""Flow classes used by the flow tests; a module, so worker processes can import them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from archivist import Flow, Parameter, step


def _log(path: str, entry: str) -> None:
    """Append one line per execution: the tests count executions from this file."""
    if path:
        with open(path, "a") as f:
            f.write(f"{entry}\n")


class LinearFlow(Flow):
    """start -> middle -> end, with a parameter, a private and a carried attribute."""

    alpha = Parameter("alpha", default=0.5)
    scale: int = 2

    @step
    def start(self) -> None:
        self.numbers = [1, 2, 3]
        self.label = "linear"
        self._scratch = "never stored"
        self.next(self.middle)

    @step
    def middle(self) -> None:
        self.total = sum(self.numbers) * self.scale * self.alpha
        self.next(self.end)

    @step
    def end(self) -> None:
        self.report = f"{self.label}: {self.total}"


class BranchFlow(Flow):
    """A split into two branches that a join merges (every merge rule in one place)."""

    @step
    def start(self) -> None:
        self.shared = "from start"
        self.next(self.left, self.right)

    @step
    def left(self) -> None:
        self.same = 10
        self.only_left = "L"
        self.conflict = "left value"
        self.kept = "left"
        self.pid = os.getpid()
        self.next(self.join)

    @step
    def right(self) -> None:
        self.same = 10
        self.conflict = "right value"
        self.kept = "right"
        self.pid = os.getpid()
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.kept = "set in the join"
        self.conflict = inputs.left.conflict + " + " + inputs["right"].conflict
        self.pids = sorted(i.pid for i in inputs)
        self.merge_artifacts(inputs, exclude=["pid"])
        self.next(self.end)

    @step
    def end(self) -> None:
        self.summary = [self.same, self.only_left, self.kept, self.shared]


class ForeachFlow(Flow):
    """A foreach over a parameterised list, each task squaring its ``self.input``."""

    count: int = 4
    log: str = ""
    fail_on: int = -1
    fail_flag: str = ""

    @step
    def start(self) -> None:
        _log(self.log, "start")
        self.items = list(range(self.count))
        self.next(self.square, foreach="items")

    @step
    def square(self) -> None:
        _log(self.log, f"square {self.input}")
        if self.input == self.fail_on and Path(self.fail_flag).exists():
            raise ValueError(f"item {self.input} failed on purpose")
        self.value = self.input * self.input
        self.pid = os.getpid()
        self.next(self.gather)

    @step
    def gather(self, inputs: Any) -> None:
        _log(self.log, "gather")
        self.values = [i.value for i in inputs]
        self.pids = sorted({i.pid for i in inputs})
        self.next(self.end)

    @step
    def end(self) -> None:
        _log(self.log, "end")
        self.total = sum(self.values)


class ResumeFlow(Flow):
    """start -> prepare -> train -> end; ``train`` fails while the flag file exists."""

    log: str = ""
    fail_flag: str = ""

    @step
    def start(self) -> None:
        _log(self.log, "start")
        self.data = [3, 1, 2]
        self.next(self.prepare)

    @step
    def prepare(self) -> None:
        _log(self.log, "prepare")
        self.prepared = sorted(self.data)
        self.next(self.train)

    @step
    def train(self) -> None:
        _log(self.log, "train")
        if self.fail_flag and Path(self.fail_flag).exists():
            raise RuntimeError("training failed on purpose")
        self.model = {"weights": self.prepared}
        self.next(self.end)

    @step
    def end(self) -> None:
        _log(self.log, "end")
        self.accuracy = 0.9


class EnvFlow(Flow):
    """Branches that read an environment variable in their worker."""

    @step
    def start(self) -> None:
        self.next(self.a, self.b)

    @step
    def a(self) -> None:
        self.value = os.environ.get("ARCHIVIST_FLOW_TEST_VALUE")
        self.next(self.join)

    @step
    def b(self) -> None:
        self.value = os.environ.get("ARCHIVIST_FLOW_TEST_VALUE")
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class GridFlow(Flow):
    """A foreach inside a foreach (rows x columns)."""

    @step
    def start(self) -> None:
        self.rows = ["a", "b"]
        self.next(self.row, foreach="rows")

    @step
    def row(self) -> None:
        self.name = self.input
        self.columns = [1, 2, 3]
        self.next(self.cell, foreach="columns")

    @step
    def cell(self) -> None:
        self.label = f"{self.name}{self.input}"
        self.next(self.row_join)

    @step
    def row_join(self, inputs: Any) -> None:
        self.cells = [i.label for i in inputs]
        self.next(self.grid_join)

    @step
    def grid_join(self, inputs: Any) -> None:
        self.grid = [i.cells for i in inputs]
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class WhereFlow(Flow):
    """A foreach whose tasks record ``current`` and ``self.index`` (in workers too)."""

    @step
    def start(self) -> None:
        self.items = ["a", "b"]
        self.next(self.each, foreach="items")

    @step
    def each(self) -> None:
        from archivist import current

        self.where = [current.pathspec, self.index, os.getpid()]
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.wheres = [i.where for i in inputs]
        self.next(self.end)

    @step
    def end(self) -> None:
        pass
