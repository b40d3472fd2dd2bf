"""A push whose source and target are one catalog is refused, however each was named."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archivist import ArtifactCatalog, InvalidInputError, SameCatalogError, keys
from archivist.backends.remote.backend import RemoteCatalogBackend
from archivist.server import ServerSettings, create_app
from archivist.transfer.push import push, same_catalog
from tests.helpers import snapshot

MakeCatalog = Callable[..., ArtifactCatalog]


def test_a_catalog_pushed_to_itself_is_refused(make_catalog: MakeCatalog,
                                               tmp_path: Path) -> None:
    laptop = make_catalog()
    laptop.register("raw", data=b"x")
    with pytest.raises(SameCatalogError, match="cannot push a catalog to itself"):
        push(laptop, laptop)
    assert laptop.home is not None
    (tmp_path / "link").symlink_to(laptop.home)
    for other in (laptop.home, tmp_path / "link", f"sqlite:///{laptop.home}/catalog.db"):
        before = snapshot(laptop)
        with ArtifactCatalog(other, blobs=str(laptop.home / "blobs")) as again, \
                pytest.raises(SameCatalogError) as refused:
            push(laptop, again)
        assert isinstance(refused.value, InvalidInputError)
        assert str(laptop.home.resolve()) in str(refused.value) or "catalog.db" in str(
            refused.value)
        assert snapshot(laptop) == before


def test_other_catalogs_are_other(make_catalog: MakeCatalog) -> None:
    a, b = make_catalog(), make_catalog()
    assert not same_catalog(a, b)
    assert b.backend.leased_digests(0) == set()  # the probe leaves nothing behind
    a.register("raw", data=b"x")
    assert len(push(a, b).copied) == 1


@dataclass
class Server:
    home: Path
    client: TestClient
    secret: str

    def catalog(self, url: str = "http://testserver") -> ArtifactCatalog:
        backend = RemoteCatalogBackend(url, self.secret, client=self.client)
        return ArtifactCatalog(backend, project="default")


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("server")
    app = create_app(ServerSettings(home=str(home)))
    with TestClient(app) as client:
        secret = keys.create_key(app.state.archivist.store, "default", "write")[1]
        yield Server(home=home, client=client, secret=secret)


def test_a_server_pushed_to_itself_is_refused(server: Server) -> None:
    with server.catalog() as one, server.catalog("http://TestServer:80/") as two:
        one.register("raw", data=b"x")
        with pytest.raises(SameCatalogError):
            push(one, two)
        with ArtifactCatalog(server.home) as on_disk, pytest.raises(SameCatalogError):
            push(on_disk, one)  # the server's own folder is the same catalog
    with ArtifactCatalog(server.home) as on_disk:
        assert len(on_disk.list()) == 1
