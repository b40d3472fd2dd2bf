"""Every optional extra, missing, is a MissingDependencyError with its exact install line.

One row per extra of pyproject.toml: the entry point that needs it is called with the
extra's modules hidden (``sys.modules[name] = None`` makes ``import name`` fail), and the
error must name the extra as ``pip install 'archivist[EXTRA]'``; on the command line it
is one ``error:`` line and exit status 1, never "unexpected ModuleNotFoundError".
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import archivist.server
from archivist import ArtifactCatalog, MissingDependencyError
from archivist._extras import EXTRAS, missing_driver, require_extra
from archivist.cli import app
from archivist.materializers import (
    JoblibMaterializer,
    NpyMaterializer,
    ParquetMaterializer,
    PngMaterializer,
    SafetensorsMaterializer,
)
from archivist.pipelines.flows.executors import DaskExecutor
from archivist.pipelines.openlineage import client_for
from archivist.store.stores import open_blobs
from tests.cli.conftest import assert_refused

ROOT = Path(__file__).resolve().parent.parent


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import module`` (and its submodules) fail for the rest of the test."""
    for top in modules:
        for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setitem(sys.modules, top, None)


def start_server(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "server"])
    line = assert_refused(result, "pip install 'archivist[server]'")
    raise MissingDependencyError(line)  # the CLI's one line, checked like the others


def write_files(tmp_path: Path) -> None:
    """What the rows below load, written before their libraries are hidden."""
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "t.parquet")
    np.save(tmp_path / "t.npy", np.zeros(3))


#: extra -> (modules to hide, what needs them, called with a folder of write_files())
ENTRY_POINTS: dict[str, tuple[tuple[str, ...], Callable[[Path], object]]] = {
    "server": (("uvicorn",), start_server),
    "postgres": (("psycopg",), lambda tmp: ArtifactCatalog(
        "postgresql://archivist@127.0.0.1:9/archivist", blobs=str(tmp / "blobs"))),
    "s3": (("s3fs",), lambda _: open_blobs("s3://bucket/archivist")),
    "pandas": (("pyarrow",),
               lambda tmp: ArtifactCatalog(tmp / "home").register(
                   "frame", data=pd.DataFrame({"a": [1]}))),
    "arrow": (("pyarrow",), lambda tmp: ParquetMaterializer().load(tmp / "t.parquet")),
    "numpy": (("numpy",), lambda tmp: NpyMaterializer().load(tmp / "t.npy")),
    "sklearn": (("joblib",), lambda tmp: JoblibMaterializer().load(tmp / "model.joblib")),
    "torch": (("torch", "safetensors"),
              lambda tmp: SafetensorsMaterializer().save({"w": object()}, tmp / "m")),
    "matplotlib": (("matplotlib",), lambda tmp: PngMaterializer().save(object(), tmp / "x")),
    "openlineage": (("openlineage",), lambda tmp: client_for(str(tmp / "events.jsonl"))),
    "dask": (("distributed",), lambda _: DaskExecutor("dask://127.0.0.1:8786")),
}


@pytest.mark.parametrize("extra", sorted(ENTRY_POINTS))
def test_a_missing_extra_says_how_to_install_it(extra: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    modules, entry_point = ENTRY_POINTS[extra]
    write_files(tmp_path)
    # fsspec keeps the driver classes it imported (in the dict its read-only `registry`
    # view shows, so that very dict is emptied): forget them for this test
    drivers = importlib.import_module("fsspec.registry")._registry
    for protocol in list(drivers):
        monkeypatch.delitem(drivers, protocol)
    hide(monkeypatch, *modules)
    with pytest.raises(MissingDependencyError) as caught:
        entry_point(tmp_path)
    assert caught.value.message.endswith(f"pip install 'archivist[{extra}]'")
    assert "unexpected" not in caught.value.message


def test_every_extra_of_pyproject_has_a_row() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(EXTRAS) == set(declared) - {"dev"}
    assert set(ENTRY_POINTS) == set(EXTRAS)


def test_the_error_carries_the_extra_and_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "fastapi")
    with pytest.raises(MissingDependencyError) as caught:
        archivist.server.create_app  # noqa: B018  (the attribute is the entry point)
    assert caught.value.details == {"package": "fastapi", "extra": "server",
                                    "install": "pip install 'archivist[server]'"}
    assert caught.value.to_dict()["code"] == "missing_dependency"
    assert isinstance(caught.value, ImportError)  # what callers already catch


def test_a_present_extra_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("server", purpose="the test")  # the dev install has every server module
    hide(monkeypatch, "python_multipart", "multipart")
    with pytest.raises(MissingDependencyError, match="needs python_multipart"):
        require_extra("server", purpose="the test")


@pytest.mark.parametrize(("url", "expected"), [
    ("s3://bucket/x", "pip install 'archivist[s3]'"),
    ("gs://bucket/x", "pip install gcsfs"),
    ("abfs://container/x", "pip install adlfs"),
    ("weird://x", "fsspec driver for weird://"),
])
def test_a_missing_fsspec_driver_names_its_package(url: str, expected: str) -> None:
    assert expected in missing_driver(url, purpose="the store").message


def test_a_psycopg2_url_names_psycopg2(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "psycopg2")
    with pytest.raises(MissingDependencyError, match=r"pip install psycopg2$"):
        ArtifactCatalog("postgresql+psycopg2://archivist@127.0.0.1:9/archivist",
                        blobs=str(tmp_path / "blobs"))
