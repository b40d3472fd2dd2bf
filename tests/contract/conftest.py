"""The contract suite: one behaviour, every backend.

Each test takes ``catalog`` and runs once per backend. Backends join by adding a
parameter here; capabilities that differ are declared once in ``Capabilities``, never
checked inside a test (STYLE A14).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pytest

from archivist import Artifact, ArtifactCatalog
from archivist.server.settings import ServerSettings
from tests.remote.harness import in_process_server, remote_catalog


@dataclass(frozen=True)
class Capabilities:
    local_files: bool  # blobs live on this machine's filesystem
    server_blobs: bool = False  # blobs live behind a catalog server (tamper with them there)


BACKENDS = {
    "sqlite": Capabilities(local_files=True),
    "postgres": Capabilities(local_files=False),  # PostgreSQL rows + S3 (moto) blobs
    # RemoteCatalogBackend -> in-process server (TestClient) on a local home / PostgreSQL + S3
    "remote-sqlite": Capabilities(local_files=False, server_blobs=True),
    "remote-postgres": Capabilities(local_files=False, server_blobs=True),
}
#: where the server of a remote backend keeps the current test's blobs (set by its opener)
SERVER_BLOBS = pytest.StashKey[str]()


@pytest.fixture(params=sorted(BACKENDS))
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def capabilities(backend_name: str) -> Capabilities:
    return BACKENDS[backend_name]


@pytest.fixture
def overwrite_blob(capabilities: Capabilities,
                   request: pytest.FixtureRequest) -> Callable[[Artifact, bytes], None]:
    """Replace a version's stored bytes behind the catalog's back (simulated corruption)."""
    if capabilities.server_blobs:
        return functools.partial(_overwrite_on_server, request.node.stash)
    return _overwrite_local if capabilities.local_files else _overwrite_fsspec


def _overwrite_local(artifact: Artifact, data: bytes) -> None:
    path = Path(artifact.storage_path or "")
    os.chmod(path, 0o644)  # blobs are stored read-only
    path.write_bytes(data)


def _overwrite_fsspec(artifact: Artifact, data: bytes) -> None:
    fs, path = fsspec.core.url_to_fs(artifact.storage_path or "")
    fs.pipe_file(path, data)


def _overwrite_on_server(stash: pytest.Stash, artifact: Artifact, data: bytes) -> None:
    hexd = (artifact.digest or "")[7:]
    target = f"{stash[SERVER_BLOBS]}/sha256/{hexd[:2]}/{hexd[2:]}"
    if "://" in target:
        fsspec.core.url_to_fs(target)[0].pipe_file(target, data)
    else:
        _overwrite_local(artifact.with_(storage_path=target), data)


@contextlib.contextmanager
def _open_sqlite(request: pytest.FixtureRequest) -> Iterator[ArtifactCatalog]:
    yield request.getfixturevalue("make_catalog")()  # closed by make_catalog


@contextlib.contextmanager
def _open_postgres(request: pytest.FixtureRequest) -> Iterator[ArtifactCatalog]:
    with ArtifactCatalog(request.getfixturevalue("postgres_url"),
                         blobs=request.getfixturevalue("s3_blobs_url")) as opened:
        yield opened


@contextlib.contextmanager
def _open_remote(request: pytest.FixtureRequest,
                 settings: ServerSettings) -> Iterator[ArtifactCatalog]:
    # insecure_single_user: the suite registers into several projects, which no one key
    # may; tests/remote/test_auth.py covers keys through the same client.
    cache = request.getfixturevalue("tmp_path_factory").mktemp("cache")
    request.node.stash[SERVER_BLOBS] = settings.blobs_url("default")
    with in_process_server(settings) as client, remote_catalog(client, cache) as opened:
        yield opened


def _open_remote_sqlite(request: pytest.FixtureRequest) -> AbstractContextManager[ArtifactCatalog]:
    home = request.getfixturevalue("tmp_path_factory").mktemp("server")
    return _open_remote(request, ServerSettings(home=str(home), insecure_single_user=True))


def _open_remote_postgres(
        request: pytest.FixtureRequest) -> AbstractContextManager[ArtifactCatalog]:
    return _open_remote(request, ServerSettings(
        database=request.getfixturevalue("postgres_url"),
        blobs=request.getfixturevalue("s3_blobs_url"), insecure_single_user=True))


#: How each backend's catalog is opened; a key for every key of ``BACKENDS``.
OPENERS: dict[str, Callable[[pytest.FixtureRequest], AbstractContextManager[ArtifactCatalog]]] = {
    "sqlite": _open_sqlite,
    "postgres": _open_postgres,
    "remote-sqlite": _open_remote_sqlite,
    "remote-postgres": _open_remote_postgres,
}


@pytest.fixture
def catalog(backend_name: str, request: pytest.FixtureRequest) -> Iterator[ArtifactCatalog]:
    with OPENERS[backend_name](request) as opened:
        yield opened
