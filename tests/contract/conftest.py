"""The contract suite: one behaviour, every backend.

Each test takes ``catalog`` and runs once per backend. Backends join by adding an entry
to ``BACKENDS`` and ``OPENERS`` (tests/fixtures/backends.py, shared with the bad-input
suite); capabilities that differ are declared once in ``Capabilities``, never checked
inside a test (STYLE A14).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import fsspec
import pytest

from archivist import Artifact, ArtifactCatalog
from tests.fixtures.backends import BACKENDS, OPENERS, SERVER_BLOBS, Capabilities


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


@pytest.fixture
def catalog(backend_name: str, request: pytest.FixtureRequest) -> Iterator[ArtifactCatalog]:
    with OPENERS[backend_name](request) as opened:
        yield opened
