"""Flow tasks on a real Dask cluster: ``run(executor=...)`` and ``--executor``.

One ``LocalCluster`` of three worker processes (one thread each) on 127.0.0.1 serves the
module. Its workers are other processes, so they reach the catalog as a cluster's would:
through a real ``archivist server`` process, a shared PostgreSQL + S3, or (same machine)
a local folder's SQLite file. Results, lineage, the run record, resume and the task
decorators must be what local worker processes give.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import pytest
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from archivist import (
    ArchivistError,
    ArtifactCatalog,
    InvalidFlowError,
    InvalidInputError,
    Run,
    StepFailedError,
)
from archivist.cli import app
from archivist.pipelines.flows.clusterresources import dask_requests
from archivist.pipelines.flows.decorators import CaughtException
from archivist.pipelines.flows.executors import DaskExecutor
from archivist.pipelines.flows.workers import FILE_MODULE_PREFIX
from archivist.server.settings import ServerSettings
from tests.fixtures.services import loopback_socket
from tests.pipelines.flow_cluster import DiesOnceFlow, GpuFlow, MemoryHungryFlow
from tests.pipelines.flow_examples import BranchFlow, ForeachFlow
from tests.pipelines.flow_failures import DecoratedFlow, DyingFlow, OddFailureFlow
from tests.pipelines.resource_examples import most_at_once
from tests.remote import harness
from tests.server.processes import server_process

pytestmark = pytest.mark.timeout(300)

#: What points s3fs at the test's moto server (tests/fixtures/s3.py): sent to the workers.
S3_VARIABLES = ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """Three worker processes; a task whose worker dies is tried on one more worker."""
    folder = tmp_path_factory.mktemp("dask")
    environment = {"ARCHIVIST_CACHE_DIR": str(folder / "blob-cache"),
                   "ARCHIVIST_CONFIG": str(folder / "no-config.toml")}
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            LocalCluster(n_workers=3, processes=True, threads_per_worker=1, host="127.0.0.1",
                         dashboard_address=None, env=environment) as local, \
            Client(local) as client:
        yield client


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``archivist server`` on loopback, which the workers reach over HTTP."""
    folder = tmp_path_factory.mktemp("server")
    with server_process(["--home", str(folder / "home"), "--insecure-single-user"],
                        folder / "server.log") as server:
        yield server.url


def worker_pids(client: Client) -> set[int]:
    return set(client.run(os.getpid).values())


def lineage(catalog: ArtifactCatalog, run_id: str) -> list[tuple[Any, ...]]:
    """Each task as (step, foreach position, status, names read, names written)."""
    def names(ids: list[str]) -> list[str]:
        return sorted(catalog.get(i).name for i in ids)

    return sorted((t.step, tuple(t.details.get("foreach", ())), t.status, names(t.consumed),
                   names(t.produced)) for t in catalog.get_run(run_id).tasks)


def no_task_running(run: Run) -> bool:
    return all(t.status in ("succeeded", "failed") for s in run for t in s)


def test_a_foreach_on_the_cluster_equals_the_local_process_run(
        cluster: Client, local_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    on_cluster = ForeachFlow().run(catalog=local_catalog, executor=cluster, count=6,
                                   log=str(log))
    local = ForeachFlow().run(catalog=local_catalog, max_workers=2, count=6)
    assert on_cluster.status == local.status == "succeeded"
    assert [t.data.value for t in on_cluster["square"]] == [0, 1, 4, 9, 16, 25]
    assert on_cluster["gather"].task.data.values == local["gather"].task.data.values
    assert on_cluster["end"].task.data.total == local["end"].task.data.total == 55
    assert lineage(local_catalog, on_cluster.id) == lineage(local_catalog, local.id)
    pids = {t.details["pid"] for t in on_cluster["square"]}
    assert pids <= worker_pids(cluster) and os.getpid() not in pids
    value = local_catalog.get(on_cluster["square"][3]["value"].id)
    assert value.source_run_id == on_cluster.id and local_catalog.load(value) == 9
    assert sorted(log.read_text().splitlines()) == sorted(
        ["start", "gather", "end", *(f"square {i}" for i in range(6))])


def test_branches_a_failure_and_resume_through_a_catalog_server(
        cluster: Client, server_url: str, tmp_path: Path) -> None:
    address = "dask://" + cluster.scheduler.address.removeprefix("tcp://")
    with ArtifactCatalog(server_url) as catalog:
        branches = BranchFlow().run(catalog=catalog, executor=address)
        assert branches["end"].task.data.summary == [10, "L", "set in the join", "from start"]
        assert set(branches["join"].task.data.pids) <= worker_pids(cluster)

        log, flag = tmp_path / "log.txt", tmp_path / "fail"
        flag.touch()
        with pytest.raises(ValueError, match="item 2 failed on purpose") as info:
            ForeachFlow().run(catalog=catalog, executor=DaskExecutor(cluster), count=4,
                              log=str(log), fail_on=2, fail_flag=str(flag))
        notes = "\n".join(info.value.__notes__)
        assert "in a worker process" in notes and 'raise ValueError(f"item' in notes
        failed = Run(info.value.archivist_run, catalog=catalog)  # type: ignore[attr-defined]
        assert failed.status == "failed" and "item 2 failed on purpose" in (failed.error or "")
        assert no_task_running(failed)
        assert [t.status for t in failed["square"]].count("failed") == 1
        flag.unlink()
        log.write_text("")
        resumed = ForeachFlow().resume(failed.pathspec, catalog=catalog, executor=cluster)
        assert resumed.status == "succeeded" and resumed["end"].task.data.total == 14
        lines = log.read_text().splitlines()
        assert "square 2" in lines and lines[-2:] == ["gather", "end"]
        assert "start" not in lines
        assert resumed["start"].task.cached


def test_postgres_and_s3_with_retry_catch_and_timeout(
        cluster: Client, postgres_url: str, s3_blobs_url: str, tmp_path: Path) -> None:
    executor = DaskExecutor(cluster, environment=S3_VARIABLES)
    with ArtifactCatalog(postgres_url, blobs=s3_blobs_url) as catalog:
        run = ForeachFlow().run(catalog=catalog, executor=executor, count=4)
        assert run["end"].task.data.total == 14
        assert catalog.get(run["square"][2]["value"].id).source_run_id == run.id

        decorated = DecoratedFlow().run(catalog=catalog, executor=executor,
                                        counter=str(tmp_path / "count"), sleep=30.0)
        assert decorated.status == "succeeded"
        for task in decorated["flaky"]:
            assert task.details["attempts"] == 3 and len(task.details["attempt_errors"]) == 2
            assert task.details["resources"] == {"cpu": 2, "memory": 512}
            assert task.details["pid"] in worker_pids(cluster)
        assert decorated["join"].task.data.values == [0, 10]
        risky = decorated["risky"].task
        assert risky.successful and risky.details["caught"]["message"] == "3/4"
        assert risky.details["caught"]["type"] == "tests.pipelines.flow_failures.OddError"
        with Run(decorated.pathspec, catalog=catalog, allow_pickle=True) as readable:
            error = readable["risky"].task.data.error
            assert isinstance(error, CaughtException) and str(error) == "OddError: 3/4"
            assert "_fail(OddError(3, 4))" in error.traceback
            slow = readable["slow"].task
            assert slow.details["timeout"] == 1.0
            assert "ran past its @timeout of 1 s" in slow.data.slow_error.message


def test_an_exception_that_does_not_unpickle_reaches_the_caller(
        cluster: Client, local_catalog: ArtifactCatalog) -> None:
    with pytest.raises(ArchivistError, match=r"OddError: 1/2") as info:
        OddFailureFlow().run(catalog=local_catalog, executor=cluster)
    assert "raise OddError(1, 2)" in "\n".join(info.value.__notes__)
    run = Run("OddFailureFlow/1", catalog=local_catalog)
    assert run.status == "failed" and no_task_running(run)
    failed = [t for t in run["work"] if t.status == "failed"]
    assert len(failed) == 1 and failed[0].error == "OddError: 1/2"
    assert failed[0].details["exception_type"] == "tests.pipelines.flow_failures.OddError"
    assert "raise OddError(1, 2)" in failed[0].details["traceback"]


def test_the_cli_runs_a_flow_file_on_the_cluster(cluster: Client, tmp_path: Path) -> None:
    flow_file = tmp_path / "squares.py"
    flow_file.write_text(textwrap.dedent('''
        import os
        from archivist import Flow, step

        class Squares(Flow):
            size: int = 3

            @step
            def start(self):
                self.items = list(range(self.size))
                self.next(self.work, foreach="items")

            @step
            def work(self):
                self.square = self.input ** 2
                self.pid = os.getpid()
                self.next(self.join)

            @step
            def join(self, inputs):
                self.squares = [i.square for i in inputs]
                self.pids = sorted({i.pid for i in inputs})
                self.next(self.end)

            @step
            def end(self):
                pass
    '''))
    home = tmp_path / "home"
    address = "dask://" + cluster.scheduler.address.removeprefix("tcp://")
    result = CliRunner().invoke(app, ["--home", str(home), "flow", "run", str(flow_file),
                                      "--param", "size=4", "--executor", address])
    assert result.exit_code == 0, result.output
    assert "Squares/1 succeeded" in result.output
    with ArtifactCatalog(home) as catalog:
        run = Run("Squares/1", catalog=catalog)
        assert run["join"].task.data.squares == [0, 1, 4, 9]
        assert set(run["join"].task.data.pids) <= worker_pids(cluster)
    # The file changes: the long-lived workers run the new code, as new processes would.
    flow_file.write_text(flow_file.read_text().replace("self.input ** 2", "self.input ** 3"))
    for name in [m for m in sys.modules if m.startswith(FILE_MODULE_PREFIX + "squares_")]:
        del sys.modules[name]  # what a new `archivist` process would not have either
    result = CliRunner().invoke(app, ["--home", str(home), "flow", "run", str(flow_file),
                                      "--param", "size=4", "--executor", address])
    assert result.exit_code == 0, result.output
    with ArtifactCatalog(home) as catalog:
        assert Run("Squares/2", catalog=catalog)["join"].task.data.squares == [0, 1, 8, 27]


def test_what_the_workers_cannot_reach_is_a_clear_error(
        cluster: Client, tmp_path: Path) -> None:
    # a scheduler that does not answer: an error within the timeout, not a hang
    with loopback_socket() as closed:  # bound, never listening
        port = closed.getsockname()[1]
        with pytest.raises(InvalidInputError, match="cannot reach the Dask scheduler"):
            BranchFlow().run(catalog=tmp_path / "a",
                             executor=DaskExecutor(f"dask://127.0.0.1:{port}", timeout=3))
    # a catalog server inside this process only (no socket): the workers cannot open it
    settings = ServerSettings(home=str(tmp_path / "server"), insecure_single_user=True)
    with harness.in_process_server(settings) as client, \
            harness.remote_catalog(client, tmp_path / "cache") as catalog:
        with pytest.raises(InvalidInputError, match="cannot use the catalog") as info:
            BranchFlow().run(catalog=catalog, executor=DaskExecutor(cluster, timeout=20))
        assert "tcp://127.0.0.1:" in str(info.value)
        run = Run("BranchFlow/1", catalog=catalog)
        assert run.status == "failed" and [t for s in run for t in s] == []


def test_bad_executors_are_refused_before_anything_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for bad in (42, "dask://", "spark://host:7077"):
        with pytest.raises(InvalidInputError, match=r"executor|address"):
            BranchFlow().run(catalog=home, executor=bad)
    with pytest.raises(InvalidInputError, match="list of variable names"):
        DaskExecutor("dask://127.0.0.1:8786", environment="AWS_REGION")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not set here"):
        DaskExecutor("dask://127.0.0.1:8786", environment=["ARCHIVIST_NO_SUCH_VARIABLE"])
    with pytest.raises(InvalidInputError, match="max_tasks"):
        DaskExecutor("dask://127.0.0.1:8786", max_tasks=0)
    assert not (home / "catalog.db").exists()


# The tests below kill worker processes: they come last, while the nannies restart them.
def test_a_task_whose_worker_was_killed_runs_again_on_another(
        cluster: Client, local_catalog: ArtifactCatalog, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    run = DiesOnceFlow().run(catalog=local_catalog, executor=cluster, marker=str(marker))
    assert run.status == "succeeded" and run["join"].task.data.values == [0, 100, 200]
    killed = int(marker.read_text())
    again = [t for t in run["work"] if t.details["foreach"] == [1]]
    assert len(again) == 1 and again[0].successful
    assert again[0].data.pid != killed and again[0].details["pid"] != killed


def test_a_worker_that_always_dies_fails_its_task_and_the_run(
        cluster: Client, local_catalog: ArtifactCatalog) -> None:
    with pytest.raises(StepFailedError, match="KilledWorker") as info:
        DyingFlow().run(catalog=local_catalog, executor=cluster)
    assert "DyingFlow/1" in "\n".join(info.value.__notes__)
    run = Run("DyingFlow/1", catalog=local_catalog)
    assert run.status == "failed" and run.finished_at is not None and no_task_running(run)
    died = [t for t in run["work"] if t.status == "failed"]
    assert died and all("worker process" in (t.error or "") for t in died)


def test_resources_become_dask_worker_resources(tmp_path: Path) -> None:
    """A worker with two threads that declares MEMORY=1000 runs the 600 MB tasks one at a
    time; the same flow on an undeclared cluster runs two at once."""
    with ArtifactCatalog(tmp_path / "c") as catalog:
        for declared, most in (({"MEMORY": 1000}, 1), ({}, 2)):
            with LocalCluster(n_workers=1, processes=False, threads_per_worker=2,
                              resources=declared, dashboard_address=":0") as local, \
                    Client(local) as client:
                run = MemoryHungryFlow().run(catalog=catalog, executor=client)
                assert dask_requests(MemoryHungryFlow, client.scheduler_info()["workers"]) \
                    == ({"work": {"MEMORY": 600}} if declared else {})
            assert most_at_once(run["join"].task.data.spans) == most
            assert run["work"].tasks[0].details["resources"] == {"memory": 600}


def test_a_step_no_worker_can_hold_is_refused(cluster: Client, tmp_path: Path) -> None:
    with ArtifactCatalog(tmp_path / "c") as catalog:
        with pytest.raises(InvalidFlowError) as info:
            GpuFlow().run(catalog=catalog, executor=cluster)
        assert "asks @resources(gpu=1) but no worker of the cluster declares a GPU" \
            in info.value.message
        assert [run.status for run in catalog.runs()] in ([], ["failed"])  # nothing runs
    workers = cluster.scheduler_info()["workers"]
    with pytest.raises(InvalidFlowError, match="the largest worker memory limit is"):
        dask_requests(MemoryHungryFlow, {a: {**w, "memory_limit": 500 * 2**20}
                                         for a, w in workers.items()})
    assert dask_requests(MemoryHungryFlow, {"w": {"resources": {"memory": 2000}}}) \
        == {"work": {"memory": 600}}  # the name the workers give it, any case
    with pytest.raises(InvalidFlowError, match="the most memory a worker of the cluster "
                                               "declares is 100"):
        dask_requests(MemoryHungryFlow, {"w": {"resources": {"memory": 100}}})
