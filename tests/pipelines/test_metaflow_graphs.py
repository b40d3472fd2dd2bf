"""Metaflow's core test graphs (``metaflow_graphs.py``) run in worker processes, on a local
catalog and on a catalog server, each checked for the artifacts its graph must produce."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import product
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, FlowSpec, Run
from tests.pipelines import metaflow_graphs as graphs
from tests.server.processes import server_process

MERGED = {"non_modified_passdown": "a", "modified_to_same_value": "e"}


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real ``archivist server`` for the module (workers reach it over HTTP)."""
    folder = tmp_path_factory.mktemp("metaflow-graphs-server")
    with server_process(["--home", str(folder / "home"), "--insecure-single-user"],
                        folder / "server.log") as server:
        yield server.url


@pytest.fixture(params=["local", "remote"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactCatalog]:
    """A folder catalog, or the module's catalog server, reopened by every worker."""
    if request.param == "local":
        location = str(tmp_path / "catalog")
    else:
        location = request.getfixturevalue("server_url")
    with ArtifactCatalog(location) as opened:
        yield opened


def _merged(run: Run, join: str) -> None:
    """Metaflow's MergeArtifactsTest: what the join kept, and what reached ``end``."""
    task = run[join].task
    assert {k: task[k].data for k in MERGED} == MERGED
    assert task.data.manual_merge_required == task.pathspec
    assert "ignore_me" not in task
    end = run["end"].task
    assert {k: end[k].data for k in MERGED} == MERGED
    # merged without storing anything new: the join points at the versions start stored
    assert task["non_modified_passdown"].id == run["start"].task["non_modified_passdown"].id
    assert not task["non_modified_passdown"].produced


def check_linear(run: Run) -> None:
    assert [s.name for s in run] == ["start", "a", "end"]
    assert run["a"].task.data.total == 6 and run["end"].task.data.data == "a"


def check_branch(run: Run) -> None:
    assert run["join"].task.data.sides == ["a", "b"]
    _merged(run, "join")


def check_nested_branches(run: Run) -> None:
    leaves = ["aaa", "aab", "aba", "abb", "baa", "bab", "bba", "bbb"]
    assert run["a_b_join"].task.data.leaves == leaves
    assert run["aaa_aab_join"].task.data.leaves == ["aaa", "aab"]
    for join in ("aaa_aab_join", "aa_ab_join", "a_b_join"):
        _merged(run, join)


def check_foreach(run: Run) -> None:
    assert run["foreach_join"].task.data.got == graphs.FOREACH_ITEMS
    tasks = run["foreach_inner_second"].tasks
    assert [t.data.my_index for t in tasks] == list(range(len(graphs.FOREACH_ITEMS)))
    _merged(run, "foreach_join")


def check_small_foreach(run: Run) -> None:
    assert run["foreach_join"].task.data.squares == [1, 4, 9]
    assert len(run["foreach_inner"]) == 3
    _merged(run, "foreach_join")


def check_nested_foreach(run: Run) -> None:
    expected = sorted("".join(p) for p in product("abc", "de", "fghijk"))
    assert sorted(t.data.combo for t in run["foreach_inner"]) == expected
    assert run["foreach_join_x"].task.data.combos == expected  # joined in item order
    assert len(run["foreach_join_z"]) == 6 and len(run["foreach_join_y"]) == 3


def check_switch_basic(run: Run) -> None:
    assert run["b"].task.data.result == "Path B taken"
    assert "a" not in run and "c" not in run
    assert run["switch_step"].task.details["switch"] == {
        "condition": "condition", "value": "case2", "step": "b"}


def check_switch_nested(run: Run) -> None:
    assert run["d"].task.data.result == "Nested path D"
    assert [s.name for s in run] == ["start", "switch2", "d", "end"]


def check_switch_in_branch(run: Run) -> None:
    assert run["join"].task.data.final_data == ["from_a_c", "from_b"]
    assert "d" not in run


def check_switch_in_foreach(run: Run) -> None:
    assert run["join"].task.data.results == ["A(200)", "A(600)", "B(100.0)"]
    assert run["join"].task.data.in_order == ["A(200)", "B(100.0)", "A(600)"]  # item order
    assert len(run["handle_a"]) == 2 and len(run["handle_b"]) == 1


def check_branch_in_switch(run: Run) -> None:
    assert run["end"].task.data.final_result == "Processed"
    assert run["process_join"].task.data.final_data == ["p1_done", "p2_done"]
    assert "skip_path" not in run


def check_foreach_in_switch(run: Run) -> None:
    assert run["end"].task.data.final_result == ["Processed item_1", "Processed item_2"]
    assert "skip_processing" not in run and len(run["do_work"]) == 2


def check_recursive_switch(run: Run) -> None:
    assert run["exit_loop"].task.data.count == 10
    loops = run["loop_step"].tasks
    assert [t.data.count for t in loops] == list(range(1, 11))
    assert [t.details.get("visit", 0) for t in loops] == list(range(10))
    assert [t.details["switch"]["step"] for t in loops] == ["loop_step"] * 9 + ["exit_loop"]


def check_recursive_switch_inside_foreach(run: Run) -> None:
    assert run["join"].task.data.results == [
        "Item A finished after 3 iterations.", "Item B finished after 5 iterations.",
        "Item C finished after 2 iterations."]
    assert len(run["loop_body"]) == 3 + 5 + 2


GRAPHS: list[tuple[type[FlowSpec], Callable[[Run], None]]] = [
    (graphs.LinearGraphFlow, check_linear),
    (graphs.BranchGraphFlow, check_branch),
    (graphs.NestedBranchesGraphFlow, check_nested_branches),
    (graphs.ForeachGraphFlow, check_foreach),
    (graphs.SmallForeachGraphFlow, check_small_foreach),
    (graphs.NestedForeachGraphFlow, check_nested_foreach),
    (graphs.SwitchBasicGraphFlow, check_switch_basic),
    (graphs.SwitchNestedGraphFlow, check_switch_nested),
    (graphs.SwitchInBranchGraphFlow, check_switch_in_branch),
    (graphs.SwitchInForeachGraphFlow, check_switch_in_foreach),
    (graphs.BranchInSwitchGraphFlow, check_branch_in_switch),
    (graphs.ForeachInSwitchGraphFlow, check_foreach_in_switch),
    (graphs.RecursiveSwitchGraphFlow, check_recursive_switch),
    (graphs.RecursiveSwitchInsideForeachGraphFlow, check_recursive_switch_inside_foreach),
]


@pytest.mark.parametrize(("flow", "check"), GRAPHS, ids=[f.__name__ for f, _ in GRAPHS])
def test_metaflow_graph(flow: type[FlowSpec], check: Callable[[Run], None],
                        catalog: ArtifactCatalog) -> None:
    run = flow().run(catalog=catalog, max_workers=2)
    assert run.status == "succeeded"
    check(run)
    again = Run(run.pathspec, catalog=catalog)  # what any client reads back
    check(again)


def test_the_flows_use_only_metaflow_names() -> None:
    """The module imports what a Metaflow flow imports, under Metaflow's names."""
    source = Path(graphs.__file__).read_text()
    imports = [line for line in source.splitlines() if line.startswith(("from ", "import "))]
    assert imports == ["from __future__ import annotations",
                       "from archivist import FlowSpec, Parameter, current, step",
                       "from archivist.errors import InvalidFlowError, InvalidInputError, "
                       "MergeConflictError"]
    assert all(issubclass(f, FlowSpec) for f, _ in GRAPHS)


def test_wide_foreach(catalog: ArtifactCatalog) -> None:
    """Metaflow's WideForeachTest: 1,200 tasks, and a client that does not choke on them
    (200 through the server, where every task is HTTP round trips: the suite's time)."""
    width = 1200 if catalog.home is not None else 200
    run = graphs.WideForeachGraphFlow().run(catalog=catalog, max_workers=2, width=width)
    assert run["foreach_join"].task.data.count == width
    assert sorted(t.data.my_input for t in run["foreach_inner"]) == list(range(width))


def test_the_switch_value_picks_the_case(tmp_path: Path) -> None:
    """A parameter as the condition: each value takes its own case."""
    with ArtifactCatalog(tmp_path / "c") as catalog:
        for value, taken in (("case1", "a"), ("case3", "c")):
            run = graphs.SwitchBasicGraphFlow().run(catalog=catalog, condition=value)
            assert [s.name for s in run] == ["start", "switch_step", taken, "end"]
        skipped = graphs.BranchInSwitchGraphFlow().run(catalog=catalog, mode="skip")
        assert skipped["end"].task.data.final_result == "Skipped"
        assert "process_branch" not in skipped and "p1" not in skipped
