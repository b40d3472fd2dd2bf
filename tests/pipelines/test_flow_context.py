"""What a step knows about where it runs: self.index, self.foreach_stack(), current;
and Parameter(separator=...)."""

from __future__ import annotations

from typing import Any

import pytest

from archivist import ArtifactCatalog, Flow, InvalidInputError, Parameter, current, step


class Nested(Flow):
    letters = Parameter("letters", default="a,b", separator=",")
    sizes = Parameter("sizes", default=[1, 2], type=int, separator=";")

    @step
    def start(self) -> None:
        self.outside = [self.index, self.foreach_stack(), current.step_name]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self) -> None:
        self.numbers = ["x", "y", "z"]
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self) -> None:
        self.where = [self.index, [list(t) for t in self.foreach_stack()]]
        self.place = [current.flow_name, current.run_id, current.step_name, current.task_id,
                      current.pathspec, current.is_running_flow, current.origin_run_id]
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs: Any) -> None:
        self.wheres = [i.where for i in inputs]
        self.places = [i.place for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs: Any) -> None:
        self.wheres = [w for i in inputs for w in i.wheres]
        self.places = [p for i in inputs for p in i.places]
        self.next(self.end)

    @step
    def end(self) -> None:
        self.letters_seen = self.letters


def test_index_and_foreach_stack_as_metaflow(flow_catalog: ArtifactCatalog) -> None:
    run = Nested().run(catalog=flow_catalog, max_workers=2)
    assert run["start"].task.data.outside == [None, [], "start"]
    wheres = run["end"].task.data.wheres
    assert wheres[0] == [0, [[0, 2, "a"], [0, 3, "x"]]]
    assert wheres[4] == [1, [[1, 2, "b"], [1, 3, "y"]]]
    assert len(wheres) == 6


def test_current_names_the_running_task(flow_catalog: ArtifactCatalog) -> None:
    run = Nested().run(catalog=flow_catalog, max_workers=2)
    places = run["end"].task.data.places
    number = run.pathspec.split("/")[1]
    pathspecs = {t.pathspec for t in run["inner"]}
    assert {p[4] for p in places} == pathspecs
    first = places[0]
    assert first[:3] == ["Nested", number, "inner"] and first[5] is True and first[6] is None
    assert first[4] == f"Nested/{number}/inner/{first[3]}"
    assert not current.is_running_flow and current.pathspec is None


def test_a_separator_splits_text_into_a_list(flow_catalog: ArtifactCatalog) -> None:
    run = Nested().run(catalog=flow_catalog, letters="p, q,r", sizes="4;5")
    assert run.parameters["sizes"] == [4, 5]
    assert run["end"].task.data.letters_seen == ["p", "q", "r"]
    sizes = Nested.spec().parameters["sizes"]
    assert sizes.convert("7;8") == [7, 8] and sizes.split([1]) == [1]
    with pytest.raises(InvalidInputError, match="ints separated by ';'"):
        sizes.convert("7;x")
    with pytest.raises(InvalidInputError, match="empty"):
        Parameter("p", separator="")


def test_current_and_index_in_worker_processes(flow_catalog: ArtifactCatalog) -> None:
    from tests.pipelines.flow_examples import WhereFlow

    run = WhereFlow().run(catalog=flow_catalog, max_workers=2)
    wheres = run["join"].task.data.wheres
    assert [w[1] for w in wheres] == [0, 1]
    assert {w[0] for w in wheres} == {t.pathspec for t in run["each"]}
