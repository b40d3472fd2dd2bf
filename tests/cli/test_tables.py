"""Tables read well at 80 and 120 columns: names and refs whole, every line within the
width, the least useful columns dropped or cut with an ellipsis first (issue 12, item 10),
and aliases shown in ``ls`` and ``search`` (item 14)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from rich.cells import cell_len

from archivist import ArtifactCatalog, pipeline, step
from archivist.cli.tables import Column, fitted_table
from tests.cli.conftest import Cli

MODEL = "customer-churn-gradient-boosting-classifier-v2"
DATASET = "fraud-transactions-training-dataset-2024"
SHORT = "churn"
PIPELINE = "nightly_customer_churn_training_pipeline"
DESCRIPTION = ("Gradient boosting churn model trained on twelve months of customer events, "
               "with every hyperparameter chosen by a nested cross-validation")
WIDTHS = [80, 120]


@step(outputs=["train", "test"])
def split_customer_events_by_month(rows: list[int]) -> tuple[list[int], list[int]]:
    return rows[:2], rows[2:]


@pytest.fixture
def catalog_of_long_names(cli: Cli) -> Cli:
    """Two versions of MODEL (the second @production), DATASET, SHORT with a long
    description, a tag and alias history, and a run of PIPELINE."""
    with ArtifactCatalog(cli.home) as catalog:
        for accuracy in (0.91, 0.93):
            catalog.register(MODEL, "Model", data={"accuracy": accuracy},
                             tags={"accuracy": accuracy, "framework": "scikit-learn",
                                   "owner": "customer-analytics-team"},
                             description=DESCRIPTION)
        catalog.set_alias(f"{MODEL}:2", "production")
        catalog.set_alias(f"{MODEL}:1", "production")
        catalog.set_alias(f"{MODEL}:2", "production")
        catalog.tag(f"{MODEL}:2", stage="a-rather-long-stage-value-that-goes-on-and-on")
        catalog.register(DATASET, "Dataset", data=b"rows", tags={"rows": 50})
        catalog.register(SHORT, "Model", data=b"short", description=DESCRIPTION,
                         aliases=["champion"])
        with pipeline(PIPELINE, catalog=catalog, parameters={"month": "2024-01"}):
            split_customer_events_by_month([1, 2, 3])
    return cli


def run_at(cli: Cli, width: int, *args: str) -> str:
    out: str = cli.ok(*args, env={"COLUMNS": str(width)}).stdout
    assert out.strip()
    return out


def assert_fits(out: str, width: int, whole: Iterable[str] = ()) -> None:
    """Every line within ``width``; each of ``whole`` on one line wherever it starts."""
    lines = out.splitlines()
    too_long = [line for line in lines if cell_len(line.rstrip()) > width]
    assert too_long == [], f"lines over {width} columns:\n" + "\n".join(too_long)
    for name in whole:
        starts = [line for line in lines if name[:10] in line]
        assert starts, f"{name} is not shown:\n{out}"
        assert all(name in line for line in starts), f"{name} is split:\n{out}"


# -- ls and search -----------------------------------------------------------------------
@pytest.mark.parametrize("width", WIDTHS)
def test_ls_keeps_names_whole_and_fits(catalog_of_long_names: Cli, width: int) -> None:
    out = run_at(catalog_of_long_names, width, "ls")
    assert_fits(out, width, [MODEL, DATASET])
    rows = [line for line in out.splitlines() if MODEL in line]
    assert len(rows) == 2  # one line per version: nothing wraps
    assert "@production" in next(line for line in rows if " 2 " in line)


@pytest.mark.parametrize("width", WIDTHS)
def test_search_keeps_names_whole_and_fits(catalog_of_long_names: Cli, width: int) -> None:
    out = run_at(catalog_of_long_names, width, "search", "type:Model")
    assert_fits(out, width, [MODEL])
    assert "@production" in out and "@champion" in out
    assert DATASET not in out


def test_ls_at_120_cuts_long_descriptions_with_an_ellipsis(
        catalog_of_long_names: Cli) -> None:
    out = run_at(catalog_of_long_names, 120, "ls", "--name", SHORT)
    assert_fits(out, 120, [SHORT])
    header, _, row = out.splitlines()[:3]
    assert "description" in header
    assert DESCRIPTION not in out
    assert DESCRIPTION[:16] in row and row.rstrip().endswith("…")


def test_ls_at_80_drops_the_least_useful_columns_first(catalog_of_long_names: Cli) -> None:
    header = run_at(catalog_of_long_names, 80, "ls").splitlines()[0].split()
    assert header[:3] == ["name", "version", "type"] and "aliases" in header
    assert "description" not in header and "id" not in header


def test_a_wide_terminal_shows_every_column_in_full(catalog_of_long_names: Cli) -> None:
    out = run_at(catalog_of_long_names, 400, "ls")
    assert out.splitlines()[0].split() == [
        "id", "name", "version", "type", "size", "aliases", "tags", "created", "description"]
    assert DESCRIPTION in out
    for row in out.splitlines()[2:]:
        assert "…" not in row.split(maxsplit=1)[1]  # only the short id starts with one


# -- history, diff, runs -------------------------------------------------------------------
@pytest.mark.parametrize("width", WIDTHS)
def test_history_fits(catalog_of_long_names: Cli, width: int) -> None:
    out = run_at(catalog_of_long_names, width, "show", f"{MODEL}:2", "--history")
    assert_fits(out, width)
    table = out[out.index("\nwhen"):]
    header = table.split("\n")[1].split()
    assert header[0] == "when" and "version" in header and "key" in header
    assert "production" in table and "stage" in table


@pytest.mark.parametrize("width", WIDTHS)
def test_diff_fits(catalog_of_long_names: Cli, width: int) -> None:
    out = run_at(catalog_of_long_names, width, "diff", f"{MODEL}:1", f"{MODEL}:2")
    assert_fits(out, width)
    assert "accuracy" in out


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_ls_keeps_the_run_whole(catalog_of_long_names: Cli, width: int) -> None:
    out = run_at(catalog_of_long_names, width, "runs", "ls")
    assert_fits(out, width, [f"{PIPELINE}/1"])
    assert "succeeded" in out


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_show_fits(catalog_of_long_names: Cli, width: int) -> None:
    out = run_at(catalog_of_long_names, width, "runs", "show", f"{PIPELINE}/1")
    assert_fits(out, width)
    assert "split_customer_events_by_month" in out


@pytest.mark.parametrize("width", WIDTHS)
def test_keys_list_keeps_ids_whole(cli: Cli, width: int) -> None:
    created: dict[str, Any] = cli.json(
        "keys", "create", "--project", "a-long-project-name-for-the-team", "--scope", "read",
        "--name", "the nightly training job of the customer analytics team")
    out = run_at(cli, width, "keys", "list")
    assert_fits(out, width, [created["id"]])


# -- the fitting itself --------------------------------------------------------------------
def test_essential_columns_fold_only_when_nothing_else_can_give() -> None:
    columns = [Column("name"), Column("note", drop=1)]
    table, dropped = fitted_table(columns, [("n" * 100, "a note")], 40)
    assert dropped == [columns[1]]
    assert [c.header for c in table.columns] == ["name"]
    assert table.columns[0].overflow == "fold"


def test_cut_columns_share_the_room() -> None:
    columns = [Column("a", shrink=4), Column("b", shrink=4)]
    table, dropped = fitted_table(columns, [("x" * 50, "y" * 50)], 42)
    assert dropped == []
    assert [c.width for c in table.columns] == [20, 20]
