"""Logging helpers: datasets, models, plots, metrics — on the catalog and in a run."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from archivist import (
    ArtifactCatalog,
    DuplicateArtifactWarning,
    InvalidInputError,
    pipeline,
    step,
)
from archivist.catalog.logbook import MAX_PREVIEW_ROWS

FRAME = pd.DataFrame({"amount": [float(i) for i in range(30)], "label": ["a", "b"] * 15})


def test_log_dataset_records_schema_preview_and_stats(local_catalog: ArtifactCatalog) -> None:
    art = local_catalog.log_dataset("transactions", FRAME, tags={"team": "fraud"})
    assert art.artifact_type == "Dataset" and art.format == "parquet"
    assert art.metadata["rows"] == 30 and len(art.metadata["preview"]) == 20
    assert [c["name"] for c in art.metadata["schema"]] == ["amount", "label"]
    assert art.metadata["stats"]["amount"]["max"] == 29.0
    assert art.tags == {"team": "fraud"}
    pd.testing.assert_frame_equal(local_catalog.load(art), FRAME)


def test_log_dataset_preview_and_stats_options(local_catalog: ArtifactCatalog) -> None:
    art = local_catalog.log_dataset("small", FRAME, preview=3, stats=False)
    assert art.metadata["preview"] == [{"amount": 0.0, "label": "a"},
                                       {"amount": 1.0, "label": "b"},
                                       {"amount": 2.0, "label": "a"}]
    assert art.metadata["stats"] is None and art.metadata["rows"] == 30
    assert local_catalog.log_dataset("none", FRAME.head(5), preview=0).metadata["preview"] == []
    with pytest.raises(InvalidInputError, match="preview"):
        local_catalog.log_dataset("bad", FRAME, preview=MAX_PREVIEW_ROWS + 1)
    with pytest.raises(InvalidInputError, match="preview"):
        local_catalog.log_dataset("bad", FRAME, preview=-1)
    assert local_catalog.list(name="bad") == []
    with pytest.raises(InvalidInputError, match="DataFrame"):
        local_catalog.log_dataset("bad", [1, 2, 3])


def test_metrics_are_queryable(local_catalog: ArtifactCatalog) -> None:
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    good = local_catalog.log_model("clf", model, metrics={"accuracy": 0.95, "f1": 0.9})
    weaker = LogisticRegression(C=0.01).fit([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])
    local_catalog.log_model("clf", weaker, metrics={"accuracy": 0.7})
    assert good.artifact_type == "Model" and good.metadata["metrics"]["f1"] == 0.9
    assert [a.id for a in local_catalog.search("metadata.accuracy>0.9")] == [good.id]
    m = local_catalog.log_metrics("eval", {"auc": 0.81, "n": 200})
    assert m.artifact_type == "Metrics" and local_catalog.load(m) == {"auc": 0.81, "n": 200}
    assert [a.id for a in local_catalog.search("type:Metrics metadata.auc>=0.8")] == [m.id]
    with pytest.raises(InvalidInputError):
        local_catalog.log_metrics("empty", {})
    with pytest.raises(InvalidInputError):
        local_catalog.log_model("clf", weaker,
                                metrics=[("accuracy", 1.0)])  # type: ignore[arg-type]


def test_log_plot_renders_png(local_catalog: ArtifactCatalog) -> None:
    fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    ax.plot([1, 2, 3])
    art = local_catalog.log_plot("curve", fig)
    with pytest.warns(DuplicateArtifactWarning):  # the Axes' figure: the same PNG
        from_axes = local_catalog.log_plot("curve_axes", ax, description="same figure")
    plt.close(fig)
    assert art.artifact_type == "Plot" and art.format == "png"
    assert art.metadata["width"] == 100 and from_axes.digest == art.digest
    assert local_catalog.load(art).startswith(b"\x89PNG")
    with pytest.raises(InvalidInputError, match="Figure"):
        local_catalog.log_plot("nope", "not a figure")


def test_logging_inside_a_run_joins_its_lineage(local_catalog: ArtifactCatalog) -> None:
    raw = local_catalog.register("raw", data={"rows": 3})

    @step
    def train() -> int:
        local_catalog.load("raw")
        local_catalog.log_metrics("train_metrics", {"loss": 0.2})
        return 1

    with pipeline("fit", catalog=local_catalog) as run:
        train()
        summary = run.log_metrics("summary", {"accuracy": 0.93})
    record = local_catalog.get_run(run.id)
    logged = local_catalog.get("train_metrics")
    assert (logged.source_run_id, logged.source_step, logged.source_pipeline) == (
        run.id, "train", "fit")
    assert logged.parent_ids == [raw]
    task = record.task("train")
    assert logged.id in task.produced and task.data["train_metrics"] == logged.id
    assert summary.source_run_id == run.id and summary.source_step is None
    assert summary.id in record.produced and logged.id in record.produced
    assert local_catalog.search(f"run:{run.id} metadata.accuracy>0.9")[0].id == summary.id


def test_run_context_helpers_match_the_catalog_ones(local_catalog: ArtifactCatalog) -> None:
    fig = plt.figure(figsize=(1, 1), dpi=20)
    with pipeline("helpers", catalog=local_catalog) as run:
        ds = run.log_dataset("ds", FRAME, preview=1)
        model = run.log_model("m", {"weights": [1, 2]}, metrics={"accuracy": 1.0})
        plot = run.log_plot("p", fig)
    plt.close(fig)
    assert len(ds.metadata["preview"]) == 1 and model.metadata["accuracy"] == 1.0
    assert plot.format == "png"
    assert set(local_catalog.get_run(run.id).produced) == {ds.id, model.id, plot.id}


def test_log_dataset_keeps_more_than_20_preview_rows_when_asked(
        local_catalog: ArtifactCatalog) -> None:
    big = pd.DataFrame({"amount": [float(i) for i in range(1500)]})
    art = local_catalog.log_dataset("many", big, preview=MAX_PREVIEW_ROWS)
    assert len(art.metadata["preview"]) == MAX_PREVIEW_ROWS
    assert art.metadata["preview"][-1] == {"amount": float(MAX_PREVIEW_ROWS - 1)}
    wide = pd.DataFrame({f"c{n}": ["x" * 300] * 50 for n in range(40)})
    capped = local_catalog.log_dataset("wide", wide, preview=50)
    assert 0 < len(capped.metadata["preview"]) < 50, "cut to the 512 KiB budget"
