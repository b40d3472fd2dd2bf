"""Running class flows in-process: values between steps, persistence, branches, foreach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archivist import (
    ArtifactCatalog,
    Flow,
    InvalidFlowError,
    InvalidInputError,
    MergeConflictError,
    Parameter,
    Run,
    StorageError,
    step,
)
from tests.pipelines.flow_examples import BranchFlow, ForeachFlow, LinearFlow


def test_a_linear_flow_passes_values_and_records_the_run(
        local_catalog: ArtifactCatalog) -> None:
    run = LinearFlow().run(catalog=local_catalog, alpha=1.5)
    assert isinstance(run, Run) and run.pathspec == "LinearFlow/1"
    assert run.status == "succeeded" and run.parameters == {"alpha": 1.5, "scale": 2}
    assert [s.name for s in run.steps] == ["start", "middle", "end"]
    assert run["middle"].task.data.total == 18.0
    assert run["end"].task.data.report == "linear: 18.0"
    record = local_catalog.get_run("LinearFlow/1")
    assert record.kind == "flow" and record.pipeline == "LinearFlow"
    total = local_catalog.get("LinearFlow.total")
    assert total.source_step == "middle" and total.source_run_id == record.id
    assert total.source_pipeline == "LinearFlow"
    assert LinearFlow().run(catalog=local_catalog).pathspec == "LinearFlow/2"


def test_private_attributes_are_not_stored(local_catalog: ArtifactCatalog) -> None:
    run = LinearFlow().run(catalog=local_catalog)
    stored = {a.name for a in local_catalog.list(limit=1000)}
    assert "LinearFlow._scratch" not in stored and "LinearFlow.numbers" in stored
    assert "_scratch" not in run["start"].task and "numbers" in run["start"].task


def test_parameters_are_read_only_and_checked(local_catalog: ArtifactCatalog) -> None:
    class Params(Flow):
        rate = Parameter("rate", default=0.1)
        name: str
        epochs: int = 3

        @step
        def start(self) -> None:
            self.seen = [self.rate, self.name, self.epochs]
            self.next(self.end)

        @step
        def end(self) -> None:
            self.rate = 1.0

    assert set(Params.spec().parameters) == {"rate", "name", "epochs"}
    assert Params.spec().parameters["epochs"].convert("7") == 7
    assert Params.spec().parameters["rate"].convert("0.5") == 0.5
    with pytest.raises(InvalidInputError, match="expects a int"):
        Params.spec().parameters["epochs"].convert("seven")
    with pytest.raises(InvalidInputError, match="needs the parameter 'name'"):
        Params().run(catalog=local_catalog)
    with pytest.raises(InvalidInputError, match="no parameter 'nmae'"):
        Params().run(catalog=local_catalog, name="x", nmae="y")
    with pytest.raises(InvalidInputError, match="read-only"):
        Params().run(catalog=local_catalog, name="x")
    run = Run("Params/1", catalog=local_catalog)
    assert run.status == "failed" and run["start"].task.data.seen == [0.1, "x", 3]


def test_unchanged_attributes_are_carried_not_registered_again(
        local_catalog: ArtifactCatalog) -> None:
    class Carry(Flow):
        @step
        def start(self) -> None:
            self.kept = {"a": 1}
            self.same_again = [1, 2]
            self.mutated = [1]
            self.next(self.middle)

        @step
        def middle(self) -> None:
            self.same_again = [1, 2]  # reassigned, equal content
            self.mutated.append(2)  # changed in place
            _ = self.kept  # read, untouched
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    run = Carry().run(catalog=local_catalog)
    assert len(local_catalog.versions("Carry.kept")) == 1
    assert len(local_catalog.versions("Carry.same_again")) == 1
    assert [local_catalog.load(v) for v in local_catalog.versions("Carry.mutated")] == [
        [1], [1, 2]]
    start, end = run["start"].task, run["end"].task
    assert end["kept"].id == start["kept"].id and not end["kept"].produced
    assert run["middle"].task.record.produced == [run["middle"].task["mutated"].id]


def test_equal_values_share_bytes_across_tasks_and_runs(local_catalog: ArtifactCatalog) -> None:
    first = ForeachFlow().run(catalog=local_catalog, count=3)
    second = ForeachFlow().run(catalog=local_catalog, count=3)
    a, b = first["end"].task["total"], second["end"].task["total"]
    assert a.id != b.id and a.sha == b.sha  # one version per run, one blob
    blobs = {v.digest for v in local_catalog.list(limit=1000)}
    assert len(blobs) < len(local_catalog.list(limit=1000))


def test_lineage_parents_are_the_versions_a_task_read(local_catalog: ArtifactCatalog) -> None:
    run = LinearFlow().run(catalog=local_catalog)
    start, middle = run["start"].task, run["middle"].task
    total = local_catalog.get(middle["total"].id)
    assert set(total.parent_ids) == {start["numbers"].id, start["scale"].id, start["alpha"].id}
    report = local_catalog.get(run["end"].task["report"].id)
    assert set(report.parent_ids) == {start["label"].id, middle["total"].id}
    assert local_catalog.get(start["numbers"].id).parent_ids == []


def test_branches_join_and_merge_by_the_four_rules(local_catalog: ArtifactCatalog) -> None:
    run = BranchFlow().run(catalog=local_catalog)
    join = run["join"].task
    assert join.data.same == 10  # same value in every branch
    assert join.data.only_left == "L"  # present in one branch
    assert join.data.kept == "set in the join"  # set in the join: kept
    assert join.data.conflict == "left value + right value"  # set before merging
    assert join.data.shared == "from start"
    assert "pid" not in join  # excluded
    assert run["end"].task.data.summary == [10, "L", "set in the join", "from start"]
    assert join["same"].id == run["left"].task["same"].id  # merged, not stored again


def _merging(include: list[str] | None = None, exclude: list[str] | None = None,
             preset: bool = False) -> type[Flow]:
    class Merging(Flow):
        @step
        def start(self) -> None:
            self.next(self.a, self.b)

        @step
        def a(self) -> None:
            self.x, self.y, self.z = 1, "a", "only a"
            self.next(self.join)

        @step
        def b(self) -> None:
            self.x, self.y = 1, "b"
            self.next(self.join)

        @step
        def join(self, inputs: Any) -> None:
            if preset:
                self.y = "chosen"
            self.merge_artifacts(inputs, include=include, exclude=exclude)
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    return Merging


def test_different_values_raise_a_merge_conflict(local_catalog: ArtifactCatalog) -> None:
    with pytest.raises(MergeConflictError) as info:
        _merging()().run(catalog=local_catalog)
    error = info.value
    assert error.details["attribute"] == "y" and error.details["branches"] == ["a", "b"]
    assert "'y'" in error.message and "a, b" in error.message
    assert "Merging/1" in "".join(getattr(error, "__notes__", []))
    assert Run("Merging/1", catalog=local_catalog).status == "failed"


def test_include_and_exclude_choose_the_attributes(local_catalog: ArtifactCatalog) -> None:
    run = _merging(include=["x", "z"])().run(catalog=local_catalog)
    assert set(run["join"].task.record.data) == {"x", "z"}
    run = _merging(exclude=["y"])().run(catalog=local_catalog)
    assert set(run["join"].task.record.data) == {"x", "z"}
    run = _merging(preset=True)().run(catalog=local_catalog)
    assert run["join"].task.data.y == "chosen"
    with pytest.raises(InvalidInputError, match="nope is set in no branch"):
        _merging(include=["nope"])().run(catalog=local_catalog)
    with pytest.raises(InvalidInputError, match="not both"):
        _merging(include=["x"], exclude=["y"])().run(catalog=local_catalog)


def test_foreach_gives_each_task_its_input(local_catalog: ArtifactCatalog) -> None:
    run = ForeachFlow().run(catalog=local_catalog, count=5)
    tasks = list(run["square"])
    assert [t.index for t in tasks] == [0, 1, 2, 3, 4]
    assert [t.data.value for t in tasks] == [0, 1, 4, 9, 16]
    assert run["gather"].task.data.values == [0, 1, 4, 9, 16]
    assert run["end"].task.data.total == 30


def test_nested_foreach_and_split_inside_foreach(local_catalog: ArtifactCatalog) -> None:
    class Nested(Flow):
        @step
        def start(self) -> None:
            self.rows = ["a", "b"]
            self.next(self.outer, foreach="rows")

        @step
        def outer(self) -> None:
            self.row = self.input
            self.cols = [1, 2, 3]
            self.next(self.inner, foreach="cols")

        @step
        def inner(self) -> None:
            self.cell = f"{self.row}{self.input}"
            self.next(self.inner_join)

        @step
        def inner_join(self, inputs: Any) -> None:
            self.cells = [i.cell for i in inputs]
            self.next(self.left, self.right)

        @step
        def left(self) -> None:
            self.side = "L" + self.input  # still inside the outer foreach
            self.next(self.both)

        @step
        def right(self) -> None:
            self.side = "R"
            self.next(self.both)

        @step
        def both(self, inputs: Any) -> None:
            self.merge_artifacts(inputs, exclude=["side"])
            self.sides = [inputs.left.side, inputs.right.side]
            self.next(self.outer_join)

        @step
        def outer_join(self, inputs: Any) -> None:
            self.grid = [i.cells for i in inputs]
            self.sides = [i.sides for i in inputs]
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    run = Nested().run(catalog=local_catalog)
    assert run["outer_join"].task.data.grid == [["a1", "a2", "a3"], ["b1", "b2", "b3"]]
    assert run["outer_join"].task.data.sides == [["La", "R"], ["Lb", "R"]]
    assert len(run["inner"]) == 6


def test_input_outside_a_foreach_is_an_error(local_catalog: ArtifactCatalog) -> None:
    class NoInput(Flow):
        @step
        def start(self) -> None:
            self.value = self.input
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    with pytest.raises(InvalidFlowError, match="not inside a foreach"):
        NoInput().run(catalog=local_catalog)


def test_an_empty_foreach_fails_clearly(local_catalog: ArtifactCatalog) -> None:
    with pytest.raises(InvalidInputError, match="empty sequence"):
        ForeachFlow().run(catalog=local_catalog, count=0)


def test_next_outside_a_run_is_an_error() -> None:
    with pytest.raises(InvalidFlowError, match="inside a step of a running flow"):
        LinearFlow().next(LinearFlow.end)


def test_branches_never_see_each_others_in_place_changes(
        local_catalog: ArtifactCatalog) -> None:
    class Isolated(Flow):
        @step
        def start(self) -> None:
            self.rows = [1]
            self.next(self.second, self.first)  # named in this order

        @step
        def first(self) -> None:
            self.rows.append("first")
            self.seen = list(self.rows)
            self.next(self.join)

        @step
        def second(self) -> None:
            self.rows.append("second")
            self.seen = list(self.rows)
            self.next(self.join)

        @step
        def join(self, inputs: Any) -> None:
            self.order = [i.seen for i in inputs]
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    run = Isolated().run(catalog=local_catalog)
    assert run["join"].task.data.order == [[1, "second"], [1, "first"]]
    assert run["start"].task.data.rows == [1]


def test_openlineage_events_for_the_run_and_every_task(local_catalog: ArtifactCatalog,
                                                       tmp_path: Path) -> None:
    import json

    events_file = tmp_path / "events.jsonl"
    run = LinearFlow().run(catalog=local_catalog, openlineage=str(events_file))
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    kinds = [e["eventType"] for e in events]
    assert kinds.count("START") == 4 and kinds.count("COMPLETE") == 4  # the run + 3 tasks
    outputs = {o["name"] for e in events for o in e.get("outputs", [])}
    assert any("LinearFlow.total" in name for name in outputs)
    assert run.status == "succeeded"


def test_parameters_and_foreach_items_are_copies_per_task(
        local_catalog: ArtifactCatalog) -> None:
    class Copies(Flow):
        tags = Parameter("tags", default=["base"])

        @step
        def start(self) -> None:
            self.items = [[0], [1]]
            self.next(self.each, foreach="items")

        @step
        def each(self) -> None:
            item = self.input
            item.append("changed")
            self.tags.append(str(item[0]))  # in place: stays in this task
            self.seen = [list(self.tags), item]
            self.next(self.join)

        @step
        def join(self, inputs: Any) -> None:
            self.seen = [i.seen for i in inputs]
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    run = Copies().run(catalog=local_catalog)
    assert run["join"].task.data.seen == [[["base", "0"], [0, "changed"]],
                                          [["base", "1"], [1, "changed"]]]
    assert run["start"].task.data.items == [[0], [1]]
    assert Copies.spec().parameters["tags"].default == ["base"]


def test_an_attribute_named_like_a_step_is_refused(local_catalog: ArtifactCatalog) -> None:
    class Shadow(Flow):
        @step
        def start(self) -> None:
            self.end = "not a step"
            self.next(self.middle)

        @step
        def middle(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    with pytest.raises(InvalidFlowError, match=r"self\.end, which is the name of a step"):
        Shadow().run(catalog=local_catalog)


def test_a_value_that_cannot_be_stored_names_the_attribute(
        local_catalog: ArtifactCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    real = local_catalog.register

    def failing(name: str, *args: Any, **kw: Any) -> str:
        if name == "LinearFlow.numbers":
            raise StorageError("the disk is full", path="/data")
        return real(name, *args, **kw)

    monkeypatch.setattr(local_catalog, "register", failing)
    with pytest.raises(StorageError) as raised:
        LinearFlow().run(catalog=local_catalog)
    assert str(raised.value) == ("cannot store self.numbers of step 'start': the disk is "
                                 "full")
    assert raised.value.details == {"path": "/data"}  # the same error, saying where
    assert isinstance(raised.value.__cause__, StorageError)


def test_a_run_records_its_flows_graph(local_catalog: ArtifactCatalog) -> None:
    """What the web UI draws for a flow run: the steps and their self.next edges."""
    from tests.pipelines.flow_examples import BranchFlow

    BranchFlow().run(catalog=local_catalog)
    graph = local_catalog.get_run("BranchFlow/1").details["graph"]
    assert graph["steps"] == BranchFlow.spec().graph.order()
    assert sorted(map(tuple, graph["edges"])) == [
        ("join", "end"), ("left", "join"), ("right", "join"), ("start", "left"),
        ("start", "right")]
