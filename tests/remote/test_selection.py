"""Which backend a catalog opens (SPEC §2): explicit > env endpoint > config file > local."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, InvalidInputError, RemoteCatalogBackend
from archivist.backends.remote.blobs import RemoteBlobs

MakeRemote = Callable[..., ArtifactCatalog]


def opened(catalog: ArtifactCatalog) -> RemoteCatalogBackend:
    assert isinstance(catalog.backend, RemoteCatalogBackend)
    return catalog.backend


def test_the_endpoint_variable_and_its_key_choose_the_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_CATALOG_ENDPOINT", "https://catalog.example.com:8443/")
    monkeypatch.setenv("ARCHIVIST_CATALOG_API_KEY", "ak_env")
    with ArtifactCatalog(project="team") as catalog:
        backend = opened(catalog)
        assert backend.url == "https://catalog.example.com:8443"
        assert backend.transport.api_key == "ak_env"
        assert isinstance(catalog.blobs, RemoteBlobs) and catalog.blobs.project == "team"
        assert catalog.home is None


def test_the_config_file_names_the_server_when_the_environment_does_not(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('catalog_endpoint = "http://127.0.0.1:8765"\napi_key = "ak_file"\n')
    monkeypatch.setenv("ARCHIVIST_CONFIG", str(config))
    with ArtifactCatalog() as catalog:
        assert (opened(catalog).url, opened(catalog).transport.api_key) == (
            "http://127.0.0.1:8765", "ak_file")
    monkeypatch.setenv("ARCHIVIST_CATALOG_ENDPOINT", "http://10.0.0.1:1")
    with ArtifactCatalog() as catalog:
        assert opened(catalog).url == "http://10.0.0.1:1"  # the environment wins


def test_an_explicit_backend_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("ARCHIVIST_CATALOG_ENDPOINT", "http://127.0.0.1:9")
    with ArtifactCatalog(tmp_path / "home") as catalog:
        assert catalog.home == tmp_path / "home"
        assert not isinstance(catalog.backend, RemoteCatalogBackend)
    with ArtifactCatalog("http://127.0.0.1:7") as catalog:
        assert opened(catalog).url == "http://127.0.0.1:7"
    backend = RemoteCatalogBackend("http://127.0.0.1:6", api_key="ak_obj")
    with ArtifactCatalog(backend, project="p") as catalog:
        assert opened(catalog).transport.api_key == "ak_obj"
        assert opened(catalog).project == "p"


def test_a_server_keeps_its_own_blobs(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInputError, match="own blobs"):
        ArtifactCatalog("http://127.0.0.1:7", blobs="s3://bucket/x")
    with pytest.raises(InvalidInputError, match="http"):
        RemoteCatalogBackend("catalog.example.com")


def test_calls_for_another_project_go_to_its_routes(
        make_remote: MakeRemote, requests_seen: list[tuple[str, str]]) -> None:
    catalog = make_remote(project="team")
    other_id = catalog.register("model", data=b"w", project="other")
    mine = catalog.register("model", data=b"w2")
    creates = [p for m, p in requests_seen if m == "POST" and p.endswith("/versions")]
    assert creates == ["/api/v1/projects/other/versions", "/api/v1/projects/team/versions"]
    assert [a.id for a in catalog.list(project="other")] == [other_id]
    assert [a.id for a in catalog.list()] == [mine]
    assert catalog.get(other_id).project == "other"
    assert make_remote(project="other").load(other_id) == b"w"  # bytes: the project's routes
    catalog.tag(other_id, stage="prod")
    assert [a.id for a in catalog.search("stage:prod", project="other")] == [other_id]
    assert catalog.search("stage:prod") == []


def test_the_key_variable_serves_an_explicit_server_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_CATALOG_API_KEY", "ak_env")
    with ArtifactCatalog("https://catalog.example.com") as catalog:
        assert opened(catalog).transport.api_key == "ak_env"
