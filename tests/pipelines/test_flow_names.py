"""Which names a flow's steps may store, and class attributes against stored values."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from archivist import ArtifactCatalog, Flow, InvalidFlowError, Parameter, step

#: Common ML words and names used in the docs: each must work as an artifact.
ARTIFACT_NAMES = ["parameters", "params", "config", "model", "data", "graph", "steps",
                  "run", "resume", "spec", "name", "catalog", "project", "max_workers",
                  "openlineage"]


def _made(body: str) -> type[Flow]:
    """A flow class compiled from source text (the graph reader takes foreach= literally)."""
    namespace: dict[str, Any] = {"Flow": Flow, "step": step, "Parameter": Parameter}
    exec(compile("class Made(Flow):\n" + textwrap.indent(textwrap.dedent(body), "    "),
                 "<made>", "exec"), namespace)
    made: type[Flow] = namespace["Made"]
    return made


def _flow_storing(attribute: str) -> type[Flow]:
    return _made(f"""
        @step
        def start(self):
            self.{attribute} = [{{"lr": 0.01}}, {{"lr": 0.001}}]
            self.next(self.train, foreach="{attribute}")
        @step
        def train(self):
            self.lr = self.input["lr"]
            self.seen = self.{attribute}
            self.next(self.join)
        @step
        def join(self, inputs):
            self.lrs = [i.lr for i in inputs]
            self.seen = inputs[0].seen
            self.next(self.end)
        @step
        def end(self):
            self.last = self.seen
    """)


@pytest.mark.parametrize("attribute", ARTIFACT_NAMES)
def test_common_words_can_be_artifacts_and_foreach_sequences(
        local_catalog: ArtifactCatalog, attribute: str) -> None:
    run = _flow_storing(attribute)().run(catalog=local_catalog)
    expected = [{"lr": 0.01}, {"lr": 0.001}]
    assert run["join"].task.data.lrs == [0.01, 0.001]
    assert run["end"].task.data.last == expected
    assert run["start"].task[attribute].data == expected


def test_the_seed_example_foreach_over_self_parameters(local_catalog: ArtifactCatalog) -> None:
    class SeedFlow(Flow):
        @step
        def start(self) -> None:
            self.parameters = [{"lr": 0.01, "batch_size": 32}, {"lr": 0.001, "batch_size": 64}]
            self.next(self.train, foreach="parameters")

        @step
        def train(self) -> None:
            config = self.input
            self.accuracy = config["lr"] * 10
            self.count = len(self.parameters)
            self.next(self.join)

        @step
        def join(self, inputs: Any) -> None:
            self.best = max(i.accuracy for i in inputs)
            self.count = inputs[0].count
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    run = SeedFlow().run(catalog=local_catalog)
    assert run["join"].task.data.best == 0.1 and run["join"].task.data.count == 2


@pytest.mark.parametrize("name", ["next", "input", "index", "foreach_stack", "merge_artifacts"])
def test_only_metaflows_names_are_reserved_for_artifacts(
        local_catalog: ArtifactCatalog, name: str) -> None:
    flow = _made(f"""
        @step
        def start(self):
            self.{name} = 1
            self.next(self.end)
        @step
        def end(self):
            pass
    """)
    with pytest.raises((InvalidFlowError, AttributeError), match=name):
        flow().run(catalog=local_catalog)


@pytest.mark.parametrize("name", ["next", "input", "index", "foreach_stack", "merge_artifacts",
                                  "run", "resume", "spec"])
def test_steps_and_parameters_cannot_take_api_names(name: str) -> None:
    with pytest.raises(InvalidFlowError, match=name):  # when the class is defined
        _made(f"""
        {name} = Parameter(default=1)
        @step
        def start(self):
            self.next(self.end)
        @step
        def end(self):
            pass
    """)


def test_spec_describes_the_class() -> None:
    class Described(Flow):
        rate = Parameter("rate", default=0.1)
        epochs: int = 3

        @step
        def start(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    spec = Described.spec()
    assert spec is Described.spec() and spec.name == "Described"
    assert list(spec.parameters) == ["rate", "epochs"] and list(spec.steps) == ["start", "end"]
    assert spec.graph.order() == ["start", "end"]


class Constants(Flow):
    """An un-annotated class attribute is a default that steps may overwrite."""

    int_const = 123
    untouched = "class"
    rows = [1, 2]

    @step
    def start(self) -> None:
        self.int_const = 122
        self.next(self.middle)

    @step
    def middle(self) -> None:
        self.seen = [self.int_const, self.untouched]
        self.next(self.split, self.other)

    @step
    def split(self) -> None:
        self.next(self.join)

    @step
    def other(self) -> None:
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.merge_artifacts(inputs)
        self.next(self.each, foreach="rows")

    @step
    def each(self) -> None:
        self.doubled = self.input * 2
        self.next(self.gather)

    @step
    def gather(self, inputs: Any) -> None:
        self.doubled = [i.doubled for i in inputs]
        self.merge_artifacts(inputs)  # int_const: 122, from start
        self.next(self.end)

    @step
    def end(self) -> None:
        self.final = self.int_const


def test_stored_values_win_over_class_attributes(local_catalog: ArtifactCatalog) -> None:
    run = Constants().run(catalog=local_catalog)
    assert run["middle"].task.data.seen == [122, "class"]
    assert run["end"].task.data.final == 122
    assert run["gather"].task.data.doubled == [2, 4]
    assert run["join"].task["rows"].data == [1, 2]
