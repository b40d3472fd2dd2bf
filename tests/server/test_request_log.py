"""One structured line per request on the ``archivist.server`` logger."""

from __future__ import annotations

import json
import logging

import pytest

from tests.server.conftest import Server


def test_one_json_line_per_request(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="archivist.server")
    server.client.get("/api/v1/projects/p/refs/model:1", headers=server.auth("read"))
    server.client.get("/api/v1/projects/p/refs/nothing", headers=server.auth("read"))
    server.client.get("/api/v1/no/such/route")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "archivist.server"]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/api/v1/projects/p/refs/model:1", 200),
        ("GET", "/api/v1/projects/p/refs/nothing", 404),
        ("GET", "/api/v1/no/such/route", 404)]
    assert lines[0]["route"] == "/api/v1/projects/{project}/refs/{ref}"
    assert lines[2]["route"] == "unmatched"
    assert all(isinstance(line["ms"], float) and line["ms"] >= 0 for line in lines)
    assert "authorization" not in caplog.text.lower()
