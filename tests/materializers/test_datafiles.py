"""A data file registered by path gets the dataset metadata of the same data registered
from Python, its bytes stay the user's, and nothing about it can fail the registration."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from archivist import ArtifactCatalog
from archivist.materializers import datafiles
from archivist.materializers.datafiles import describe_file

DATASET_KEYS = {"schema", "rows", "columns", "preview", "stats"}


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [1, 2, 3, 4, 5],
        "score": [0.5, 1.5, None, 3.5, 2.0],
        "city": ["Oslo", "Lima", "Oslo", None, "Pune"],
        "ok": [True, False, True, True, False],
    })


def registered(catalog: ArtifactCatalog, path: Path, **kwargs: Any) -> dict[str, Any]:
    return catalog.get(catalog.register(path.stem, "Dataset", path=path, **kwargs)).metadata


def dataset_part(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k in DATASET_KEYS}


def test_a_parquet_file_gets_what_the_dataframe_gets(local_catalog: ArtifactCatalog,
                                                     tmp_path: Path) -> None:
    df = frame()
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    from_python = local_catalog.get(local_catalog.register("py", data=df)).metadata
    from_file = registered(local_catalog, path)
    assert set(from_file) == (set(from_python) - {"library"}) | {"filename"}
    assert dataset_part(from_file) == dataset_part(from_python)
    assert from_file["rows"] == 5 and "sampled" not in from_file


def test_the_file_is_stored_byte_for_byte(local_catalog: ArtifactCatalog,
                                          tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    frame().to_parquet(path)
    art = local_catalog.get(local_catalog.register("t", path=path))
    data = path.read_bytes()
    assert art.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert art.format == "file" and art.artifact_type == "File"  # the defaults stay
    assert local_catalog.load(art) == data  # load still answers the bytes


def test_a_csv_file_gets_what_the_same_table_gets(local_catalog: ArtifactCatalog,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    frame().to_csv(path, index=False)
    table = pcsv.read_csv(path)  # the CSV as a Table: its types are pyarrow's inference
    from_python = local_catalog.get(local_catalog.register("py", data=table)).metadata
    from_file = registered(local_catalog, path)
    assert dataset_part(from_file) == dataset_part(from_python)
    assert from_file["rows"] == 5
    assert [c["type"] for c in from_file["schema"]] == ["int64", "double", "string", "bool"]
    assert from_file["stats"]["city"]["top"] == "Oslo"


def test_a_tsv_file_is_split_on_tabs(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\n1\tx,y\n2\tz\n")
    described = describe_file(path, path.name)
    assert [c["name"] for c in described["schema"]] == ["a", "b"]
    assert described["preview"] == [{"a": 1, "b": "x,y"}, {"a": 2, "b": "z"}]


def test_an_arrow_file_gets_what_the_table_gets(local_catalog: ArtifactCatalog,
                                                tmp_path: Path) -> None:
    table = pa.Table.from_pandas(frame(), preserve_index=False)
    path = tmp_path / "t.feather"
    feather.write_feather(table, path)
    from_python = local_catalog.get(local_catalog.register("py", data=table)).metadata
    assert dataset_part(registered(local_catalog, path)) == dataset_part(from_python)


def test_an_npy_file_gets_what_the_array_gets(local_catalog: ArtifactCatalog,
                                              tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    path = tmp_path / "t.npy"
    np.save(path, array)
    from_python = local_catalog.get(local_catalog.register("py", data=array + 1)).metadata
    from_file = registered(local_catalog, path)
    assert from_file == {**from_python, "filename": "t.npy"}
    assert from_file["dtype"] == "int16" and from_file["shape"] == [2, 3, 4]


def test_an_object_npy_is_described_from_its_header_only(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load was called"))
    assert describe_file(path, path.name) == {"dtype": "object", "shape": [2]}


@pytest.mark.parametrize(("name", "content", "error"), [
    ("broken.csv", b"hello world\nfoo,bar\n", "Expected 1 columns, got 2"),
    ("empty.csv", b"", "Empty CSV file"),
    ("text.parquet", b"not parquet at all", "not a Parquet file"),
    ("cut.parquet", b"PAR1 and then nothing", ""),
    ("text.npy", b"just text", "damaged"),
    ("cut.npy", b"", "damaged"),
    ("text.arrow", b"ARROW1 but nothing else", ""),
], ids=lambda v: v if isinstance(v, str) and "." in v else "")
def test_a_file_that_does_not_parse_still_registers(local_catalog: ArtifactCatalog,
                                                    tmp_path: Path, name: str, content: bytes,
                                                    error: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    metadata = registered(local_catalog, path)
    assert set(metadata) == {"filename", "format_error"}
    assert error in metadata["format_error"]
    assert len(metadata["format_error"]) <= datafiles.ERROR_CHARS + 1


def test_a_truncated_npy_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.npy"
    np.save(path, np.zeros(100))
    path.write_bytes(path.read_bytes()[:-8])
    assert "but the file holds 792" in describe_file(path, path.name)["format_error"]


def test_the_users_metadata_wins(local_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    frame().to_csv(path, index=False)
    metadata = registered(local_catalog, path, metadata={"rows": "many", "owner": "me"})
    assert metadata["rows"] == "many" and metadata["owner"] == "me"
    assert metadata["columns"] == 4


def test_files_inside_a_directory_and_other_suffixes_get_no_dataset_keys(
        local_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    frame().to_csv(folder / "t.csv", index=False)
    assert local_catalog.get(local_catalog.register("dir", path=folder)).metadata == {
        "files": 1}
    other = tmp_path / "t.txt"
    frame().to_csv(other, index=False)
    assert registered(local_catalog, other) == {"filename": "t.txt"}


def test_without_pyarrow_a_table_file_gets_its_filename_only(
        local_catalog: ArtifactCatalog, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.parquet"
    frame().to_parquet(path)
    for module in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.setitem(sys.modules, module, None)
    assert registered(local_catalog, path) == {"filename": "t.parquet"}


def test_a_big_csv_is_profiled_over_a_bounded_sample(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datafiles, "SAMPLE_BYTES", 64 * 1024)
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("n,word\n")
        f.writelines(f"{i},w{i % 7}\n" for i in range(200_000))  # ~2 MB, 30x the sample
    described = describe_file(path, path.name)
    assert described["sampled"] is True
    assert 0 < described["sampled_rows"] < 20_000
    assert "rows" not in described  # not known without reading everything
    stats = described["stats"]["n"]
    assert stats["count"] == described["sampled_rows"] and stats["min"] == 0
    assert described["columns"] == 2 and len(described["preview"]) == 20


def test_csv_types_are_inferred_from_the_whole_sample(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datafiles, "CSV_BLOCK", 1024)  # "n" looks like int64 in block one
    path = tmp_path / "t.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(2000)) + "not a number\n")
    described = describe_file(path, path.name)
    assert described["schema"] == [{"name": "n", "type": "string", "nullable": True}]
    assert described["rows"] == 2001 and "sampled" not in described


def test_a_big_parquet_file_has_exact_rows_and_sampled_stats(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datafiles, "SAMPLE_BYTES", 256 * 1024)
    path = tmp_path / "big.parquet"
    table = pa.table({"n": pa.array(range(400_000), pa.int64()),
                      "x": pa.array([i * 0.5 for i in range(400_000)])})
    pq.write_table(table, path, row_group_size=50_000)
    described = describe_file(path, path.name)
    assert described["rows"] == 400_000
    assert described["sampled"] is True and 0 < described["sampled_rows"] < 50_000
    assert described["stats"]["n"]["count"] == described["sampled_rows"]
    assert sum(described["stats"]["n"]["histogram"]["counts"]) == described["sampled_rows"]


def test_wide_descriptions_leave_the_preview_out_first(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.csv"
    frame().to_csv(path, index=False)
    full = describe_file(path, path.name)
    without_preview = {k: v for k, v in full.items() if k != "preview"}
    monkeypatch.setattr(datafiles, "DESCRIBED_BYTES", len(str(without_preview)) + 100)
    assert describe_file(path, path.name) == without_preview
    monkeypatch.setattr(datafiles, "DESCRIBED_BYTES", 10)
    assert set(describe_file(path, path.name)) == {"schema", "rows", "columns"}
