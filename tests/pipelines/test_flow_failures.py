"""Failures that must always reach the run record and the caller: exceptions that do not
unpickle, worker processes that die; and the task decorators (@retry, @catch, @timeout,
@resources)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archivist import (
    ArchivistError,
    ArtifactCatalog,
    Flow,
    InvalidFlowError,
    InvalidInputError,
    Run,
    catch,
    resources,
    retry,
    step,
    timeout,
)
from archivist.pipelines.flows.decorators import CaughtException
from tests.pipelines.flow_failures import DecoratedFlow, DyingFlow, OddError, OddFailureFlow


@pytest.mark.timeout(180)
def test_an_exception_that_does_not_unpickle_reaches_the_record_and_the_caller(
        flow_catalog: ArtifactCatalog) -> None:
    with pytest.raises(ArchivistError, match=r"OddError: 1/2") as info:
        OddFailureFlow().run(catalog=flow_catalog, max_workers=3)
    assert "raise OddError(1, 2)" in "\n".join(getattr(info.value, "__notes__", []))
    run = Run("OddFailureFlow/1", catalog=flow_catalog)
    assert run.status == "failed" and run.error is not None and "OddError: 1/2" in run.error
    statuses = {t.status for s in run for t in s}
    assert "running" not in statuses
    failed = [t for t in run["work"] if t.status == "failed"]
    assert len(failed) == 1 and failed[0].error == "OddError: 1/2"
    assert "raise OddError(1, 2)" in failed[0].details["traceback"]
    assert failed[0].details["exception_type"] == "tests.pipelines.flow_failures.OddError"
    exception = failed[0].exception
    assert isinstance(exception, OddError | str) and "1/2" in str(exception)


@pytest.mark.timeout(180)
def test_a_worker_that_dies_fails_its_tasks_and_the_run(
        local_catalog: ArtifactCatalog) -> None:
    with pytest.raises(ArchivistError, match="worker process") as info:
        DyingFlow().run(catalog=local_catalog, max_workers=2)
    assert "DyingFlow/1" in "\n".join(info.value.__notes__)
    run = Run("DyingFlow/1", catalog=local_catalog)
    assert run.status == "failed" and run.finished_at is not None
    tasks = [t for s in run for t in s]
    assert all(t.status in ("succeeded", "failed") for t in tasks)
    died = [t for t in run["work"] if t.status == "failed"]
    assert died and all("worker process" in (t.error or "") for t in died)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "workers"])
def test_retry_catch_timeout_and_resources(flow_catalog: ArtifactCatalog, tmp_path: Path,
                                           workers: int) -> None:
    run = DecoratedFlow().run(catalog=flow_catalog, max_workers=workers,
                              counter=str(tmp_path / "count"), sleep=30.0)
    assert run.status == "succeeded"
    for task in run["flaky"]:
        assert task.details["attempts"] == 3 and len(task.details["attempt_errors"]) == 2
        assert task.details["resources"] == {"cpu": 2, "memory": 512}
    assert run["join"].task.data.values == [0, 10]
    risky = run["risky"].task
    assert risky.successful and risky.details["caught"]["message"] == "3/4"
    assert risky.details["caught"]["type"] == "tests.pipelines.flow_failures.OddError"
    with Run(run.pathspec, catalog=flow_catalog, allow_pickle=True) as readable:
        error = readable["risky"].task.data.error
        assert isinstance(error, CaughtException) and str(error) == "OddError: 3/4"
        assert "_fail(OddError(3, 4))" in error.traceback
        slow = readable["slow"].task
        assert slow.details["timeout"] == 1.0
        assert slow.data.slow_error.type == "archivist.errors.StepFailedError"
        assert "ran past its @timeout of 1 s" in slow.data.slow_error.message
    assert run["end"].task.data.summary == "CaughtException: OddError: 3/4"


@pytest.mark.timeout(300)
def test_a_task_that_fails_every_attempt_fails_the_run(flow_catalog: ArtifactCatalog,
                                                       tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="attempt 3 of item"):
        DecoratedFlow().run(catalog=flow_catalog, counter=str(tmp_path / "c"), failures=5)
    run = Run("DecoratedFlow/1", catalog=flow_catalog)
    assert run.status == "failed"
    failed = run["flaky"].task
    assert failed.status == "failed" and failed.details["attempts"] == 3
    assert failed.details["attempt_errors"][0] == "ValueError: attempt 1 of item 0 fails"
    assert isinstance(failed.exception, ValueError)
    assert str(failed.exception) == "attempt 3 of item 0 fails"


def test_decorators_check_their_arguments() -> None:
    with pytest.raises(InvalidInputError, match="times"):
        retry(times=-1)
    with pytest.raises(InvalidInputError, match="timeout"):
        timeout(seconds=0)
    with pytest.raises(InvalidInputError, match="memory"):
        resources(memory="4G")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="public attribute"):
        catch(var="_hidden")


def test_a_timed_step_of_a_flow_workers_cannot_import_fails_clearly(
        local_catalog: ArtifactCatalog) -> None:
    class LocalFlow(Flow):
        @timeout(seconds=5)
        @step
        def start(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    with pytest.raises(InvalidFlowError, match="defined inside a function"):
        LocalFlow().run(catalog=local_catalog)
    run = Run("LocalFlow/1", catalog=local_catalog)
    assert run.status == "failed" and run["start"].task.status == "failed"
