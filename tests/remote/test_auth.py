"""API keys through the remote backend: 401 / 403 / 404 come back as typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archivist import (
    ArtifactNotFoundError,
    PermissionDeniedError,
)
from archivist.errors import UnauthenticatedError
from archivist.keys import create_key
from archivist.server.deps import STATE_KEY
from archivist.server.settings import ServerSettings
from tests.remote.harness import in_process_server, remote_catalog


@pytest.fixture
def keyed_server(tmp_path: Path) -> Iterator[TestClient]:
    with in_process_server(ServerSettings(home=str(tmp_path / "server"))) as client:
        yield client


def key(server: TestClient, project: str, scope: str) -> str:
    store = getattr(server.app.state, STATE_KEY).store  # type: ignore[attr-defined]
    return create_key(store, project, scope, name=f"{project}-{scope}")[1]


def test_no_key_is_unauthenticated(keyed_server: TestClient, tmp_path: Path) -> None:
    with (remote_catalog(keyed_server, tmp_path / "c") as catalog,
          pytest.raises(UnauthenticatedError, match="API key")):
        catalog.list()
    with (remote_catalog(keyed_server, tmp_path / "c", api_key="ak_" + "x" * 43) as catalog,
          pytest.raises(UnauthenticatedError)):
        catalog.register("model")


def test_scopes_and_projects(keyed_server: TestClient, tmp_path: Path) -> None:
    writer = key(keyed_server, "team", "write")
    reader = key(keyed_server, "team", "read")
    outsider = key(keyed_server, "other", "admin")
    with remote_catalog(keyed_server, tmp_path / "w", project="team", api_key=writer) as team:
        version_id = team.register("model", data=b"weights", tags={"stage": "dev"})
        with pytest.raises(PermissionDeniedError):
            team.verify()  # admin only
    with remote_catalog(keyed_server, tmp_path / "r", project="team", api_key=reader) as ro:
        assert ro.load("model") == b"weights"
        assert [a.id for a in ro.search("stage:dev")] == [version_id]
        with pytest.raises(PermissionDeniedError):
            ro.register("model", data=b"more")
        with pytest.raises(PermissionDeniedError):
            ro.tag("model", stage="prod")
    with remote_catalog(keyed_server, tmp_path / "o", project="other", api_key=outsider) as o:
        with pytest.raises(ArtifactNotFoundError):
            o.get(version_id)  # another project's version does not exist for this key
        with pytest.raises(ArtifactNotFoundError):
            o.list(project="team")  # 404, not 403: names of other projects do not leak
        assert o.list() == []
