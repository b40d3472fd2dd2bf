"""Run records: create, read by id and pathspec, list, update, tasks, links, cache lookup."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from archivist import (
    ArtifactCatalog,
    ArtifactNotFoundError,
    ConflictError,
    InvalidNameError,
    pipeline,
    step,
)
from archivist.backends.base import NewRun
from archivist.ids import new_id
from archivist.model import RunRecord, TaskRecord


def _new_run(catalog: ArtifactCatalog, pipeline: str = "fraud", **kw: object) -> RunRecord:
    fields: dict[str, object] = {"id": new_id(), "project": catalog.project,
                                 "pipeline": pipeline, "started_at": time.time()}
    fields.update(kw)
    return catalog.backend.create_run(NewRun(**fields))  # type: ignore[arg-type]


def _task(run: RunRecord, step: str, **kw: object) -> TaskRecord:
    fields: dict[str, object] = {"id": new_id(), "run_id": run.id, "step": step,
                                 "started_at": datetime.now(UTC)}
    fields.update(kw)
    return TaskRecord(**fields)  # type: ignore[arg-type]


def test_numbers_count_per_pipeline(catalog: ArtifactCatalog) -> None:
    first = _new_run(catalog, parameters={"lr": 0.1}, user="ada", host="h1",
                     code_version="abc123", code_dirty=True, source_hash="sha256:" + "0" * 64)
    second = _new_run(catalog)
    other = _new_run(catalog, "other")
    assert (first.number, second.number, other.number) == (1, 2, 1)
    assert first.pathspec == "fraud/1" and first.status == "running"
    got = catalog.get_run("fraud/1")
    assert got.id == first.id and got.parameters == {"lr": 0.1}
    assert (got.user, got.host, got.code_version, got.code_dirty) == ("ada", "h1", "abc123",
                                                                      True)
    assert catalog.get_run(first.id).pathspec == "fraud/1"
    assert got.tasks == [] and got.consumed == [] and got.produced == []


def test_explicit_number_is_kept_and_counter_moves_past(catalog: ArtifactCatalog) -> None:
    kept = _new_run(catalog, number=7, status="succeeded", ended_at=time.time())
    assert kept.number == 7 and kept.status == "succeeded" and kept.ended_at is not None
    assert _new_run(catalog).number == 8
    with pytest.raises(ConflictError):
        _new_run(catalog, number=7)
    with pytest.raises(ConflictError):
        catalog.backend.create_run(NewRun(id=kept.id, project=catalog.project,
                                          pipeline="fraud", started_at=time.time()))


def test_not_found_lists_what_exists(catalog: ArtifactCatalog) -> None:
    with pytest.raises(ArtifactNotFoundError, match="has no runs"):
        catalog.get_run("fraud/1")
    _new_run(catalog)
    _new_run(catalog)
    with pytest.raises(ArtifactNotFoundError, match=r"'fraud' has runs 1, 2"):
        catalog.get_run("fraud/3")
    with pytest.raises(ArtifactNotFoundError, match="pipelines: fraud"):
        catalog.get_run("nope/1")
    with pytest.raises(ArtifactNotFoundError):
        catalog.get_run(new_id())
    with pytest.raises(InvalidNameError):
        catalog.get_run("fraud/one")
    with pytest.raises(InvalidNameError):
        catalog.get_run("../1")


def test_other_projects_runs_are_invisible(catalog: ArtifactCatalog) -> None:
    run = _new_run(catalog)
    with pytest.raises(ArtifactNotFoundError):
        catalog.get_run(run.id, project="elsewhere")
    assert catalog.runs(project="elsewhere") == []


def test_list_filters_and_order(catalog: ArtifactCatalog) -> None:
    base = time.time()
    a = _new_run(catalog, started_at=base)
    b = _new_run(catalog, started_at=base + 1)
    c = _new_run(catalog, "other", started_at=base + 2)
    catalog.backend.update_run(b.id, "failed", base + 3, "ValueError: boom")
    assert [r.id for r in catalog.runs()] == [c.id, b.id, a.id]
    assert [r.id for r in catalog.runs(pipeline="fraud")] == [b.id, a.id]
    assert [r.id for r in catalog.runs(status="failed")] == [b.id]
    assert [r.id for r in catalog.runs(limit=1, offset=1)] == [b.id]
    failed = catalog.get_run(b.id)
    assert failed.status == "failed" and failed.error == "ValueError: boom"
    assert failed.ended_at == datetime.fromtimestamp(base + 3, UTC)


def test_update_unknown_run(catalog: ArtifactCatalog) -> None:
    with pytest.raises(ArtifactNotFoundError):
        catalog.backend.update_run(new_id(), "failed", None, None)
    with pytest.raises(ArtifactNotFoundError):
        catalog.backend.save_task(TaskRecord(id=new_id(), run_id=new_id(), step="s"))
    with pytest.raises(ArtifactNotFoundError):
        catalog.backend.link_run_versions(new_id(), [], [])


def test_update_replaces_details_only_when_given(catalog: ArtifactCatalog) -> None:
    run = _new_run(catalog, details={"origin": "fraud/1"})
    catalog.backend.update_run(run.id, "succeeded", time.time(), None)
    assert catalog.get_run(run.id).details == {"origin": "fraud/1"}
    catalog.backend.update_run(run.id, "succeeded", time.time(), None, {"resumed": True})
    assert catalog.get_run(run.id).details == {"resumed": True}


def test_tasks_are_upserted_and_link_versions(catalog: ArtifactCatalog) -> None:
    raw = catalog.register("raw", data=b"raw")
    feats = catalog.register("feats", data=b"feats", parent_ids=[raw])
    run = _new_run(catalog)
    task = _task(run, "featurize", details={"foreach": [0, 2]})
    catalog.backend.save_task(task)
    assert [t.status for t in catalog.get_run(run.id).tasks] == ["running"]
    done = TaskRecord(**{**task.__dict__, "status": "succeeded",
                         "ended_at": datetime.now(UTC), "consumed": [raw], "produced": [feats],
                         "data": {"features": feats}, "cache_key": "sha256:" + "a" * 64})
    catalog.backend.save_task(done)
    got = catalog.get_run("fraud/1")
    assert got.tasks == [done]
    assert got.task("featurize") == done
    assert got.consumed == [raw] and got.produced == [feats]
    with pytest.raises(KeyError, match="featurize"):
        got.task("train")
    with pytest.raises(ConflictError):
        catalog.backend.save_task(_task(run, "featurize"))  # same step and index


def test_save_tasks_writes_each_in_order(catalog: ArtifactCatalog) -> None:
    run = _new_run(catalog)
    first, second = _task(run, "a"), _task(run, "b", status="succeeded", cached=True,
                                            ended_at=datetime.now(UTC))
    catalog.backend.save_tasks([first, second])
    assert catalog.get_run(run.id).tasks == [first, second]
    catalog.backend.save_tasks([])
    with pytest.raises(ConflictError):
        catalog.backend.save_tasks([_task(run, "c"), _task(run, "a")])  # "a"[0] is taken


def test_save_tasks_links_versions_and_refuses_a_clash_inside_the_batch(
        catalog: ArtifactCatalog) -> None:
    raw, feats = catalog.register("raw", data=b"raw"), catalog.register("feats", data=b"f")
    run = _new_run(catalog)
    started = _task(run, "a")
    done = TaskRecord(**{**started.__dict__, "status": "succeeded",
                         "ended_at": datetime.now(UTC), "consumed": [raw], "produced": [feats]})
    # the same task twice (its start, then its end): one task, as last given
    catalog.backend.save_tasks([started, _task(run, "b", consumed=[raw]), done])
    got = catalog.get_run(run.id)
    assert [(t.step, t.status) for t in got.tasks] == [("a", "succeeded"), ("b", "running")]
    assert got.task("a") == done
    assert got.consumed == [raw] and got.produced == [feats]
    with pytest.raises(ConflictError):  # two new tasks for the same step and index
        catalog.backend.save_tasks([_task(run, "c"), _task(run, "c")])


def test_a_task_saved_with_its_versions(catalog: ArtifactCatalog) -> None:
    raw = catalog.register("raw", data=b"raw")
    run = _new_run(catalog)
    task = _task(run, "featurize")
    catalog.backend.save_task(task)
    with catalog.step_batch() as slot:
        feats = catalog.register("feats", data=b"feats", parent_ids=[raw])
        assert slot is not None
        slot.task = TaskRecord(**{**task.__dict__, "status": "succeeded",
                                  "ended_at": datetime.now(UTC), "consumed": [raw],
                                  "produced": [feats], "data": {"features": feats}})
    got = catalog.get_run(run.id)
    assert got.tasks == [slot.task] and got.produced == [feats]
    assert catalog.get("feats").id == feats
    with catalog.batch(), catalog.step_batch() as inner:
        assert inner is None  # joins the open batch: the caller saves its task itself
    lone = _task(run, "alone", status="succeeded", ended_at=datetime.now(UTC))
    with catalog.step_batch() as slot:  # no versions: the task alone
        assert slot is not None
        slot.task = lone
    assert catalog.get_run(run.id).task("alone") == lone


def test_foreach_tasks_by_index_in_start_order(catalog: ArtifactCatalog) -> None:
    run = _new_run(catalog)
    start = datetime.now(UTC).timestamp()
    for i in (2, 0, 1):
        catalog.backend.save_task(_task(run, "score", index=i,
                                        started_at=datetime.fromtimestamp(start + i, UTC)))
    assert [t.index for t in catalog.get_run(run.id).tasks] == [0, 1, 2]


def test_run_links_are_a_set(catalog: ArtifactCatalog) -> None:
    a = catalog.register("a", data=b"a")
    b = catalog.register("b", data=b"b")
    run = _new_run(catalog)
    catalog.backend.link_run_versions(run.id, [a], [b])
    catalog.backend.link_run_versions(run.id, [a], [b])
    catalog.backend.save_task(_task(run, "s", consumed=[a], produced=[b]))
    got = catalog.get_run(run.id)
    assert got.consumed == [a] and got.produced == [b]


def test_find_cached_task_needs_success_and_project(catalog: ArtifactCatalog) -> None:
    key = "sha256:" + "b" * 64
    assert catalog.backend.find_cached_task(catalog.project, key) is None
    run = _new_run(catalog)
    failed = _task(run, "train", cache_key=key, status="failed", ended_at=datetime.now(UTC))
    catalog.backend.save_task(failed)
    assert catalog.backend.find_cached_task(catalog.project, key) is None
    second = _new_run(catalog)
    ok = _task(second, "train", cache_key=key, status="succeeded", ended_at=datetime.now(UTC),
               data={"train": new_id()})
    catalog.backend.save_task(ok)
    assert catalog.backend.find_cached_task(catalog.project, key) == ok
    assert catalog.backend.find_cached_task("elsewhere", key) is None


def test_record_round_trips_through_dict(catalog: ArtifactCatalog) -> None:
    run = _new_run(catalog, parameters={"n": 3})
    catalog.backend.save_task(_task(run, "s", data={"x": run.id}))
    got = catalog.get_run(run.id)
    assert RunRecord.from_dict(got.to_dict()) == got
    assert got.to_dict()["pathspec"] == "fraud/1"


def test_a_function_pipeline_records_on_this_backend(catalog: ArtifactCatalog) -> None:
    @step
    def load() -> list[int]:
        return [1, 2, 3]

    @step(cache=True)
    def total(rows: list[int]) -> int:
        return sum(rows)

    for _ in range(2):
        with pipeline("sums", catalog=catalog) as run:
            assert total(load()) == 6
    first, second = catalog.get_run("sums/1"), catalog.get_run("sums/2")
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert [t.cached for t in second.tasks] == [False, True]
    made = catalog.get("total")
    assert made.parent_ids == [catalog.get("load:1").id] and made.source_run_id == first.id
    assert second.task("total").produced == [made.id]
    assert run.id == second.id and [r.number for r in catalog.runs(pipeline="sums")] == [2, 1]


def test_concurrent_creators_get_gap_free_numbers(catalog: ArtifactCatalog) -> None:
    numbers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def create(count: int) -> None:
        try:
            for _ in range(count):
                run = _new_run(catalog, "busy")
                with lock:
                    numbers.append(run.number)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(5,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(numbers) == list(range(1, 21))
