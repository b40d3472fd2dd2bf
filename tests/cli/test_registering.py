"""``archivist init`` and ``archivist add``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archivist.cli.progress import THRESHOLD
from tests.cli.conftest import Cli


def test_init_creates_the_catalog_and_says_where(bare_cli: Cli, home: Path) -> None:
    result = bare_cli.ok("init")
    assert (home / "catalog.db").is_file()
    assert str(home.resolve()) in result.stdout
    assert "initialized" in result.stdout


def test_init_twice_changes_nothing(cli: Cli) -> None:
    before = cli.snapshot()
    result = cli.ok("init")
    assert "already exists" in result.stdout
    assert cli.snapshot() == before


def test_init_uses_archivist_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from archivist.cli import app

    target = tmp_path / "from-env"
    monkeypatch.setenv("ARCHIVIST_HOME", str(target))
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.stderr
    assert (target / "catalog.db").is_file()
    assert str(target.resolve()) in result.stdout


def test_init_defaults_to_dot_archivist(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from archivist.cli import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / ".archivist" / "catalog.db").is_file()


def test_add_file_json(cli: Cli, make_file: Callable[..., Path]) -> None:
    path = make_file("model.bin", b"weights")
    record = cli.json(
        "add", str(path), "--name", "fraud", "--type", "Model",
        "--tag", "stage=staging", "--tag", "f1=0.91", "--tag", "approved=true",
        "--tag", "owner=null", "--tag", 'quoted="3"', "--tag", "n=3",
        "--meta", "framework=sklearn", "--meta", 'params={"depth": 3, "lr": [0.1]}',
        "--meta", "layers=[1, 2]",
        "--partition", "report_date=2023-10-26", "--partition", "n=3",
        "--description", "a fraud model", "--alias", "champion",
    )
    assert record["name"] == "fraud"
    assert record["version"] == 1
    assert record["artifact_type"] == "Model"
    assert record["size"] == len(b"weights")
    assert record["digest"].startswith("sha256:")
    assert record["tags"] == {"stage": "staging", "f1": 0.91, "approved": True,
                              "owner": None, "quoted": "3", "n": 3}
    assert record["metadata"]["framework"] == "sklearn"
    assert record["metadata"]["params"] == {"depth": 3, "lr": [0.1]}
    assert record["metadata"]["layers"] == [1, 2]
    assert record["partitions"] == {"report_date": "2023-10-26", "n": "3"}
    assert record["description"] == "a fraud model"
    assert record["aliases"] == ["champion"]
    assert record["uri"] == "archivist://default/fraud:1"
    assert record["id"] == record["artifact_id"]


def test_add_human_output(cli: Cli, make_file: Callable[..., Path]) -> None:
    result = cli.ok("add", str(make_file("a.txt")), "--name", "a")
    assert result.stdout.startswith("registered a:1 (File")
    assert result.stderr == ""


def test_add_new_versions_and_parents(cli: Cli, added: Callable[..., dict[str, Any]]) -> None:
    raw = added("raw", b"raw rows")
    second = added("raw", b"more raw rows")
    assert second["version"] == 2
    model = added("model", b"model", "--parent", "raw:1", "--parent", second["id"])
    assert set(model["parent_ids"]) == {raw["id"], second["id"]}


def test_add_directory(cli: Cli, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("bb")
    record = cli.json("add", str(tree), "--name", "tree")
    assert record["artifact_type"] == "Directory"
    assert record["kind"] == "directory"
    assert record["size"] == 3


def test_add_duplicate_content_is_a_note_not_a_failure(cli: Cli,
                                                       make_file: Callable[..., Path]) -> None:
    path = make_file("same.txt", b"same bytes")
    cli.ok("add", str(path), "--name", "first")
    result = cli.ok("add", str(path), "--name", "second", "--json")
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("note: ")
    assert "first:1" in lines[0]
    assert cli.json("show", "second")["version"] == 1


def test_add_creates_the_catalog_on_first_use(bare_cli: Cli, home: Path,
                                              make_file: Callable[..., Path]) -> None:
    bare_cli.ok("add", str(make_file("a.txt")), "--name", "a")
    assert (home / "catalog.db").is_file()


def test_add_big_file_shows_progress_and_registers(cli: Cli, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x01" * (THRESHOLD + 1024))
    record = cli.json("add", str(big), "--name", "big")
    assert record["size"] == THRESHOLD + 1024


def test_add_in_another_project(cli: Cli, make_file: Callable[..., Path]) -> None:
    record = cli.json("--project", "team", "add", str(make_file("a.txt")), "--name", "a")
    assert record["project"] == "team"
    assert cli.json("ls") == []
    assert [r["name"] for r in cli.json("--project", "team", "ls")] == ["a"]
