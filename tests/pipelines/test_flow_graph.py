"""The step graph is read from the code and validated before anything runs."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from archivist import ArtifactCatalog, Flow, InvalidFlowError, step
from archivist.pipelines.flows.graph import transitions
from tests.pipelines.flow_examples import BranchFlow, ForeachFlow, LinearFlow


def _flow(body: str) -> type[Flow]:
    """A flow class compiled from source text (no file: the bytecode reader is used)."""
    namespace: dict[str, Any] = {"Flow": Flow, "step": step}
    exec(compile("class Made(Flow):\n" + textwrap.indent(textwrap.dedent(body), "    "),
                 "<made>", "exec"), namespace)
    made: type[Flow] = namespace["Made"]
    return made


def _error(flow: type[Flow]) -> InvalidFlowError:
    with pytest.raises(InvalidFlowError) as info:
        flow.spec()
    return info.value


def test_the_example_graphs_are_read_with_their_kinds() -> None:
    assert LinearFlow.spec().graph.describe() == [
        "start (start) -> middle", "middle (linear) -> end", "end (end)"]
    assert BranchFlow.spec().graph.describe() == [
        "start (split) -> left, right", "left (linear) -> join", "right (linear) -> join",
        "join (join) -> end", "end (end)"]
    graph = ForeachFlow.spec().graph
    assert graph.nodes["start"].kind == "foreach" and graph.nodes["start"].foreach == "items"
    assert graph.fan_out_of == {"gather": "start"}


def test_bytecode_and_source_agree() -> None:
    made = _flow("""
        @step
        def start(self):
            self.xs = [1, 2]
            self.next(self.a, foreach="xs")
        @step
        def a(self):
            self.next(self.b, self.c)
        @step
        def b(self):
            self.vals = [x * len(self.xs) for x in self.xs]  # self becomes a cell
            self.next(self.j)
        @step
        def c(self):
            self.next(self.j)
        @step
        def j(self, inputs):
            self.next(self.k)
        @step
        def k(self, inputs):
            self.next(self.end)
        @step
        def end(self):
            pass
    """)
    steps = made.spec().steps
    with pytest.raises(OSError):
        __import__("inspect").getsource(steps["start"])  # really no source: bytecode path
    assert [t.targets for t in transitions(steps["start"])] == [("a",)]
    assert transitions(steps["start"])[0].foreach == "xs"
    assert transitions(steps["a"])[0].targets == ("b", "c")
    assert transitions(steps["b"])[0].targets == ("j",)
    assert made.spec().graph.fan_out_of == {"j": "a", "k": "start"}
    assert [t.targets for t in transitions(BranchFlow.spec().steps["start"])] == [("left", "right")]


@pytest.mark.parametrize(("body", "step_name", "words"), [
    ("""
        @step
        def start(self):
            self.next(self.end)
     """, "end", "no 'end' step"),
    ("""
        @step
        def begin(self):
            self.next(self.end)
        @step
        def end(self):
            pass
     """, "start", "no 'start' step"),
    ("""
        @step
        def start(self):
            self.next(self.trian)
        @step
        def train(self):
            self.next(self.end)
        @step
        def end(self):
            pass
     """, "start", "goes to 'trian', which is not a step"),
    ("""
        @step
        def start(self):
            self.next(self.end)
        @step
        def orphan(self):
            self.next(self.end)
        @step
        def end(self):
            pass
     """, "orphan", "unreachable"),
    ("""
        @step
        def start(self):
            self.next(self.join)
        @step
        def join(self, inputs):
            self.next(self.end)
        @step
        def end(self):
            pass
     """, "join", "no fan-out"),
    ("""
        @step
        def start(self):
            self.next(self.a, self.b)
        @step
        def a(self):
            self.next(self.c)
        @step
        def b(self):
            self.next(self.c)
        @step
        def c(self):
            self.next(self.end)
        @step
        def end(self):
            pass
     """, "c", "is not a join"),
    ("""
        @step
        def start(self):
            self.next(self.a, self.end)
        @step
        def a(self):
            self.next(self.end)
        @step
        def end(self):
            pass
     """, "end", "is not a join"),
    ("""
        @step
        def start(self):
            self.xs = [1]
            self.next(self.a, foreach="xs")
        @step
        def a(self):
            self.next(self.end)
        @step
        def end(self):
            pass
     """, "start", "reaches 'end' without a join"),
    ("""
        @step
        def start(self):
            self.next(self.a)
            self.next(self.end)
        @step
        def a(self):
            self.next(self.end)
        @step
        def end(self):
            pass
     """, "start", "exactly once"),
    ("""
        @step
        def start(self):
            self.next(self.end)
        @step
        def end(self):
            self.next(self.start)
     """, "end", "must not call self.next"),
    ("""
        @step
        def start(self):
            self.next(self.a)
        @step
        def a(self):
            self.next(self.b)
        @step
        def b(self, inputs):
            self.next(self.a)
        @step
        def end(self):
            pass
     """, "end", "unreachable"),
    ("""
        @step
        def start(self):
            target = self.end
            self.next(target)
        @step
        def end(self):
            pass
     """, "start", "self.<step>"),
    ("""
        @step
        def start(self):
            self.next(self.run)
        @step
        def run(self):
            self.next(self.end)
        @step
        def end(self):
            pass
     """, "run", "part of the Flow API"),
])
def test_malformed_graphs_name_the_step(body: str, step_name: str, words: str) -> None:
    with pytest.raises(InvalidFlowError) as info:  # some when the class is defined
        _flow(body).spec()
    error = info.value
    assert words in error.message
    assert error.details["step"] == step_name
    assert error.code == "invalid_flow" and isinstance(error, ValueError)


def test_function_step_options_are_refused_on_flow_steps() -> None:
    class Options(Flow):
        @step(cache=True)
        def start(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    assert "options of function steps" in _error(Options).message


def test_a_cycle_is_refused() -> None:
    class Cycle(Flow):
        @step
        def start(self) -> None:
            self.next(self.a)

        @step
        def a(self) -> None:
            self.next(self.b)

        @step
        def b(self) -> None:
            self.next(self.a, self.end)

        @step
        def end(self) -> None:
            pass

    error = _error(Cycle)
    assert "not a join" in error.message or "cycle" in error.message


def test_nothing_runs_or_is_recorded_for_an_invalid_flow(local_catalog: ArtifactCatalog) -> None:
    class Broken(Flow):
        @step
        def start(self) -> None:
            self.touched = True
            self.next(self.missing)

        @step
        def end(self) -> None:
            pass

    with pytest.raises(InvalidFlowError, match="'missing', which is not a step"):
        Broken().run(catalog=local_catalog)
    assert local_catalog.runs() == [] and local_catalog.list() == []


def test_a_step_that_goes_elsewhere_at_run_time_fails_its_run(
        local_catalog: ArtifactCatalog) -> None:
    class Sneaky(Flow):
        @step
        def start(self) -> None:
            if self.__class__.__name__ == "nothing":
                self.next(self.end)

        @step
        def end(self) -> None:
            pass

    with pytest.raises(InvalidFlowError, match=r"ended without calling self\.next"):
        Sneaky().run(catalog=local_catalog)
    (run,) = local_catalog.runs(pipeline="Sneaky")
    assert run.status == "failed" and "self.next" in (run.error or "")
