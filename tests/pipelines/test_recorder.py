"""``RunRecorder``: the recording API every engine (function pipelines, flows) drives."""

from __future__ import annotations

from typing import Any

import pytest

from archivist import ArtifactCatalog, ConflictError, InvalidInputError, InvalidNameError
from archivist.model import RunRecord, TaskRecord
from archivist.pipelines.runs import RunRecorder, error_text


class _Tape:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def run_started(self, run: RunRecord) -> None:
        self.events.append(("run_started", run.status))

    def task_started(self, run: RunRecord, task: TaskRecord) -> None:
        self.events.append(("task_started", task.step))

    def task_ended(self, run: RunRecord, task: TaskRecord) -> None:
        self.events.append(("task_ended", task.status))

    def run_ended(self, run: RunRecord) -> None:
        self.events.append(("run_ended", run.status))


class _Broken(_Tape):
    def run_started(self, run: RunRecord) -> None:
        raise OSError("sink down")


def test_the_lifecycle_in_order(local_catalog: ArtifactCatalog) -> None:
    tape = _Tape()
    rec = RunRecorder(local_catalog, "MyFlow", kind="flow", parameters={"alpha": 2},
                      details={"file": "flow.py"}, listeners=[_Broken(), tape])
    with pytest.raises(ConflictError, match="not been started"):
        rec.start_task("start")
    started = rec.start()
    assert started.pathspec == "MyFlow/1" and rec.pathspec == "MyFlow/1"
    with pytest.raises(ConflictError, match="already started"):
        rec.start()
    raw = local_catalog.register("raw", data=b"r")
    out = local_catalog.register("out", data=b"o", source_run_id=rec.id)
    task = rec.start_task("start", details={"foreach": None})
    done = rec.finish_task(task, consumed=[raw, raw], produced=[out], data={"x": out},
                           details={"attempt": 1})
    assert done.consumed == [raw] and done.details == {"foreach": None, "attempt": 1}
    second = rec.start_task("train", index=4)
    rec.fail_task(second, ValueError("diverged"))
    rec.link(consumed=[raw])
    final = rec.finish(ValueError("train failed"))
    assert final.status == "failed" and final.error == "ValueError: train failed"
    assert final.kind == "flow" and final.details == {"file": "flow.py"}
    assert [(t.step, t.index, t.status) for t in final.tasks] == [
        ("start", 0, "succeeded"), ("train", 4, "failed")]
    assert final.tasks[1].error == "ValueError: diverged"
    assert tape.events == [("run_started", "running"), ("task_started", "start"),
                           ("task_ended", "succeeded"), ("task_started", "train"),
                           ("task_ended", "failed"), ("run_ended", "failed")]


def test_attach_continues_a_run(local_catalog: ArtifactCatalog) -> None:
    rec = RunRecorder(local_catalog, "MyFlow", kind="flow")
    rec.start()
    rec.finish_task(rec.start_task("split", index=0))
    rec.finish_task(rec.start_task("split", index=1))
    worker = RunRecorder.attach(local_catalog, rec.pathspec)
    assert worker.id == rec.id and worker.kind == "flow"
    assert worker.start_task("split").index == 2, "next free index after the stored ones"
    worker.mark_failed("step split failed: boom")
    assert local_catalog.get_run(rec.id).status == "failed"
    assert RunRecorder.attach(local_catalog, rec.id).failure == "step split failed: boom"
    final = worker.finish(details={"resumable": True})
    assert final.status == "succeeded" and final.details == {"resumable": True}


@pytest.mark.parametrize(("kw", "error"), [
    ({"pipeline": "bad/name"}, InvalidNameError),
    ({"pipeline": "ok", "kind": "job"}, InvalidInputError),
    ({"pipeline": "ok", "parameters": {"f": object()}}, InvalidInputError),
])
def test_bad_arguments(local_catalog: ArtifactCatalog, kw: dict[str, Any],
                       error: type[Exception]) -> None:
    with pytest.raises(error):
        RunRecorder(local_catalog, **kw)


def test_error_text_is_bounded() -> None:
    assert error_text(None) is None
    assert error_text("plain") == "plain"
    assert error_text(KeyError("k")) == "KeyError: 'k'"
    long = error_text("x" * 100_000)
    assert long is not None and len(long) == 64 * 1024 + 1
