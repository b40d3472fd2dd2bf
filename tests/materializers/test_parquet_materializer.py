"""DataFrames and Tables as Parquet: round trips, recorded schema/preview/stats, dataset_stats."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from archivist.errors import IntegrityError, InvalidInputError, MissingDependencyError
from archivist.materializers import (
    MaterializerRegistry,
    ParquetMaterializer,
    column_stats,
    dataset_stats,
    parquet,
)

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture
def frame() -> Any:
    return pd.DataFrame({
        "n": [1, 2, 3, 4, 5],
        "x": [1.5, None, 2.5, float("nan"), 4.0],
        "s": ["a", "b", "a", None, "a"],
        "t": pd.to_datetime(["2024-01-01", "2024-01-02", None, "2024-01-02", "2024-01-05"],
                            utc=True),
        "flag": [True, False, True, True, None],
    })


def save(obj: Any, tmp_path: Path, registry: MaterializerRegistry) -> tuple[Path, dict[str, Any]]:
    m, meta = registry.save(obj, tmp_path / "data.parquet")
    assert (m.name, m.artifact_type) == ("parquet", "Dataset")
    return tmp_path / "data.parquet", meta


@pytest.mark.parametrize("index", [
    None,
    pd.Index(["v", "w", "x", "y", "z"], name="key"),
    pd.Index([10, 20, 30, 40, 50]),
    pd.RangeIndex(5, 15, 2),
    pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1), ("b", 2), ("c", 1)],
                              names=["g", "i"]),
], ids=["default", "named", "unnamed", "range", "multi"])
def test_dataframe_round_trip_keeps_index(registry: MaterializerRegistry, tmp_path: Path,
                                          frame: Any, index: Any) -> None:
    if index is not None:
        frame.index = index
    frame["c"] = pd.Categorical(["u", "v", "u", "u", None])
    path, meta = save(frame, tmp_path, registry)
    assert meta["library"] == "pandas"
    back = registry.load("parquet", path, allow_pickle=False)
    pd.testing.assert_frame_equal(back, frame)


def test_table_round_trip_stays_a_table(registry: MaterializerRegistry, tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2, None], "b": ["x", "y", "z"]},
                     metadata={b"owner": b"me"})
    path, meta = save(table, tmp_path, registry)
    assert meta["library"] == "pyarrow"
    back = registry.load("parquet", path, allow_pickle=False)
    assert isinstance(back, pa.Table)
    assert back.equals(table, check_metadata=True)


def test_stats_and_preview(registry: MaterializerRegistry, tmp_path: Path, frame: Any) -> None:
    _, meta = save(frame, tmp_path, registry)
    assert meta["rows"] == 5 and meta["columns"] == 5
    assert [(c["name"], c["type"]) for c in meta["schema"]] == [
        ("n", "int64"), ("x", "double"), ("s", "large_string"),
        ("t", "timestamp[us, tz=UTC]"), ("flag", "bool")]
    stats = meta["stats"]
    assert stats["n"] == {"count": 5, "nulls": 0, "min": 1, "max": 5, "mean": 3.0,
                          "std": pytest.approx(frame["n"].std()),
                          "histogram": {"edges": [1.0, 1.4, 1.8, 2.2, 2.6, 3.0, 3.4, 3.8, 4.2,
                                                  4.6, 5.0],
                                        "counts": [1, 0, 1, 0, 0, 1, 0, 1, 0, 1]}}
    assert stats["x"]["count"] == 3 and stats["x"]["nulls"] == 2
    assert (stats["x"]["min"], stats["x"]["max"]) == (1.5, 4.0)
    assert stats["x"]["mean"] == pytest.approx(frame["x"].mean())
    assert stats["x"]["std"] == pytest.approx(frame["x"].std())
    assert stats["s"] == {"count": 4, "nulls": 1, "distinct": 2, "top": "a", "top_count": 3}
    assert stats["t"] == {"count": 4, "nulls": 1, "distinct": 3,
                          "top": "2024-01-02T00:00:00+00:00", "top_count": 2,
                          "min": "2024-01-01T00:00:00+00:00", "max": "2024-01-05T00:00:00+00:00"}
    assert stats["flag"] == {"count": 4, "nulls": 1, "distinct": 2, "top": True, "top_count": 3}
    for column in stats.values():
        assert column["count"] + column["nulls"] == 5
    assert meta["preview"][0] == {"n": 1, "x": 1.5, "s": "a", "t": "2024-01-01T00:00:00+00:00",
                                  "flag": True}
    assert meta["preview"][3] == {"n": 4, "x": None, "s": None, "t": "2024-01-02T00:00:00+00:00",
                                  "flag": True}


def test_metadata_is_storable(registry: MaterializerRegistry, tmp_path: Path) -> None:
    """Every value passes the catalog's metadata rules (no NaN, no NUL, JSON types)."""
    from archivist.names import check_metadata

    table = pa.table({
        "dec": pa.array([decimal.Decimal("1.10"), None, decimal.Decimal("-3.25")],
                        pa.decimal128(10, 2)),
        "bin": [b"\x00\xff", b"text", None],
        "nul": ["a\x00b", "x" * 1000, None],
        "inf": [float("inf"), 1.0, -float("inf")],
        "day": [dt.date(2024, 1, 1), None, dt.date(2023, 5, 6)],
        "dur": pa.array([1_000_000, None, 5], pa.duration("us")),
        "lst": [[1, 2], None, []],
        "st": [{"a": 1}, {"a": None}, None],
        "none": pa.nulls(3),
        "big": pa.array([2**64 - 1, 0, None], pa.uint64()),
    })
    _, meta = save(table, tmp_path, registry)
    assert check_metadata(meta) == meta
    stats, preview = meta["stats"], meta["preview"]
    assert stats["dec"]["min"] == "-3.25" and stats["dec"]["mean"] == pytest.approx(-1.075)
    assert preview[0]["dec"] == "1.10" and preview[0]["bin"] == "base64:AP8="
    assert preview[1]["bin"] == "text" and preview[0]["nul"] == "a\ufffdb"
    assert len(preview[1]["nul"]) == 256 and preview[1]["nul"].endswith("…")
    assert preview[0]["inf"] is None and stats["inf"]["max"] is None
    assert preview[0]["day"] == "2024-01-01" and stats["day"]["min"] == "2023-05-06"
    assert preview[0]["dur"] == 1.0
    assert preview[0]["lst"] == [1, 2] and preview[0]["st"] == {"a": 1}
    assert stats["lst"] == {"count": 2, "nulls": 1}
    assert stats["none"] == {"count": 0, "nulls": 3, "distinct": 0, "top": None, "top_count": 0}
    assert stats["big"]["max"] == str(2**64 - 1)  # beyond int64: recorded as text


def test_preview_is_the_first_20_rows(registry: MaterializerRegistry, tmp_path: Path) -> None:
    _, meta = save(pd.DataFrame({"i": range(50)}), tmp_path, registry)
    assert meta["preview"] == [{"i": i} for i in range(20)]


def test_dataset_stats_matches_saved_metadata(registry: MaterializerRegistry, tmp_path: Path,
                                              frame: Any) -> None:
    path, meta = save(frame, tmp_path, registry)
    assert dataset_stats(path) == meta


def test_statistics_merge_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         registry: MaterializerRegistry) -> None:
    values = [float(i % 17) * 1.5 + (i % 3) for i in range(1000)]
    frame = pd.DataFrame({"v": values, "s": [f"k{i % 7}" for i in range(1000)]})
    path, whole = save(frame, tmp_path, registry)
    monkeypatch.setattr(parquet, "BATCH_ROWS", 37)
    streamed = dataset_stats(path)
    assert streamed["stats"]["s"] == whole["stats"]["s"]
    for key in ("count", "nulls", "min", "max"):
        assert streamed["stats"]["v"][key] == whole["stats"]["v"][key]
    assert streamed["stats"]["v"]["mean"] == pytest.approx(frame["v"].mean(), rel=1e-12)
    assert streamed["stats"]["v"]["std"] == pytest.approx(frame["v"].std(), rel=1e-12)
    assert streamed["preview"] == whole["preview"]


def test_distinct_counting_stops_at_the_cap(registry: MaterializerRegistry, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(column_stats, "MAX_DISTINCT", 5)
    _, meta = save(pd.DataFrame({"s": [str(i) for i in range(10)]}), tmp_path, registry)
    assert meta["stats"]["s"] == {"count": 10, "nulls": 0, "distinct": None, "top": None,
                                  "top_count": None, "distinct_capped": True}


def test_wide_tables_are_described_up_to_a_cap(registry: MaterializerRegistry,
                                               tmp_path: Path) -> None:
    table = pa.table({f"c{i}": [i] for i in range(parquet.MAX_METADATA_COLUMNS + 20)})
    path, meta = save(table, tmp_path, registry)
    assert meta["columns"] == parquet.MAX_METADATA_COLUMNS + 20
    assert len(meta["schema"]) == len(meta["stats"]) == parquet.MAX_METADATA_COLUMNS
    assert len(meta["preview"][0]) == parquet.MAX_METADATA_COLUMNS
    assert len(dataset_stats(path)["schema"]) == parquet.MAX_METADATA_COLUMNS + 20


def test_mixed_type_column_is_a_typed_error(registry: MaterializerRegistry,
                                            tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="one type"):
        registry.save(pd.DataFrame({"m": [1, "a", 2.5]}), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_damaged_parquet_is_an_integrity_error(registry: MaterializerRegistry,
                                               tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"PAR1" + b"\x00" * 100 + b"PAR1")
    with pytest.raises(IntegrityError):
        registry.load("parquet", tmp_path / "x", allow_pickle=False)
    with pytest.raises(IntegrityError):
        dataset_stats(tmp_path / "x")
    (tmp_path / "y").write_bytes(b"not parquet")
    with pytest.raises(IntegrityError):
        dataset_stats(tmp_path / "y")


def test_missing_pandas_on_load_names_the_extra(registry: MaterializerRegistry, tmp_path: Path,
                                                frame: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = save(frame, tmp_path, registry)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'archivist\[pandas\]'"):
        registry.load("parquet", path, allow_pickle=False)


def test_missing_pyarrow_names_the_extra(registry: MaterializerRegistry, tmp_path: Path,
                                         frame: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = save(frame, tmp_path, registry)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingDependencyError, match=r"archivist\[arrow\]"):
        registry.load("parquet", path, allow_pickle=False)
    with pytest.raises(MissingDependencyError, match=r"archivist\[pandas\]"):
        ParquetMaterializer().save(frame, tmp_path / "other")


def test_vulnerable_pyarrow_is_refused(registry: MaterializerRegistry, tmp_path: Path,
                                       frame: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = save(frame, tmp_path, registry)
    monkeypatch.setattr(pa, "__version__", "14.0.0")
    with pytest.raises(MissingDependencyError, match="CVE-2023-47248"):
        registry.load("parquet", path, allow_pickle=False)


def test_float_stats_ignore_nan_in_arrow_tables(registry: MaterializerRegistry,
                                                tmp_path: Path) -> None:
    _, meta = save(pa.table({"f": [1.0, math.nan, 3.0, None]}), tmp_path, registry)
    assert meta["stats"]["f"] == {"count": 2, "nulls": 2, "min": 1.0, "max": 3.0, "mean": 2.0,
                                  "std": pytest.approx(math.sqrt(2)),
                                  "histogram": {"edges": [1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4,
                                                          2.6, 2.8, 3.0],
                                                "counts": [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]}}


def test_worst_case_metadata_stays_inside_the_limits(registry: MaterializerRegistry,
                                                     tmp_path: Path) -> None:
    """Many wide text columns: preview shrinks to its byte budget, the whole fits in 1 MiB."""
    import json

    from archivist.names import MAX_METADATA_BYTES, check_metadata

    n = parquet.MAX_METADATA_COLUMNS + 100
    table = pa.table({f"column_{i}": [f"{r}-{i}-" + "x" * 400 for r in range(30)]
                      for i in range(n)})
    _, meta = save(table, tmp_path, registry)
    assert check_metadata(meta) == meta
    assert len(json.dumps(meta).encode()) < MAX_METADATA_BYTES
    assert 0 < len(meta["preview"]) < 20
    assert len(json.dumps(meta["preview"])) <= column_stats.PREVIEW_BYTES
