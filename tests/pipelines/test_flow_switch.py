"""Conditional branching: ``self.next({"a": self.a, "b": self.b}, condition="attr")``."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from archivist import ArtifactCatalog, Flow, InvalidFlowError, Run, catch, step
from archivist.cli import app
from archivist.pipelines.flows.workers import import_file
from archivist.server.settings import ServerSettings
from tests.pipelines import metaflow_graphs as graphs
from tests.pipelines.switch_examples import ModeFlow, NumberedFlow, WrongValueFlow
from tests.remote import harness


@pytest.fixture(params=["local", "remote"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactCatalog]:
    if request.param == "local":
        with ArtifactCatalog(tmp_path / "catalog") as opened:
            yield opened
        return
    settings = ServerSettings(home=str(tmp_path / "server"), insecure_single_user=True)
    with harness.in_process_server(settings) as client, \
            harness.remote_catalog(client, tmp_path / "cache") as opened:
        yield opened


def _flow(body: str) -> type[Flow]:
    """A flow class compiled from source text (no file: the bytecode reader is used)."""
    namespace: dict[str, Any] = {"Flow": Flow, "step": step}
    exec(compile("class Made(Flow):\n" + textwrap.indent(textwrap.dedent(body), "    "),
                 "<made-switch>", "exec"), namespace)
    made: type[Flow] = namespace["Made"]
    return made


def _error(flow: type[Flow]) -> InvalidFlowError:
    with pytest.raises(InvalidFlowError) as info:
        flow.spec()
    return info.value


# -- the graph -----------------------------------------------------------------------------


def test_a_switch_is_read_with_its_cases_from_source_and_bytecode() -> None:
    node = ModeFlow.spec().graph.nodes["start"]
    assert (node.kind, node.condition) == ("switch", "mode")
    assert node.cases == (("train", "train"), ("skip", "skip"))
    assert ModeFlow.spec().graph.describe()[0] == \
        "start (switch on 'mode') -> 'train': train, 'skip': skip"
    made = _flow("""
        @step
        def start(self):
            self.k = 1
            self.next({1: self.a, 2: self.b}, condition="k")
        @step
        def a(self):
            self.next(self.end)
        @step
        def b(self):
            self.next(self.end)
        @step
        def end(self):
            pass
    """)
    assert made.spec().graph.nodes["start"].cases == ((1, "a"), (2, "b"))
    assert NumberedFlow.spec().graph.nodes["start"].cases == \
        ((1, "one"), (2, "two"), (None, "none"))


_SWITCH_TO_A_JOIN = """
    @step
    def start(self):
        self.next(self.a, self.b)
    @step
    def a(self):
        self.k = "x"
        self.next({"x": self.join, "y": self.c}, condition="k")
    @step
    def c(self):
        self.next(self.join)
    @step
    def b(self):
        self.next(self.join)
    @step
    def join(self, inputs):
        self.next(self.end)
    @step
    def end(self):
        pass
"""


@pytest.mark.parametrize(("source", "step_name", "words"), [
    (_SWITCH_TO_A_JOIN, "a", "cannot lead directly to a join"),
    ("""
        def start(self):
            self.next({"x": self.a}, condition="k")
        def a(self):
            self.next(self.end)
        def end(self):
            pass
     """, "start", "at least 2"),
    ("""
        def start(self):
            self.next({"x": self.a, "y": self.b})
        def a(self):
            self.next(self.end)
        def b(self):
            self.next(self.end)
        def end(self):
            pass
     """, "start", "condition="),
    ("""
        def start(self):
            key = "x"
            self.next({key: self.a, "y": self.b}, condition="k")
        def a(self):
            self.next(self.end)
        def b(self):
            self.next(self.end)
        def end(self):
            pass
     """, "start", "literal values"),
    ("""
        def start(self):
            self.next({"x": self.a, "y": self.b}, condition="k", foreach="k")
        def a(self):
            self.next(self.end)
        def b(self):
            self.next(self.end)
        def end(self):
            pass
     """, "start", "without foreach"),
    ("""
        def start(self):
            self.next(self.a)
        def a(self):
            self.next(self.b)
        def b(self):
            self.next({"again": self.a, "done": self.end}, condition="k")
        def end(self):
            pass
     """, "a", "cycle"),
    ("""
        def start(self):
            self.next(self.a, self.b)
        def a(self):
            self.next({"x": self.c, "y": self.end}, condition="k")
        def b(self):
            self.next(self.c)
        def c(self):
            self.next(self.end)
        def end(self):
            pass
     """, "c", "is not a join"),
    ("""
        def start(self):
            self.next(self.a, self.b)
        def a(self):
            self.next({"x": self.j, "y": self.c}, condition="k")
        def b(self):
            self.next(self.j)
        def c(self):
            self.next(self.end)
        def j(self, inputs):
            self.next(self.end)
        def end(self):
            pass
     """, "a", "directly to a join"),
])
def test_malformed_switches_name_the_step(source: str, step_name: str, words: str,
                                         tmp_path: Path) -> None:
    file = tmp_path / "made_flow.py"  # a file: the source is read, as for any flow file
    file.write_text("from archivist import Flow, step\n\n\nclass Made(Flow):\n"
                    + textwrap.indent(_decorated(source), "    "))
    with pytest.raises(InvalidFlowError) as info:
        import_file(file).Made.spec()
    assert words in info.value.message, info.value.message
    assert info.value.details["step"] == step_name


def _decorated(source: str) -> str:
    """Put ``@step`` above every ``def`` of a class body that has none."""
    lines: list[str] = []
    for line in textwrap.dedent(source).splitlines():
        if line.startswith("def ") and (not lines or lines[-1] != "@step"):
            lines.append("@step")
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_a_switch_may_loop_on_its_own_step_only() -> None:
    graph = graphs.RecursiveSwitchGraphFlow.spec().graph
    assert graph.nodes["loop_step"].targets == ("loop_step", "exit_loop")
    assert graph.predecessors("loop_step") == ["start"]
    assert graph.order() == ["start", "loop_step", "exit_loop", "end"]


def test_the_run_records_the_switches_and_the_case_taken(catalog: ArtifactCatalog) -> None:
    run = ModeFlow().run(catalog=catalog, mode="skip")
    recorded = run.record.details["graph"]
    assert recorded["switches"] == {"start": {"condition": "mode",
                                              "cases": [["train", "train"], ["skip", "skip"]]}}
    assert ["start", "train"] in recorded["edges"] and ["start", "skip"] in recorded["edges"]
    assert run["start"].task.details["switch"] == {"condition": "mode", "value": "skip",
                                                    "step": "skip"}
    assert [s.name for s in run] == ["start", "skip", "end"]
    assert run["end"].task.data.report == "result 0"
    with pytest.raises(KeyError) as info:
        run["train"]
    assert "did not run: the switch 'start' took 'skip' (mode = 'skip')" in str(info.value)
    with pytest.raises(KeyError) as info:
        run["nothing"]
    assert "did not run" not in str(info.value)


def test_keys_of_other_types_select_by_equality(catalog: ArtifactCatalog) -> None:
    run = NumberedFlow().run(catalog=catalog)
    assert [s.name for s in run] == ["start", "two", "end"]
    assert run["start"].task.details["switch"]["value"] == 2


# -- run time errors -------------------------------------------------------------------------


def test_a_value_that_is_no_case_fails_the_step(catalog: ArtifactCatalog) -> None:
    with pytest.raises(InvalidFlowError) as info:
        WrongValueFlow().run(catalog=catalog)
    error = info.value
    assert "has value 'other' which is not in the available cases: ['a', 'b']" in error.message
    assert error.details["step"] == "start"
    run = Run("WrongValueFlow/1", catalog=catalog)
    assert run.status == "failed" and run["start"].task.status == "failed"
    assert "not in the available cases" in (run["start"].task.error or "")
    assert [s.name for s in run] == ["start"]


def test_a_missing_condition_attribute_fails_with_its_name(tmp_path: Path) -> None:
    class NoCondition(Flow):
        @step
        def start(self) -> None:
            self.next({"a": self.a, "b": self.end}, condition="kind")

        @step
        def a(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    with pytest.raises(InvalidFlowError, match=r"self.kind of the switch in step 'start' does "
                                               "not exist"):
        NoCondition().run(catalog=tmp_path / "c")


def test_catch_cannot_save_a_failed_switch(tmp_path: Path) -> None:
    class CaughtSwitch(Flow):
        @catch(var="problem")
        @step
        def start(self) -> None:
            raise ValueError("before choosing")
            self.next({"a": self.a, "b": self.end}, condition="kind")

        @step
        def a(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    with pytest.raises(ValueError) as info:
        CaughtSwitch().run(catalog=tmp_path / "c")
    assert any("the case it chooses" in note for note in info.value.__notes__)


# -- resume ----------------------------------------------------------------------------------


def test_resume_across_a_switch_keeps_the_case_taken(catalog: ArtifactCatalog,
                                                     tmp_path: Path) -> None:
    flag = tmp_path / "fail"
    flag.touch()
    with pytest.raises(RuntimeError, match="training failed"):
        ModeFlow().run(catalog=catalog, fail_flag=str(flag))
    flag.unlink()
    resumed = ModeFlow().resume(catalog=catalog)
    assert resumed.status == "succeeded" and resumed["end"].task.data.report == "result 6"
    start = resumed["start"].task
    assert start.cached and start.details["switch"]["step"] == "train"
    assert not resumed["train"].task.cached and "skip" not in resumed
    again = ModeFlow().resume(resumed.pathspec, catalog=catalog)  # a resume of a resume
    assert [t.cached for s in again for t in s] == [True, True, True]
    assert again["start"].task.details["switch"]["step"] == "train"


def test_resume_inside_a_loop_reruns_from_the_failed_iteration(
        catalog: ArtifactCatalog) -> None:
    """Metaflow's ResumeRecursiveSwitchFlowTest: iterations 1-5 are reused, 6-10 run."""
    with pytest.raises(RuntimeError, match="failing at iteration 6"):
        graphs.RecursiveSwitchGraphFlow().run(catalog=catalog, fail_at=6)
    resumed = graphs.RecursiveSwitchGraphFlow().resume(catalog=catalog)
    loops = resumed["loop_step"].tasks
    assert [t.data.count for t in loops] == list(range(1, 11))
    assert [t.cached for t in loops] == [True] * 5 + [False] * 5
    assert resumed["end"].task.data.count == 10
    rerun = graphs.RecursiveSwitchGraphFlow().resume(resumed.pathspec, catalog=catalog,
                                                     step="loop_step")
    assert [t.cached for t in rerun["loop_step"].tasks] == [False] * 10


def test_the_command_line_shows_and_runs_a_switch(tmp_path: Path) -> None:
    flow_file = tmp_path / "mode_flow.py"
    flow_file.write_text(Path(__file__).with_name("switch_examples.py").read_text())
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    shown = runner.invoke(app, [*home, "flow", "show", str(flow_file), "--flow", "ModeFlow",
                                "--json"])
    assert shown.exit_code == 0, shown.output
    start = json.loads(shown.output)["steps"][0]
    assert start["kind"] == "switch" and start["condition"] == "mode"
    assert start["cases"] == [["train", "train"], ["skip", "skip"]]
    done = runner.invoke(app, [*home, "flow", "run", str(flow_file), "--flow", "ModeFlow",
                               "--mode", "skip"])  # a parameter as Metaflow spells it
    assert done.exit_code == 0, done.output
    with ArtifactCatalog(tmp_path / "home") as catalog:
        assert [s.name for s in Run("ModeFlow/1", catalog=catalog)] == ["start", "skip", "end"]
