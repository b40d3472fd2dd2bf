"""One error shape on every kind of error (STYLE P18): the envelope, the status of the
error class, and a type the client maps back to that class."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from archivist import wire
from archivist.errors import ERRORS_BY_CODE
from archivist.ids import new_id
from tests.server.conftest import Server

API = "/api/v1"
DIGEST = "sha256:" + "0" * 64


def _cases(server: Server) -> list[tuple[str, str, str, dict[str, Any], int, str]]:
    """(id, method, path, request kwargs, status, type)."""
    admin, read = server.auth("admin"), server.auth("read")
    data = b"bytes"
    wrong = "sha256:" + hashlib.sha256(b"other").hexdigest()
    record = {"id": new_id(), "project": "p", "name": "MODEL", "artifact_type": "m",
              "created_at": time.time()}
    return [
        ("unauthenticated", "GET", f"{API}/projects/p/versions", {}, 401, "unauthenticated"),
        ("permission", "POST", f"{API}/projects/p/verify", {"headers": read}, 403,
         "permission_denied"),
        ("not_found_ref", "GET", f"{API}/projects/p/refs/nothing", {"headers": read}, 404,
         "not_found"),
        ("not_found_route", "GET", f"{API}/nowhere", {"headers": read}, 404, "not_found"),
        ("method", "DELETE", f"{API}/projects/p/versions", {"headers": read}, 405,
         "method_not_allowed"),
        ("conflict_case", "POST", f"{API}/projects/p/versions",
         {"headers": admin, "json": {"versions": [record]}}, 409, "conflict"),
        ("conflict_deleted", "PUT", f"{API}/versions/{server.ids['model:1']}/aliases/a",
         {"headers": admin, "before": ("DELETE", f"{API}/versions/{server.ids['model:1']}")},
         409, "conflict"),
        ("too_large_json", "POST", f"{API}/versions/lookup",
         {"headers": {**read, "content-type": "application/json"},
          "content": b'{"ids": [' + b'"x",' * 20_000 + b'"x"]}'}, 413, "too_large"),
        ("too_large_blob", "PUT", f"{API}/projects/p/blobs/{DIGEST}",
         {"headers": admin, "content": b"x" * 2000}, 413, "too_large"),
        ("invalid_name", "GET", f"{API}/projects/p/refs/bad..name", {"headers": read}, 422,
         "invalid_name"),
        ("invalid_query", "GET", f"{API}/projects/p/search?q=size>", {"headers": read}, 422,
         "invalid_query"),
        ("invalid_json", "POST", f"{API}/versions/lookup",
         {"headers": {**read, "content-type": "application/json"}, "content": b"{nope"}, 422,
         "invalid_input"),
        ("unknown_field", "POST", f"{API}/versions/lookup",
         {"headers": read, "json": {"ids": [], "extra": 1}}, 422, "invalid_input"),
        ("wrong_type", "POST", f"{API}/versions/lookup", {"headers": read, "json": {"ids": 3}},
         422, "invalid_input"),
        ("bad_param", "GET", f"{API}/projects/p/versions?limit=0", {"headers": read}, 422,
         "invalid_input"),
        ("wrong_digest", "PUT", f"{API}/projects/p/blobs/{wrong}",
         {"headers": admin, "content": data}, 422, "invalid_input"),
    ]


@pytest.fixture
def small(make_server: Any) -> Server:
    server: Server = make_server(max_json_size=64 * 1024, max_blob_size=1000)
    return server


def test_every_error_has_the_envelope(small: Server) -> None:
    for case, method, path, kwargs, status, kind in _cases(small):
        kwargs = dict(kwargs)
        before = kwargs.pop("before", None)
        if before is not None:
            small.client.request(*before, headers=kwargs["headers"])
        r = small.client.request(method, path, **kwargs)
        assert r.status_code == status, (case, r.text)
        body = r.json()
        assert set(body) == {"error"}, case
        error = body["error"]
        assert set(error) == {"type", "code", "message", "details"}, case
        assert error["type"] == error["code"] == kind, case
        assert isinstance(error["message"], str) and error["message"], case
        assert isinstance(error["details"], dict), case
        if kind in ERRORS_BY_CODE:
            rebuilt = wire.error_from_dict(status, body)
            assert type(rebuilt) is ERRORS_BY_CODE[kind] and rebuilt.status == status, case


def test_a_bug_is_a_500_envelope_without_internals(small: Server, monkeypatch: Any) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(small.state.backend, "history", broken)
    r = small.client.get(f"{API}/projects/p/artifacts/model/history", headers=small.auth())
    assert r.status_code == 500
    assert r.json()["error"]["type"] == "internal_error"
    assert "secret" not in r.text
