"""A fresh in-process server per test, and a factory of remote catalogs on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archivist import ArtifactCatalog
from archivist.server.settings import ServerSettings
from tests.remote.harness import in_process_server, remote_catalog


@pytest.fixture
def server_home(tmp_path: Path) -> Path:
    return tmp_path / "server"


@pytest.fixture
def server(server_home: Path) -> Iterator[TestClient]:
    """An insecure single-user server on a fresh local home."""
    settings = ServerSettings(home=str(server_home), insecure_single_user=True)
    with in_process_server(settings) as client:
        yield client


@pytest.fixture
def requests_seen(server: TestClient) -> list[tuple[str, str]]:
    """``(method, path)`` of every request the server is sent, in order."""
    seen: list[tuple[str, str]] = []
    server.event_hooks["request"] = [lambda r: seen.append((r.method, r.url.path))]
    return seen


@pytest.fixture
def make_remote(server: TestClient, tmp_path_factory: pytest.TempPathFactory,
                ) -> Iterator[Callable[..., ArtifactCatalog]]:
    """Remote catalogs on ``server``; each gets its own cache unless one is given."""
    with ExitStack() as stack:
        def make(*, cache_dir: Path | None = None, **kwargs: object) -> ArtifactCatalog:
            folder = cache_dir or tmp_path_factory.mktemp("cache")
            return stack.enter_context(remote_catalog(server, folder, **kwargs))  # type: ignore[arg-type]
        yield make
