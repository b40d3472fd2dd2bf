"""How many write transactions recording a step costs (SQLite), and that the merged
writes still record what the separate ones did."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archivist import ArtifactCatalog, pipeline, step
from archivist.pipelines import runs


@contextmanager
def _writes(catalog: ArtifactCatalog) -> Iterator[list[str]]:
    """The ``BEGIN IMMEDIATE`` statements (SQLite write transactions) run inside."""
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            seen.append(statement)

    engine = catalog.backend.engine  # type: ignore[attr-defined]
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


def _steps(cache: bool) -> list[Any]:
    def make(k: int) -> Any:
        def body(previous: str) -> str:
            return previous[1:] + str(k)
        return step(name=f"s{k}", cache=cache)(body)
    return [make(k) for k in range(5)]


def _run(catalog: ArtifactCatalog, steps: list[Any], seed: str) -> str:
    with pipeline("writes", catalog=catalog) as run:
        value = seed
        for s in steps:
            value = s(value)
    return run.id


def test_a_captured_output_and_its_finished_task_are_one_write(
        local_catalog: ArtifactCatalog) -> None:
    steps = _steps(cache=False)
    _run(local_catalog, steps, "w" * 64)  # warm: names and schema exist
    with _writes(local_catalog) as writes:
        run_id = _run(local_catalog, steps, "x" * 64)
    # run created + per step (blob lease, versions with the finished task) + run ended:
    # a step that ends at once writes no "running" row (a third write per step before,
    # and the finished task a fourth before that)
    assert len(writes) == 1 + 2 * len(steps) + 1
    run = local_catalog.get_run(run_id)
    assert [(t.step, t.status) for t in run.tasks] == [(f"s{k}", "succeeded")
                                                       for k in range(5)]
    assert len(run.produced) == 5
    for task in run.tasks:
        (made,) = task.produced
        assert task.data == {"output": made} or list(task.data.values()) == [made]
        assert local_catalog.get(made).source_run_id == run_id


def test_cached_steps_of_a_rerun_land_in_one_write(local_catalog: ArtifactCatalog) -> None:
    steps = _steps(cache=True)
    first = _run(local_catalog, steps, "c" * 64)
    with _writes(local_catalog) as writes:
        again = _run(local_catalog, steps, "c" * 64)
    # run created, the five cached tasks together, run ended (one write per step before)
    assert len(writes) == 3
    tasks = local_catalog.get_run(again).tasks
    assert [(t.step, t.cached, t.status) for t in tasks] == [
        (f"s{k}", True, "succeeded") for k in range(5)]
    assert [t.produced for t in tasks] == [t.produced for t in local_catalog.get_run(first).tasks]


def test_a_cached_task_is_on_record_before_the_next_task_starts(
        local_catalog: ArtifactCatalog) -> None:
    cached = step(name="cached", cache=True)(lambda v: v + "!")
    seen: list[list[tuple[str, bool]]] = []

    @step(name="after")
    def after(value: str) -> str:
        # read from the catalog, not through the run (whose record writes what it holds)
        seen.append([(t.step, t.cached) for t in local_catalog.get_run(run.id).tasks])
        return value

    for _ in range(2):
        with pipeline("order", catalog=local_catalog) as run:
            after(cached("v"))
    assert seen[-1] == [("cached", True), ("after", False)]


def test_a_step_still_running_after_the_delay_shows_as_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "START_ROW_DELAY", 1.0)  # room for a loaded machine
    seen: list[list[tuple[str, str]]] = []

    def elsewhere() -> list[tuple[str, str]]:
        # another catalog object, read outside the run's context (as another process
        # would): nothing held back is written for this reader
        found = contextvars.Context().run(other.get_run, run.id)
        return [(t.step, t.status) for t in found.tasks]

    @step(name="slow")
    def slow(value: str) -> str:
        seen.append(elsewhere())  # at once: not written yet
        time.sleep(runs.START_ROW_DELAY + 1.0)
        seen.append(elsewhere())  # later: written as running by the watcher
        return value + "!"

    with ArtifactCatalog(tmp_path / "home") as catalog, \
            ArtifactCatalog(tmp_path / "home") as other:
        with pipeline("slow", catalog=catalog) as run:
            slow("v")
        assert seen == [[], [("slow", "running")]]
        assert [(t.step, t.status) for t in catalog.get_run(run.id).tasks] == [
            ("slow", "succeeded")]


def test_a_start_row_never_lands_after_its_finished_row(
        local_catalog: ArtifactCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    # every start row due at once: the watcher races each step's own finished row
    monkeypatch.setattr(runs, "START_ROW_DELAY", 0.0)
    steps = _steps(cache=False)
    for seed in "abc":
        run_id = _run(local_catalog, steps, seed * 64)
        assert [(t.step, t.status) for t in local_catalog.get_run(run_id).tasks] == [
            (f"s{k}", "succeeded") for k in range(5)]


def test_a_failed_step_is_failed_whether_or_not_its_start_was_written(
        local_catalog: ArtifactCatalog) -> None:
    @step(name="boom")
    def boom(wait: float) -> str:
        time.sleep(wait)
        raise ValueError("no")

    for wait in (0.0, runs.START_ROW_DELAY + 0.2):
        with pytest.raises(ValueError), pipeline("boom", catalog=local_catalog) as run:
            boom(wait)
        (task,) = local_catalog.get_run(run.id).tasks
        assert (task.status, task.error) == ("failed", "ValueError: no")
