"""Branches and foreach tasks in worker processes (max_workers > 1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, InvalidFlowError, InvalidInputError, Run
from tests.pipelines.flow_examples import (
    BranchFlow,
    EnvFlow,
    ForeachFlow,
    GridFlow,
    ResumeFlow,
)


def test_branches_run_in_other_processes(local_catalog: ArtifactCatalog) -> None:
    run = BranchFlow().run(catalog=local_catalog, max_workers=2)
    assert run.status == "succeeded"
    pids = run["join"].task.data.pids
    assert os.getpid() not in pids
    assert run["end"].task.data.summary == [10, "L", "set in the join", "from start"]
    recorded = {t.details["pid"] for t in run["left"].tasks + run["right"].tasks}
    assert recorded == set(pids)


def test_foreach_in_workers_matches_the_sequential_run(local_catalog: ArtifactCatalog,
                                                        tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    parallel = ForeachFlow().run(catalog=local_catalog, max_workers=2, count=6, log=str(log))
    sequential = ForeachFlow().run(catalog=local_catalog, count=6)
    assert parallel["gather"].task.data.values == sequential["gather"].task.data.values
    assert [t.data.value for t in parallel["square"]] == [0, 1, 4, 9, 16, 25]
    worker_pids = parallel["gather"].task.data.pids
    assert os.getpid() not in worker_pids and 1 <= len(worker_pids) <= 2
    assert sorted(log.read_text().split("\n")[:-1]) == sorted(
        ["start", "gather", "end", *(f"square {i}" for i in range(6))])


def test_a_failure_in_a_worker_fails_the_run_and_resumes(local_catalog: ArtifactCatalog,
                                                         tmp_path: Path) -> None:
    log, flag = tmp_path / "log.txt", tmp_path / "fail"
    flag.touch()
    with pytest.raises(ValueError, match="item 2 failed on purpose") as info:
        ForeachFlow().run(catalog=local_catalog, max_workers=2, count=4, log=str(log),
                          fail_on=2, fail_flag=str(flag))
    assert any("in a worker process" in note for note in info.value.__notes__)
    failed = Run("ForeachFlow/1", catalog=local_catalog)
    assert failed.status == "failed"
    assert [t.status for t in failed["square"]].count("failed") == 1
    flag.unlink()
    log.write_text("")
    resumed = ForeachFlow().resume("ForeachFlow/1", catalog=local_catalog, max_workers=2)
    assert resumed.status == "succeeded" and resumed["end"].task.data.total == 14
    lines = log.read_text().splitlines()
    # items 0 and 1 finished before item 2 failed; item 3 may not have been started
    assert "square 2" in lines and lines[-2:] == ["gather", "end"]
    assert "square 0" not in lines and "square 1" not in lines and "start" not in lines


def test_a_flow_defined_in_a_function_cannot_go_to_workers(
        local_catalog: ArtifactCatalog) -> None:
    from archivist import Flow, step

    class Local(Flow):
        @step
        def start(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    with pytest.raises(InvalidFlowError, match="defined inside a function"):
        Local().run(catalog=local_catalog, max_workers=2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_max_workers_is_checked(local_catalog: ArtifactCatalog, bad: object) -> None:
    with pytest.raises(InvalidInputError, match="max_workers"):
        ResumeFlow().run(catalog=local_catalog, max_workers=bad)  # type: ignore[arg-type]


def test_a_flow_without_a_file_cannot_go_to_workers(local_catalog: ArtifactCatalog) -> None:
    from archivist import Flow, step

    namespace: dict[str, object] = {"Flow": Flow, "step": step, "__name__": "not_a_module"}
    exec("class Exec(Flow):\n"
         "    @step\n    def start(self):\n        self.next(self.end)\n"
         "    @step\n    def end(self):\n        pass\n", namespace)
    made = namespace["Exec"]
    assert isinstance(made, type) and issubclass(made, Flow)
    with pytest.raises(InvalidFlowError, match="not defined in a file"):
        made().run(catalog=local_catalog, max_workers=2)
    assert made().run(catalog=local_catalog).status == "succeeded"


def test_workers_see_the_environment_of_the_run(local_catalog: ArtifactCatalog,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    BranchFlow().run(catalog=local_catalog, max_workers=2)  # the fork server exists now
    monkeypatch.setenv("ARCHIVIST_FLOW_TEST_VALUE", "set after the first pool")
    run = EnvFlow().run(catalog=local_catalog, max_workers=2)
    assert run["join"].task.data.values == ["set after the first pool"] * 2


def test_nested_foreach_tasks_come_back_in_item_order(local_catalog: ArtifactCatalog) -> None:
    run = GridFlow().run(catalog=local_catalog, max_workers=2)
    cells = [t.data.label for t in run["cell"]]
    assert cells == ["a1", "a2", "a3", "b1", "b2", "b3"]
    assert run["end"].task.data.grid == [["a1", "a2", "a3"], ["b1", "b2", "b3"]]
