"""Flows on the team backends: PostgreSQL + S3 (with worker processes) and a catalog server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, Run
from archivist.server.settings import ServerSettings
from tests.pipelines.flow_examples import BranchFlow, ForeachFlow, ResumeFlow
from tests.remote import harness
from tests.server.processes import server_process


@pytest.fixture
def postgres_catalog(postgres_url: str, s3_blobs_url: str) -> Iterator[ArtifactCatalog]:
    with ArtifactCatalog(postgres_url, blobs=s3_blobs_url) as catalog:
        yield catalog


@pytest.fixture
def server_catalog(tmp_path: Path) -> Iterator[ArtifactCatalog]:
    settings = ServerSettings(home=str(tmp_path / "server"), insecure_single_user=True)
    with harness.in_process_server(settings) as client, \
            harness.remote_catalog(client, tmp_path / "cache") as catalog:
        yield catalog


def test_postgres_and_s3_with_workers(postgres_catalog: ArtifactCatalog) -> None:
    run = ForeachFlow().run(catalog=postgres_catalog, max_workers=2, count=4)
    assert run.status == "succeeded" and run["end"].task.data.total == 14
    assert os.getpid() not in run["gather"].task.data.pids
    branches = BranchFlow().run(catalog=postgres_catalog, max_workers=2)
    assert branches["join"].task.data.same == 10
    value = postgres_catalog.get(run["square"][3]["value"].id)
    assert value.source_run_id == run.id and postgres_catalog.load(value) == 9


def test_resume_on_postgres(postgres_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    log, flag = tmp_path / "log.txt", tmp_path / "fail"
    flag.touch()
    with pytest.raises(RuntimeError):
        ResumeFlow().run(catalog=postgres_catalog, log=str(log), fail_flag=str(flag))
    flag.unlink()
    log.write_text("")
    resumed = ResumeFlow().resume("ResumeFlow/1", catalog=postgres_catalog)
    assert log.read_text().split() == ["train", "end"] and resumed.status == "succeeded"


def test_a_flow_on_a_catalog_server(server_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    run = BranchFlow().run(catalog=server_catalog)
    assert run["end"].task.data.summary == [10, "L", "set in the join", "from start"]
    again = Run("BranchFlow/1", catalog=server_catalog)
    assert again["join"].task["same"].sha == run["left"].task["same"].sha
    foreach = ForeachFlow().run(catalog=server_catalog, count=3)
    assert [t.data.value for t in foreach["square"]] == [0, 1, 4]
    log, flag = tmp_path / "log.txt", tmp_path / "fail"
    flag.touch()
    with pytest.raises(RuntimeError):
        ResumeFlow().run(catalog=server_catalog, log=str(log), fail_flag=str(flag))
    flag.unlink()
    log.write_text("")
    assert ResumeFlow().resume(catalog=server_catalog).status == "succeeded"
    assert log.read_text().split() == ["train", "end"]


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """A real ``archivist server`` on loopback (workers reach it over HTTP)."""
    with server_process(["--home", str(tmp_path / "srv"), "--insecure-single-user"],
                        tmp_path / "server.log") as server:
        yield server.url


def test_workers_on_a_real_server(server_url: str) -> None:
    with ArtifactCatalog(server_url) as catalog:
        run = ForeachFlow().run(catalog=catalog, max_workers=2, count=3)
        assert run["end"].task.data.total == 5
        assert os.getpid() not in run["gather"].task.data.pids
        assert catalog.get(run["square"][2]["value"].id).source_run_id == run.id
