"""``register_artifact``, ``list_artifacts``, ``get_latest`` and the ``log_*`` helpers
pass keyword arguments on typed (``**fields: Unpack[...]`` of a TypedDict written once),
never ``**kw: Any``: the names are those of the method they call, with its defaults, and an
unknown keyword is Python's ``TypeError`` at the call."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archivist import ArtifactCatalog, InvalidInputError, pipeline, step
from archivist.catalog import logbook
from archivist.catalog.arguments import Filters, LogFields, VersionFields
from archivist.pipelines.pipeline import PipelineRun

LOGGERS = ("log_dataset", "log_model", "log_plot", "log_metrics")


def _params(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return {n: p for n, p in inspect.signature(fn).parameters.items() if n != "self"}


def _passed_on(fn: Callable[..., Any]) -> type:
    """The TypedDict ``fn``'s ``**`` parameter is typed with (it must have one)."""
    var = [p for p in _params(fn).values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert len(var) == 1, fn
    hint = var[0].annotation  # a string (postponed annotations): only this one is read
    hint = eval(hint, fn.__globals__) if isinstance(hint, str) else hint
    assert typing.get_origin(hint) is typing.Unpack, (fn, hint)
    return typing.get_args(hint)[0]  # type: ignore[no-any-return]


def test_every_keyword_passed_on_is_one_the_callee_takes_with_its_default() -> None:
    register, listing = _params(ArtifactCatalog.register), _params(ArtifactCatalog.list)
    for typed, callee in ((VersionFields, register), (LogFields, register),
                          (Filters, listing)):
        for key in typed.__annotations__:
            assert key in callee, (typed, key)
            assert callee[key].default in (None, False), (typed, key)
    for helper in LOGGERS:
        for fn in (getattr(ArtifactCatalog, helper), getattr(PipelineRun, helper),
                   getattr(logbook, helper)):
            assert _passed_on(fn) is LogFields, fn
    assert _passed_on(ArtifactCatalog.register_artifact) is VersionFields
    assert _passed_on(ArtifactCatalog.list_artifacts) is Filters
    assert _passed_on(ArtifactCatalog.get_latest) is Filters
    # together, register_artifact's own parameters and VersionFields are register's
    own = set(_params(ArtifactCatalog.register_artifact)) - {"fields"}
    assert own | set(VersionFields.__annotations__) == set(register)
    assert set(_params(ArtifactCatalog.list_artifacts)) - {"filters"} | set(
        Filters.__annotations__) == set(listing)


def test_unknown_keywords_are_type_errors(local_catalog: ArtifactCatalog) -> None:
    with pytest.raises(TypeError, match="colour"):
        local_catalog.log_metrics("m", {"a": 1.0}, colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        local_catalog.register_artifact("m", data=b"x", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        local_catalog.list_artifacts("m", colour="red")  # type: ignore[call-arg]
    assert local_catalog.list() == []


def test_register_artifact_forwards_every_keyword(local_catalog: ArtifactCatalog,
                                                  tmp_path: Path) -> None:
    parent = local_catalog.register("parent", data=b"p")
    art = local_catalog.register_artifact(
        "child", None, "Report", {"k": 1}, data={"x": 1}, tags={"team": "a"},
        aliases=["prod"], parent_ids=[parent], partitions={"day": "2024-01-01"},
        description="d", source_step="s", source_run_id="r", source_pipeline="p",
        code_version="v1")
    assert (art.artifact_type, art.metadata["k"], art.tags, art.aliases) == (
        "Report", 1, {"team": "a"}, ["prod"])
    assert (art.parent_ids, art.partitions, art.description) == (
        [parent], {"day": "2024-01-01"}, "d")
    assert (art.source_step, art.source_run_id, art.source_pipeline, art.code_version) == (
        "s", "r", "p", "v1")
    other = local_catalog.register_artifact("elsewhere", data=b"e", project="team-b")
    assert other.project == "team-b"
    (tmp_path / "f.txt").write_text("hi")
    with pytest.raises(InvalidInputError, match="at most one"):
        local_catalog.register_artifact("both", tmp_path / "f.txt", data=b"x")


def test_list_artifacts_forwards_every_filter(local_catalog: ArtifactCatalog) -> None:
    local_catalog.register("a", "Model", tags={"t": 1}, source_step="s")
    local_catalog.register("a", "Dataset")
    local_catalog.register("b", "Model", project="other")
    assert [a.version for a in local_catalog.list_artifacts("a")] == [2, 1]
    assert [a.version for a in local_catalog.list_artifacts("a", artifact_type="Model")] == [1]
    assert len(local_catalog.list_artifacts(tags={"t": 1})) == 1
    assert len(local_catalog.list_artifacts(source_step="s")) == 1
    assert len(local_catalog.list_artifacts("a", latest_only=True)) == 1
    assert [a.version for a in local_catalog.list_artifacts("a", limit=1, offset=1)] == [1]
    assert [a.name for a in local_catalog.list_artifacts(project="other")] == ["b"]
    with pytest.raises(InvalidInputError):
        local_catalog.list_artifacts("a", limit=-1)


def test_log_helpers_forward_keywords_outside_a_run(local_catalog: ArtifactCatalog) -> None:
    parent = local_catalog.register("raw", data=b"r")
    art = local_catalog.log_metrics(
        "eval", {"auc": 0.8}, metadata={"auc": 0.9, "split": "test"}, tags={"t": "x"},
        aliases=["best"], parent_ids=[parent], partitions={"day": "1"}, description="d",
        source_step="s", source_run_id="r", source_pipeline="p", code_version="c")
    assert art.artifact_type == "Metrics" and art.metadata == {"auc": 0.9, "split": "test"}
    assert (art.tags, art.aliases, art.parent_ids, art.partitions, art.description) == (
        {"t": "x"}, ["best"], [parent], {"day": "1"}, "d")
    assert (art.source_step, art.source_run_id, art.source_pipeline, art.code_version) == (
        "s", "r", "p", "c")
    typed = local_catalog.log_model("m", {"w": [1]}, artifact_type="Classifier",
                                    project="team-b")
    assert (typed.artifact_type, typed.project) == ("Classifier", "team-b")


def test_given_keywords_win_over_a_runs_provenance(local_catalog: ArtifactCatalog) -> None:
    raw = local_catalog.register("raw", data=b"r")
    extra = local_catalog.register("extra", data=b"e")
    logged: dict[str, Any] = {}

    @step
    def train() -> None:
        local_catalog.load("raw")
        logged["own"] = local_catalog.log_metrics("own", {"a": 1.0}, source_step="renamed",
                                                  parent_ids=[extra])
        logged["filled"] = local_catalog.log_metrics("filled", {"a": 1.0})

    with pipeline("fit", catalog=local_catalog) as run:
        train()
        logged["run"] = run.log_metrics("summary", {"a": 1.0}, code_version="pinned")
    own, filled, summary = logged["own"], logged["filled"], logged["run"]
    assert (own.source_step, own.source_run_id, own.source_pipeline) == (
        "renamed", run.id, "fit")
    assert sorted(own.parent_ids) == sorted([extra, raw])
    assert (filled.source_step, filled.parent_ids) == ("train", [raw])
    assert summary.code_version == "pinned" and summary.source_run_id == run.id
