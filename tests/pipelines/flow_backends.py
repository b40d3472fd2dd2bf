"""The catalogs flow tests run on: ``flow_catalog`` is a local folder or a real catalog
server (one per test module, each test in a project of its own, so run numbers start at
1), both reopened by worker processes. Import the fixtures into a test module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archivist import ArtifactCatalog
from tests.server.processes import server_process


@pytest.fixture(scope="module")
def flow_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``archivist server`` on loopback (workers reach it over HTTP)."""
    folder = tmp_path_factory.mktemp("flow-server")
    with server_process(["--home", str(folder / "home"), "--insecure-single-user"],
                        folder / "server.log") as server:
        yield server.url


@pytest.fixture(params=["local", "remote"])
def flow_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactCatalog]:
    """A folder catalog, or a project of its own on the module's catalog server."""
    if request.param == "local":
        with ArtifactCatalog(tmp_path / "catalog") as opened:
            yield opened
        return
    url = request.getfixturevalue("flow_server_url")
    with ArtifactCatalog(url, project=f"t{uuid.uuid4().hex[:12]}") as opened:
        yield opened
