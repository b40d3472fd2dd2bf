"""Worker processes for a flow's branches and foreach tasks.

Workers are started by a fork server (or with ``spawn`` where there is none): no state
comes from the parent — no open database connections, no threads — so each opens its
own catalog from the same
location (:class:`CatalogLocation`) and imports the flow class again
(:class:`FlowLocator`): by module name, or by file path for a flow file that
``archivist flow run flow.py`` imported by path.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import multiprocessing
import os
import pickle
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archivist.errors import InvalidFlowError, InvalidInputError, StepFailedError
from archivist.pipelines.flows.attempts import run_attempts
from archivist.pipelines.flows.base import FlowBase
from archivist.pipelines.flows.state import TaskOutcome, TaskSpec
from archivist.pipelines.flows.task import run_task
from archivist.pipelines.flows.values import ValueCache

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog

#: Module names given to flow files imported by path (``archivist flow run flow.py``).
FILE_MODULE_PREFIX = "archivist_flowfile_"


@dataclass(frozen=True)
class CatalogLocation:
    """Enough to open the same catalog in another process.

    ``backend=None`` means the default resolution (ARCHIVIST_HOME, the config file, …),
    which a worker inherits with the environment and working directory; ``remote`` a
    catalog server at ``backend`` (with ``api_key``).
    """

    backend: str | None
    blobs: str | None
    project: str
    user: str | None = None
    remote: bool = False
    api_key: str | None = None

    @classmethod
    def of(cls, catalog: ArtifactCatalog, given: object) -> CatalogLocation:
        """Where ``catalog`` (opened from ``given``) lives.

        Raises:
            InvalidInputError: a catalog over a backend object that cannot be reopened
                by location; pass ``catalog=`` as a folder or URL instead.
        """
        if given is None:
            return cls(None, None, catalog.project, catalog.user)
        url = getattr(catalog.backend, "url", None)
        transport = getattr(catalog.backend, "transport", None)
        if isinstance(url, str) and transport is not None:  # a catalog server
            return cls(url, None, catalog.project, catalog.user, remote=True,
                       api_key=getattr(transport, "api_key", None))
        blobs = getattr(catalog.blobs, "url", None)
        if isinstance(url, str) and isinstance(blobs, str):
            return cls(url, blobs, catalog.project, catalog.user)
        if isinstance(given, str | os.PathLike):
            return cls(os.fspath(given), None, catalog.project, catalog.user)
        raise InvalidInputError(
            f"worker processes cannot reopen {catalog!r} ({type(catalog.backend).__name__}); "
            "pass catalog= as a folder or database URL, or run with max_workers=1")

    def open(self) -> ArtifactCatalog:
        from archivist.catalog import ArtifactCatalog

        if self.remote and self.backend is not None:
            from archivist.backends.remote.backend import RemoteCatalogBackend

            return ArtifactCatalog(RemoteCatalogBackend(self.backend, self.api_key),
                                   self.project, user=self.user)
        return ArtifactCatalog(self.backend, self.project, blobs=self.blobs, user=self.user)


@dataclass(frozen=True)
class FlowLocator:
    """Where a flow class is defined: module and qualified name, and its file."""

    module: str
    qualname: str
    file: str | None

    @classmethod
    def of(cls, flow_cls: type[FlowBase]) -> FlowLocator:
        """Where ``flow_cls`` is defined.

        Raises:
            InvalidFlowError: the class is local to a function, or not defined in a file
                (``exec``): worker processes could not import it.
        """
        if "<locals>" in flow_cls.__qualname__:
            raise InvalidFlowError(
                f"{flow_cls.__name__} is defined inside a function, so worker processes "
                "cannot import it; define it at module level or run with max_workers=1",
                step="")
        module = sys.modules.get(flow_cls.__module__)
        file = getattr(module, "__file__", None)
        if file is None:
            raise InvalidFlowError(
                f"{flow_cls.__name__} is not defined in a file (module "
                f"{flow_cls.__module__!r}), so worker processes cannot import it; save it in "
                "a .py file or run with max_workers=1", step="")
        return cls(flow_cls.__module__, flow_cls.__qualname__, file)

    def load(self) -> type[FlowBase]:
        """Import the module (by name, else from its file) and return the class.

        Raises:
            InvalidFlowError: the module or class cannot be found.
        """
        module = sys.modules.get(self.module)
        if module is None and not self.module.startswith(FILE_MODULE_PREFIX) \
                and self.module != "__main__":
            try:
                module = importlib.import_module(self.module)
            except ImportError:
                module = None
        if module is None and self.file is not None:
            module = import_file(Path(self.file), self.module)
        if module is None:
            raise InvalidFlowError(f"cannot import the flow module {self.module!r} in a "
                                   "worker process", step="")
        found: Any = module
        for part in self.qualname.split("."):
            found = getattr(found, part, None)
        if found is None:
            raise InvalidFlowError(f"module {self.module!r} has no flow {self.qualname!r}",
                                   step="")
        flow: type[FlowBase] = found
        return flow


def import_file(path: Path, module_name: str | None = None) -> Any:
    """Import a Python file by path, as ``module_name`` (default: derived from the path).

    Raises:
        InvalidInputError: the file does not exist or is not Python.
    """
    resolved = path.resolve()
    if not resolved.is_file():
        raise InvalidInputError(f"flow file {path} does not exist")
    stem = "".join(c if c.isalnum() else "_" for c in resolved.stem)
    tag = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    name = module_name or f"{FILE_MODULE_PREFIX}{stem}_{tag}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise InvalidInputError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: dataclasses and pickle look it up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class _WorkerState:
    """The catalog, flow classes and recently read values of one worker process (set by
    its initializer). Values are kept by version id, which names immutable content, so
    the tasks of a foreach load the shared sequence once per worker, not once each."""

    catalog: ArtifactCatalog | None = None
    location: CatalogLocation | None = None
    flows: dict[FlowLocator, type[FlowBase]] = {}
    values = ValueCache()


def _init_worker(location: CatalogLocation, environment: dict[str, str]) -> None:
    # A fork server started by an earlier pool holds the environment of that moment;
    # take the one the flow runs with now (credentials, ARCHIVIST_*, AWS_* …).
    os.environ.clear()
    os.environ.update(environment)
    _WorkerState.catalog = location.open()
    _WorkerState.location = location


def _run_in_worker(locator: FlowLocator, spec: TaskSpec) -> TaskOutcome:
    flow_cls = _WorkerState.flows.get(locator)
    if flow_cls is None:
        flow_cls = _WorkerState.flows[locator] = locator.load()
    assert _WorkerState.catalog is not None and _WorkerState.location is not None, \
        "worker started without its initializer"
    location = _WorkerState.location

    def isolate(task: TaskSpec, seconds: float) -> TaskOutcome:
        return run_isolated(locator, location, task, seconds)

    outcome = run_attempts(flow_cls, flow_cls.spec().graph, spec, _WorkerState.catalog,
                           _WorkerState.values, isolate)
    return portable(outcome)


def portable(outcome: TaskOutcome) -> TaskOutcome:
    """``outcome`` made safe to send to another process.

    An exception that pickles but does not unpickle (a user exception whose ``__init__``
    takes other arguments than its ``args``) would break the pool when the parent reads
    the result (``BrokenProcessPool``, or a hang in ``shutdown``), losing the error; it
    travels as a :class:`StepFailedError` with the original type, message and traceback.
    """
    exc = outcome.exception
    if exc is None:
        return outcome
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        kind = str(outcome.details.get("exception_type") or type(exc).__name__)
        stand_in = StepFailedError(
            f"{outcome.error} (the exception {kind} could not be re-created in this "
            "process: its traceback is in the notes and the task's details)",
            exception_type=kind, traceback=outcome.traceback or "")
        return replace(outcome, exception=stand_in)
    return outcome


def run_isolated(locator: FlowLocator, location: CatalogLocation, spec: TaskSpec,
                 seconds: float) -> TaskOutcome:
    """Run one attempt of a task in a process of its own, killed after ``seconds``
    (``@timeout``: a thread cannot be stopped, a process can)."""
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_run_alone,  # type: ignore[attr-defined]
                              args=(locator, location, dict(os.environ), spec, sender))
    started = time.time()
    process.start()
    sender.close()
    outcome: TaskOutcome | None = None
    try:
        if receiver.poll(seconds):
            with contextlib.suppress(EOFError):
                outcome = receiver.recv()
        else:
            outcome = _stopped(spec, started, f"step {spec.step!r} ran past its @timeout "
                               f"of {seconds:g} s and was stopped")
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()
    if outcome is None:
        outcome = _stopped(spec, started, f"the worker process running step {spec.step!r} "
                           f"died (exit code {process.exitcode})")
    return outcome


def _stopped(spec: TaskSpec, started: float, message: str) -> TaskOutcome:
    error = StepFailedError(message, step=spec.step)
    return TaskOutcome(error=f"StepFailedError: {message}", exception=error,
                       started_at=started, ended_at=time.time(),
                       details={"exception_type": "archivist.errors.StepFailedError"})


def _run_alone(locator: FlowLocator, location: CatalogLocation, environment: dict[str, str],
               spec: TaskSpec, sender: Any) -> None:
    os.environ.clear()
    os.environ.update(environment)
    flow_cls = locator.load()
    with location.open() as catalog:
        outcome = run_task(flow_cls, flow_cls.spec().graph, spec, catalog, None)
    sender.send(portable(outcome))
    sender.close()


def _context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where the platform has it, else ``spawn``.

    Both start workers without the parent's threads and connections. The fork server is
    started once per process with archivist already imported, so a pool's workers start
    in milliseconds instead of re-importing everything (about 1 s each under ``spawn``).
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["archivist.pipelines.flows.workers"])
        return context
    return multiprocessing.get_context("spawn")


class WorkerPool:
    """A pool of ``max_workers`` spawned processes running tasks of one flow."""

    def __init__(self, flow_cls: type[FlowBase], location: CatalogLocation,
                 max_workers: int) -> None:
        self.locator = FlowLocator.of(flow_cls)
        self.capacity = max_workers
        self._pool = ProcessPoolExecutor(max_workers=max_workers, mp_context=_context(),
                                         initializer=_init_worker,
                                         initargs=(location, dict(os.environ)))

    def submit(self, spec: TaskSpec) -> Future[TaskOutcome]:
        return self._pool.submit(_run_in_worker, self.locator, spec)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
