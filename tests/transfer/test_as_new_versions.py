"""A push (or import) that meets the target's own versions under the same names: the
refusal names the remedies, and each remedy works on every kind of target — a catalog
folder, PostgreSQL + S3, and a catalog server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archivist import ArtifactCatalog, ConflictError, keys
from archivist.backends.base import NewRun
from archivist.backends.remote.backend import RemoteCatalogBackend
from archivist.ids import new_id
from archivist.model import TaskRecord
from archivist.server import ServerSettings, create_app
from archivist.transfer.numbering import SOURCE_KEY
from archivist.transfer.push import push
from archivist.transfer.source import location

MakeCatalog = Callable[..., ArtifactCatalog]


@dataclass(frozen=True)
class Laptop:
    """A source catalog: raw:1 <- raw:2 <- model:1 (@production), made by run train/1."""

    catalog: ArtifactCatalog
    raw1: str
    raw2: str
    model: str
    run_id: str


def make_laptop(catalog: ArtifactCatalog) -> Laptop:
    run_id = new_id()
    catalog.backend.create_run(NewRun(id=run_id, project=catalog.project, pipeline="train",
                                      started_at=time.time()))
    raw1 = catalog.register("raw", data=b"laptop raw 1")
    raw2 = catalog.register("raw", data=b"laptop raw 2", parent_ids=[raw1])
    model = catalog.register("model", data=b"laptop model", parent_ids=[raw2],
                             aliases=["production"], tags={"f1": 0.9},
                             source_run_id=run_id, source_pipeline="train")
    catalog.backend.save_task(TaskRecord(
        id=new_id(), run_id=run_id, step="fit", status="succeeded", consumed=[raw2],
        produced=[model], data={"model": model}))
    catalog.backend.update_run(run_id, "succeeded", time.time(), None)
    return Laptop(catalog=catalog, raw1=raw1, raw2=raw2, model=model, run_id=run_id)


@pytest.fixture
def laptop(make_catalog: MakeCatalog) -> Laptop:
    return make_laptop(make_catalog())


@pytest.fixture(params=["folder", "postgres", "server"])
def target(request: pytest.FixtureRequest, make_catalog: MakeCatalog,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArtifactCatalog]:
    """An empty team catalog of each kind, in project ``default``."""
    if request.param == "folder":
        yield make_catalog()
    elif request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        blobs = request.getfixturevalue("s3_blobs_url")
        with ArtifactCatalog(url, blobs=blobs) as catalog:
            yield catalog
    else:
        app = create_app(ServerSettings(home=str(tmp_path_factory.mktemp("server"))))
        with TestClient(app) as client:
            secret = keys.create_key(app.state.archivist.store, "default", "write")[1]
            backend = RemoteCatalogBackend("http://testserver", secret, client=client)
            with ArtifactCatalog(backend, project="default") as catalog:
                yield catalog


def _team_work(team: ArtifactCatalog) -> dict[str, str]:
    """The team's own raw:1 and model:1 (@production), registered independently."""
    return {"raw": team.register("raw", data=b"team raw 1"),
            "model": team.register("model", data=b"team model", aliases=["production"])}


def _ids(catalog: ArtifactCatalog, name: str) -> list[str]:
    return [a.id for a in sorted(catalog.list(name=name), key=lambda a: a.version)]


def test_the_refusal_names_every_remedy(laptop: Laptop, target: ArtifactCatalog) -> None:
    team = _team_work(target)
    with pytest.raises(ConflictError) as refused:
        push(laptop.catalog, target)
    message = str(refused.value)
    assert "the target already has model:1" in message or "raw:1" in message
    for remedy in ("--as-new-versions", "as_new_versions=True", "--rename ",
                   "--to-project P", "import --project P", "nothing was written"):
        assert remedy in message, remedy
    assert _ids(target, "raw") == [team["raw"]] and _ids(target, "model") == [team["model"]]


def test_as_new_versions_lands_after_the_targets_own(laptop: Laptop,
                                                     target: ArtifactCatalog) -> None:
    team = _team_work(target)
    report = push(laptop.catalog, target, as_new_versions=True)
    moved = {(r.name, r.source_version): r.version for r in report.renumbered}
    assert moved == {("raw", 1): 2, ("raw", 2): 3, ("model", 1): 2}
    assert len(report.copied) == 3 and report.skipped == []
    # the team's versions are untouched; the laptop's follow them, with new ids
    raw = _ids(target, "raw")
    assert raw[0] == team["raw"] and not {laptop.raw1, laptop.raw2} & set(raw)
    copy = target.get("raw:2")
    assert copy.metadata[SOURCE_KEY] == {"id": laptop.raw1, "name": "raw", "version": 1,
                                         "project": "default",
                                         "catalog": location(laptop.catalog)}
    assert target.load("raw:3") == b"laptop raw 2"
    # lineage among the pushed versions follows the new ids
    assert target.get("raw:3").parent_ids == [copy.id]
    model = target.get("model:2")
    assert model.parent_ids == [target.get("raw:3").id]
    assert model.tags["f1"] == 0.9 and target.get("model@production").id == model.id
    # so do the run's links: the run that made them is a new run there too (train/1
    # was free, but its copy links other ids than the source's run)
    run = target.get_run(report.runs_renumbered[laptop.run_id])
    assert run.pathspec == "train/1" and run.details[SOURCE_KEY]["id"] == laptop.run_id
    assert run.produced == [model.id] and model.source_run_id == run.id
    assert run.tasks[0].data == {"model": model.id}

    again = push(laptop.catalog, target, as_new_versions=True)
    assert not again.changed and again.renumbered == [] and again.runs_skipped == [run.id]
    assert sorted(again.skipped) == sorted([laptop.raw1, laptop.raw2, laptop.model])
    assert len(_ids(target, "raw")) == 3 and len(_ids(target, "model")) == 2

    newer = laptop.catalog.register("raw", data=b"laptop raw 3")
    later = push(laptop.catalog, target, as_new_versions=True)
    assert [(r.source_id, r.version) for r in later.renumbered] == [(newer, 4)]
    assert later.copied == [target.get("raw:4").id]


def test_later_source_changes_reach_the_copies(laptop: Laptop,
                                               target: ArtifactCatalog) -> None:
    _team_work(target)
    push(laptop.catalog, target, as_new_versions=True)
    laptop.catalog.tag(laptop.model, stage="production")
    laptop.catalog.set_alias(laptop.raw1, "golden")
    report = push(laptop.catalog, target, as_new_versions=True)
    assert sorted(report.updated) == sorted([target.get("model:2").id,
                                             target.get("raw:2").id])
    assert target.get("model:2").tags["stage"] == "production"
    assert target.get("raw@golden").version == 2


def test_a_taken_run_number_is_a_remedy_too(laptop: Laptop,
                                            target: ArtifactCatalog) -> None:
    theirs = target.backend.create_run(NewRun(id=new_id(), project="default",
                                              pipeline="train", started_at=time.time()))
    with pytest.raises(ConflictError, match=r"train/1.*--as-new-versions"):
        push(laptop.catalog, target)
    report = push(laptop.catalog, target, as_new_versions=True)
    assert report.renumbered == []  # no version number was taken: ids and numbers kept
    new_run = report.runs_renumbered[laptop.run_id]
    run = target.get_run(new_run)
    assert run.pathspec == "train/2" and run.details[SOURCE_KEY]["id"] == laptop.run_id
    assert run.produced == [laptop.model]
    assert target.get(laptop.model).source_run_id == new_run
    assert target.get_run("train/1").id == theirs.id
    again = push(laptop.catalog, target, as_new_versions=True)
    assert not again.changed and again.runs_skipped == [new_run]


def test_rename_lands_under_another_name(laptop: Laptop, target: ArtifactCatalog) -> None:
    team = _team_work(target)
    renames = {"raw": "laptop_raw", "model": "laptop_model"}
    report = push(laptop.catalog, target, rename=renames)
    assert sorted(report.copied) == sorted([laptop.raw1, laptop.raw2, laptop.model])
    assert _ids(target, "laptop_raw") == [laptop.raw1, laptop.raw2]
    assert target.get("laptop_model:1").parent_ids == [laptop.raw2]
    assert target.get("model@production").id == team["model"]
    assert not push(laptop.catalog, target, rename=renames).changed
    with pytest.raises(ConflictError, match="--rename"):
        push(laptop.catalog, target)  # the same versions under their first names


def test_a_case_clash_offers_the_targets_spelling(laptop: Laptop,
                                                  target: ArtifactCatalog) -> None:
    target.register("RAW", data=b"team raw")
    with pytest.raises(ConflictError, match="--rename raw=RAW"):
        push(laptop.catalog, target, "name:raw")
    report = push(laptop.catalog, target, "name:raw", rename={"raw": "RAW"},
                  as_new_versions=True)
    assert [r.version for r in report.renumbered] == [2, 3]


def test_import_takes_the_same_remedies(laptop: Laptop, target: ArtifactCatalog,
                                        tmp_path: Path) -> None:
    laptop.catalog.export(None, tmp_path / "b.tar")
    _team_work(target)
    with pytest.raises(ConflictError, match="--as-new-versions"):
        target.import_bundle(tmp_path / "b.tar")
    report = target.import_bundle(tmp_path / "b.tar", as_new_versions=True)
    assert len(report.renumbered) == 3
    assert target.get("raw:2").metadata[SOURCE_KEY]["catalog"] == str(
        (tmp_path / "b.tar").resolve())
    assert not target.import_bundle(tmp_path / "b.tar", as_new_versions=True).changed


def test_another_project_of_the_same_catalog(laptop: Laptop) -> None:
    """Ids are the catalog's: a copy into another project of the same catalog can only
    land as new versions, and says so."""
    with ArtifactCatalog(laptop.catalog.home, project="team") as team:
        with pytest.raises(ConflictError, match="--as-new-versions"):
            push(laptop.catalog, team)
        report = push(laptop.catalog, team, as_new_versions=True)
        assert len(report.renumbered) == 3
        assert team.get("model").parent_ids == [team.get("raw:2").id]
        assert team.get_run(report.runs_renumbered[laptop.run_id]).pathspec == "train/1"
        assert not push(laptop.catalog, team, as_new_versions=True).changed
    assert laptop.catalog.get("model").id == laptop.model
