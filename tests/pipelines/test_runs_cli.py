"""``archivist runs ls`` and ``archivist runs show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from archivist import ArtifactCatalog, pipeline, step
from archivist.cli import app


@step(outputs=["train", "test"])
def split(rows: list[int]) -> tuple[list[int], list[int]]:
    return rows[:2], rows[2:]


@step
def fail(rows: list[int]) -> None:
    raise ValueError("no rows")


def _cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    with ArtifactCatalog(folder) as catalog:
        with pipeline("daily", catalog=catalog, parameters={"day": "mon"}):
            split([1, 2, 3])
        with pytest.raises(ValueError), pipeline("daily", catalog=catalog):
            fail([1])
    return folder


def test_ls_lists_newest_first_and_filters(home: Path) -> None:
    result = _cli(home, "runs", "ls")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("daily/")]
    assert [line.split()[0] for line in lines] == ["daily/2", "daily/1"]
    assert "failed" in lines[0] and "succeeded" in lines[1]
    data = json.loads(_cli(home, "runs", "ls", "--status", "failed", "--json").stdout)
    assert [r["pathspec"] for r in data] == ["daily/2"]
    assert data[0]["error"] == "step fail failed: ValueError: no rows"
    assert json.loads(_cli(home, "runs", "ls", "--pipeline", "other", "--json").stdout) == []
    assert "no runs match" in _cli(home, "runs", "ls", "--pipeline", "other").stdout


def test_show_prints_tasks_and_versions(home: Path) -> None:
    result = _cli(home, "runs", "show", "daily/1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "succeeded" in out and "day=mon" in out
    assert "train=split.train:1" in out and "test=split.test:1" in out
    data = json.loads(_cli(home, "runs", "show", "daily/1", "--json").stdout)
    assert data["pathspec"] == "daily/1" and [t["step"] for t in data["tasks"]] == ["split"]
    assert json.loads(_cli(home, "runs", "show", data["id"], "--json").stdout) == data
    failed = _cli(home, "runs", "show", "daily/2").stdout
    assert "ValueError: no rows" in failed


@pytest.mark.parametrize(("args", "message"), [
    (("runs", "show", "daily/7"), "'daily' has runs 1, 2"),
    (("runs", "show", "nope"), "invalid run reference"),
    (("runs", "ls", "--status", "done"), "run status must be one of"),
])
def test_errors_are_one_line(home: Path, args: tuple[str, ...], message: str) -> None:
    result = _cli(home, *args)
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.output
