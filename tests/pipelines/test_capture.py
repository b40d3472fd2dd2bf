"""Function steps inside a run: records, outputs, parents, partitions, failures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from archivist import (
    ArtifactCatalog,
    InvalidInputError,
    InvalidNameError,
    pipeline,
    step,
)


@step
def load_raw() -> pd.DataFrame:
    return pd.DataFrame({"amount": [10.0, 25.5, 3.2], "fraud": [0, 1, 0]})


@step(artifact_type="FeatureSet")
def featurize(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.assign(big=raw["amount"] > 5)


@step(outputs=["train", "test"])
def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return df.iloc[:2], df.iloc[2:]


@step
def count(*frames: pd.DataFrame) -> int:
    return sum(len(f) for f in frames)


def test_steps_register_outputs_with_producer_fields(local_catalog: ArtifactCatalog) -> None:
    with pipeline("fraud", catalog=local_catalog, parameters={"lr": 0.1}) as run:
        feats = featurize(load_raw())
    assert isinstance(feats, pd.DataFrame) and "big" in feats
    record = local_catalog.get_run(run.id)
    assert record.pathspec == "fraud/1" and run.pathspec == "fraud/1"
    assert record.status == "succeeded" and record.ended_at is not None
    assert record.parameters == {"lr": 0.1} and record.user == local_catalog.user
    assert record.host
    assert [(t.step, t.status, t.cached) for t in record.tasks] == [
        ("load_raw", "succeeded", False), ("featurize", "succeeded", False)]
    raw, features = local_catalog.get("load_raw"), local_catalog.get("featurize")
    assert features.artifact_type == "FeatureSet" and raw.artifact_type == "Dataset"
    for art, name in ((raw, "load_raw"), (features, "featurize")):
        assert (art.source_pipeline, art.source_run_id, art.source_step) == (
            "fraud", run.id, name)
    assert features.parent_ids == [raw.id], "linked by identity, no Artifact in sight"
    assert record.produced == sorted([raw.id, features.id])
    assert record.consumed == [raw.id]
    assert record.task("featurize").data == {"featurize": features.id}
    assert local_catalog.search(f"run:{run.id}") != []


def test_tuple_outputs_become_named_artifacts(local_catalog: ArtifactCatalog) -> None:
    with pipeline("fraud", catalog=local_catalog):
        train, test = split(load_raw())
        n = count(train, test)
    assert n == 3
    names = {a.name for a in local_catalog.list()}
    assert {"split.train", "split.test", "count"} <= names
    raw = local_catalog.get("load_raw")
    assert local_catalog.get("split.train").parent_ids == [raw.id]
    counted = local_catalog.get("count")
    assert set(counted.parent_ids) == {local_catalog.get("split.train").id,
                                       local_catalog.get("split.test").id}
    assert local_catalog.load(counted) == 3


def test_wrong_number_of_outputs_fails_the_step(local_catalog: ArtifactCatalog) -> None:
    @step(outputs=["a", "b"])
    def three() -> tuple[int, int, int]:
        return 1, 2, 3

    with pytest.raises(InvalidInputError, match="declares 2 outputs"), pipeline(
            "bad", catalog=local_catalog) as run:
        three()
    record = local_catalog.get_run(run.id)
    assert record.status == "failed" and "declares 2 outputs" in (record.error or "")


def test_copies_link_by_content_digest(local_catalog: ArtifactCatalog) -> None:
    with pipeline("fraud", catalog=local_catalog):
        raw = load_raw()
        featurize(raw.copy())  # another object with the same content
    assert local_catalog.get("featurize").parent_ids == [local_catalog.get("load_raw").id]


def test_plain_values_do_not_invent_parents(local_catalog: ArtifactCatalog) -> None:
    @step
    def scale(values: list[float], factor: float) -> list[float]:
        return [v * factor for v in values]

    with pipeline("p", catalog=local_catalog):
        scale([1.0, 2.0], 2.0)
    assert local_catalog.get("scale").parent_ids == []


def test_artifacts_passed_and_loaded_are_parents(local_catalog: ArtifactCatalog) -> None:
    given = local_catalog.register_artifact("given", data={"x": 1})
    loaded = local_catalog.register("loaded", data=[1, 2, 3])
    other = local_catalog.register("opened", data=b"bytes")

    @step
    def combine(art: object) -> dict[str, int]:
        values = local_catalog.load("loaded")
        with local_catalog.open("opened") as f:
            f.read()
        return {"n": len(values)}

    with pipeline("p", catalog=local_catalog) as run:
        combine(given)
    assert local_catalog.get("combine").parent_ids == [given.id, loaded, other]
    assert local_catalog.get_run(run.id).task("combine").consumed == [given.id, loaded, other]


def test_reads_outside_steps_and_of_other_catalogs_are_not_parents(
        make_catalog: Callable[..., ArtifactCatalog]) -> None:
    catalog, elsewhere = make_catalog(), make_catalog()
    elsewhere.register("foreign", data=b"x")
    catalog.register("outside", data=b"y")

    @step
    def reads() -> int:
        elsewhere.load("foreign")
        return 1

    with pipeline("p", catalog=catalog):
        catalog.load("outside")  # in the run body, not in a step
        reads()
    assert catalog.get("reads").parent_ids == []


def test_partitions_come_from_named_arguments(local_catalog: ArtifactCatalog) -> None:
    @step(partition_by=["report_date", "region"])
    def daily(report_date: str, region: str = "eu", rows: int = 3) -> list[int]:
        return list(range(rows))

    with pipeline("p", catalog=local_catalog):
        daily("2023-10-26")
        daily(report_date="2023-10-27", region="us")
    versions = local_catalog.versions("daily")
    assert [v.partitions for v in versions] == [
        {"report_date": "2023-10-26", "region": "eu"},
        {"report_date": "2023-10-27", "region": "us"}]
    found = local_catalog.get_latest("daily", partitions={"report_date": "2023-10-26"})
    assert found is not None and found.version == 1


def test_partition_by_must_name_a_parameter() -> None:
    with pytest.raises(InvalidInputError, match="not a parameter"):
        @step(partition_by=["day"])
        def f(date: str) -> None: ...
    with pytest.raises(InvalidNameError):
        step(name="bad name")(lambda: None)


def test_repeated_steps_get_task_indexes(local_catalog: ArtifactCatalog) -> None:
    @step
    def emit(i: int) -> int:
        return i * 10

    with pipeline("p", catalog=local_catalog) as run:
        for i in range(3):
            emit(i)
    record = local_catalog.get_run(run.id)
    assert [(t.step, t.index) for t in record.tasks] == [("emit", 0), ("emit", 1), ("emit", 2)]
    assert [local_catalog.load(v) for v in local_catalog.versions("emit")] == [0, 10, 20]


def test_a_failed_step_fails_task_and_run_and_reraises(local_catalog: ArtifactCatalog) -> None:
    @step
    def boom(df: pd.DataFrame) -> None:
        raise ValueError("bad amounts")

    with pytest.raises(ValueError, match="bad amounts"), pipeline(
            "fraud", catalog=local_catalog) as run:
        boom(load_raw())
    record = local_catalog.get_run(run.id)
    assert record.status == "failed"
    assert record.error == "step boom failed: ValueError: bad amounts"
    task = record.task("boom")
    assert task.status == "failed" and task.error == "ValueError: bad amounts"
    assert task.consumed == [local_catalog.get("load_raw").id]
    assert local_catalog.runs(status="failed") == [record]


def test_a_caught_step_failure_still_fails_the_run(local_catalog: ArtifactCatalog) -> None:
    @step
    def flaky() -> None:
        raise RuntimeError("once")

    with pipeline("p", catalog=local_catalog) as run:
        with pytest.raises(RuntimeError):
            flaky()
        load_raw()
    record = local_catalog.get_run(run.id)
    assert record.status == "failed" and "RuntimeError: once" in (record.error or "")
    assert record.task("load_raw").status == "succeeded"


def test_an_error_in_the_run_body_fails_the_run(local_catalog: ArtifactCatalog) -> None:
    with pytest.raises(KeyError), pipeline("p", catalog=local_catalog) as run:
        load_raw()
        raise KeyError("missing column")
    assert local_catalog.get_run(run.id).error == "KeyError: 'missing column'"


def test_outside_a_run_a_step_is_a_plain_call(local_catalog: ArtifactCatalog) -> None:
    frame = featurize(load_raw())
    assert list(frame.columns) == ["amount", "fraud", "big"]
    assert local_catalog.list() == [] and local_catalog.runs() == []
    assert featurize.__name__ == "featurize" and featurize.__wrapped__ is not None


def test_pipeline_decorator_records_arguments_and_returns_result(
        local_catalog: ArtifactCatalog) -> None:
    @pipeline(catalog=local_catalog)
    def nightly(threshold: float = 5.0) -> int:
        return count(featurize(load_raw()))

    assert nightly(threshold=7.5) == 3
    run = nightly.last_run  # type: ignore[attr-defined]
    assert run.pathspec == "nightly/1" and run.status == "succeeded"
    assert run.parameters == {"threshold": 7.5}
    assert [t.step for t in run.tasks] == ["load_raw", "featurize", "count"]
    assert local_catalog.get("count").code_version == run.code_version or run.source_hash


def test_bare_pipeline_decorator_uses_the_default_catalog(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_HOME", str(tmp_path))

    @pipeline
    def tiny() -> None:
        load_raw()

    tiny()
    with ArtifactCatalog() as catalog:
        assert [r.pathspec for r in catalog.runs()] == ["tiny/1"]
        assert catalog.get("load_raw").source_pipeline == "tiny"


def test_nested_steps_feed_the_outer_step(local_catalog: ArtifactCatalog) -> None:
    @step
    def outer() -> int:
        return len(load_raw())

    with pipeline("p", catalog=local_catalog):
        outer()
    assert local_catalog.get("outer").parent_ids == [local_catalog.get("load_raw").id]


def test_none_stores_nothing_and_artifacts_pass_through(local_catalog: ArtifactCatalog) -> None:
    kept = local_catalog.register_artifact("kept", data=b"k")

    @step
    def nothing() -> None:
        return None

    @step
    def hand_back() -> object:
        return local_catalog.get("kept")

    with pipeline("p", catalog=local_catalog) as run:
        nothing()
        assert hand_back() == kept
    names = [a.name for a in local_catalog.list()]
    assert names == ["kept"]
    assert local_catalog.get_run(run.id).task("hand_back").data == {"hand_back": kept.id}


def test_with_pipeline_needs_a_name(local_catalog: ArtifactCatalog) -> None:
    with pytest.raises(InvalidInputError, match="needs a name"), pipeline(
            catalog=local_catalog):
        pass
    with pytest.raises(InvalidNameError):
        pipeline("no/slashes", catalog=local_catalog)


def test_looking_at_lineage_or_tagging_is_not_reading(local_catalog: ArtifactCatalog) -> None:
    local_catalog.register("seen", data=b"s")

    @step
    def inspect_only() -> int:
        local_catalog.get_lineage("seen")
        local_catalog.tag("seen", checked=True)
        local_catalog.set_alias("seen", "checked")
        return 1

    with pipeline("p", catalog=local_catalog):
        inspect_only()
    assert local_catalog.get("inspect_only").parent_ids == []


def test_reads_through_another_catalog_object_of_the_same_home_are_parents(
        make_catalog: Callable[..., ArtifactCatalog], tmp_path: Path) -> None:
    writer = make_catalog(tmp_path / "home")
    reader = make_catalog(tmp_path / "home")  # the user's own object, same catalog
    raw = reader.register("raw_table", data=[1, 2])

    @step
    def uses_reader() -> int:
        return len(reader.load("raw_table"))

    with pipeline("p", catalog=writer):
        uses_reader()
        reader.log_metrics("seen_by_run", {"n": 2})
    assert writer.get("uses_reader").parent_ids == [raw]
    assert writer.get("seen_by_run").source_pipeline == "p"
