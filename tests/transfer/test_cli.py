"""``archivist export``, ``import`` and ``push`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from archivist import ArtifactCatalog
from archivist.cli import app
from archivist.transfer.bundles.format import blob_member
from tests.cli.conftest import Cli, assert_refused
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


def test_push_refuses_the_catalog_it_reads(tmp_path: Path) -> None:
    laptop = _source(tmp_path)
    before = laptop.snapshot()
    laptop.fails("push", "--to", str(laptop.home), contains="cannot push a catalog to itself")
    laptop.fails("push", "--from", str(tmp_path / "laptop" / "."), "--to", str(laptop.home),
                 contains="--from")
    assert laptop.snapshot() == before


def test_push_reads_the_local_catalog_even_in_team_mode(tmp_path: Path) -> None:
    """ARCHIVIST_CATALOG_ENDPOINT names where team-mode code writes; a push still reads
    the local catalog (here ARCHIVIST_HOME) unless --from names another."""
    laptop = _source(tmp_path)
    env = {"ARCHIVIST_CATALOG_ENDPOINT": "http://127.0.0.1:9",
           "ARCHIVIST_HOME": str(laptop.home)}
    result = CliRunner().invoke(app, ["push", "--to", str(tmp_path / "team"), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["copied"]) == 6
    fresh = CliRunner().invoke(app, ["push", "--from", str(tmp_path / "team"),
                                     "--to", str(tmp_path / "third"), "--json"], env=env)
    assert fresh.exit_code == 0, fresh.output
    assert len(json.loads(fresh.stdout)["copied"]) == 6
    missing = CliRunner().invoke(app, ["push", "--from", str(tmp_path / "nowhere"),
                                       "--to", str(tmp_path / "team")], env=env)
    assert_refused(missing, "no archivist catalog at")


def test_a_clash_names_the_remedies_and_each_works(tmp_path: Path) -> None:
    laptop = _source(tmp_path)
    team = Cli(tmp_path / "team")
    team.ok("init")
    with ArtifactCatalog(team.home) as catalog:
        catalog.register("model", data=b"the team's model:1")
    refusal = laptop.fails("push", "--to", str(team.home), "name:model",
                           contains="the target already has model:1")
    assert "--as-new-versions" in refusal and "--rename model=NEW_NAME" in refusal
    assert "--to-project P" in refusal

    human = laptop.ok("push", "--to", str(team.home), "name:model", "--as-new-versions")
    assert "pushed 4 version(s)" in human.stdout
    assert "model:1 -> model:2" in human.stderr and "metadata.archivist_source" in human.stderr
    again = laptop.json("push", "--to", str(team.home), "name:model", "--as-new-versions")
    assert again["copied"] == [] and again["renumbered"] == []

    renamed = laptop.json("push", "--to", str(team.home), "name:model", "--no-ancestors",
                          "--rename", "model=laptop_model", "--to-project", "other")
    assert len(renamed["copied"]) == 1
    laptop.usage_error("push", "--to", str(team.home), "--rename", "model")


def test_import_as_new_versions(tmp_path: Path) -> None:
    laptop = _source(tmp_path)
    laptop.ok("export", "name:raw", "-o", str(tmp_path / "b.tar"))
    team = Cli(tmp_path / "team")
    team.ok("init")
    with ArtifactCatalog(team.home) as catalog:
        catalog.register("raw", data=b"the team's raw:1")
    team.fails("import", str(tmp_path / "b.tar"), contains="--as-new-versions")
    report = team.json("import", str(tmp_path / "b.tar"), "--as-new-versions")
    assert [(r["source_version"], r["version"]) for r in report["renumbered"]] == [(1, 2),
                                                                                (2, 3)]
    renamed = team.json("import", str(tmp_path / "b.tar"), "--rename", "raw=laptop_raw")
    assert len(renamed["copied"]) == 2
