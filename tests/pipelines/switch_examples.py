"""Flows with a switch for the switch tests; a module, so worker processes can import them."""

from __future__ import annotations

from pathlib import Path

from archivist import Flow, Parameter, step


class ModeFlow(Flow):
    """start switches on ``mode`` to ``train`` or ``skip``; ``train`` fails while the file
    ``fail_flag`` exists (to resume across the switch)."""

    mode = Parameter("mode", default="train")
    fail_flag = Parameter("fail_flag", default="")

    @step
    def start(self) -> None:
        self.rows = [1, 2, 3]
        self.next({"train": self.train, "skip": self.skip}, condition="mode")

    @step
    def train(self) -> None:
        if self.fail_flag and Path(self.fail_flag).exists():
            raise RuntimeError("training failed")
        self.result = sum(self.rows)
        self.next(self.end)

    @step
    def skip(self) -> None:
        self.result = 0
        self.next(self.end)

    @step
    def end(self) -> None:
        self.report = f"result {self.result}"


class NumberedFlow(Flow):
    """A switch on a number a step computes (keys of several types)."""

    @step
    def start(self) -> None:
        self.size = 2
        self.next({1: self.one, 2: self.two, None: self.none}, condition="size")

    @step
    def one(self) -> None:
        self.next(self.end)

    @step
    def two(self) -> None:
        self.next(self.end)

    @step
    def none(self) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class WrongValueFlow(Flow):
    """A switch whose condition holds a value that is no case."""

    @step
    def start(self) -> None:
        self.kind = "other"
        self.next({"a": self.a, "b": self.b}, condition="kind")

    @step
    def a(self) -> None:
        self.next(self.end)

    @step
    def b(self) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        pass
