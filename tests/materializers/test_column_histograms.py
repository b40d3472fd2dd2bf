"""Histograms of numeric columns in the recorded dataset statistics."""

from __future__ import annotations

import decimal
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archivist.materializers import MaterializerRegistry, column_stats, dataset_stats, parquet
from archivist.materializers.column_stats import HISTOGRAM_BINS, profile

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

TENTHS = [0.0, 9.9, 19.8, 29.7, 39.6, 49.5, 59.4, 69.3, 79.2, 89.1, 99.0]


def stats_of(table: Any, chunk: int | None = None) -> dict[str, Any]:
    batches = table.to_batches(max_chunksize=chunk) if chunk else table.to_batches()
    return profile(table.schema, table.num_rows, batches)["stats"]


def check_shape(column: dict[str, Any]) -> None:
    """The invariants of every recorded histogram."""
    hist = column["histogram"]
    assert set(hist) == {"edges", "counts"}
    edges, counts = hist["edges"], hist["counts"]
    assert all(type(c) is int and c >= 0 for c in counts)
    assert all(type(e) is float and math.isfinite(e) for e in edges)
    assert sum(counts) == column["count"]
    assert len(edges) == len(counts) + 1
    assert edges == sorted(edges)
    assert len(counts) in (1, HISTOGRAM_BINS)


def test_zero_to_99_gives_ten_bins_of_ten() -> None:
    table = pa.table({"i": pa.array(range(100), pa.int64()),
                      "f": pa.array([float(v) for v in range(100)]),
                      "u8": pa.array(range(100), pa.uint8())})
    for name, column in stats_of(table).items():
        assert column["histogram"] == {"edges": TENTHS, "counts": [10] * 10}, name
        check_shape(column)
    # the existing statistics are untouched
    assert {k: v for k, v in stats_of(table)["i"].items() if k != "histogram"} == {
        "count": 100, "nulls": 0, "min": 0, "max": 99, "mean": 49.5,
        "std": pytest.approx(pd.Series(range(100)).std())}


def test_bins_are_equal_width_and_closed_on_the_right_at_max() -> None:
    stats = stats_of(pa.table({"v": [0.0, 0.1, 0.5, 0.9999, 1.0, 1.0]}))
    assert stats["v"]["histogram"] == {
        "edges": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        "counts": [1, 1, 0, 0, 0, 1, 0, 0, 0, 3]}
    # an inner edge value falls in the bin that starts at it
    stats = stats_of(pa.table({"v": [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]}))
    assert stats["v"]["histogram"]["counts"] == [1] * 9 + [2]


def test_constant_column_has_one_bin() -> None:
    table = pa.table({"c": [7, 7, None, 7], "f": [2.5, math.nan, 2.5, 2.5],
                      "one": [None, 3.0, None, None]})
    stats = stats_of(table)
    assert stats["c"]["histogram"] == {"edges": [7.0, 7.0], "counts": [3]}
    assert stats["f"]["histogram"] == {"edges": [2.5, 2.5], "counts": [3]}
    assert stats["one"]["histogram"] == {"edges": [3.0, 3.0], "counts": [1]}
    for column in stats.values():
        check_shape(column)


def test_nulls_and_nan_are_left_out() -> None:
    table = pa.table({"f": [0.0, None, math.nan, 10.0, 5.0, None, math.nan, 9.99],
                      "i": pa.array([None, 0, 10, None, 5, 5, None, 1], pa.int32())})
    stats = stats_of(table)
    assert stats["f"]["count"] == 4 and stats["f"]["nulls"] == 4
    assert stats["f"]["histogram"] == {
        "edges": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        "counts": [1, 0, 0, 0, 0, 1, 0, 0, 0, 2]}
    assert stats["i"]["histogram"]["counts"] == [1, 1, 0, 0, 0, 2, 0, 0, 0, 1]
    for column in stats.values():
        check_shape(column)


def test_pandas_nan_and_missing_ints(registry: MaterializerRegistry, tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.5, None, 2.5, float("nan"), 4.0],
                          "n": pd.array([1, None, 3, 4, None], dtype="Int64")})
    _, meta = registry.save(frame, tmp_path / "d.parquet")
    x, n = meta["stats"]["x"], meta["stats"]["n"]
    assert x["histogram"]["counts"] == [1, 0, 0, 0, 1, 0, 0, 0, 0, 1] and x["count"] == 3
    assert n["histogram"]["counts"] == [1, 0, 0, 0, 0, 0, 1, 0, 0, 1] and n["count"] == 3
    check_shape(x)
    check_shape(n)


def test_no_values_means_no_histogram_key() -> None:
    table = pa.table({"empty_i": pa.array([None, None], pa.int64()),
                      "nan_f": [math.nan, None],
                      "inf": [1.0, math.inf],
                      "ninf": [-math.inf, 1.0]})
    stats = stats_of(table)
    for name in table.column_names:
        assert "histogram" not in stats[name], name
    assert stats["empty_i"] == {"count": 0, "nulls": 2, "min": None, "max": None,
                                "mean": None, "std": None}
    no_rows = stats_of(pa.table({"i": pa.array([], pa.int64())}))
    assert "histogram" not in no_rows["i"]


def test_only_numbers_get_a_histogram() -> None:
    import datetime as dt

    table = pa.table({"b": [True, False, True], "s": ["a", "b", "c"],
                      "d": [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 2, 1)],
                      "l": [[1], [2, 3], None]})
    for name, column in stats_of(table).items():
        assert "histogram" not in column, name


def test_decimals_and_dictionary_encoded_numbers() -> None:
    table = pa.table({
        "dec": pa.array([decimal.Decimal("1.10"), None, decimal.Decimal("-3.25"),
                         decimal.Decimal("0.00"), decimal.Decimal("1.10")],
                        pa.decimal128(10, 2)),
        "cat": pa.array([1, 2, 3, 1, 3]).dictionary_encode(),
    })
    stats = stats_of(table)
    assert stats["dec"]["histogram"] == {
        "edges": [-3.25, -2.815, -2.38, -1.945, -1.51, -1.075, -0.64, -0.205, 0.23, 0.665,
                  1.1],
        "counts": [1, 0, 0, 0, 0, 0, 0, 1, 0, 2]}
    assert stats["cat"]["histogram"]["counts"] == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    check_shape(stats["dec"])
    check_shape(stats["cat"])


def test_counts_add_up_across_batches() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(size=10_007)
    values[rng.random(values.size) < 0.05] = np.nan
    table = pa.table({"v": pa.array(values, from_pandas=False),
                      "i": pa.array(rng.integers(-50, 50, values.size)),
                      "s": [str(v) for v in range(values.size)]})
    whole = stats_of(table)
    for chunk in (1, 37, 1000):
        chunked = stats_of(table, chunk)
        for name in ("v", "i"):  # (mean and std may differ in the last bits)
            assert chunked[name]["histogram"] == whole[name]["histogram"]
            assert chunked[name]["count"] == whole[name]["count"]
    for name, data in (("v", values[~np.isnan(values)]), ("i", table["i"].to_numpy())):
        hist = whole[name]["histogram"]
        check_shape(whole[name])
        # numpy.histogram with the recorded edges: the same half-open bins
        expected, _ = np.histogram(data, bins=np.array(hist["edges"]))
        assert hist["counts"] == expected.tolist()
        assert sum(hist["counts"]) == whole[name]["count"] == data.size


def test_counting_without_numpy_is_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    values = rng.random(5000) * 123.4 - 17
    values[::11] = np.nan
    table = pa.table({"v": values, "i": rng.integers(0, 1000, 5000)})
    with_numpy = stats_of(table, 700)
    monkeypatch.setattr(column_stats, "_numpy", lambda: None)
    assert stats_of(table, 700) == with_numpy


def test_one_shot_iterator_needs_rescan() -> None:
    table = pa.table({"v": [float(v) for v in range(100)], "k": [1] * 100,
                      "s": ["x"] * 100})

    def once() -> Iterator[Any]:
        yield from table.to_batches(max_chunksize=30)

    stats = profile(table.schema, 100, once())["stats"]
    assert "histogram" not in stats["v"]  # read only once: no second pass
    assert stats["k"]["histogram"] == {"edges": [1.0, 1.0], "counts": [100]}

    asked: list[list[int]] = []

    def rescan(indices: Any) -> Any:
        asked.append(list(indices))
        return (batch.select(list(indices)) for batch in table.to_batches(max_chunksize=30))

    stats = profile(table.schema, 100, once(), rescan=rescan)["stats"]
    assert asked == [[0]]  # only the column that needs its bins counted
    assert stats["v"]["histogram"] == {"edges": TENTHS, "counts": [10] * 10}

    short = profile(table.schema, 100, once(),
                    rescan=lambda indices: table.slice(0, 50).select(list(indices))
                    .to_batches())["stats"]
    assert "histogram" not in short["v"]  # the second pass did not see the same rows


def test_dataset_stats_has_the_saved_histograms(registry: MaterializerRegistry, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"s": [f"k{i % 7}" for i in range(3000)],
                          "v": rng.normal(size=3000), "t": ["x"] * 3000,
                          "n": rng.integers(0, 10, 3000)})
    _, meta = registry.save(frame, tmp_path / "d.parquet")
    monkeypatch.setattr(parquet, "BATCH_ROWS", 97)
    streamed = dataset_stats(tmp_path / "d.parquet")
    for name in ("v", "n"):  # (mean and std may differ in the last bits)
        assert streamed["stats"][name]["histogram"] == meta["stats"][name]["histogram"]
    assert dataset_stats(tmp_path / "d.parquet") == streamed
    monkeypatch.undo()
    assert dataset_stats(tmp_path / "d.parquet") == meta
    assert meta["stats"]["v"]["histogram"]["counts"] == np.histogram(
        frame["v"], bins=np.array(meta["stats"]["v"]["histogram"]["edges"]))[0].tolist()


@pytest.mark.parametrize("names", [["a.b", "a", "n"], ["d", "d", "n"], ["x.y", "s", "n"]])
def test_dataset_stats_rescans_awkward_names(tmp_path: Path, names: list[str]) -> None:
    """pyarrow selects columns by dotted prefix; duplicate names cannot be selected."""
    columns = [pa.array([1.0, 2.0, 3.0]), pa.array([{"b": 1}, {"b": 2}, None])
               if names[1] == "a" else pa.array(["p", "q", "r"]), pa.array([0, 5, 10])]
    if names[0] == "d":
        columns[1] = pa.array([4.0, 5.0, 6.0])
    table = pa.Table.from_arrays(columns, names=names)
    pq.write_table(table, tmp_path / "f.parquet")
    described = dataset_stats(tmp_path / "f.parquet")
    expected = profile(table.schema, 3, table.to_batches())
    assert described["stats"] == expected["stats"]
    assert described["stats"]["n"]["histogram"]["counts"] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]


def test_histograms_keep_metadata_small_and_storable(registry: MaterializerRegistry,
                                                     tmp_path: Path) -> None:
    from archivist.names import check_metadata

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"f": rng.random(1000) / 3, "i": rng.integers(-10**12, 10**12, 1000),
                          "big": pa.array([2**64 - 1, 0] * 500, pa.uint64()).to_pandas(),
                          "huge": [-1.7e308, 1.7e308] * 500})
    _, meta = registry.save(frame, tmp_path / "d.parquet")
    assert check_metadata(meta) == meta
    for name in frame.columns:
        check_shape(meta["stats"][name])
        assert len(json.dumps(meta["stats"][name]["histogram"])) < 400, name
    assert meta["stats"]["huge"]["histogram"]["edges"][5] == 0.0
