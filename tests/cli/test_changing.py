"""``tag``, ``alias``, ``rm``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.cli.conftest import Cli

Added = Callable[..., dict[str, Any]]


@pytest.fixture
def model(added: Added) -> dict[str, Any]:
    added("model", b"v1", "--tag", "stage=dev", "--tag", "old=1")
    return added("model", b"v2", "--tag", "stage=dev", "--tag", "old=1")


def test_tag_sets_and_removes(cli: Cli, model: dict[str, Any]) -> None:
    result = cli.ok("tag", "model:2", "stage=production", "f1=0.91", "ok=true",
                    "note=text", "--remove", "old")
    assert result.stdout.startswith("tagged model:2:")
    tags = cli.json("show", "model:2")["tags"]
    assert tags == {"stage": "production", "f1": 0.91, "ok": True, "note": "text"}
    assert cli.json("show", "model:1")["tags"] == {"stage": "dev", "old": 1}


def test_tag_remove_only_and_absent_key(cli: Cli, model: dict[str, Any]) -> None:
    cli.ok("tag", "model", "--remove", "old", "--remove", "never-set")
    assert cli.json("show", "model")["tags"] == {"stage": "dev"}


def test_tag_changes_are_in_the_history(cli: Cli, model: dict[str, Any]) -> None:
    cli.ok("tag", "model", "stage=production")
    cli.ok("tag", "model", "--remove", "stage")
    history = cli.json("show", "model", "--history")["history"]
    changes = [(h["key"], h["old"], h["new"]) for h in history if h["kind"] == "tag"]
    assert changes[-2:] == [("stage", "dev", "production"), ("stage", "production", None)]


def test_alias_set_move_and_remove(cli: Cli, model: dict[str, Any]) -> None:
    assert cli.ok("alias", "model:1", "prod").stdout.strip() == \
        "model@prod now points at model:1"
    assert cli.json("show", "model@prod")["version"] == 1
    cli.ok("alias", "model:2", "prod")
    assert cli.json("show", "model@prod")["version"] == 2
    assert cli.json("show", "model:1")["aliases"] == []
    cli.ok("alias", "model", "prod", "--remove")
    assert cli.json("show", "model:2")["aliases"] == []
    cli.fails("show", "model@prod")


def test_rm_tombstones(cli: Cli, model: dict[str, Any]) -> None:
    result = cli.ok("rm", "model:2")
    assert result.stdout.startswith("deleted model:2")
    assert [r["version"] for r in cli.json("ls")] == [1]
    assert cli.json("show", "model")["version"] == 1
    deleted = cli.json("show", model["id"])
    assert deleted["deleted"] is True
    cli.fails("show", "model:2", contains="model")


def test_rm_then_add_keeps_numbers(cli: Cli, model: dict[str, Any], added: Added) -> None:
    cli.ok("rm", "model:2")
    assert added("model", b"v3")["version"] == 3


def test_tag_key_named_ref(cli: Cli, model: dict[str, Any]) -> None:
    cli.ok("tag", "model", "ref=main")
    assert cli.json("show", "model")["tags"]["ref"] == "main"
