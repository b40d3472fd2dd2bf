"""``show`` of a dataset: schema, preview and statistics as tables, other metadata one
line per key, ``--json`` unchanged (issue 12, item 11)."""

from __future__ import annotations

import json

import pytest
from rich.cells import cell_len

from archivist import ArtifactCatalog
from archivist.cli import datasets
from tests.cli.conftest import Cli

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

NAME = "fraud-transactions-training-dataset-2024"


@pytest.fixture
def dataset(cli: Cli) -> Cli:
    frame = pd.DataFrame({
        "amount": np.random.default_rng(0).normal(100, 20, 50),
        "merchant": [f"shop_{i % 7}" for i in range(50)],
        "day": pd.date_range("2024-01-01", periods=50),
        "note": [None if i % 5 == 0 else f"a rather long note, number {i}, that goes on"
                 for i in range(50)],
    })
    with ArtifactCatalog(cli.home) as catalog:
        catalog.register(NAME, "Dataset", data=frame, metadata={"owner": "fraud-team"})
        wide = pd.DataFrame({f"feature_{i:02d}": [i * 1.5, i * 2.5] for i in range(30)})
        catalog.register("wide", "Dataset", data=wide)
    return cli


def section(out: str, title: str) -> list[str]:
    """The lines of a section, from its heading to the next blank line."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


@pytest.mark.parametrize("width", [80, 120])
def test_show_renders_schema_preview_and_statistics(dataset: Cli, width: int) -> None:
    out = dataset.ok("show", NAME, env={"COLUMNS": str(width)}).stdout
    assert all(cell_len(line.rstrip()) <= width for line in out.splitlines())
    assert '"preview"' not in out and '"stats"' not in out  # no JSON dump
    assert "owner=fraud-team" in out and "library=pandas" in out
    schema = section(out, "schema")
    assert schema[0] == "schema (4 columns, 50 rows)"
    assert schema[1].split() == ["column", "type", "nullable", "nulls"]
    assert any(line.split()[:2] == ["amount", "double"] for line in schema)
    assert any(line.split()[0] == "note" and line.split()[-1] == "10" for line in schema)
    preview = section(out, "preview")
    assert preview[0] == "preview (first 10 of 50 rows)"
    assert len(preview) == 3 + 10
    assert "2024-01-01" in preview[3] and "shop_0" in preview[3]
    stats = section(out, "statistics")
    amount = next(line for line in stats if line.startswith("amount"))
    assert any(bar in amount for bar in "▁▂▃▄▅▆▇█")  # the histogram as a sparkline
    merchant = next(line for line in stats if line.startswith("merchant"))
    assert "7" in merchant.split() and "shop_0 (8)" in merchant


def test_a_wide_preview_drops_columns_with_a_note(dataset: Cli) -> None:
    out = dataset.ok("show", "wide", env={"COLUMNS": "80"}).stdout
    preview = section(out, "preview")
    assert preview[1].split()[0] == "feature_00"
    shown = len(preview[1].split())
    assert 1 < shown < 30
    note = next(line for line in out.splitlines() if line.startswith("…"))
    assert note.startswith(f"… {30 - shown} more columns: feature_{shown:02d}, ")
    assert cell_len(note) <= 80


def test_show_json_is_unchanged(dataset: Cli) -> None:
    record = dataset.json("show", NAME)
    with ArtifactCatalog(dataset.home) as catalog:
        assert record == json.loads(json.dumps(catalog.get(NAME).to_dict(), default=str))
    assert {"schema", "preview", "stats", "rows", "columns"} <= set(record["metadata"])


def test_metadata_that_only_shares_a_name_is_listed() -> None:
    parts, rest = datasets.split({"schema": "v2", "preview": [], "stats": {"a": 1},
                                  "rows": 3, "x": {"k": 1}})
    assert parts == {}
    assert rest == {"schema": "v2", "preview": [], "stats": {"a": 1}, "rows": 3,
                    "x": {"k": 1}}


def test_sparkline() -> None:
    assert datasets.sparkline({"edges": [0, 1, 2, 3], "counts": [0, 4, 8]}) == " ▄█"
    assert datasets.sparkline({"counts": [5]}) == "█"
    assert datasets.sparkline({"counts": "x"}) == ""
    assert datasets.sparkline(None) == ""
