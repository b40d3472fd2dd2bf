"""``Run("MyFlow/3")``: reading past runs, their steps, tasks and values."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from archivist import (
    ArtifactCatalog,
    ArtifactNotFoundError,
    InvalidNameError,
    PickleNotAllowedError,
    Run,
)
from tests.pipelines.flow_examples import BranchFlow, ForeachFlow, LinearFlow


def test_the_run_its_steps_and_its_tasks(local_catalog: ArtifactCatalog) -> None:
    LinearFlow().run(catalog=local_catalog, alpha=2.0)
    run = Run("LinearFlow/1", catalog=local_catalog)
    record = local_catalog.get_run("LinearFlow/1")
    assert run.id == record.id and Run(record.id, catalog=local_catalog).pathspec == run.pathspec
    assert run.status == "succeeded" and run.successful and run.error is None
    assert run.parameters == {"alpha": 2.0, "scale": 2}
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert [s.name for s in run] == ["start", "middle", "end"] and "middle" in run
    task = run["middle"].task
    assert task.pathspec == "LinearFlow/1/middle/0" and task.successful and not task.cached
    assert task.finished_at is not None and task.started_at is not None
    assert task.data.total == 24.0
    assert task["total"].data == 24.0
    assert task["total"].sha == local_catalog.get(task["total"].id).digest
    assert task["total"].sha is not None and task["total"].sha.startswith("sha256:")
    assert task["total"].finished_at == local_catalog.get(task["total"].id).created_at
    assert task["total"].version.name == "LinearFlow.total" and task["total"].produced
    assert {a.name for a in task} == {"alpha", "scale", "numbers", "label", "total"}
    assert run.data.report == "linear: 24.0"


def test_foreach_tasks_iterate_in_item_order(local_catalog: ArtifactCatalog) -> None:
    ForeachFlow().run(catalog=local_catalog, count=3)
    step = Run("ForeachFlow/1", catalog=local_catalog)["square"]
    assert len(step) == 3 and [t.index for t in step] == [0, 1, 2]
    assert [t.data.value for t in step] == [0, 1, 4]
    assert step[2].data.value == 4 and step.task.index == 0
    assert step.pathspec == "ForeachFlow/1/square" and step.finished_at is not None
    with pytest.raises(KeyError, match="has no task 7"):
        step[7]


def test_artifacts_connect_the_run_to_the_catalog(local_catalog: ArtifactCatalog) -> None:
    BranchFlow().run(catalog=local_catalog)
    run = Run("BranchFlow/1", catalog=local_catalog)
    ids = {a.id for a in run.artifacts}
    assert ids == set(local_catalog.get_run("BranchFlow/1").produced)
    for artifact in run.artifacts:
        assert local_catalog.get(artifact.id).source_run_id == run.id
    summary = run["end"].task["summary"]
    assert summary.id in ids
    lineage = local_catalog.get_lineage(summary.id, depth=10, direction="up")
    assert run["start"].task["shared"].id in lineage["upstream"]


def test_missing_names_say_what_exists(local_catalog: ArtifactCatalog) -> None:
    LinearFlow().run(catalog=local_catalog)
    run = Run("LinearFlow/1", catalog=local_catalog)
    with pytest.raises(KeyError, match="no step 'train'; steps: start, middle, end"):
        run["train"]
    with pytest.raises(KeyError, match="no attribute 'nope'"):
        run["end"].task["nope"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = run["end"].task.data.nope
    with pytest.raises(ArtifactNotFoundError):
        Run("LinearFlow/9", catalog=local_catalog)
    with pytest.raises(InvalidNameError):
        Run("not a pathspec", catalog=local_catalog)


def test_pickled_values_need_consent(local_catalog: ArtifactCatalog) -> None:
    from archivist import Flow, step

    class Pickled(Flow):
        @step
        def start(self) -> None:
            self.pair = Fraction(1, 2)  # no common value (a tuple is): stored as a pickle
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    Pickled().run(catalog=local_catalog)
    with pytest.raises(PickleNotAllowedError):
        _ = Run("Pickled/1", catalog=local_catalog)["start"].task.data.pair
    trusted = Run("Pickled/1", catalog=local_catalog, allow_pickle=True)
    assert trusted["start"].task.data.pair == Fraction(1, 2)


def test_the_default_catalog_is_resolved_like_the_catalog(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("ARCHIVIST_HOME", str(tmp_path / "env-home"))
    returned = LinearFlow().run()
    assert returned.status == "succeeded"
    with Run(returned.pathspec) as run:
        assert run["end"].task.data.report == "linear: 6.0"
        assert run.catalog.home == tmp_path / "env-home"
    returned.close()
