"""``IncludeFile``: a parameter whose value is a local file's content, stored in the catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archivist import ArtifactCatalog, IncludeFile, InvalidInputError, Run
from archivist.cli import app
from tests.pipelines.include_examples import IncludeFlow, Latin1Flow
from tests.server.processes import server_process

ROWS = "a,b,c\n1,2,3\n4,5\n"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("include-server")
    with server_process(["--home", str(folder / "home"), "--insecure-single-user"],
                        folder / "server.log") as server:
        yield server.url


@pytest.fixture(params=["local", "remote"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactCatalog]:
    location = str(tmp_path / "catalog") if request.param == "local" \
        else request.getfixturevalue("server_url")
    with ArtifactCatalog(location) as opened:
        yield opened


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """rows.csv and blob.bin (the flow's defaults) in the working directory."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "rows.csv").write_text(ROWS)
    (folder / "blob.bin").write_bytes(b"\x00\xff\x10")
    monkeypatch.chdir(folder)
    return folder


def test_steps_read_the_content_in_every_process(catalog: ArtifactCatalog, files: Path) -> None:
    run = IncludeFlow().run(catalog=catalog, max_workers=2)
    assert run["join"].task.data.widths == [3, 3, 2]
    assert run["join"].task.data.all_same and run["join"].task.data.first_bytes == [0]
    assert run["end"].task.data.kinds == ["str", "bytes"]
    start = run["start"].task
    data = catalog.get(start["data"].id)
    assert data.name == "IncludeFlow.data" and data.kind == "file"
    assert data.metadata["include_file"] == {"path": "rows.csv", "is_text": True,
                                             "encoding": "utf-8"}
    assert data.id in run.record.produced and catalog.load(data.id) == ROWS.encode()
    assert start.data.data == ROWS  # the client reads it as the steps did
    assert start.data.blob == b"\x00\xff\x10"
    assert run.parameters["data"] == {"path": "rows.csv", "version": data.id}
    # lineage: what start computed from the file has the file as its parent
    assert catalog.get(start["lines"].id).parent_ids == [data.id]
    assert data.id in run["count"].tasks[0].record.consumed


def test_the_same_content_is_stored_once(tmp_path: Path, files: Path) -> None:
    other = tmp_path / "copy.csv"
    other.write_text(ROWS)
    with ArtifactCatalog(tmp_path / "c") as catalog:
        first = IncludeFlow().run(catalog=catalog)
        second = IncludeFlow().run(catalog=catalog, data=str(other))
        a = catalog.get(first["start"].task["data"].id)
        b = catalog.get(second["start"].task["data"].id)
        assert a.digest == b.digest and a.id != b.id
        assert b.metadata["include_file"]["path"] == str(other)


def test_another_encoding_and_the_bytes(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes("café".encode("latin-1"))
    with ArtifactCatalog(tmp_path / "c") as catalog:
        run = Latin1Flow().run(catalog=catalog, notes=str(notes))
        assert run["start"].task.data.text == "café"
        with pytest.raises(InvalidInputError, match="not utf-8 text"):
            IncludeFlow().run(catalog=catalog, data=str(notes), blob=str(notes))


@pytest.mark.parametrize(("given", "words"), [
    ({}, "needs the parameter 'notes'"),
    ({"notes": "missing.txt"}, "missing.txt is not a readable file"),
    ({"notes": 12}, "takes the path of a local file"),
])
def test_bad_paths_fail_before_anything_is_recorded(tmp_path: Path, given: dict[str, object],
                                                    words: str) -> None:
    with ArtifactCatalog(tmp_path / "c") as catalog:
        with pytest.raises(InvalidInputError, match=words):
            Latin1Flow().run(catalog=catalog, **given)
        assert catalog.runs() == [] and catalog.list() == []


def test_an_unknown_encoding_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="not a known encoding"):
        IncludeFile("x", encoding="no-such-codec")


def test_resume_reuses_the_stored_file(catalog: ArtifactCatalog, files: Path) -> None:
    first = IncludeFlow().run(catalog=catalog)
    (files / "rows.csv").unlink()  # resume does not read it again
    resumed = IncludeFlow().resume(first.pathspec, catalog=catalog, step="count")
    assert resumed["join"].task.data.widths == [3, 3, 2]
    assert resumed.parameters["data"] == first.parameters["data"]
    assert first.parameters["data"]["version"] in resumed["count"].tasks[0].record.consumed


def test_the_command_line_takes_the_path(tmp_path: Path, files: Path) -> None:
    flow_file = tmp_path / "include_flow.py"
    flow_file.write_text(Path(__file__).with_name("include_examples.py").read_text())
    other = tmp_path / "other.csv"
    other.write_text("x,y\n")
    home = str(tmp_path / "home")
    runner = CliRunner()
    done = runner.invoke(app, ["--home", home, "flow", "run", str(flow_file), "--flow",
                               "IncludeFlow", "--data", str(other)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["--home", home, "flow", "run", str(flow_file), "--flow",
                               "IncludeFlow", f"--data={other}", "--param",
                               "blob=blob.bin"])
    assert done.exit_code == 0, done.output
    with ArtifactCatalog(home) as catalog:
        run = Run("IncludeFlow/2", catalog=catalog)
        assert run["start"].task.data.lines == ["x,y"]
    done = runner.invoke(app, ["--home", home, "flow", "run", str(flow_file), "--flow",
                               "IncludeFlow", "--nothing", "1"])
    assert done.exit_code != 0 and "no parameter 'nothing'" in done.output
