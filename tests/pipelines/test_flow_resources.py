"""``@resources`` honoured by local worker processes: tasks running at once never ask more
than the machine has, and a step asking more than it has at all fails before the run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, Flow, InvalidFlowError, InvalidInputError, resources, step
from archivist.pipelines.flows.resources import Machine, ResourceBudget, check_resources
from tests.pipelines.resource_examples import MACHINE, ResourceFlow, most_at_once
from tests.server.processes import server_process


@pytest.fixture(params=["local", "remote"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactCatalog]:
    if request.param == "local":
        with ArtifactCatalog(tmp_path / "catalog") as opened:
            yield opened
        return
    with server_process(["--home", str(tmp_path / "srv"), "--insecure-single-user"],
                        tmp_path / "server.log") as server, \
            ArtifactCatalog(server.url) as opened:
        yield opened


def test_running_tasks_stay_within_the_machine(catalog: ArtifactCatalog) -> None:
    run = ResourceFlow().run(catalog=catalog, max_workers=4, width=4)
    spans = {kind: run[f"join_{kind}"].task[f"{kind}_spans"].data
             for kind in ("whole", "single", "memory", "free")}
    assert most_at_once(spans["whole"]) == 1  # each asks every CPU: one at a time
    assert most_at_once(spans["single"]) <= min(MACHINE.cpu, 4)
    assert most_at_once(spans["memory"]) == 1  # each asks 60% of the free memory
    assert len(spans["free"]) == 4  # no @resources: max_workers alone bounds them
    assert run["whole"].tasks[0].details["resources"] == {"cpu": MACHINE.cpu}


def test_a_step_asking_more_than_the_machine_fails_before_the_run(tmp_path: Path) -> None:
    class Greedy(Flow):
        @step
        def start(self) -> None:
            self.next(self.train)

        @resources(cpu=MACHINE.cpu + 1, memory=1)
        @step
        def train(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    with ArtifactCatalog(tmp_path / "c") as catalog:
        for workers in (1, 2):
            with pytest.raises(InvalidFlowError) as info:
                Greedy().run(catalog=catalog, max_workers=workers)
            error = info.value
            assert f"asks @resources(cpu={MACHINE.cpu + 1}) but this machine has " \
                   f"{MACHINE.cpu} CPUs" in error.message
            assert error.details["step"] == "train" and error.details["resource"] == "cpu"
        assert catalog.runs() == []


@pytest.mark.parametrize(("asked", "kind"), [
    ({"memory": 10**9}, "memory"), ({"gpu": MACHINE.gpu + 1}, "gpu")])
def test_memory_and_gpus_are_checked_too(asked: dict[str, int], kind: str) -> None:
    class Big(Flow):
        @resources(**asked)
        @step
        def start(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    with pytest.raises(InvalidFlowError) as info:
        check_resources(Big)
    assert info.value.details["resource"] == kind


def test_the_budget_takes_and_gives_back() -> None:
    class Two(Flow):
        @resources(cpu=2, memory=100)
        @step
        def start(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    budget = ResourceBudget(Two, Machine(cpu=3, memory=1000, gpu=0))
    assert budget.take("start") and not budget.take("start")
    assert budget.take("end")  # asks nothing
    assert budget.take("start", alone=True)  # nothing else running: it starts anyway
    budget.release("start")
    budget.release("start")
    assert budget.free == [3, 1000, 0]


@pytest.mark.parametrize("bad", [{"cpu": 0}, {"memory": -1}, {"gpu": -1}, {"cpu": 1.5}])
def test_bad_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError, match="@resources"):
        resources(**bad)  # type: ignore[arg-type]
