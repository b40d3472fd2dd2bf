"""Metaflow's "Data artifacts" page (seed 004), each example done with archivist on every
backend, in Metaflow's words: ``FlowSpec``, ``self.next``, ``merge_artifacts``,
``foreach``, ``from archivist.client import Flow, Run`` (``from metaflow import Flow,
Run``), ``python myflow.py run|resume|show``; common Python values read back without
``allow_pickle``."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import pickle
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from archivist import (
    ArtifactCatalog,
    FlowSpec,
    MergeConflictError,
    PickleNotAllowedError,
    current,
    step,
)
from archivist.client import Flow, Run


def load_data() -> list[int]:
    return [3, 1, 2]


def transform(data: list[int]) -> list[int]:
    return sorted(data)


def load_huge_dataset() -> dict[str, list[int]]:
    return {"rows": list(range(1000))}


def train_model(config: dict[str, Any]) -> dict[str, float]:
    return {"lr": config["lr"], "batch_size": config["batch_size"]}


def evaluate(model: dict[str, float]) -> float:
    return round(1 - model["lr"] * 10, 4)


# -- Creating artifacts --------------------------------------------------------------------
class ArtifactExample(FlowSpec):
    @step
    def start(self) -> None:
        # All of these become artifacts
        self.raw_data = [1, 2, 3, 4, 5]
        self.model = {"weights": [0.5, 0.3, 0.2]}
        self.accuracy = 0.95
        self.metadata = {"version": "1.0", "date": "2024-01-01"}
        self.next(self.end)

    @step
    def end(self) -> None:
        # Access artifacts from previous step
        print(f"Accuracy: {self.accuracy}")
        print(f"Data: {self.raw_data}")


def test_creating_artifacts_every_attribute_set_on_self_is_stored(
        catalog: ArtifactCatalog, capsys: pytest.CaptureFixture[str]) -> None:
    run = ArtifactExample().run(catalog=catalog)
    assert capsys.readouterr().out == "Accuracy: 0.95\nData: [1, 2, 3, 4, 5]\n"
    data = run["start"].task.data
    assert (data.raw_data, data.model, data.accuracy) == (
        [1, 2, 3, 4, 5], {"weights": [0.5, 0.3, 0.2]}, 0.95)
    assert data.metadata == {"version": "1.0", "date": "2024-01-01"}
    assert catalog.get("ArtifactExample.accuracy").source_run_id == run.id


# -- Accessing artifacts -------------------------------------------------------------------
class MyFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.data = load_data()
        self.next(self.process)

    @step
    def process(self) -> None:
        # self.data is automatically available
        self.result = transform(self.data)
        self.accuracy = 0.9
        self.model = {"kind": "sorted"}
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def test_accessing_artifacts_flow_between_steps(catalog: ArtifactCatalog) -> None:
    run = MyFlow().run(catalog=catalog)
    assert run["process"].task.data.result == [1, 2, 3]
    assert run.data.result == [1, 2, 3]  # the end task sees everything before it


# -- Private artifacts ---------------------------------------------------------------------
class PrivateFlow(FlowSpec):
    @step
    def start(self) -> None:
        self._temp_data = "not saved"  # Private, ephemeral
        self.important_data = "saved"  # Saved as artifact
        self.next(self.end)

    @step
    def end(self) -> None:
        self.saw_private = hasattr(self, "_temp_data")


def test_private_attributes_are_not_persisted(catalog: ArtifactCatalog) -> None:
    run = PrivateFlow().run(catalog=catalog)
    task = run["start"].task
    assert "important_data" in task and "_temp_data" not in task
    assert run.data.saw_private is False
    assert [a.name for a in catalog.list(name="PrivateFlow.important_data")] == [
        "PrivateFlow.important_data"]
    assert catalog.list(name="PrivateFlow._temp_data") == []


# -- Internal artifacts --------------------------------------------------------------------
class InternalFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.items = ["a", "b"]
        self.next(self.each, foreach="items")

    @step
    def each(self) -> None:
        # _foreach_values / _foreach_stack: the foreach's items and this task's place
        self.stack = self.foreach_stack()
        self.where = current.pathspec
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.stacks = [i.stack for i in inputs]
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def test_internal_information_is_there_under_archivist_names(catalog: ArtifactCatalog) -> None:
    run = InternalFlow().run(catalog=catalog)
    # _foreach_stack: self.foreach_stack(); (index, number of tasks, item), as Metaflow's
    assert run.data.stacks == [[(0, 2, "a")], [(1, 2, "b")]]
    assert [t.data.where for t in run["each"]] == [
        f"InternalFlow/{run.record.number}/each/0", f"InternalFlow/{run.record.number}/each/1"]
    # _success: each task's status; _graph_info: the class's validated graph
    assert all(t.successful for s in run for t in s)
    assert InternalFlow.spec().graph.nodes["start"].foreach == "items"


# -- Artifact merging ----------------------------------------------------------------------
class MergeFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.shared_config = {"key": "value"}
        self.next(self.branch_a, self.branch_b)

    @step
    def branch_a(self) -> None:
        self.result_a = "from A"
        self.next(self.join)

    @step
    def branch_b(self) -> None:
        self.result_b = "from B"
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        # Automatically merges non-conflicting artifacts
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def test_merge_artifacts_takes_over_the_branches_attributes(catalog: ArtifactCatalog) -> None:
    data = MergeFlow().run(catalog=catalog)["join"].task.data
    assert (data.shared_config, data.result_a, data.result_b) == (
        {"key": "value"}, "from A", "from B")


class ConflictFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.next(self.branch_a, self.branch_b)

    @step
    def branch_a(self) -> None:
        self.result = "from A"
        self.chosen = "A"
        self.next(self.join)

    @step
    def branch_b(self) -> None:
        self.result = "from B"
        self.chosen = "B"
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.chosen = "set in the join"  # Already set in join: not merged
        self.merge_artifacts(inputs, exclude=["result"] if self.exclude else None)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass

    exclude: bool = False


def test_merge_behavior_conflicts_raise_and_the_join_s_own_value_wins(
        catalog: ArtifactCatalog) -> None:
    with pytest.raises(MergeConflictError, match="result"):
        ConflictFlow().run(catalog=catalog)
    run = ConflictFlow().run(catalog=catalog, exclude=True)
    assert run["join"].task.data.chosen == "set in the join"
    assert "result" not in run["join"].task


class SelectiveFlow(MergeFlow):
    @step
    def join(self, inputs: Any) -> None:
        # Only merge specific artifacts
        self.merge_artifacts(inputs, include=["result_a", "result_b"])
        self.next(self.end)


def test_selective_merging_include(catalog: ArtifactCatalog) -> None:
    task = SelectiveFlow().run(catalog=catalog)["join"].task
    assert (task.data.result_a, task.data.result_b) == ("from A", "from B")
    assert "shared_config" not in task  # a join starts from the parameters only


# -- Foreach artifacts ---------------------------------------------------------------------
class ForeachTraining(FlowSpec):
    @step
    def start(self) -> None:
        self.parameters = [
            {"lr": 0.01, "batch_size": 32},
            {"lr": 0.001, "batch_size": 64},
            {"lr": 0.0001, "batch_size": 128},
        ]
        self.next(self.train, foreach="parameters")

    @step
    def train(self) -> None:
        # Access current parameter set
        config = self.input
        print(f"Training with lr={config['lr']}")
        # Create artifacts specific to this iteration
        self.model = train_model(config)
        self.accuracy = evaluate(self.model)
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        # Access all models and accuracies
        self.all_models = [inp.model for inp in inputs]
        self.best_accuracy = max(inp.accuracy for inp in inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def test_foreach_tasks_each_keep_their_artifacts(catalog: ArtifactCatalog,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run = ForeachTraining().run(catalog=catalog)
    assert capsys.readouterr().out.splitlines() == [
        "Training with lr=0.01", "Training with lr=0.001", "Training with lr=0.0001"]
    assert [t.data.accuracy for t in run["train"]] == [0.9, 0.99, 0.999]
    assert run.data.best_accuracy == 0.999
    assert [m["batch_size"] for m in run.data.all_models] == [32, 64, 128]


# -- Large artifacts: compression ------------------------------------------------------------
class CompressedFlow(FlowSpec):
    @step
    def start(self) -> None:
        large_data = load_huge_dataset()
        # Compress before storing
        self.compressed_data = gzip.compress(pickle.dumps(large_data))
        self.next(self.end)

    @step
    def end(self) -> None:
        # Decompress when needed
        large_data = pickle.loads(gzip.decompress(self.compressed_data))
        self.rows = len(large_data["rows"])


def test_compressed_bytes_are_stored_as_bytes(catalog: ArtifactCatalog) -> None:
    run = CompressedFlow().run(catalog=catalog)
    assert run.data.rows == 1000
    stored = catalog.get("CompressedFlow.compressed_data")
    assert stored.format == "bytes"  # not pickled again: readable without allow_pickle
    assert pickle.loads(gzip.decompress(run["start"].task.data.compressed_data)) == \
        load_huge_dataset()


# -- Large artifacts: external storage -------------------------------------------------------
#: opens the catalog the step stores into (Metaflow: ``S3(run=self)``), set by the test
INNER: list[Callable[[], AbstractContextManager[ArtifactCatalog]]] = []


class ExternalStorageFlow(FlowSpec):
    @step
    def start(self) -> None:
        large_data = load_huge_dataset()
        # Store in the catalog, save only reference
        with INNER[0]() as s3:
            s3.register("large_data", data=large_data)
        self.data_key = "large_data"
        self.next(self.end)

    @step
    def end(self) -> None:
        # Load from the catalog when needed
        with INNER[0]() as s3:
            large_data = s3.load(self.data_key)
        self.rows = len(large_data["rows"])


def test_external_storage_versions_are_linked_to_the_run_and_task(
        catalog: ArtifactCatalog, backend_name: str, request: pytest.FixtureRequest) -> None:
    # another catalog object on the flow's store, opened in the step; a catalog server
    # reached through the test client is reopened as the object given
    if backend_name == "sqlite":
        INNER[:] = [lambda: ArtifactCatalog(catalog.home)]
    elif backend_name == "postgres":
        url, blobs = (request.getfixturevalue("postgres_url"),
                      request.getfixturevalue("s3_blobs_url"))
        INNER[:] = [lambda: ArtifactCatalog(url, blobs=blobs)]
    else:
        INNER[:] = [lambda: contextlib.nullcontext(catalog)]
    run = ExternalStorageFlow().run(catalog=catalog)
    assert run.data.rows == 1000
    stored = catalog.get("large_data")
    assert (stored.source_run_id, stored.source_step, stored.source_pipeline) == (
        run.id, "start", "ExternalStorageFlow")
    assert stored.id in run["start"].task.record.produced
    assert stored.id in run.record.produced
    # the end step read it: it is one of the end task's inputs
    assert stored.id in run["end"].task.record.consumed


def test_a_catalog_on_another_store_is_not_the_run_s(catalog: ArtifactCatalog,
                                                     tmp_path: Path) -> None:
    INNER[:] = [lambda: ArtifactCatalog(tmp_path / "elsewhere")]
    run = ExternalStorageFlow().run(catalog=catalog)
    with ArtifactCatalog(tmp_path / "elsewhere") as elsewhere:
        stored = elsewhere.get("large_data")
    assert stored.source_run_id is None and stored.id not in run.record.produced


# -- Inspecting artifacts: the client API ----------------------------------------------------
def test_inspecting_artifacts_with_the_client(catalog: ArtifactCatalog) -> None:
    first = MyFlow().run(catalog=catalog)
    second = MyFlow().run(catalog=catalog)
    # Get a specific run
    run = Run(f"MyFlow/{second.record.number}", catalog)
    # Access a step
    step = run["process"]
    # Access the task
    task = step.task
    # Get artifacts
    assert task.data.accuracy == 0.9
    assert task.data.model == {"kind": "sorted"}
    # Or use DataArtifact directly
    artifact = task["accuracy"]
    assert artifact.data == 0.9
    assert artifact.sha is not None and artifact.sha.startswith("sha256:")
    assert artifact.finished_at <= datetime.now(UTC)
    # Flow("MyFlow"): its runs, newest first
    flow = Flow("MyFlow", catalog)
    assert flow.latest_run is not None and flow.latest_run.id == second.id
    assert flow.latest_successful_run is not None
    assert [r.id for r in flow.runs()] == [second.id, first.id]
    assert [r.id for r in flow] == [second.id, first.id]
    assert flow[str(second.record.number)].id == second.id


def test_the_client_flow_of_an_unknown_flow_says_so(catalog: ArtifactCatalog) -> None:
    from archivist import ArtifactNotFoundError

    with pytest.raises(ArtifactNotFoundError, match="NoSuchFlow"):
        Flow("NoSuchFlow", catalog)


# -- Common patterns -----------------------------------------------------------------------
class CheckpointFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.model = {"epoch": 0}
        self.next(self.train)

    @step
    def train(self) -> None:
        for epoch in range(100):
            self.model["epoch"] = epoch
            # Checkpoint every 10 epochs
            if epoch % 10 == 0:
                self.checkpoint = dict(self.model)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def test_checkpointing_keeps_the_last_checkpoint(catalog: ArtifactCatalog) -> None:
    run = CheckpointFlow().run(catalog=catalog)
    assert run.data.checkpoint == {"epoch": 90}


@dataclasses.dataclass(frozen=True)
class Summary:
    name: str
    shape: tuple[int, int]
    when: date


class CollectionsFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.results = {
            "metrics": {"accuracy": 0.95, "loss": 0.05},
            "plots": ("roc", "pr"),
            "tables": {"summary", "errors"},
            "at": datetime(2024, 1, 1, 12, tzinfo=UTC),
            "cost": Decimal("12.50"),
            "id": uuid.UUID(int=7),
            "summary": Summary("train", (100, 4), date(2024, 1, 1)),
        }
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def test_artifact_collections_of_common_values_load_without_pickle(
        catalog: ArtifactCatalog) -> None:
    run = CollectionsFlow().run(catalog=catalog)
    results = run["start"].task.data.results  # Run(...) without allow_pickle
    assert results == _expected()
    assert type(results["plots"]) is tuple and type(results["tables"]) is set
    assert type(results["summary"]) is Summary and type(results["summary"].shape) is tuple
    assert catalog.get("CollectionsFlow.results").format == "pyjson"


def _expected() -> dict[str, Any]:
    return {"metrics": {"accuracy": 0.95, "loss": 0.05}, "plots": ("roc", "pr"),
            "tables": {"summary", "errors"}, "at": datetime(2024, 1, 1, 12, tzinfo=UTC),
            "cost": Decimal("12.50"), "id": uuid.UUID(int=7),
            "summary": Summary("train", (100, 4), date(2024, 1, 1))}



class Opaque:
    """Not a common value: still stored (pickle), read back with consent."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque)

    def __hash__(self) -> int:
        return 1


class OpaqueFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.thing = Opaque()
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def test_other_objects_still_need_consent_to_unpickle(catalog: ArtifactCatalog) -> None:
    run = OpaqueFlow().run(catalog=catalog)
    with pytest.raises(PickleNotAllowedError):
        _ = run["start"].task.data.thing
    assert Run(run.pathspec, catalog, allow_pickle=True)["start"].task.data.thing == Opaque()


# -- python myflow.py run / resume / show ------------------------------------------------------
SCRIPT = textwrap.dedent('''
    from pathlib import Path

    from archivist import FlowSpec, Parameter, step


    class ArtifactExample(FlowSpec):
        alpha = Parameter("alpha", default=0.5)
        fail: bool = False

        @step
        def start(self):
            self.raw_data = [1, 2, 3, 4, 5]
            self.accuracy = 0.95 * self.alpha
            self.next(self.end)

        @step
        def end(self):
            if self.fail and Path("fail").exists():
                raise RuntimeError("end failed")
            print(f"Accuracy: {self.accuracy}")


    if __name__ == "__main__":
        ArtifactExample()
''')


def _python(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"ARCHIVIST_HOME": str(folder / "home"), "PATH": "/usr/bin:/bin",
           "HOME": str(folder), "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    return subprocess.run([sys.executable, "myflow.py", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_python_myflow_py_run_resume_and_show(tmp_path: Path) -> None:
    (tmp_path / "myflow.py").write_text(SCRIPT)
    nothing = _python(tmp_path)
    assert nothing.returncode == 2 and "usage: python myflow.py COMMAND" in nothing.stderr
    ran = _python(tmp_path, "run", "--alpha", "2")
    assert ran.returncode == 0, ran.stderr
    assert "Accuracy: 1.9" in ran.stdout and "ArtifactExample/1 succeeded" in ran.stdout
    with ArtifactCatalog(tmp_path / "home") as catalog:
        assert Run("ArtifactExample/1", catalog).data.accuracy == 1.9
    (tmp_path / "fail").touch()
    failed = _python(tmp_path, "run", "--fail")
    assert failed.returncode == 1 and "ArtifactExample/2 failed" in failed.stderr
    (tmp_path / "fail").unlink()
    resumed = _python(tmp_path, "resume", "--origin-run-id", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert "ArtifactExample/3 succeeded" in resumed.stdout and "1 reused" in resumed.stdout
    shown = _python(tmp_path, "show")
    assert shown.returncode == 0 and "parameter alpha (default 0.5)" in shown.stdout
    wrong = _python(tmp_path, "run", "--beta", "1")
    assert wrong.returncode == 2 and "unknown option '--beta'" in wrong.stderr
    # a script that runs the flow itself is left alone, whatever its arguments
    runs_itself = SCRIPT.replace("    ArtifactExample()\n",
                                 "    print(ArtifactExample().run().status)\n")
    assert runs_itself != SCRIPT
    (tmp_path / "myflow.py").write_text(runs_itself)
    itself = _python(tmp_path, "show")
    assert itself.returncode == 0 and itself.stdout.endswith("succeeded\n"), itself.stderr


def test_instantiating_a_flow_elsewhere_is_a_plain_object(catalog: ArtifactCatalog) -> None:
    flow = ArtifactExample()  # not the statement of a script: no command line
    assert flow.run(catalog=catalog).status == "succeeded"
