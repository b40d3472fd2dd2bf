"""``RunRecorder``: writes one run's record — the run, its tasks, the versions it links.

The one recording API of every engine: function pipelines (``pipeline``/``@step``) and
class flows (``Flow``) both drive a recorder, so runs look the same whoever made them.
A recorder never registers artifacts itself; the engine registers them (with
``source_run_id=recorder.id``) and tells the recorder which versions a task consumed and
produced::

    rec = RunRecorder(catalog, "fraud_detection", parameters={"lr": 0.1}, source=main)
    rec.start()                                   # the run row, status "running"
    task = rec.start_task("featurize")            # a task row, status "running"
    ...                                           # run the step, register its outputs
    rec.finish_task(task, consumed=[raw_id], produced=[feat_id],
                    data={"features": feat_id})   # status "succeeded"
    rec.finish()                                  # or rec.finish(error=exc): "failed"

``start_task(..., defer=True)`` (what a function pipeline's step uses) writes the
"running" row only if the task is still running :data:`START_ROW_DELAY` seconds later
(a watcher thread writes it); a task that ends sooner is written once, when it ends,
with its outputs. Reads of runs through the run's catalog inside the run (``get_run``,
``runs``) first write what is held back, so code inside a step sees its own task.

Another process (a flow's worker) continues the same run with
``RunRecorder.attach(catalog, run_id)``. Listeners (OpenLineage) hear every start and end;
a listener that fails is logged, never allowed to fail the run.

It is one module of a little over 400 lines on purpose: the rows a recorder holds back,
the watcher thread that writes them and the writes that supersede them share one lock
discipline (``_writing`` before ``_lock``), which reads best in one place.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from archivist import names
from archivist.errors import ConflictError, InvalidInputError
from archivist.ids import new_id
from archivist.model import RUN_KINDS, NewRun, RunRecord, TaskRecord
from archivist.pipelines.provenance import Provenance, describe

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog

log = logging.getLogger(__name__)
MAX_ERROR = 64 * 1024
#: a deferred task start (``start_task(defer=True)``) is written once the task has been
#: running this long (seconds); one that ends sooner is written once, when it ends
START_ROW_DELAY = 0.25
#: the watcher thread of deferred starts exits after this long with nothing to watch
_WATCHER_IDLE = 2.0


class RunListener(Protocol):
    """Hears a run's lifecycle (OpenLineage emits events from these)."""

    def run_started(self, run: RunRecord) -> None:
        """The run row exists (status ``running``)."""
        ...

    def task_started(self, run: RunRecord, task: TaskRecord) -> None:
        """A task row exists (status ``running``)."""
        ...

    def task_ended(self, run: RunRecord, task: TaskRecord) -> None:
        """A task ended (``succeeded``, possibly ``cached``, or ``failed``)."""
        ...

    def run_ended(self, run: RunRecord) -> None:
        """The run ended; ``run`` is the final record with its tasks and versions."""
        ...


class RunRecorder:
    """Records one run through a catalog's backend (local or remote alike).

    Args:
        catalog: where the run is recorded (its project and backend).
        pipeline: the pipeline or flow name (a valid name: it forms the pathspec).
        kind: ``"pipeline"``, ``"flow"`` or ``"step"``.
        parameters: JSON object of the run's parameters.
        source: the function (or file) whose code the run executes: its git commit,
            dirty flag and source hash are recorded. ``None``: the current directory.
        details: free JSON for the engine (e.g. the run a resume continues).
        listeners: told of every start and end (see :class:`RunListener`).

    Raises:
        InvalidNameError: a malformed pipeline name.
        InvalidInputError: an unknown kind, or parameters/details that are not JSON.
    """

    def __init__(self, catalog: ArtifactCatalog, pipeline: str, *, kind: str = "pipeline",
                 parameters: Mapping[str, Any] | None = None, source: Any = None,
                 details: Mapping[str, Any] | None = None,
                 listeners: Sequence[RunListener] = (),
                 provenance: Provenance | None = None) -> None:
        if kind not in RUN_KINDS:
            raise InvalidInputError(f"run kind must be one of {', '.join(RUN_KINDS)}")
        self.catalog = catalog
        self.pipeline = names.check_name(pipeline, "pipeline")
        self.kind = kind
        self.parameters = names.check_metadata(parameters)
        self.details = names.check_metadata(details)
        self.listeners = list(listeners)
        self.provenance = provenance or describe(source, user=catalog.user)
        self.id = new_id()
        self._run: RunRecord | None = None
        #: the error text of a failed step (see :meth:`mark_failed`), else ``None``
        self.failure: str | None = None
        self._indexes: dict[str, int] = {}
        self._lock = threading.Lock()
        #: cached tasks recorded but not yet written (see :meth:`reuse_task`)
        self._unsaved: list[TaskRecord] = []
        self._init_deferred()

    def _init_deferred(self) -> None:
        #: started tasks whose "running" row is not written yet: id -> (due, task)
        self._starting: dict[str, tuple[float, TaskRecord]] = {}
        #: held while writing deferred rows, and by whatever supersedes one (the task's
        #: own later row): a start row never lands after the row that ends its task
        self._writing = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._watcher: threading.Thread | None = None
        self._closed = False

    @classmethod
    def attach(cls, catalog: ArtifactCatalog, run_ref: str,
               listeners: Sequence[RunListener] = ()) -> RunRecorder:
        """A recorder continuing an existing run (by id or pathspec), e.g. in a worker
        process or to add tasks to a resumed run. ``start`` must not be called on it.

        Raises:
            ArtifactNotFoundError: no such run.
        """
        run = catalog.get_run(run_ref)
        rec = cls.__new__(cls)
        rec.catalog, rec.pipeline, rec.kind = catalog, run.pipeline, run.kind
        rec.parameters, rec.details = dict(run.parameters), dict(run.details)
        rec.listeners = list(listeners)
        rec.provenance = Provenance(user=run.user, host=run.host,
                                    code_version=run.code_version, code_dirty=run.code_dirty,
                                    source_hash=run.source_hash)
        rec.id, rec._run, rec._lock = run.id, run, threading.Lock()
        rec._indexes, rec._unsaved = {}, []
        rec._init_deferred()
        rec.failure = run.error if run.status == "failed" else None
        for t in run.tasks:
            rec._indexes[t.step] = max(rec._indexes.get(t.step, 0), t.index + 1)
        return rec

    # -- the run -----------------------------------------------------------------------
    @property
    def run(self) -> RunRecord:
        """The run as last written by this recorder (tasks not included; see
        :meth:`refresh`).

        Raises:
            ConflictError: the run has not been started.
        """
        if self._run is None:
            raise ConflictError(f"run {self.id} of {self.pipeline!r} has not been started")
        return self._run

    @property
    def number(self) -> int:
        return self.run.number

    @property
    def pathspec(self) -> str:
        return self.run.pathspec

    @property
    def code_version(self) -> str | None:
        """What versions registered by this run record as their code version: the git
        commit, or the source hash outside a checkout."""
        return self.provenance.code_version or self.provenance.source_hash

    def start(self) -> RunRecord:
        """Create the run (status ``running``) and tell the listeners.

        Raises:
            ConflictError: already started.
        """
        if self._run is not None:
            raise ConflictError(f"run {self._run.pathspec} was already started")
        p = self.provenance
        self._run = self.catalog.backend.create_run(NewRun(
            id=self.id, project=self.catalog.project, pipeline=self.pipeline,
            started_at=time.time(), kind=self.kind, parameters=self.parameters, user=p.user,
            host=p.host, code_version=p.code_version, code_dirty=p.code_dirty,
            source_hash=p.source_hash, details=self.details))
        self._notify("run_started", self._run)
        return self._run

    def link(self, consumed: Sequence[str] = (), produced: Sequence[str] = ()) -> None:
        """Link versions to the run outside any task (e.g. a ``log_*`` call in the run
        body)."""
        self.flush()
        if consumed or produced:
            self.catalog.backend.link_run_versions(self.run.id, list(consumed), list(produced))

    def mark_failed(self, error: BaseException | str) -> None:
        """Set the run ``failed`` at once (a step failed), before :meth:`finish` ends it;
        a crash in between still leaves the failure on record."""
        self.failure = error_text(error)
        self.flush()
        self.catalog.backend.update_run(self.run.id, "failed", None, self.failure)

    def finish(self, error: BaseException | str | None = None,
               details: Mapping[str, Any] | None = None) -> RunRecord:
        """End the run: ``succeeded``, or ``failed`` with ``error``'s text; return the
        final record (tasks and versions included) after telling the listeners."""
        status = "failed" if error is not None else "succeeded"
        clean = None if details is None else names.check_metadata(details)
        self.flush()
        with self._writing, self._lock:  # no deferred start is written after this
            self._closed = True
            self._wake.notify_all()
        self.catalog.backend.update_run(self.run.id, status, time.time(),
                                        error_text(error), clean)
        final = self.refresh()
        self._notify("run_ended", final)
        return final

    def refresh(self) -> RunRecord:
        """The run as stored now, with its tasks and linked versions."""
        self.flush()
        self._run = self.catalog.backend.get_run(self.run.id, self.catalog.project)
        return self._run

    # -- tasks -------------------------------------------------------------------------
    def start_task(self, step: str, index: int | None = None, *, cache_key: str | None = None,
                   details: Mapping[str, Any] | None = None,
                   defer: bool = False) -> TaskRecord:
        """Record that a task of ``step`` started; ``index`` defaults to the next free
        index of that step in this recorder (0, 1, … for repeated calls or foreach).

        ``defer=True`` writes the "running" row only if the task is still running
        :data:`START_ROW_DELAY` seconds later (or when the run's rows are read or
        flushed first); a task that ends sooner gets one row, when it ends. A process
        killed before then leaves no row for the task (as for a deferred cached task).

        Raises:
            InvalidNameError: a malformed step name.
            ConflictError: the run was not started, or it already has a task with this
                step and index.
        """
        step = names.check_name(step, "step")
        run = self.run
        chosen = self._index(step, index)
        task = TaskRecord(id=new_id(), run_id=run.id, step=step, index=chosen,
                          status="running", started_at=_now(), cache_key=cache_key,
                          details=names.check_metadata(details))
        if defer:
            if self._unsaved:  # cached tasks before it are on record before it starts
                self.flush()
            self._defer_start(task)
        else:
            self._save(task)
        self._notify("task_started", run, task)
        return task

    def reuse_task(self, step: str, source: TaskRecord, *, index: int | None = None,
                   consumed: Sequence[str] = (),
                   details: Mapping[str, Any] | None = None,
                   defer: bool = False) -> TaskRecord:
        """Record, in one write, a task of ``step`` answered by an earlier task ``source``
        (a cache hit, or a finished step a resumed flow does not run again): status
        ``succeeded``, ``cached``, ``source``'s produced versions and ``data``, and
        ``details["cached_from"] = source.id``. Returns the task.

        ``defer=True`` writes it with the recorder's next write instead (the next task,
        :meth:`finish`, …: the cached steps of a re-run land in one transaction), or at
        :meth:`flush`. A process killed before then leaves the run without those rows
        (the run stays ``running``, as a killed run does).

        Raises:
            InvalidNameError, ConflictError: as :meth:`start_task`.
        """
        step = names.check_name(step, "step")
        run = self.run
        chosen = self._index(step, index)
        now = _now()
        task = TaskRecord(id=new_id(), run_id=run.id, step=step, index=chosen,
                          status="succeeded", started_at=now, ended_at=now, cached=True,
                          cache_key=source.cache_key, consumed=_unique(consumed),
                          produced=_unique(source.produced), data=dict(source.data),
                          details={**names.check_metadata(details), "cached_from": source.id})
        if defer:
            with self._lock:
                self._unsaved.append(task)
        else:
            self._save(task)
        self._notify("task_started", run, task)
        self._notify("task_ended", run, task)
        return task

    def finish_task(self, task: TaskRecord, *, consumed: Sequence[str] = (),
                    produced: Sequence[str] = (), data: Mapping[str, str] | None = None,
                    cached: bool = False,
                    details: Mapping[str, Any] | None = None) -> TaskRecord:
        """Record that ``task`` succeeded (or was answered from the cache when
        ``cached``), with the versions it consumed and produced and its ``data`` map
        (attribute/output name -> version id). Returns the stored task."""
        done = self.finished(task, consumed=consumed, produced=produced, data=data,
                             cached=cached, details=details)
        self._save(done)
        self.ended(done)
        return done

    def finished(self, task: TaskRecord, *, consumed: Sequence[str] = (),
                 produced: Sequence[str] = (), data: Mapping[str, str] | None = None,
                 cached: bool = False,
                 details: Mapping[str, Any] | None = None) -> TaskRecord:
        """The record :meth:`finish_task` would store, not stored: for an engine that
        saves it with the task's outputs (``catalog.step_batch``), then calls
        :meth:`ended` once it is stored."""
        return replace(task, status="succeeded", ended_at=_now(), cached=cached,
                       consumed=_unique(consumed), produced=_unique(produced),
                       data=dict(data or {}),
                       details={**task.details, **names.check_metadata(details)})

    def ended(self, done: TaskRecord) -> None:
        """Tell the listeners that ``done`` (stored) ended."""
        self._notify("task_ended", self.run, done)

    def supersede(self, task: TaskRecord) -> None:
        """``task``'s row is about to be written by the caller (its outputs'
        transaction): its deferred start row, if not written yet, never will be; if it
        is being written now, this waits until it is."""
        with self._writing, self._lock:
            self._starting.pop(task.id, None)

    def fail_task(self, task: TaskRecord, error: BaseException | str, *,
                  consumed: Sequence[str] = (), produced: Sequence[str] = (),
                  details: Mapping[str, Any] | None = None) -> TaskRecord:
        """Record that ``task`` failed with ``error`` (its type and message are kept)
        and ``details`` (e.g. the exception's type and traceback). Returns the stored
        task; the caller decides whether the run fails too."""
        done = replace(task, status="failed", ended_at=_now(), error=error_text(error),
                       consumed=_unique(consumed), produced=_unique(produced),
                       details={**task.details, **names.check_metadata(details)})
        self._save(done)
        self._notify("task_ended", self.run, done)
        return done

    def flush(self) -> None:
        """Write the tasks :meth:`reuse_task` deferred and the deferred starts of tasks
        still running (one transaction)."""
        with self._writing:
            self._write_deferred(due=None)

    def _save(self, task: TaskRecord) -> None:
        """Write ``task`` with any deferred tasks before it (one transaction)."""
        self.supersede(task)
        with self._lock:
            unsaved, self._unsaved = self._unsaved, []
        try:
            self._write([*unsaved, task])
        except BaseException:
            with self._lock:  # not written: kept for the next write
                self._unsaved[:0] = unsaved
            raise

    def _write(self, tasks: Sequence[TaskRecord]) -> None:
        """``tasks`` in one transaction (the one-row statement for a single task)."""
        if len(tasks) == 1:
            self.catalog.backend.save_task(tasks[0])
        elif tasks:
            self.catalog.backend.save_tasks(tasks)

    def _defer_start(self, task: TaskRecord) -> None:
        with self._lock:
            self._starting[task.id] = (time.monotonic() + START_ROW_DELAY, task)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, daemon=True,
                                                 name=f"archivist-run-{self.id}")
                self._watcher.start()
            # a watcher waiting for an earlier due time wakes by itself; one idle learns
            self._wake.notify()

    def _write_deferred(self, due: float | None) -> None:
        """Write the deferred cached tasks and the deferred starts due by ``due``
        (``None``: all), in one transaction. The caller holds ``_writing``."""
        with self._lock:
            if self._closed and due is not None:
                return
            unsaved, self._unsaved = self._unsaved, []
            starts = [t for when, t in self._starting.values() if due is None or when <= due]
            for t in starts:
                del self._starting[t.id]
        try:
            self._write([*unsaved, *starts])
        except BaseException:
            with self._lock:  # not written: kept for the next write
                self._unsaved[:0] = unsaved
                for t in starts:
                    self._starting.setdefault(t.id, (0.0, t))
            raise

    def _watch(self) -> None:
        """The watcher thread: writes each deferred start once it is due."""
        while True:
            with self._lock:
                while True:
                    if self._closed:
                        self._watcher = None
                        return
                    now = time.monotonic()
                    due = min((when for when, _ in self._starting.values()), default=None)
                    if due is not None and due <= now:
                        break
                    if not self._wake.wait(_WATCHER_IDLE if due is None else due - now) \
                            and due is None and not self._starting:
                        self._watcher = None  # idle: a later deferred start starts another
                        return
            try:
                with self._writing:
                    self._write_deferred(due=time.monotonic())
            except Exception as exc:  # kept for the next write, which reports a failure
                log.warning("run %s: could not write a running task's row: %s", self.id, exc)
                with self._lock:
                    self._wake.wait(START_ROW_DELAY)

    def _index(self, step: str, index: int | None) -> int:
        """``index``, or the next free index of ``step`` in this recorder."""
        with self._lock:
            chosen = self._indexes.get(step, 0) if index is None else index
            self._indexes[step] = max(self._indexes.get(step, 0), chosen + 1)
        return chosen

    def _notify(self, event: str, *args: Any) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, event)(*args)
            except Exception as exc:  # a lineage sink must never fail the pipeline
                log.warning("run listener %s failed on %s: %s", type(listener).__name__,
                            event, exc)


def error_text(error: BaseException | str | None) -> str | None:
    """``"ValueError: bad input"`` for an exception, the text for a string (bounded)."""
    if error is None:
        return None
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR] + "…"


def _now() -> datetime:
    return datetime.now(UTC)


def _unique(ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ids))
