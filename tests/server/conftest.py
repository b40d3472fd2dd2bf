"""A server app on a fresh catalog, with keys of every scope, seen through TestClient.

``server`` is the app on a SQLite home holding project ``p`` (versions ``model:1``,
``model:2`` with alias ``prod``, ``data:1`` parent of ``model:2``) and project ``q``
(``secret:1``), keys ``admin``/``write``/``read`` of ``p``, ``q_admin`` of ``q`` and a
revoked key of ``p``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archivist import ArtifactCatalog, keys
from archivist.server import ServerSettings, create_app
from archivist.server.state import ServerState

#: What the tests' requests say in their Host header: a single-user server answers only
#: loopback names (and keyed servers any).
LOOPBACK_URL = "http://127.0.0.1:8765"


@dataclass
class Server:
    client: TestClient
    home: Path
    state: ServerState
    secrets: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}


def seed(home: Path) -> dict[str, str]:
    ids: dict[str, str] = {}
    with ArtifactCatalog(home, project="p") as catalog:
        ids["data:1"] = catalog.register("data", "dataset", data={"rows": [1, 2, 3]})
        ids["model:1"] = catalog.register("model", "model", data={"w": 1},
                                          tags={"stage": "dev"})
        ids["model:2"] = catalog.register("model", "model", data={"w": 2},
                                          parent_ids=[ids["data:1"]], aliases=["prod"],
                                          tags={"stage": "prod", "f1": 0.9})
    with ArtifactCatalog(home, project="q") as catalog:
        ids["secret:1"] = catalog.register("secret", "model", data={"w": 3})
    return ids


@pytest.fixture
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    opened: list[TestClient] = []

    def make(**settings: object) -> Server:
        home = tmp_path_factory.mktemp("server-home")
        ids = seed(home)
        app = create_app(ServerSettings(home=str(home), **settings))  # type: ignore[arg-type]
        client = TestClient(app, raise_server_exceptions=False, base_url=LOOPBACK_URL)
        client.__enter__()
        opened.append(client)
        state: ServerState = app.state.archivist
        secrets = {}
        for who, project, scope in (("admin", "p", "admin"), ("write", "p", "write"),
                                    ("read", "p", "read"), ("q_admin", "q", "admin"),
                                    ("revoked", "p", "admin")):
            key, secrets[who] = keys.create_key(state.store, project, scope, who)
            if who == "revoked":
                keys.revoke_key(state.store, key.id)
        return Server(client=client, home=home, state=state, secrets=secrets, ids=ids)

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    return make_server()
