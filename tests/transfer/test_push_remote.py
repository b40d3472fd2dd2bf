"""push from a laptop catalog to a catalog server, through the remote backend and an
in-process server (TestClient), with an API key of the team's project."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from archivist import (
    ArtifactCatalog,
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
    keys,
)
from archivist.backends.remote.backend import RemoteCatalogBackend
from archivist.cli import app
from archivist.server import ServerSettings, create_app
from archivist.transfer.push import push
from tests.cli.conftest import Cli, assert_refused
from tests.fixtures.services import loopback_socket
from tests.helpers import snapshot
from tests.transfer.conftest import Populated, count_puts, live_records, runs_of


@dataclass
class Team:
    home: Path
    client: TestClient
    secrets: dict[str, str]

    def catalog(self, who: str = "write") -> ArtifactCatalog:
        backend = RemoteCatalogBackend("http://testserver", self.secrets[who],
                                       client=self.client)
        return ArtifactCatalog(backend, project="default")


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The remote backend's download cache lives in the test's folder."""
    monkeypatch.setenv("ARCHIVIST_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    home = tmp_path_factory.mktemp("team-server")
    app = create_app(ServerSettings(home=str(home)))
    with TestClient(app) as client:
        state = app.state.archivist
        secrets = {scope: keys.create_key(state.store, "default", scope, scope)[1]
                   for scope in ("read", "write")}
        yield Team(home=home, client=client, secrets=secrets)


#: A server refuses file:// references (it cannot read the laptop's disk): leave it home.
SHAREABLE = "-name:external"


def test_push_to_a_server_is_lossless_and_idempotent(source: Populated, team: Team) -> None:
    with team.catalog() as remote:
        counting = count_puts(remote)
        report = push(source.catalog, remote, SHAREABLE)
        assert report.blobs_copied == 6 == len(counting.puts)
        again = push(source.catalog, remote, SHAREABLE)
        assert not again.changed and len(counting.puts) == 6
        assert remote.load("model") == {"weights": [1, 2, 3]}
        assert remote.get("model@production").id == source.ids["model"]
    shared = [a for a in live_records(source.catalog) if a.name != "external"]
    with ArtifactCatalog(team.home) as on_disk:
        before = snapshot(on_disk)
        assert live_records(on_disk) == shared
        assert runs_of(on_disk) == runs_of(source.catalog)
    with team.catalog() as remote:
        assert not push(source.catalog, remote, SHAREABLE).changed
    with ArtifactCatalog(team.home) as on_disk:
        assert snapshot(on_disk) == before


def test_a_server_refuses_local_references_and_no_row_lands(source: Populated,
                                                             team: Team) -> None:
    with team.catalog() as remote, pytest.raises(InvalidInputError, match="file"):
        push(source.catalog, remote)
    with ArtifactCatalog(team.home) as on_disk:
        assert live_records(on_disk) == []


def test_a_read_key_cannot_push(source: Populated, team: Team) -> None:
    with team.catalog("read") as remote, pytest.raises(PermissionDeniedError):
        push(source.catalog, remote, SHAREABLE)
    with ArtifactCatalog(team.home) as on_disk:
        assert live_records(on_disk) == []


def test_a_bundle_imports_into_a_server(source: Populated, team: Team,
                                        tmp_path: Path) -> None:
    source.catalog.export(SHAREABLE, tmp_path / "b.tar")
    with team.catalog() as remote:
        report = remote.import_bundle(tmp_path / "b.tar")
        assert len(report.copied) == 5
        assert not remote.import_bundle(tmp_path / "b.tar").changed
    with ArtifactCatalog(team.home) as on_disk:
        assert live_records(on_disk) == [a for a in live_records(source.catalog)
                                         if a.name != "external"]


@pytest.fixture
def live_team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """A real uvicorn server on a free loopback port: (URL, write key, its home)."""
    home = tmp_path_factory.mktemp("live-team")
    app = create_app(ServerSettings(home=str(home)))
    with loopback_socket() as sock:  # bound here and handed over: no port race
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning", ws="none"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        secret = keys.create_key(app.state.archivist.store, "default", "write", "laptop")[1]
        try:
            yield f"http://127.0.0.1:{port}", secret, home
        finally:
            server.should_exit = True
            thread.join(20)


def test_cli_push_to_a_running_server(source: Populated, live_team: tuple[str, str, Path],
                                      tmp_path: Path) -> None:
    url, secret, home = live_team
    laptop = Cli(source.catalog.home or tmp_path)
    # "--" ends the options: the query starts with "-" (a negation)
    first = json.loads(laptop.ok("push", "--to", url, "--api-key", secret, "--json", "--",
                                 SHAREABLE).stdout)
    assert len(first["copied"]) == 5 and first["blobs_copied"] == 6
    assert sorted(first["runs_copied"]) == [source.run_id]
    again = json.loads(laptop.ok("push", "--to", url, "--json", "--", SHAREABLE,
                                 env={"ARCHIVIST_CATALOG_API_KEY": secret}).stdout)
    assert again["copied"] == [] and again["blobs_copied"] == 0
    laptop.fails("push", "--to", url, "--api-key", "ak_wrong", "--", SHAREABLE)
    with ArtifactCatalog(home) as on_disk:
        assert [a.id for a in live_records(on_disk)] == [
            a.id for a in live_records(source.catalog) if a.name != "external"]


def test_a_server_that_diverged_is_refused_and_later_changes_arrive(
        source: Populated, team: Team) -> None:
    with team.catalog() as remote:
        remote.register("raw", data=b"the team's raw:1")
        with pytest.raises(ConflictError, match="raw:1"):
            push(source.catalog, remote, SHAREABLE)
        assert [a.name for a in remote.list()] == ["raw"]
        push(source.catalog, remote, "name:model", ancestors=False)
        source.catalog.tag("model", stage="archived")
        source.catalog.set_alias("model", "champion")
        report = push(source.catalog, remote, "name:model", ancestors=False)
        assert report.updated == [source.ids["model"]]
        assert remote.get("model@champion").tags["stage"] == "archived"


def test_pull_from_a_server_into_a_fresh_laptop(source: Populated, team: Team,
                                                make_catalog: Callable[..., ArtifactCatalog],
                                                tmp_path: Path) -> None:
    with team.catalog() as remote:
        push(source.catalog, remote, SHAREABLE)
    with team.catalog("read") as remote:
        laptop = make_catalog()
        report = push(remote, laptop)
        assert len(report.copied) == 5
        assert live_records(laptop) == [a for a in live_records(source.catalog)
                                        if a.name != "external"]
        assert laptop.load("model") == {"weights": [1, 2, 3]}
        exported = remote.export("name:tree", tmp_path / "from-server.tar")
        assert exported.blobs == 3


def test_team_mode_push_reads_the_laptop_and_a_server_is_not_pushed_to_itself(
        source: Populated, live_team: tuple[str, str, Path]) -> None:
    """With ARCHIVIST_CATALOG_ENDPOINT exported (team mode), ``push --to "$ENDPOINT"``
    pushes the local catalog; it used to push the server to itself and report nothing."""
    url, secret, home = live_team
    assert source.catalog.home is not None
    env = {"ARCHIVIST_CATALOG_ENDPOINT": url, "ARCHIVIST_CATALOG_API_KEY": secret,
           "ARCHIVIST_HOME": str(source.catalog.home)}
    runner = CliRunner()
    first = runner.invoke(app, ["push", "--to", url, "--json", "--", SHAREABLE], env=env)
    assert first.exit_code == 0, first.output
    assert len(json.loads(first.stdout)["copied"]) == 5
    for target in (url, url.replace("127.0.0.1", "localhost") + "/"):
        itself = runner.invoke(app, ["push", "--from", url, "--to", target], env=env)
        line = assert_refused(itself, "cannot push a catalog to itself")
        assert "--from" in line
    on_disk = runner.invoke(app, ["push", "--to", url], env={**env, "ARCHIVIST_HOME": str(home)})
    assert_refused(on_disk, "cannot push a catalog to itself")
