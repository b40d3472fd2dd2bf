"""A catalog server in this process, and remote catalogs talking to it.

``TestClient(create_app(settings))`` is an ``httpx.Client`` whose transport calls the app
directly (STYLE P31), so the remote backend runs its real code path — requests, status
codes, JSON, error envelopes — with no socket.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from archivist import ArtifactCatalog, RemoteCatalogBackend
from archivist.backends.remote.cache import BlobCache
from archivist.server.app import create_app
from archivist.server.deps import STATE_KEY
from archivist.server.settings import ServerSettings

BASE_URL = "http://127.0.0.1:8765"  # single-user servers answer only loopback Hosts
CACHE_BUDGET = 64 * 1024 * 1024


@contextlib.contextmanager
def in_process_server(settings: ServerSettings) -> Iterator[TestClient]:
    """The app of ``settings`` behind a ``TestClient`` (lifespan run: closed at exit)."""
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        yield client


@contextlib.contextmanager
def remote_catalog(client: TestClient, cache_dir: Path, *, project: str = "default",
                   api_key: str | None = None,
                   budget: int = CACHE_BUDGET) -> Iterator[ArtifactCatalog]:
    """A catalog on the server behind ``client``, with its own download cache."""
    backend = RemoteCatalogBackend(BASE_URL, api_key, client=client,
                                   cache=BlobCache(cache_dir, budget))
    # The store-consistency oracle (tests/helpers.snapshot) counts rows where they live:
    # in the server's database.
    server_state = getattr(client.app.state, STATE_KEY)  # type: ignore[attr-defined]
    setattr(backend, "engine", server_state.backend.engine)  # noqa: B010 (instrumentation)
    with ArtifactCatalog(backend, project=project) as catalog:
        yield catalog
