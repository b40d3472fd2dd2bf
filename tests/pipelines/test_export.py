"""``catalog.export(run, "<template>")``: a run's artifacts at readable, safe paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from archivist import (
    ArtifactCatalog,
    ArtifactNotFoundError,
    InvalidInputError,
    PermissionDeniedError,
    pipeline,
    step,
)
from archivist.transfer.templates import TemplateExport


@step(outputs=["train", "test"])
def split() -> tuple[list[int], list[int]]:
    return [1, 2], [3]


@step
def notes() -> str:
    return "hello"


@pytest.fixture
def run_id(local_catalog: ArtifactCatalog) -> str:
    with pipeline("daily", catalog=local_catalog) as run:
        split()
        notes()
    return run.id


def test_default_template_appends_the_name(local_catalog: ArtifactCatalog, run_id: str,
                                           tmp_path: Path) -> None:
    report = local_catalog.export(run_id, f"{tmp_path}/artifacts/{{{{project}}}}/{{{{run.uid}}}}")
    assert isinstance(report, TemplateExport)
    base = tmp_path / "artifacts" / "default" / run_id
    assert sorted(p.name for p in base.iterdir()) == ["notes.txt", "split.test.json",
                                                      "split.train.json"]
    assert json.loads((base / "split.train.json").read_text()) == [1, 2]
    assert (base / "notes.txt").read_text() == "hello"
    assert report.root == str(tmp_path / "artifacts")
    assert set(report.files.values()) == {str(p) for p in base.iterdir()}


def test_placeholders_and_spaces(local_catalog: ArtifactCatalog, run_id: str,
                                 tmp_path: Path) -> None:
    local_catalog.export("daily/1", str(tmp_path / "out" / "{{ run.pathspec }}" / "{{step}}"
                                        / "{{name}}-v{{version}}"))
    found = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")
                   if p.is_file())
    assert found == ["daily/1/notes/notes-v1.txt", "daily/1/split/split.test-v1.json",
                     "daily/1/split/split.train-v1.json"]


def test_refs_and_repeated_names(local_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    a = local_catalog.register("table", data=[1])
    b = local_catalog.register("table", data=[2])
    report = local_catalog.export([a, b], str(tmp_path / "x" / "{{project}}"))
    assert isinstance(report, TemplateExport)
    assert sorted(Path(p).name for p in report.files.values()) == ["table-v1.json",
                                                                  "table-v2.json"]
    with pytest.raises(InvalidInputError, match="not made by a recorded run"):
        local_catalog.export([a], str(tmp_path / "y" / "{{run.uid}}"))


def test_metadata_only_versions_are_skipped(local_catalog: ArtifactCatalog,
                                            tmp_path: Path) -> None:
    empty = local_catalog.register("marker")
    report = local_catalog.export([empty], str(tmp_path / "{{name}}"))
    assert isinstance(report, TemplateExport)
    assert report.files == {} and report.skipped == [empty]


@pytest.mark.parametrize("template", [
    "{{nmae}}", "{{name}}/{{", "{{name}}/../x", "{{name}}/.git/x",
])
def test_bad_templates_are_refused(local_catalog: ArtifactCatalog, run_id: str,
                                   tmp_path: Path, template: str) -> None:
    with pytest.raises(InvalidInputError):
        local_catalog.export(run_id, str(tmp_path / template))
    assert not any(tmp_path.rglob("*.json"))


def test_values_cannot_climb_out(local_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    art = local_catalog.register("rep", data=b"r", source_step="../../etc")
    report = local_catalog.export([art], str(tmp_path / "out" / "{{step}}" / "{{name}}"))
    assert isinstance(report, TemplateExport)
    (written,) = report.files.values()
    assert Path(written).resolve().is_relative_to((tmp_path / "out").resolve())


def test_a_symlink_cannot_lead_outside(local_catalog: ArtifactCatalog, run_id: str,
                                       tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "default")
    with pytest.raises(PermissionDeniedError):
        local_catalog.export(run_id, str(root / "{{project}}" / "{{name}}"))
    assert list(outside.iterdir()) == []


def test_unknown_run_or_ref(local_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError):
        local_catalog.export("daily/9", str(tmp_path / "{{name}}"))


def test_a_directory_version_becomes_a_folder(local_catalog: ArtifactCatalog,
                                              tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("b")
    art = local_catalog.register_artifact("images", path=tree)
    report = local_catalog.export([art], str(tmp_path / "out" / "{{type}}" / "{{name}}"))
    assert isinstance(report, TemplateExport)
    folder = tmp_path / "out" / "Directory" / "images"
    assert report.files == {art.id: str(folder)}
    assert (folder / "a.txt").read_text() == "a" and (folder / "sub" / "b.txt").read_text() == "b"
