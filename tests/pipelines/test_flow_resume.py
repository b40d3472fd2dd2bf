"""A failed run resumes from the failed step, reusing what finished (no re-execution)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archivist import ArtifactCatalog, ArtifactNotFoundError, InvalidInputError, Run
from tests.pipelines.flow_examples import ForeachFlow, LinearFlow, ResumeFlow


def _append(log: Path, line: str) -> None:
    with log.open("a") as f:
        f.write(f"{line}\n")


def _executions(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_resume_reuses_finished_steps_and_reruns_from_the_failure(
        local_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    log, flag = tmp_path / "log.txt", tmp_path / "fail"
    flag.touch()
    with pytest.raises(RuntimeError, match="training failed on purpose") as info:
        ResumeFlow().run(catalog=local_catalog, log=str(log), fail_flag=str(flag))
    assert "ResumeFlow/1" in "".join(info.value.__notes__)
    assert _executions(log) == ["start", "prepare", "train"]
    failed = Run("ResumeFlow/1", catalog=local_catalog)
    assert failed.status == "failed" and "training failed" in (failed.error or "")
    assert failed["train"].task.status == "failed" and "end" not in failed

    flag.unlink()
    log.write_text("")
    resumed = ResumeFlow().resume("ResumeFlow/1", catalog=local_catalog)
    assert _executions(log) == ["train", "end"]  # start and prepare were not run again
    assert resumed.pathspec == "ResumeFlow/2" and resumed.status == "succeeded"
    assert resumed.parameters == failed.parameters
    start, prepare = resumed["start"].task, resumed["prepare"].task
    assert start.cached and prepare.cached and not resumed["train"].task.cached
    assert prepare.details["reused_from"] == failed["prepare"].task.id
    assert prepare.details["reused_from_run"] == "ResumeFlow/1"
    assert prepare["prepared"].id == failed["prepare"].task["prepared"].id
    assert resumed["train"].task.data.model == {"weights": [1, 2, 3]}
    model = local_catalog.get(resumed["train"].task["model"].id)
    assert failed["prepare"].task["prepared"].id in model.parent_ids
    record = local_catalog.get_run("ResumeFlow/2")
    assert record.details["resumed_from"] == "ResumeFlow/1"


def test_resume_without_a_run_takes_the_latest(local_catalog: ArtifactCatalog,
                                               tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    with pytest.raises(ArtifactNotFoundError, match="no run to resume"):
        ResumeFlow().resume(catalog=local_catalog)
    ResumeFlow().run(catalog=local_catalog, log=str(log))
    log.write_text("")
    again = ResumeFlow().resume(catalog=local_catalog)
    assert again.pathspec == "ResumeFlow/2" and _executions(log) == []
    assert all(t.cached for s in again.steps for t in s.tasks)


def test_resume_of_a_foreach_reruns_only_the_failed_item(local_catalog: ArtifactCatalog,
                                                         tmp_path: Path) -> None:
    log, flag = tmp_path / "log.txt", tmp_path / "fail"
    flag.touch()
    with pytest.raises(ValueError, match="item 1 failed"):
        ForeachFlow().run(catalog=local_catalog, count=3, log=str(log), fail_on=1,
                          fail_flag=str(flag))
    flag.unlink()
    log.write_text("")
    resumed = ForeachFlow().resume("ForeachFlow/1", catalog=local_catalog)
    # in-process, the run stopped at item 1: item 0 is reused, items 1 and 2 run
    assert _executions(log) == ["square", "1", "square", "2", "gather", "end"]
    assert [t.cached for t in resumed["square"]] == [True, False, False]
    assert resumed["end"].task.data.total == 5


def test_resume_checks_the_run_belongs_to_the_flow(local_catalog: ArtifactCatalog) -> None:
    LinearFlow().run(catalog=local_catalog)
    with pytest.raises(InvalidInputError, match="not a run of the flow ResumeFlow"):
        ResumeFlow().resume("LinearFlow/1", catalog=local_catalog)


def test_resume_of_a_split_reuses_the_branch_that_finished(local_catalog: ArtifactCatalog,
                                                           tmp_path: Path) -> None:
    from typing import Any

    from archivist import Flow, step

    log, flag = tmp_path / "log.txt", tmp_path / "fail"

    class Split(Flow):
        @step
        def start(self) -> None:
            self.next(self.fine, self.flaky)

        @step
        def fine(self) -> None:
            _append(log, "fine")
            self.a = 1
            self.next(self.join)

        @step
        def flaky(self) -> None:
            _append(log, "flaky")
            if flag.exists():
                raise RuntimeError("flaky failed")
            self.b = 2
            self.next(self.join)

        @step
        def join(self, inputs: Any) -> None:
            self.merge_artifacts(inputs)
            self.next(self.end)

        @step
        def end(self) -> None:
            self.total = self.a + self.b

    flag.touch()
    with pytest.raises(RuntimeError, match="flaky failed"):
        Split().run(catalog=local_catalog)
    assert sorted(_executions(log)) == ["fine", "flaky"]
    flag.unlink()
    log.write_text("")
    resumed = Split().resume(catalog=local_catalog)
    assert _executions(log) == ["flaky"]
    assert resumed["fine"].task.cached and not resumed["join"].task.cached
    assert resumed["end"].task.data.total == 3


def test_resume_from_a_chosen_step_reruns_it_and_what_follows(
        flow_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    ResumeFlow().run(catalog=flow_catalog, log=str(log))
    log.write_text("")
    again = ResumeFlow().resume("ResumeFlow/1", catalog=flow_catalog, step="prepare")
    assert again.status == "succeeded" and _executions(log) == ["prepare", "train", "end"]
    assert again["start"].task.cached and not again["prepare"].task.cached
    with pytest.raises(InvalidInputError, match=r"no step 'nope'.*start, prepare"):
        ResumeFlow().resume("ResumeFlow/1", catalog=flow_catalog, step="nope")
