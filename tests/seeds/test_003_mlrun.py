"""MLRun's "Artifacts and Versioning" page (seed 003), each example done with archivist on
every backend, in MLRun's words where its users type them: ``set_environment``,
``artifact_path`` with ``{{project}}``/``{{run.uid}}``, ``store://`` URIs,
``log_dataset(format=, index=, preview=, stats=, artifact_path=)``, ``PlotArtifact``
through ``log_artifact``, ``update_dataset_meta``."""

from __future__ import annotations

import io
from os import path
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from archivist import (
    Artifact,
    ArtifactCatalog,
    ArtifactNotFoundError,
    DuplicateArtifactWarning,
    InvalidInputError,
    InvalidNameError,
    PlotArtifact,
    pipeline,
)
from archivist.catalog.logbook import MAX_PREVIEW_ROWS
from archivist.pipelines.pipeline import PipelineRun

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def read(catalog: ArtifactCatalog, ref: Artifact | str) -> bytes:
    with catalog.open(ref) as stream:
        return stream.read()


def iris() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "sepal_length": rng.normal(5.8, 0.8, 150).round(1),
        "sepal_width": rng.normal(3.0, 0.4, 150).round(1),
        "petal_length": rng.normal(3.7, 1.7, 150).round(1),
        "label": rng.integers(0, 3, 150),
    }, index=pd.RangeIndex(100, 250, name="row"))


def test_set_environment_artifact_path_puts_a_copy_of_each_logged_version_there(
        catalog: ArtifactCatalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # set_environment(project=project_name, artifact_path='./artifacts')
    monkeypatch.chdir(tmp_path)
    project_name, artifact_path = catalog.set_environment(project="my-project",
                                                          artifact_path="./artifacts")
    assert (project_name, artifact_path) == ("my-project", "./artifacts")
    # training_artifacts = path.join(artifact_path, 'training')
    training_artifacts = path.join(artifact_path, "training")
    logged = catalog.log_dataset("my_data", df=iris())
    assert logged.project == "my-project"
    copy = tmp_path / "artifacts" / "my_data.parquet"
    assert logged.metadata["target_path"] == "artifacts/my_data.parquet"
    assert pd.read_parquet(copy).equals(iris()), "the copy is the stored bytes"
    assert catalog.get(logged.id).digest == logged.digest
    metrics = catalog.log_metrics("scores", {"f1": 0.9}, artifact_path=training_artifacts)
    assert (tmp_path / "artifacts" / "training" / "scores.json").is_file()
    assert metrics.metadata["target_path"] == "artifacts/training/scores.json"
    with pytest.raises(InvalidInputError, match="file://"):
        catalog.set_environment(artifact_path="s3://bucket/artifacts")
    assert catalog.artifact_path == "./artifacts"


def test_project_and_run_uid_in_the_artifact_path_give_each_run_its_own_folder(
        catalog: ArtifactCatalog, tmp_path: Path) -> None:
    catalog.set_environment(project="my-project",
                            artifact_path=str(tmp_path / "artifacts/{{project}}/{{run.uid}}"))
    uids = []
    for _ in range(2):
        with pipeline("train", catalog=catalog) as run:
            logged = run.log_dataset("my_data", df=iris())
            uids.append(run.uid)
            assert run.artifact_path == str(tmp_path / "artifacts" / "my-project" / run.uid)
        assert logged.source_run_id == run.uid
    for uid in uids:
        assert (tmp_path / "artifacts" / "my-project" / uid / "my_data.parquet").is_file()
    with pytest.raises(InvalidInputError, match=r"run\.uid"):  # no run, no uid: said, not guessed
        catalog.log_dataset("outside", df=iris())
    assert catalog.list(name="outside") == []


def test_store_uris_name_versions_with_their_tag(catalog: ArtifactCatalog) -> None:
    # store://<type>/<project>/<key/path>[:tag]; no tag: the latest version
    catalog.set_environment(project="my-project")
    first = catalog.log_dataset("iris_dataset", df=iris())
    second = catalog.log_dataset("iris_dataset", df=iris().head(10), aliases=["prod"])
    assert catalog.get("store://datasets/my-project/iris_dataset").id == second.id
    assert catalog.get("store://datasets/my-project/iris_dataset:latest").id == second.id
    assert catalog.get("store://datasets/my-project/iris_dataset:1").id == first.id
    assert catalog.get("store://datasets/my-project/iris_dataset:prod").id == second.id
    assert catalog.load("store://datasets/my-project/iris_dataset:1").equals(iris())
    with pytest.raises(InvalidNameError, match="archivist://"):
        catalog.get("store://datasets/iris_dataset")


def test_log_dataset_keeps_a_preview_of_20_lines_by_default_and_as_many_as_asked(
        catalog: ArtifactCatalog) -> None:
    # context.log_dataset(key='my_data', df=df)
    df = iris()
    default = catalog.log_dataset(key="my_data", df=df)
    assert len(default.metadata["preview"]) == 20
    assert set(default.metadata["stats"]) >= {"sepal_length", "label"}
    with pytest.warns(DuplicateArtifactWarning):  # the same bytes, a richer preview
        fifty = catalog.log_dataset(key="my_data", df=df, preview=50, stats=True)
    assert len(fifty.metadata["preview"]) == 50
    assert fifty.metadata["preview"][49]["sepal_length"] == df["sepal_length"].iloc[49]
    assert fifty.metadata["stats"]["label"]["max"] == df["label"].max()
    with pytest.raises(InvalidInputError, match=str(MAX_PREVIEW_ROWS)):
        catalog.log_dataset(key="my_data", df=df, preview=MAX_PREVIEW_ROWS + 1)
    assert len(catalog.versions("my_data")) == 2


def get_data(context: PipelineRun, source_url: pd.DataFrame, format: str = "csv") -> None:
    """The page's job, with archivist's run for MLRun's ``MLClientCtx``."""
    iris_dataset = source_url
    assert context.artifact_path is not None
    target_path = path.join(context.artifact_path, "data")
    context.log_dataset("iris_dataset", df=iris_dataset, format=format, index=False,
                        artifact_path=target_path)


@pytest.mark.parametrize("format", ["csv", "parquet"])
def test_logging_a_dataset_from_a_job_run_locally(catalog: ArtifactCatalog, tmp_path: Path,
                                                  format: str) -> None:
    artifact_path = path.abspath(tmp_path / "jobs")
    with pipeline("get_data", catalog=catalog, artifact_path=artifact_path) as get_data_run:
        get_data(get_data_run, source_url=iris(), format=format)
    # get_data_run.artifact('iris_dataset'); dataset.meta.stats; dataset.as_df()
    dataset = get_data_run.artifact("iris_dataset")
    assert dataset.id == catalog.get("iris_dataset").id
    assert dataset.source_run_id == get_data_run.uid
    assert dataset.artifact_type == "Dataset"
    assert dataset.metadata["rows"] == 150 and "row" not in dataset.metadata["stats"]
    stored = read(catalog, dataset)
    as_df = pd.read_csv(io.BytesIO(stored)) if format == "csv" else catalog.load(dataset)
    expected = iris().reset_index(drop=True)
    assert list(as_df.columns) == list(expected.columns), "index=False: no index column"
    pd.testing.assert_frame_equal(as_df, expected, check_dtype=False)
    with pytest.raises(ArtifactNotFoundError, match="no version named 'other'"):
        get_data_run.artifact("other")
    copy = Path(artifact_path) / "data" / f"iris_dataset.{format}"
    assert copy.read_bytes() == stored
    assert dataset.metadata["target_path"] == str(copy)


def test_a_plot_artifact_from_a_figure_and_from_html(catalog: ArtifactCatalog,
                                                    tmp_path: Path) -> None:
    figure, axes = plt.subplots()
    axes.imshow([[40, 3], [5, 52]])
    try:
        # context.log_artifact(PlotArtifact('confusion-matrix', body=cm.figure_),
        #                      local_path='plots/confusion_matrix.html')
        as_html = catalog.log_artifact(PlotArtifact("confusion-matrix", body=figure),
                                       local_path="plots/confusion_matrix.html")
        as_png = catalog.log_artifact(PlotArtifact("confusion-matrix-png", body=figure,
                                                   title="Confusion matrix"))
    finally:
        plt.close(figure)
    assert as_html.artifact_type == "Plot" and as_html.metadata["filename"] == (
        "confusion_matrix.html")
    page = read(catalog, as_html)
    assert page.startswith(b"<h3") and b"data:image/png;base64," in page
    assert as_png.format == "png" and as_png.metadata["title"] == "Confusion matrix"
    assert catalog.load(as_png).startswith(b"\x89PNG")
    chart = catalog.log_artifact(PlotArtifact("roc", body="<html><svg></svg></html>"))
    assert read(catalog, chart) == b"<html><svg></svg></html>"
    assert chart.metadata["format"] == "html"
    # log_artifact(key, body=…) and log_artifact(key, local_path=…)
    notes = catalog.log_artifact("notes", body="hello", local_path="notes.md")
    assert (read(catalog, notes), notes.artifact_type) == (b"hello", "File")
    source = tmp_path / "report.txt"
    source.write_text("report")
    assert read(catalog, catalog.log_artifact("report", local_path=source)) == b"report"
    with pytest.raises(InvalidInputError, match="body"):
        catalog.log_artifact("nothing")


def test_update_dataset_meta_links_the_plot_and_keeps_the_bytes(
        catalog: ArtifactCatalog) -> None:
    dataset = catalog.log_dataset("iris_dataset", df=iris())
    confusion_matrix = catalog.log_artifact(PlotArtifact("confusion-matrix", body="<p>cm</p>"))
    # extra_data = {'confusion_matrix': confusion_matrix}
    # update_dataset_meta(dataset, extra_data=extra_data)
    extra_data = {"confusion_matrix": confusion_matrix}
    updated = catalog.update_dataset_meta(dataset, extra_data=extra_data, labels={"owner": "ml"})
    assert updated.metadata["extra_data"] == {"confusion_matrix": confusion_matrix.uri}
    assert catalog.get(updated.metadata["extra_data"]["confusion_matrix"]).id == (
        confusion_matrix.id)
    assert updated.tags == {"owner": "ml"}
    assert (updated.digest, updated.size, updated.version) == (
        dataset.digest, dataset.size, dataset.version)
    assert catalog.load(updated).equals(iris())
    changes = [(h.kind, h.key) for h in catalog.history("iris_dataset")]
    assert ("metadata", "extra_data") in changes and ("tag", "owner") in changes
    assert dataset.id in [a.id for a in catalog.search("confusion")], "search sees the link"
    with pytest.raises(InvalidInputError, match="Dataset"):
        catalog.update_dataset_meta(confusion_matrix, labels={"x": 1})


def test_a_folder_logged_twice_replaces_its_copy_in_the_artifact_path(
        catalog: ArtifactCatalog, tmp_path: Path) -> None:
    source = tmp_path / "plots"
    source.mkdir()
    (source / "a.txt").write_text("a")
    (source / "b.txt").write_text("b")
    copies = tmp_path / "artifacts"
    first = catalog.log_artifact("plots", local_path=source, artifact_path=copies)
    assert first.kind == "directory"
    (source / "b.txt").unlink()
    (source / "c.txt").write_text("c")
    catalog.log_artifact("plots", local_path=source, artifact_path=copies)
    assert sorted(p.name for p in (copies / "plots").iterdir()) == ["a.txt", "c.txt"]
    assert sorted(p.name for p in copies.iterdir()) == ["plots"], "no staging left behind"


def test_an_artifact_path_that_cannot_be_made_refuses_the_log(catalog: ArtifactCatalog,
                                                               tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder would go")
    with pytest.raises(InvalidInputError, match="artifact path"):
        catalog.log_dataset("iris_dataset", df=iris(), artifact_path=blocker / "data")
    assert catalog.list(name="iris_dataset") == [], "nothing registered"
