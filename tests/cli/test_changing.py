"""``tag``, ``alias``, ``describe``, ``rename``, ``rm``."""

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


def test_describe_sets_and_clears(cli: Cli, model: dict[str, Any]) -> None:
    result = cli.ok("describe", "model:1", "gradient boosting, May data")
    assert result.stdout.strip() == "set the description of model:1"
    assert cli.json("show", "model:1")["description"] == "gradient boosting, May data"
    assert [r["version"] for r in cli.json("search", "boosting")] == [1]
    cli.ok("describe", "model:1", "--clear")
    assert cli.json("show", "model:1")["description"] is None
    history = cli.json("show", "model", "--history")["history"]
    assert [(h["old"], h["new"]) for h in history if h["kind"] == "description"] == [
        (None, "gradient boosting, May data"), ("gradient boosting, May data", None)]


def test_describe_needs_text_or_clear(cli: Cli, model: dict[str, Any]) -> None:
    cli.usage_error("describe", "model:1")
    cli.usage_error("describe", "model:1", "text", "--clear")
    cli.fails("describe", "absent:1", "text", contains="absent")


def test_rename(cli: Cli, model: dict[str, Any], added: Added) -> None:
    cli.ok("alias", "model:1", "prod")
    assert cli.ok("rename", "model", "churn_model").stdout.strip() == \
        "renamed model to churn_model"
    assert cli.json("show", "churn_model@prod")["version"] == 1
    assert cli.json("show", "churn_model:2")["id"] == model["id"]
    assert [r["version"] for r in cli.json("ls", "--name", "churn_model")] == [2, 1]
    cli.fails("show", "model", contains="renamed to 'churn_model'")
    added("other", b"x")
    cli.fails("rename", "churn_model", "OTHER", contains="already exists")
    cli.fails("rename", "churn_model", "bad name", contains="bad name")
    cli.fails("rename", "absent", "new", contains="absent")
    cli.ok("rename", "churn_model", "Churn_Model")
    assert cli.json("show", "Churn_Model")["version"] == 2


def test_meta_sets_json_values_removes_keys_and_keeps_the_bytes(
        cli: Cli, model: dict[str, Any]) -> None:
    before = cli.json("show", "model:1")["digest"]
    result = cli.ok("meta", "model:1", "reviewed=true", 'thresholds={"f1": 0.9}', "owner=ana")
    assert result.stdout.strip() == ("updated the metadata of model:1: set reviewed, "
                                     "thresholds, owner")
    shown = cli.json("show", "model:1")
    assert {k: shown["metadata"][k] for k in ("reviewed", "thresholds", "owner")} == {
        "reviewed": True, "thresholds": {"f1": 0.9}, "owner": "ana"}
    assert shown["digest"] == before
    cli.ok("meta", "model:1", "--remove", "owner")
    assert "owner" not in cli.json("show", "model:1")["metadata"]
    assert [r["version"] for r in cli.json("search", "metadata.reviewed=true")] == [1]
    history = cli.json("show", "model", "--history")["history"]
    assert [(h["key"], h["new"]) for h in history if h["kind"] == "metadata"][-1] == (
        "owner", None)
    cli.usage_error("meta", "model:1")
    cli.usage_error("meta", "model:1", "a=1", "--remove", "a")
    cli.fails("meta", "absent:1", "a=1", contains="absent")
