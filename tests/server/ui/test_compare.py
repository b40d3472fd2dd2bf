"""The compare page: its diff logic (flattening, what counts as different, schema and
statistics changes, the best metric) on version records, then the page itself on a real
catalog through TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from archivist import ArtifactCatalog
from archivist.model import Artifact
from archivist.server import ServerSettings, create_app
from archivist.server.ui.compare import (
    ABSENT,
    MISSING,
    TABLE,
    Row,
    best_of,
    canonical,
    change,
    compare,
    differs,
    flatten,
    lower_is_better,
    metadata_rows,
    metric_rows,
    metrics_of,
    schema_rows,
    stat_rows,
    summary_rows,
    text,
)

LOOPBACK_URL = "http://127.0.0.1:8765"


def version(number: int, metadata: dict[str, Any] | None = None, **fields: Any) -> Artifact:
    defaults: dict[str, Any] = {
        "id": f"01a25021-0000-7000-8000-{number:012d}", "name": "thing", "version": number,
        "artifact_type": "Dataset", "project": "default",
        "created_at": datetime(2024, 1, number, tzinfo=UTC), "metadata": metadata or {}}
    return Artifact(**{**defaults, **fields})


def by_label(rows: list[Row], group: str | None = None) -> dict[str, Row]:
    return {r.label: r for r in rows if group is None or r.group == group}


def texts(row: Row) -> list[str]:
    return [c.text for c in row.cells]


# -- values ----------------------------------------------------------------------------
def test_flatten_gives_dotted_keys_and_keeps_lists_and_empty_objects() -> None:
    nested = {"a": {"b": 1, "c": {"d": "x"}}, "l": [1, {"k": 2}], "e": {}, "top": None}
    assert flatten(nested) == {"a.b": 1, "a.c.d": "x", "l": [1, {"k": 2}], "e": {},
                               "top": None}


def test_flatten_skips_only_top_level_keys() -> None:
    nested = {"stats": {"x": 1}, "inner": {"stats": 2}, "schema": []}
    assert flatten(nested, {"stats", "schema"}) == {"inner.stats": 2}


def test_differs_compares_json_values_numbers_as_numbers() -> None:
    assert not differs([1, 1.0, 1])
    assert not differs([{"a": [1, 2]}, {"a": [1.0, 2]}])
    assert not differs([{"b": 1, "a": 2}, {"a": 2, "b": 1}])  # key order does not count
    assert differs([1, True])
    assert differs(["1", 1])
    assert differs([None, MISSING])  # null is a value, a missing key is not
    assert differs([1, 1, 2])
    assert not differs([MISSING, MISSING])
    assert canonical(0.5) != canonical(0.25)


def test_text_shows_scalars_bare_objects_as_json_and_cuts_long_values() -> None:
    assert text(MISSING) == ABSENT
    assert text("plain") == "plain"
    assert text(0.1234567891) == "0.123457"
    assert text(None) == "null"
    assert text({"b": [1, 2], "a": True}) == '{"a": true, "b": [1, 2]}'
    assert text("x" * 1000).endswith("…") and len(text("x" * 1000)) == 301


# -- rows ------------------------------------------------------------------------------
def test_metadata_rows_mark_changed_and_missing_keys_and_skip_dataset_keys() -> None:
    a = version(1, {"origin": {"system": "crm", "export": "01"}, "owner": "ana",
                    "stats": {"x": {}}, "preview": [], "schema": [], "rows": 3})
    b = version(2, {"origin": {"system": "crm", "export": "02"}, "rows": 3.0})
    rows = by_label(metadata_rows([a, b]))
    assert list(rows) == ["origin.export", "origin.system", "owner", "rows"]
    assert rows["origin.export"].differs and all(c.diff for c in rows["origin.export"].cells)
    assert not rows["origin.system"].differs
    assert not any(c.diff for c in rows["origin.system"].cells)
    assert texts(rows["owner"]) == ["ana", ABSENT]
    assert rows["owner"].differs and rows["owner"].cells[1].absent
    assert not rows["rows"].differs  # 3 and 3.0


def test_tag_rows_one_per_key_of_any_version() -> None:
    rows = by_label(compare([version(1, tags={"stage": "raw", "src": "crm"}),
                             version(2, tags={"stage": "clean"}),
                             version(3, tags={"stage": "raw", "src": "crm"})]).tags)
    assert texts(rows["stage"]) == ["raw", "clean", "raw"]
    assert rows["stage"].differs
    assert texts(rows["src"]) == ["crm", ABSENT, "crm"]


def test_summary_rows_link_versions_and_runs_and_mark_differences() -> None:
    a = version(1, size=2048, digest="sha256:" + "a" * 64, user="ana", aliases=["prod"])
    b = version(2, size=2048, digest="sha256:" + "b" * 64, user="ana",
                source_pipeline="train", source_step="fit", source_run_id="run-1", deleted=True)
    rows = by_label(summary_rows([a, b]))
    assert [c.href for c in rows["version"].cells] == [f"/versions/{a.id}", f"/versions/{b.id}"]
    assert texts(rows["version"]) == ["thing:1", "thing:2"]
    assert not rows["size"].differs and texts(rows["size"]) == ["2.0 KiB", "2.0 KiB"]
    assert not rows["user"].differs
    assert rows["digest"].differs and texts(rows["digest"])[0] == "sha256:aaaaaaaaaaaa…"
    assert texts(rows["aliases"]) == ["@prod", ABSENT]
    assert texts(rows["producer"]) == [ABSENT, "train/fit"]
    assert [c.href for c in rows["producer"].cells] == [None, "/runs/run-1"]
    assert texts(rows["state"]) == ["live", "deleted"]
    assert "description" not in rows  # no version has one


# -- datasets --------------------------------------------------------------------------
def column(name: str, type_: str, nullable: bool = True) -> dict[str, Any]:
    return {"name": name, "type": type_, "nullable": nullable}


def test_schema_rows_say_added_removed_and_changed_columns() -> None:
    a = version(1, {"schema": [column("id", "int64"), column("age", "int64"),
                               column("gone", "string")]})
    b = version(2, {"schema": [column("id", "int64"), column("age", "double"),
                               column("new", "string", nullable=False)]})
    rows = by_label(schema_rows([a, b]))
    assert list(rows) == ["id", "age", "gone", "new"]
    assert not rows["id"].differs and rows["id"].note == ""
    assert rows["age"].note == "type changed" and texts(rows["age"]) == ["int64", "double"]
    assert rows["gone"].note == "removed" and texts(rows["gone"]) == ["string", ABSENT]
    assert rows["new"].note == "added" and texts(rows["new"]) == [ABSENT, "string not null"]
    assert all(c.diff for name in ("age", "gone", "new") for c in rows[name].cells)


def test_schema_rows_with_a_column_in_some_versions_and_none_for_other_types() -> None:
    a = version(1, {"schema": [column("x", "int64")]})
    b = version(2, {"schema": []})
    c = version(3, {"schema": [column("x", "int64")]})
    assert by_label(schema_rows([a, b, c]))["x"].note == "present in some"
    assert schema_rows([version(1), version(2)]) == []
    assert stat_rows([version(1), version(2)]) == []


def test_change_is_delta_and_percent_or_delta_alone_from_zero() -> None:
    assert change(100, 103) == ("+3 (+3.0%)", False)
    assert change(10.0, 8.5) == ("-1.5 (-15.0%)", True)
    assert change(-4, -2) == ("+2 (+50.0%)", True)
    assert change(0, 5) == ("+5", True)
    assert change(50_000.0, 65_853.2) == ("+15853 (+31.7%)", True)
    assert change(1, 1.0) == ("", False)
    assert change("2024-01-01", "2024-02-01") == ("", False)
    assert change(MISSING, 3) == ("", False)
    assert change(True, 2) == ("", False)


def test_stat_rows_compare_each_column_statistic_with_the_first_version() -> None:
    a = version(1, {"schema": [column("age", "int64"), column("city", "string")],
                    "rows": 500, "columns": 2,
                    "stats": {"age": {"count": 500, "nulls": 0, "mean": 44.0, "min": 18,
                                      "max": 69, "std": 15.0, "histogram": {}},
                              "city": {"count": 500, "nulls": 0, "distinct": 3,
                                       "top": "Paris"}}})
    b = version(2, {"schema": [column("age", "double"), column("city", "string")],
                    "rows": 620, "columns": 2,
                    "stats": {"age": {"count": 620, "nulls": 0, "mean": 49.5, "min": 18.0,
                                      "max": 89.0, "std": 15.0},
                              "city": {"count": 600, "nulls": 20, "distinct": 4}}})
    rows = stat_rows([a, b])
    whole = by_label(rows, TABLE)
    assert texts(whole["rows"]) == ["500", "620"] and whole["rows"].cells[1].change == (
        "+120 (+24.0%)")
    assert not whole["columns"].differs
    age = by_label(rows, "age")
    assert list(age) == ["count", "nulls", "mean", "std", "min", "max"]  # no histogram
    assert age["mean"].cells[1].change == "+5.5 (+12.5%)" and age["mean"].cells[1].big
    assert age["mean"].cells[1].diff and not age["mean"].cells[0].diff  # the baseline
    assert not age["min"].differs and not age["min"].cells[1].diff  # 18 and 18.0
    assert not age["std"].differs and age["std"].cells[1].change == ""
    city = by_label(rows, "city")
    assert list(city) == ["count", "nulls", "distinct"]
    assert city["nulls"].cells[1].change == "+20" and city["nulls"].cells[1].big
    assert city["count"].cells[1].change == "+100 (+20.0%)"
    assert [r.group for r in rows] == [TABLE] * 2 + ["age"] * 6 + ["city"] * 3


def test_stat_rows_show_columns_missing_in_a_version() -> None:
    a = version(1, {"schema": [column("x", "int64")], "stats": {"x": {"count": 3, "nulls": 0}}})
    b = version(2, {"schema": [column("y", "int64")], "stats": {"y": {"count": 3, "nulls": 1}}})
    rows = stat_rows([a, b])
    assert texts(by_label(rows, "x")["count"]) == ["3", ABSENT]
    assert texts(by_label(rows, "y")["nulls"]) == [ABSENT, "1"]
    assert by_label(rows, "y")["nulls"].cells[1].diff


def test_stat_rows_read_the_shapes_the_profiler_records() -> None:
    pa = pytest.importorskip("pyarrow")
    from archivist.materializers.column_stats import profile

    def described(table: Any) -> dict[str, Any]:
        return profile(table.schema, table.num_rows, table.to_batches())

    a = version(1, described(pa.table({"n": [1, 2, 3, 4], "s": ["a", "b", "a", None]})))
    b = version(2, described(pa.table({"n": [1.5, 2.5, None, 4.5], "t": [True, False,
                                                                          True, True]})))
    comparison = compare([a, b])
    schema = by_label(comparison.schema)
    assert texts(schema["n"]) == ["int64", "double"] and schema["n"].note == "type changed"
    assert schema["s"].note == "removed" and schema["t"].note == "added"
    n = by_label(comparison.stats, "n")
    assert n["nulls"].cells[1].change == "+1"
    assert n["mean"].cells[1].text == "2.83333" and n["mean"].cells[1].diff
    assert by_label(comparison.stats, "s")["distinct"].cells[0].text == "2"
    assert "preview" not in by_label(comparison.metadata)
    assert comparison.metrics == []  # datasets have no metric table


# -- models ----------------------------------------------------------------------------
def test_lower_is_better_for_losses_and_errors() -> None:
    for name in ("loss", "val_loss", "Error_rate", "rmse", "MAE", "mse"):
        assert lower_is_better(name), name
    for name in ("accuracy", "f1", "auc"):
        assert not lower_is_better(name), name


def test_best_of_marks_the_best_values_ties_included() -> None:
    assert best_of("accuracy", [0.9, 0.93, 0.91]) == {1}
    assert best_of("loss", [0.3, 0.35, 0.25]) == {2}
    assert best_of("f1", [MISSING, 0.8, 0.8]) == set()  # all equal: nothing stands out
    assert best_of("f1", [0.8, MISSING, 0.82, 0.82]) == {2, 3}
    assert best_of("rmse", [1.2, MISSING]) == set()  # one number is no contest
    assert best_of("auc", ["high", 0.7, 0.6]) == {1}
    assert best_of("auc", [float("nan"), 0.7, 0.6]) == {1}


def test_metrics_come_from_the_metrics_object_and_top_level_numbers() -> None:
    model = version(1, {"metrics": {"accuracy": 0.9, "per_class": {"a": 0.8}, "note": "x"},
                        "accuracy": 0.5, "epochs": 10, "flag": True, "name": "n"},
                    artifact_type="Model")
    assert metrics_of(model) == {"accuracy": 0.9, "per_class.a": 0.8, "epochs": 10}
    dataset = version(2, {"schema": [], "rows": 5, "columns": 2, "quality": 0.7})
    assert metrics_of(dataset) == {"quality": 0.7}


def test_metric_rows_show_change_trend_and_best() -> None:
    models = [version(i, {"metrics": m, **m}, artifact_type="Model", name="m")
              for i, m in enumerate([{"accuracy": 0.9, "loss": 0.3, "rmse": 1.2},
                                     {"accuracy": 0.93, "loss": 0.35, "f1": 0.8},
                                     {"accuracy": 0.91, "loss": 0.25, "f1": 0.82}], start=1)]
    rows = by_label(metric_rows(models))
    assert list(rows) == ["accuracy", "f1", "loss", "rmse"]
    assert [c.best for c in rows["accuracy"].cells] == [False, True, False]
    assert [c.best for c in rows["loss"].cells] == [False, False, True]
    assert [c.trend for c in rows["loss"].cells] == ["", "worse", "better"]
    assert [c.trend for c in rows["accuracy"].cells] == ["", "better", "better"]
    assert rows["loss"].cells[2].change == "-0.05 (-16.7%)"
    assert rows["loss"].note == "lower is better"
    assert texts(rows["rmse"]) == ["1.2", ABSENT, ABSENT]
    assert all(c.diff for c in rows["f1"].cells)
    assert "class=" not in "".join(c.classes for c in rows["f1"].cells)
    assert rows["accuracy"].cells[1].classes == "diff best"
    # the metric table shows them: the metadata table does not repeat them
    assert metadata_rows(models) == []


def test_metadata_keeps_a_key_that_is_not_a_number_in_some_version() -> None:
    a = version(1, {"metrics": {"acc": 0.9}, "epochs": 10}, artifact_type="Model")
    b = version(2, {"metrics": {"acc": "n/a"}, "epochs": "ten"}, artifact_type="Model")
    rows = by_label(metadata_rows([a, b]))
    assert texts(rows["epochs"]) == ["10", "ten"]
    assert texts(rows["metrics.acc"]) == ["0.9", "n/a"]


def test_comparison_counts_differing_rows() -> None:
    same = compare([version(1, {"k": 1}, tags={"t": 1}), version(2, {"k": 1}, tags={"t": 1})])
    assert same.differences == 0
    other = compare([version(1, {"k": 1}, tags={"t": 1}), version(2, {"k": 2}, tags={"t": 1})])
    assert other.differences == 1


# -- the page --------------------------------------------------------------------------
@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    pd = pytest.importorskip("pandas")
    home = tmp_path / "home"
    with ArtifactCatalog(home) as catalog:
        ids = {
            "d1": catalog.log_dataset("customers", pd.DataFrame(
                {"age": [20, 30, 40], "score": [0.1, 0.5, 0.9]}), tags={"stage": "raw"}).id,
            "d2": catalog.log_dataset("customers", pd.DataFrame(
                {"age": [20.0, 35.0, 60.0, None], "city": ["a", "b", "a", "c"]}),
                tags={"stage": "<b>clean</b>"}, metadata={"note": "<script>x()</script>"}).id,
            "m1": catalog.log_model("m", {"w": 1}, metrics={"accuracy": 0.9, "loss": 0.3}).id,
            "m2": catalog.log_model("m", {"w": 2}, metrics={"accuracy": 0.8, "loss": 0.2}).id,
        }
        catalog.set_alias("m:2", "production")
    app = create_app(ServerSettings(home=str(home), insecure_single_user=True))
    with TestClient(app, base_url=LOOPBACK_URL) as test_client:
        yield test_client, ids


def test_page_compares_datasets_with_escaped_values(
        client: tuple[TestClient, dict[str, str]]) -> None:
    http, ids = client
    answer = http.get("/compare", params=[("v", ids["d1"]), ("v", "customers:2")])
    assert answer.status_code == 200
    html = answer.text
    assert f'href="/versions/{ids["d1"]}"' in html and f'href="/versions/{ids["d2"]}"' in html
    assert "type changed" in html and "removed" in html and "added" in html
    assert 'class="diff"' in html and "+1 (+33.3%)" in html  # rows 3 → 4
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<script>x()" not in html
    assert "&lt;b&gt;clean&lt;/b&gt;" in html
    assert "'unsafe-inline'" not in answer.headers["content-security-policy"]
    assert " style=" not in html


def test_page_compares_models_and_marks_the_best(
        client: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = client
    html = http.get("/compare?v=m:1&v=m@production").text
    assert "<h2>Metrics</h2>" in html and "best" in html
    assert 'class="diff best"' in html and "lower is better" in html
    assert "/compare?v=m%40production&amp;v=m%3A1" in html  # make the other the baseline
    only = http.get("/compare?v=m:1&v=m:2&changes=1").text
    assert "Show all rows" in only


def test_page_asks_for_versions_refuses_too_many_and_names_the_missing(
        client: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = client
    form = http.get("/compare?v=m:1")
    assert form.status_code == 200 and 'name="v" value="m:1"' in form.text
    assert '<option value="customers:2">' in form.text
    too_many = http.get("/compare?" + "&".join(["v=m:1"] * 7))
    assert too_many.status_code == 422 and "at most 6" in too_many.text
    missing = http.get("/compare?v=m:1&v=nope:3")
    assert missing.status_code == 404 and "nope:3" in missing.text
    bad = http.get("/compare", params=[("v", "m:1"), ("v", "<x>::")])
    assert bad.status_code == 422 and "&lt;x&gt;::" in bad.text and "<x>::" not in bad.text
