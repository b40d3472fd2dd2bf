"""``archivist add t.parquet`` records what registering the DataFrame from Python does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from archivist import ArtifactCatalog
from tests.cli.conftest import Cli

DATASET_KEYS = ("schema", "rows", "columns", "preview", "stats")


def test_add_a_parquet_file_records_the_dataframes_metadata(
        cli: Cli, make_file: Callable[..., Path], home: Path) -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, None, 2.5]})
    path = make_file("t.parquet", b"")
    df.to_parquet(path)
    cli.ok("add", str(path), "--name", "t", "--type", "Dataset")
    shown = cli.json("show", "t")
    with ArtifactCatalog(home) as catalog:
        from_python = catalog.get(catalog.register("py", "Dataset", data=df)).metadata
    assert shown["artifact_type"] == "Dataset" and shown["metadata"]["filename"] == "t.parquet"
    assert set(shown["metadata"]) == (set(from_python) - {"library"}) | {"filename"}
    for key in DATASET_KEYS:
        assert shown["metadata"][key] == from_python[key], key


def test_add_csv_and_npy_files(cli: Cli, make_file: Callable[..., Path]) -> None:
    csv = make_file("t.csv", "city,n\nOslo,1\nLima,2\nOslo,3\n")
    cli.ok("add", str(csv), "--name", "cities", "--type", "Dataset")
    metadata = cli.json("show", "cities")["metadata"]
    assert metadata["rows"] == 3 and metadata["columns"] == 2
    assert metadata["stats"]["city"]["top"] == "Oslo"
    npy = make_file("t.npy", b"")
    np.save(npy, np.ones((2, 5), dtype=np.float32))
    cli.ok("add", str(npy), "--name", "weights")
    metadata = cli.json("show", "weights")["metadata"]
    assert (metadata["dtype"], metadata["shape"]) == ("float32", [2, 5])


def test_add_a_broken_csv_registers_quietly(cli: Cli, make_file: Callable[..., Path]) -> None:
    path = make_file("broken.csv", "a\n1,2,3\n")
    result = cli.ok("add", str(path), "--name", "broken")
    assert result.stderr == ""
    metadata = cli.json("show", "broken")["metadata"]
    assert set(metadata) == {"filename", "format_error"}
