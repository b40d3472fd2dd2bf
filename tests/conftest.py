"""Fixtures shared by the whole suite: fresh catalogs and store-consistency checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archivist import ArtifactCatalog
from tests.helpers import isolate_environment

#: Real services, started on first use: PostgreSQL (postgres_url), S3 (s3_blobs_url), an
#: HTTP reference target on loopback (internal_service), a headless Chromium (page), and
#: the catalogs flow tests run on (flow_catalog: a folder or a catalog server).
pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.s3", "tests.fixtures.http_target",
                  "tests.fixtures.browser", "tests.pipelines.flow_backends"]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's config, home catalog or endpoint variables."""
    isolate_environment(monkeypatch, tmp_path)


@pytest.fixture
def make_catalog(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., ArtifactCatalog]]:
    """Factory of fresh local catalogs, each in its own folder; all closed at the end."""
    opened: list[ArtifactCatalog] = []

    def make(home: Path | None = None, **kwargs: object) -> ArtifactCatalog:
        folder = home or tmp_path_factory.mktemp("home")
        catalog = ArtifactCatalog(folder, **kwargs)  # type: ignore[arg-type]
        opened.append(catalog)
        return catalog

    yield make
    for catalog in opened:
        catalog.close()


@pytest.fixture
def local_catalog(make_catalog: Callable[..., ArtifactCatalog]) -> ArtifactCatalog:
    return make_catalog()
