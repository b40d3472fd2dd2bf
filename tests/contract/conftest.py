"""The contract suite: one behaviour, every backend.

Each test takes ``catalog`` and runs once per backend. Backends join by adding a
parameter here; capabilities that differ are declared once in ``Capabilities``, never
checked inside a test (STYLE A14).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from archivist import ArtifactCatalog


@dataclass(frozen=True)
class Capabilities:
    local_files: bool  # blobs live on this machine's filesystem


BACKENDS = {
    "sqlite": Capabilities(local_files=True),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def capabilities(backend_name: str) -> Capabilities:
    return BACKENDS[backend_name]


@pytest.fixture
def catalog(backend_name: str, make_catalog: Callable[..., ArtifactCatalog]) -> ArtifactCatalog:
    if backend_name == "sqlite":
        return make_catalog()
    raise AssertionError(f"no fixture for backend {backend_name}")
