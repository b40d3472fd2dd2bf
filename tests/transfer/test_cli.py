"""``archivist export``, ``import`` and ``push`` on the command line."""

from __future__ import annotations

from pathlib import Path

from archivist import ArtifactCatalog
from archivist.transfer.bundles.format import blob_member
from tests.cli.conftest import Cli
from tests.transfer.conftest import live_records, populate


def _source(tmp_path: Path) -> Cli:
    cli = Cli(tmp_path / "laptop")
    with ArtifactCatalog(cli.home) as catalog:
        populate(catalog, tmp_path)
    return cli


def test_export_then_import(tmp_path: Path) -> None:
    laptop = _source(tmp_path)
    report = laptop.json("export", "type:Model,Dataset,Object,File,Directory",
                         "-o", str(tmp_path / "b.tar"))
    assert len(report["versions"]) == 6 and report["blobs"] == 6

    team = Cli(tmp_path / "team")
    team.ok("init")
    first = team.json("import", str(tmp_path / "b.tar"))
    assert sorted(first["copied"]) == sorted(report["versions"])
    again = team.ok("import", str(tmp_path / "b.tar"))
    assert "imported 0 version(s) (6 already there" in again.stdout
    with ArtifactCatalog(laptop.home) as a, ArtifactCatalog(team.home) as b:
        assert live_records(a) == live_records(b)


def test_import_into_a_new_home_creates_the_catalog(tmp_path: Path) -> None:
    laptop = _source(tmp_path)
    laptop.ok("export", "name:model", "-o", str(tmp_path / "b.tar"))
    fresh = Cli(tmp_path / "fresh")  # no 'archivist init' first
    report = fresh.json("import", str(tmp_path / "b.tar"))
    assert report["copied"]
    with ArtifactCatalog(fresh.home) as catalog:
        assert {a.id for a in catalog.list()} >= set(report["copied"])


def test_export_by_ref_with_ancestors(tmp_path: Path) -> None:
    laptop = _source(tmp_path)
    result = laptop.ok("export", "--ref", "model@production", "--with-ancestors",
                       "-o", str(tmp_path / "b"))
    assert "exported 4 version(s), 1 run(s) and 6 blob(s)" in result.stdout
    alone = laptop.ok("export", "--ref", "model", "-o", str(tmp_path / "alone"))
    assert "2 lineage edge(s) lead to versions not in the bundle" in alone.stderr


def test_refusals_are_one_line(tmp_path: Path) -> None:
    laptop = _source(tmp_path)
    laptop.ok("export", "-o", str(tmp_path / "b"))
    laptop.fails("export", "-o", str(tmp_path / "b"), contains="already exists")
    laptop.usage_error("export", "name:model")  # -o is required
    with ArtifactCatalog(laptop.home) as catalog:
        digest = catalog.get("raw:1").digest
    assert digest is not None
    (tmp_path / "b" / blob_member(digest)).write_bytes(b"tampered")
    team = Cli(tmp_path / "team")
    team.ok("init")
    team.fails("import", str(tmp_path / "b"), contains="corrupt")
    team.fails("import", str(tmp_path / "nowhere"), contains="cannot read the bundle")


def test_push_to_a_folder_and_to_a_database_url(tmp_path: Path) -> None:
    laptop = _source(tmp_path)
    first = laptop.json("push", "--to", str(tmp_path / "team"))
    assert len(first["copied"]) == 6 and first["blobs_copied"] == 6
    again = laptop.json("push", "--to", str(tmp_path / "team"))
    assert again["copied"] == [] and again["blobs_copied"] == 0
    database = f"sqlite:///{tmp_path / 'db' / 'catalog.db'}"
    only = laptop.ok("push", "name:model", "--no-ancestors", "--to", database,
                     "--to-blobs", str(tmp_path / "db-blobs"), "--to-project", "team")
    assert "pushed 1 version(s)" in only.stdout
    assert "2 lineage edge(s) dropped" in only.stderr
    with ArtifactCatalog(database, project="team", blobs=str(tmp_path / "db-blobs")) as db:
        assert [a.name for a in live_records(db)] == ["model"]
        assert db.load("model") == {"weights": [1, 2, 3]}
