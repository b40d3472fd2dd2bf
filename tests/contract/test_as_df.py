"""A dataset version back as a pandas DataFrame (MLRun's ``as_df``), however it was
stored: from Python, by path as CSV/TSV/Parquet/Feather, or logged as CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from archivist import ArtifactCatalog, InvalidInputError

FRAME = pd.DataFrame({"id": [1, 2, 3], "city": ["Oslo", "Lima", "Pune"],
                      "amount": [9.5, 0.25, 3.0]})


def test_a_dataframe_registered_from_python(catalog: ArtifactCatalog) -> None:
    ref = catalog.register("transactions", data=FRAME)
    pd.testing.assert_frame_equal(catalog.as_df(ref), FRAME)
    pd.testing.assert_frame_equal(catalog.get(ref).as_df(), FRAME)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".feather"])
def test_a_data_file_registered_by_path(catalog: ArtifactCatalog, tmp_path: Path,
                                        suffix: str) -> None:
    path = tmp_path / f"transactions{suffix}"
    if suffix in (".csv", ".tsv"):
        FRAME.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    elif suffix == ".parquet":
        FRAME.to_parquet(path)
    else:
        FRAME.to_feather(path)
    ref = catalog.register("transactions", path=path)
    assert catalog.load(ref) == path.read_bytes()  # a file's bytes stay what they were
    pd.testing.assert_frame_equal(catalog.get(ref).as_df(), FRAME)


def test_a_dataset_logged_as_csv(catalog: ArtifactCatalog) -> None:
    record = catalog.log_dataset("transactions", FRAME, format="csv", index=False)
    pd.testing.assert_frame_equal(catalog.as_df(record), FRAME)


def test_what_holds_no_table_is_refused(catalog: ArtifactCatalog, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a table")
    for ref in (catalog.register("notes", path=tmp_path / "notes.txt"),
                catalog.register("config", data={"lr": 0.1}),
                catalog.register("empty")):
        with pytest.raises(InvalidInputError, match="holds no table"):
            catalog.as_df(ref)
