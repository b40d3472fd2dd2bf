"""The contract suite: one behaviour, every backend.

Each test takes ``catalog`` and runs once per backend. Backends join by adding a
parameter here; capabilities that differ are declared once in ``Capabilities``, never
checked inside a test (STYLE A14).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pytest

from archivist import Artifact, ArtifactCatalog


@dataclass(frozen=True)
class Capabilities:
    local_files: bool  # blobs live on this machine's filesystem


BACKENDS = {
    "sqlite": Capabilities(local_files=True),
    "postgres": Capabilities(local_files=False),  # PostgreSQL rows + S3 (moto) blobs
}


@pytest.fixture(params=sorted(BACKENDS))
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def capabilities(backend_name: str) -> Capabilities:
    return BACKENDS[backend_name]


@pytest.fixture
def overwrite_blob(capabilities: Capabilities) -> Callable[[Artifact, bytes], None]:
    """Replace a version's stored bytes behind the catalog's back (simulated corruption)."""
    return _overwrite_local if capabilities.local_files else _overwrite_fsspec


def _overwrite_local(artifact: Artifact, data: bytes) -> None:
    path = Path(artifact.storage_path or "")
    os.chmod(path, 0o644)  # blobs are stored read-only
    path.write_bytes(data)


def _overwrite_fsspec(artifact: Artifact, data: bytes) -> None:
    fs, path = fsspec.core.url_to_fs(artifact.storage_path or "")
    fs.pipe_file(path, data)


@contextlib.contextmanager
def _open_sqlite(request: pytest.FixtureRequest) -> Iterator[ArtifactCatalog]:
    yield request.getfixturevalue("make_catalog")()  # closed by make_catalog


@contextlib.contextmanager
def _open_postgres(request: pytest.FixtureRequest) -> Iterator[ArtifactCatalog]:
    with ArtifactCatalog(request.getfixturevalue("postgres_url"),
                         blobs=request.getfixturevalue("s3_blobs_url")) as opened:
        yield opened


#: How each backend's catalog is opened; a key for every key of ``BACKENDS``.
OPENERS: dict[str, Callable[[pytest.FixtureRequest], AbstractContextManager[ArtifactCatalog]]] = {
    "sqlite": _open_sqlite,
    "postgres": _open_postgres,
}


@pytest.fixture
def catalog(backend_name: str, request: pytest.FixtureRequest) -> Iterator[ArtifactCatalog]:
    with OPENERS[backend_name](request) as opened:
        yield opened
