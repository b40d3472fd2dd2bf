"""``ls``, ``show``, ``search``, ``get``, ``diff``, ``lineage``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archivist.cli.progress import THRESHOLD
from tests.cli.conftest import Cli

Added = Callable[..., dict[str, Any]]


@pytest.fixture
def three(added: Added) -> list[dict[str, Any]]:
    """raw:1 (Dataset) → model:1 (Model, tagged), and model:2."""
    raw = added("raw", b"rows", "--type", "Dataset", "--tag", "team=fraud")
    one = added("model", b"model one", "--type", "Model", "--parent", "raw:1",
                "--tag", "stage=production", "--tag", "f1=0.91")
    two = added("model", b"model two", "--type", "Model", "--parent", "raw",
                "--tag", "stage=staging", "--meta", "accuracy=0.95")
    return [raw, one, two]


# -- ls ----------------------------------------------------------------------------------
def test_ls_json_lists_every_live_version_newest_first(cli: Cli,
                                                       three: list[dict[str, Any]]) -> None:
    records = cli.json("ls")
    assert [r["id"] for r in records] == [r["id"] for r in reversed(three)]
    assert records[0] == three[2]


def test_ls_filters(cli: Cli, three: list[dict[str, Any]]) -> None:
    raw, one, two = three
    assert [r["id"] for r in cli.json("ls", "--type", "Dataset")] == [raw["id"]]
    assert [r["id"] for r in cli.json("ls", "--name", "model")] == [two["id"], one["id"]]
    assert [r["id"] for r in cli.json("ls", "--tag", "stage=production")] == [one["id"]]
    assert [r["id"] for r in cli.json("ls", "--tag", "f1=0.91")] == [one["id"]]
    assert [r["id"] for r in cli.json("ls", "--latest")] == [two["id"], raw["id"]]
    assert len(cli.json("ls", "--limit", "1")) == 1


def test_ls_table(cli: Cli, three: list[dict[str, Any]]) -> None:
    result = cli.ok("ls", env={"COLUMNS": "160"})
    header = result.stdout.splitlines()[0].split()
    assert header == ["id", "name", "version", "type", "size", "aliases", "tags", "created"]
    assert "…" + three[0]["id"][-8:] in result.stdout
    assert "stage=production" in result.stdout
    assert "bytes" in result.stdout


def test_ls_empty(cli: Cli) -> None:
    assert cli.json("ls") == []
    assert "no versions match" in cli.ok("ls").stdout


def test_ls_notes_a_truncated_listing(cli: Cli, three: list[dict[str, Any]]) -> None:
    result = cli.ok("ls", "--limit", "2")
    assert "raise --limit" in result.stderr


# -- show --------------------------------------------------------------------------------
@pytest.mark.parametrize("ref", ["model", "model:2", "model:latest", "ID",
                                 "archivist://default/model:2"])
def test_show_json_by_any_ref(cli: Cli, three: list[dict[str, Any]], ref: str) -> None:
    ref = three[2]["id"] if ref == "ID" else ref
    assert cli.json("show", ref) == three[2]


def test_show_table(cli: Cli, three: list[dict[str, Any]]) -> None:
    out = cli.ok("show", "model:1", env={"COLUMNS": "160"}).stdout
    for text in ("model:1", three[1]["id"], "Model", "stage=production", "parents",
                 three[0]["id"]):
        assert text in out


def test_show_history(cli: Cli, three: list[dict[str, Any]]) -> None:
    cli.ok("tag", "model:1", "stage=archived")
    cli.ok("alias", "model:2", "prod")
    cli.ok("alias", "model:1", "prod")
    record = cli.json("show", "model", "--history")
    assert record["id"] == three[2]["id"]
    history = record["history"]
    assert [(h["kind"], h["key"]) for h in history] == [
        ("tag", "stage"), ("alias", "prod"), ("alias", "prod")]
    assert (history[0]["old"], history[0]["new"]) == ("production", "archived")
    assert history[0]["user"]
    table = cli.ok("show", "model", "--history", env={"COLUMNS": "160"}).stdout
    header = next(line for line in table.splitlines() if line.startswith("when"))
    assert header.split() == ["when", "who", "version", "kind", "key", "old", "new"]
    assert '"archived"' in table
    moves = [line.split() for line in table.splitlines() if " alias " in line]
    assert [m[-2:] for m in moves] == [["-", "2"], ["2", "1"]]  # version numbers, not ids


def test_show_without_history_has_no_history_key(cli: Cli,
                                                 three: list[dict[str, Any]]) -> None:
    assert "history" not in cli.json("show", "raw")


# -- search ------------------------------------------------------------------------------
def test_search_json(cli: Cli, three: list[dict[str, Any]]) -> None:
    found = cli.json("search", "type:Model stage:production")
    assert [r["id"] for r in found] == [three[1]["id"]]
    assert {r["id"] for r in cli.json("search", "model")} == {three[1]["id"], three[2]["id"]}
    assert cli.json("search", "metadata.accuracy>=0.9")[0]["id"] == three[2]["id"]
    assert cli.json("search", "nothing-like-this") == []
    assert len(cli.json("search", "model", "--limit", "1")) == 1


def test_search_table(cli: Cli, three: list[dict[str, Any]]) -> None:
    assert "model" in cli.ok("search", "type:Model").stdout


# -- get ---------------------------------------------------------------------------------
def test_get_writes_the_bytes(cli: Cli, three: list[dict[str, Any]], tmp_path: Path) -> None:
    dest = tmp_path / "out" / "model.bin"
    result = cli.ok("get", "model:1", "-o", str(dest))
    assert dest.read_bytes() == b"model one"
    assert str(dest) in result.stdout


def test_get_big_file_with_progress(cli: Cli, tmp_path: Path) -> None:
    data = bytes(range(256)) * ((THRESHOLD // 256) + 4)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    cli.ok("add", str(source), "--name", "big")
    dest = tmp_path / "copy.bin"
    cli.ok("get", "big", "--output", str(dest))
    assert dest.read_bytes() == data


def test_progress_is_drawn_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"\x02" * (THRESHOLD + 1))
    terminal = {"TTY_COMPATIBLE": "1"}  # Rich treats stderr as a terminal
    added = cli.ok("add", str(source), "--name", "big", env=terminal)
    assert "hashing and storing big.bin" in added.stderr
    fetched = cli.ok("get", "big", "-o", str(tmp_path / "copy.bin"), env=terminal)
    assert "big:1" in fetched.stderr and "MB" in fetched.stderr
    small = cli.ok("get", "big", "-o", str(tmp_path / "c2.bin"))
    assert small.stderr == ""  # not a terminal: no bar


def test_get_directory(cli: Cli, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "b.txt").write_text("bb")
    cli.ok("add", str(tree), "--name", "tree")
    cli.ok("get", "tree", "-o", str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "sub" / "b.txt").read_text() == "bb"


# -- diff --------------------------------------------------------------------------------
def test_diff_json(cli: Cli, three: list[dict[str, Any]]) -> None:
    changes = cli.json("diff", "model:1", "model:2")
    assert changes["a"]["id"] == three[1]["id"]
    assert changes["b"]["id"] == three[2]["id"]
    assert changes["same_content"] is False
    assert changes["tags"]["changed"]["stage"] == {"a": "production", "b": "staging"}
    assert changes["tags"]["removed"] == {"f1": 0.91}
    assert changes["metadata"]["added"]["accuracy"] == 0.95


def test_diff_table(cli: Cli, three: list[dict[str, Any]]) -> None:
    out = cli.ok("diff", "model:1", "model:2", env={"COLUMNS": "160"}).stdout
    assert out.startswith("model:1 → model:2")
    assert "content differs" in out
    assert "stage" in out and '"staging"' in out


def test_diff_same_version(cli: Cli, three: list[dict[str, Any]]) -> None:
    out = cli.ok("diff", "raw", "raw:1").stdout
    assert "same content" in out


# -- lineage -----------------------------------------------------------------------------
def test_lineage_tree(cli: Cli, three: list[dict[str, Any]]) -> None:
    lines = cli.ok("lineage", "raw").stdout.splitlines()
    assert lines[0] == "raw:1 (Dataset)"
    assert sorted(lines[1:]) == ["  ↓ model:1 (Model)", "  ↓ model:2 (Model)"]
    up = cli.ok("lineage", "model:2", "--direction", "up").stdout.splitlines()
    assert up == ["model:2 (Model)", "  ↑ raw:1 (Dataset)"]


def test_lineage_formats(cli: Cli, three: list[dict[str, Any]]) -> None:
    graph = json.loads(cli.ok("lineage", "raw", "--format", "json").stdout)
    assert graph["root"] == three[0]["id"]
    assert {e["child"] for e in graph["edges"]} == {three[1]["id"], three[2]["id"]}
    mermaid = cli.ok("lineage", "raw", "--format", "mermaid").stdout
    assert mermaid.startswith("graph LR")
    dot = cli.ok("lineage", "raw", "--format", "dot", "--depth", "1").stdout
    assert dot.startswith("digraph lineage {")
    down = json.loads(cli.ok("lineage", "model:1", "--format", "json",
                             "--direction", "down").stdout)
    assert down["edges"] == []


def test_lineage_shows_deleted_parents(cli: Cli, three: list[dict[str, Any]]) -> None:
    cli.ok("rm", "raw")
    lines = cli.ok("lineage", "model:1").stdout.splitlines()
    assert lines[1].startswith("  ↑ raw:1 (Dataset)")
    assert "deleted" in lines[1]
