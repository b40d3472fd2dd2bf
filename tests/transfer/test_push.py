"""push: catalog -> catalog, any backend to any backend; blobs the target has are never
sent again, and a second push copies nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, ConflictError, IntegrityError
from archivist.backends.base import NewRun
from archivist.ids import new_id
from archivist.model import TaskRecord
from archivist.transfer.bundles import export_bundle
from archivist.transfer.push import push
from tests.helpers import snapshot
from tests.transfer.conftest import Populated, count_puts, live_records, runs_of

MakeCatalog = Callable[..., ArtifactCatalog]


def test_push_copies_everything_once(source: Populated, make_catalog: MakeCatalog) -> None:
    target = make_catalog()
    counting = count_puts(target)
    report = push(source.catalog, target)
    assert live_records(target) == live_records(source.catalog)
    assert runs_of(target) == runs_of(source.catalog)
    # raw:1, raw:2, model, the tree's manifest and its two files; nothing twice
    assert report.blobs_copied == 6 == len(counting.puts) == len(set(counting.puts))

    before = snapshot(target)
    again = push(source.catalog, target)
    assert not again.changed and len(counting.puts) == 6
    assert sorted(again.skipped) == sorted(a.id for a in live_records(source.catalog))
    assert snapshot(target) == before


def test_blobs_the_target_has_are_not_sent(source: Populated,
                                           make_catalog: MakeCatalog) -> None:
    target = make_catalog()
    target.register("elsewhere", data=b"second")  # the bytes of raw:2, another version
    counting = count_puts(target)
    report = push(source.catalog, target, "name:raw")
    assert report.blobs_present == 1 and report.blobs_copied == 1
    assert len(counting.puts) == 1
    assert source.catalog.get("raw:1").digest in counting.puts
    assert set(counting.exists_asked) >= {source.catalog.get("raw:2").digest}


def test_push_brings_lineage_along(source: Populated, make_catalog: MakeCatalog) -> None:
    target = make_catalog()
    report = push(source.catalog, target, ["model@production"])
    ids = source.ids
    assert sorted(report.copied) == sorted([ids["model"], ids["raw2"], ids["tree"],
                                            ids["raw1"]])
    assert report.missing_parents == []
    assert target.get_lineage("model", depth=3)["upstream"] == source.catalog.get_lineage(
        "model", depth=3)["upstream"]
    assert [r.id for r in runs_of(target)] == [source.run_id]


def test_push_without_ancestors_reports_the_cut_edges(source: Populated,
                                                      make_catalog: MakeCatalog) -> None:
    target = make_catalog()
    report = push(source.catalog, target, "name:model", ancestors=False)
    assert sorted(report.missing_parents) == sorted([(source.ids["model"], source.ids["raw2"]),
                                                     (source.ids["model"], source.ids["tree"])])
    assert target.get_lineage("model")["parents"] == []


def test_later_pushes_carry_new_versions_tags_and_aliases(
        source: Populated, make_catalog: MakeCatalog) -> None:
    target = make_catalog()
    push(source.catalog, target)
    source.catalog.tag("model", stage="archived")
    newer = source.catalog.register("model", data={"weights": [4]}, aliases=["production"])
    report = push(source.catalog, target)
    assert report.copied == [newer]
    assert report.updated == [source.ids["model"]]
    assert target.get("model@production").id == newer
    assert target.get(source.ids["model"]).tags["stage"] == "archived"
    assert target.get("model").version == 2


def test_push_refuses_a_diverged_target(source: Populated, make_catalog: MakeCatalog) -> None:
    target = make_catalog()
    target.register("model", data=b"the team's own model:1")
    before = snapshot(target)
    with pytest.raises(ConflictError, match="model:1"):
        push(source.catalog, target)
    assert snapshot(target) == before


def test_push_refuses_corrupt_source_bytes(source: Populated, make_catalog: MakeCatalog,
                                           tmp_path: Path) -> None:
    art = source.catalog.get("raw:1")
    path = Path(art.storage_path or "")
    path.chmod(0o644)
    path.write_bytes(b"bit rot")
    target = make_catalog()
    with pytest.raises(IntegrityError, match="corrupt"):
        push(source.catalog, target, "name:raw")
    assert live_records(target) == []
    assert art.digest not in set(target.blobs.iter_digests())


def test_push_to_postgres_and_s3(source: Populated, postgres_url: str,
                                 s3_blobs_url: str) -> None:
    with ArtifactCatalog(postgres_url, blobs=s3_blobs_url) as target:
        report = push(source.catalog, target)
        assert live_records(target) == live_records(source.catalog)
        assert runs_of(target) == runs_of(source.catalog)
        assert report.blobs_copied == 6
        assert not push(source.catalog, target).changed
        assert target.load("model") == {"weights": [1, 2, 3]}
        assert target.verify().ok


def test_a_run_pushed_while_running_is_finished_by_the_next_push(
        make_catalog: MakeCatalog) -> None:
    laptop, team = make_catalog(), make_catalog()
    run_id = new_id()
    laptop.backend.create_run(NewRun(id=run_id, project="default", pipeline="etl",
                                     started_at=time.time()))
    laptop.register("out", data=b"partial", source_run_id=run_id)
    first = push(laptop, team)
    assert first.runs_copied == [run_id] and team.get_run(run_id).status == "running"
    task = TaskRecord(id=new_id(), run_id=run_id, step="load", status="succeeded",
                      produced=[laptop.get("out").id])
    laptop.backend.save_task(task)
    laptop.backend.update_run(run_id, "succeeded", time.time(), None)
    second = push(laptop, team)
    assert second.runs_copied == [run_id] and second.copied == []
    assert team.get_run(run_id) == laptop.get_run(run_id)
    assert push(laptop, team).runs_skipped == [run_id]


def test_many_versions_in_one_push(make_catalog: MakeCatalog) -> None:
    laptop, team = make_catalog(), make_catalog()
    # metadata-only: the rows are what is measured (each blob costs its fsyncs, ~5 ms)
    laptop.register_many([{"name": f"item{i % 50}", "metadata": {"i": i}, "tags": {"i": i}}
                          for i in range(1000)])
    started = time.perf_counter()
    report = push(laptop, team)
    assert len(report.copied) == 1000
    assert time.perf_counter() - started < 30  # ~1 s: one transaction, ~100 queries
    assert live_records(team) == live_records(laptop)
    assert team.get("item7").version == 20


def test_a_taken_run_number_is_refused_before_any_row(source: Populated,
                                                      make_catalog: MakeCatalog) -> None:
    target = make_catalog()
    target.backend.create_run(NewRun(id=new_id(), project="default", pipeline="train",
                                     started_at=time.time()))  # the team's own train/1
    before = snapshot(target)
    with pytest.raises(ConflictError, match="train/1"):
        push(source.catalog, target)
    assert snapshot(target) == before


def test_progress_reports_every_byte(source: Populated, make_catalog: MakeCatalog,
                                     tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    report = push(source.catalog, make_catalog(), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (report.bytes_copied, report.bytes_copied)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    exported: list[tuple[int, int | None]] = []
    bundle = export_bundle(source.catalog, None, tmp_path / "b",
                           progress=lambda d, t: exported.append((d, t)))
    assert exported[-1] == (bundle.bytes, bundle.bytes)
