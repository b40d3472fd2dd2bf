"""Property-based tests of every operation in /openapi.json (schemathesis): whatever a
client sends within (or around) the documented shapes, the server never answers 5xx,
and every error it answers has the envelope."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archivist import ArtifactCatalog, keys
from archivist.backends.base import NewRun
from archivist.ids import new_id
from archivist.server import ServerSettings, create_app
from tests.server.conftest import seed

EXAMPLES = 25


def _check(operation: Any, headers: dict[str, str], pins: dict[str, str]) -> None:
    @given(case=operation.as_strategy(), pin=st.booleans())
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any, pin: bool) -> None:
        if pin:  # half the cases reach past the project check, into real rows
            for name in case.path_parameters or {}:
                if name in pins:
                    case.path_parameters[name] = pins[name]
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        if response.status_code >= 400 and case.method != "HEAD":
            error = response.json()["error"]
            assert {"type", "code", "message", "details"} <= set(error), response.text

    run()


def test_no_server_errors(tmp_path: Path) -> None:
    ids = seed(tmp_path)
    with ArtifactCatalog(tmp_path, project="p") as catalog:
        digest = catalog.get(ids["model:2"]).digest
        run = catalog.backend.create_run(NewRun(id=new_id(), project="p", pipeline="train",
                                                started_at=time.time()))
    assert digest is not None
    pins = {"project": "p", "version_id": ids["model:2"], "name": "model", "ref": "model",
            "alias": "prod", "digest": digest, "run_id": run.id, "run_ref": "train/1",
            "token": new_id()}
    app = create_app(ServerSettings(home=str(tmp_path), max_blob_size=1 << 20))
    _, secret = keys.create_key(app.state.archivist.store, "p", "admin", "fuzzer")
    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 35
    failures = []
    try:
        for operation in operations:
            try:
                _check(operation, headers, pins)
            except Exception as exc:  # collect them all, report together
                failures.append(f"{operation.label}: {exc}")
    finally:
        app.state.archivist.close()
    if failures:
        pytest.fail("\n\n".join(failures))
