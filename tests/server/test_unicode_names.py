"""Names in any script over raw HTTP: percent-encoded UTF-8 path segments are decoded by
the routes and NFC-normalized by the service, whatever normalization the client sent.
(That a segment is decoded only once needs a real server: Starlette's TestClient decodes
the path twice; see tests/remote/test_uvicorn.py.)"""

from __future__ import annotations

import time
import unicodedata
from urllib.parse import quote

from archivist.ids import new_id
from tests.server.conftest import Server

API = "/api/v1"
NAME = "Ärger_名前"  # NFC
NFD = unicodedata.normalize("NFD", NAME)


def _path(text: str) -> str:
    return quote(text, safe="")


def _register(server: Server, name: str, **fields: object) -> str:
    record = {"id": new_id(), "project": "p", "name": name, "artifact_type": "model",
              "created_at": time.time(), **fields}
    r = server.client.post(f"{API}/projects/p/versions", json={"versions": [record]},
                           headers=server.auth("write"))
    assert r.status_code == 201, r.text
    assert r.json()["data"][0]["name"] == NAME, "the server stores names NFC"
    return str(record["id"])


def test_nfd_over_http_is_the_nfc_name(server: Server) -> None:
    h = server.auth("write")
    version_id = _register(server, NFD, aliases=[unicodedata.normalize("NFD", "prüfung")])
    for spelled in (NAME, NFD):
        r = server.client.get(f"{API}/projects/p/refs/{_path(spelled + ':1')}", headers=h)
        assert r.status_code == 200 and r.json()["id"] == version_id, r.text
        r = server.client.get(f"{API}/projects/p/versions", params={"name": spelled},
                              headers=h)
        assert [a["id"] for a in r.json()["data"]] == [version_id]
    r = server.client.get(f"{API}/projects/p/refs/{_path(NAME + '@prüfung')}", headers=h)
    assert r.json()["id"] == version_id
    upper = unicodedata.normalize("NFD", "ÄRGER_名前")
    r = server.client.get(f"{API}/projects/p/spellings/{_path(upper)}", headers=h)
    assert r.json() == {"spelling": NAME}
    r = server.client.delete(f"{API}/projects/p/artifacts/{_path(NFD)}/aliases/"
                             f"{_path('prüfung')}", headers=h)
    assert r.status_code == 204, r.text
    r = server.client.get(f"{API}/projects/p/artifacts/{_path(NFD)}/history", headers=h)
    assert [(e["key"], e["new"]) for e in r.json()["data"]] == [("prüfung", version_id),
                                                                ("prüfung", None)]


def test_a_case_variant_over_http_conflicts(server: Server) -> None:
    _register(server, NAME)
    record = {"id": new_id(), "project": "p", "name": "ärger_名前", "artifact_type": "model",
              "created_at": time.time()}
    r = server.client.post(f"{API}/projects/p/versions", json={"versions": [record]},
                           headers=server.auth("write"))
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict"
