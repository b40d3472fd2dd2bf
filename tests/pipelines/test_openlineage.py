"""OpenLineage RunEvents for runs and steps, to a file and to a real HTTP endpoint."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from archivist import ArtifactCatalog, InvalidInputError, pipeline, step
from archivist.pipelines.openlineage import listener_for


@step
def extract() -> list[int]:
    return [1, 2, 3]


@step
def transform(rows: list[int]) -> list[int]:
    return [r * 2 for r in rows]


@step
def explode(rows: list[int]) -> None:
    raise RuntimeError("kaboom")


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_file_events_for_run_and_steps(local_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    sink = tmp_path / "lineage" / "events.jsonl"
    with pipeline("etl", catalog=local_catalog, openlineage=str(sink)) as run:
        transform(extract())
    events = _events(sink)
    summary = [(e["eventType"], e["job"]["name"]) for e in events]
    assert summary == [("START", "etl"), ("START", "etl.extract"), ("COMPLETE", "etl.extract"),
                       ("START", "etl.transform"), ("COMPLETE", "etl.transform"),
                       ("COMPLETE", "etl")]
    assert {e["job"]["namespace"] for e in events} == {"archivist://default"}
    assert events[0]["run"]["runId"] == events[-1]["run"]["runId"] == run.id
    record = local_catalog.get_run(run.id)
    step_event = events[4]
    assert step_event["run"]["runId"] == record.task("transform").id
    assert step_event["run"]["facets"]["parent"]["run"]["runId"] == run.id
    assert step_event["run"]["facets"]["parent"]["job"]["name"] == "etl"
    assert [d["name"] for d in step_event["inputs"]] == ["extract:1"]
    assert [d["name"] for d in step_event["outputs"]] == ["transform:1"]
    assert step_event["outputs"][0]["namespace"] == "archivist://default"
    assert step_event["outputs"][0]["facets"]["version"]["datasetVersion"] == (
        local_catalog.get("transform").id)
    assert sorted(d["name"] for d in events[-1]["outputs"]) == ["extract:1", "transform:1"]


def test_failures_are_fail_events_with_the_error(local_catalog: ArtifactCatalog,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sink = tmp_path / "env.jsonl"
    monkeypatch.setenv("ARCHIVIST_OPENLINEAGE_FILE", str(sink))
    monkeypatch.delenv("OPENLINEAGE_URL", raising=False)
    with pytest.raises(RuntimeError), pipeline("etl", catalog=local_catalog):
        explode(extract())
    events = _events(sink)
    assert [(e["eventType"], e["job"]["name"]) for e in events][-2:] == [
        ("FAIL", "etl.explode"), ("FAIL", "etl")]
    assert events[-2]["run"]["facets"]["errorMessage"]["message"] == "RuntimeError: kaboom"
    assert events[-1]["run"]["facets"]["errorMessage"]["programmingLanguage"] == "python"


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    received: list[tuple[str, dict[str, Any]]] = []
    handler = type("Handler", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_http_endpoint_receives_the_events(local_catalog: ArtifactCatalog,
                                           endpoint: tuple[str, list[Any]],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    url, received = endpoint
    monkeypatch.setenv("OPENLINEAGE_URL", url)
    with pipeline("etl", catalog=local_catalog) as run:
        transform(extract())
    assert {path for path, _ in received} == {"/api/v1/lineage"}
    assert [(e["eventType"], e["job"]["name"]) for _, e in received][::5] == [
        ("START", "etl"), ("COMPLETE", "etl")]
    assert received[-1][1]["run"]["runId"] == run.id
    assert len(received) == 6


def test_a_dead_endpoint_never_fails_the_pipeline(local_catalog: ArtifactCatalog,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pipeline("etl", catalog=local_catalog, openlineage=dead) as run:
        extract()
    assert local_catalog.get_run(run.id).status == "succeeded"
    warned = [r for r in caplog.records if "OpenLineage events stop" in r.getMessage()]
    assert len(warned) == 1, "one warning, then silence for the rest of the run"


def test_off_and_bad_targets(local_catalog: ArtifactCatalog, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_OPENLINEAGE_FILE", str(tmp_path / "sink" / "events.jsonl"))
    assert listener_for(False, local_catalog) is None
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert listener_for(None, local_catalog) is None
    monkeypatch.delenv("OPENLINEAGE_DISABLED")
    assert listener_for(None, local_catalog) is not None
    monkeypatch.delenv("ARCHIVIST_OPENLINEAGE_FILE")
    monkeypatch.delenv("OPENLINEAGE_URL", raising=False)
    assert listener_for(None, local_catalog) is None
    with pytest.raises(InvalidInputError):
        listener_for(42, local_catalog)
