"""Running a flow's tasks past one machine: on a Dask distributed cluster.

``MyFlow().run(executor="dask://scheduler:8786")`` (or ``executor=DaskExecutor(client)``)
sends branches and foreach tasks to the cluster's workers instead of local processes.
As with local processes, the engine records every task and walks the graph in the
flow's process; a worker runs one task (its ``@retry``, ``@catch``, ``@timeout``) exactly as a
local worker process does (:func:`~archivist.pipelines.flows.attempts.run_attempts`) and
sends back the same :class:`~archivist.pipelines.flows.state.TaskOutcome`, made
:func:`~archivist.pipelines.flows.workers.portable`.

Workers open the catalog from its ``CatalogLocation`` (a catalog server's URL and API key,
a PostgreSQL URL and an S3 bucket, or a local folder's SQLite file) once per worker thread,
and import the flow class by ``FlowLocator``. Before the first task every worker must open
the catalog and find the run, so a location they cannot reach is a clear error, not a hang.
Dask reschedules a task whose worker died (``distributed.scheduler.allowed-failures``, 3
by default); then the task fails with a ``StepFailedError`` naming ``KilledWorker``.
``@resources`` become Dask worker resources (:mod:`.clusterresources`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from archivist._extras import is_instance, require
from archivist.errors import InvalidInputError
from archivist.pipelines.flows.attempts import MAX_TRACEBACK, run_attempts
from archivist.pipelines.flows.base import FlowBase
from archivist.pipelines.flows.clusterresources import dask_requests
from archivist.pipelines.flows.state import TaskOutcome, TaskSpec
from archivist.pipelines.flows.values import ValueCache
from archivist.pipelines.flows.workers import (
    FILE_MODULE_PREFIX,
    CatalogLocation,
    FlowLocator,
    portable,
    run_isolated,
)

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog

#: How ``executor=`` names a Dask scheduler: ``dask://host:port`` (its ``tcp://`` address).
DASK_SCHEME = "dask://"
#: Tasks kept submitted per worker thread (one waits there while the last is recorded).
TASKS_PER_THREAD = 2


class TaskPool(Protocol):
    """Where the engine sends ready tasks: at most ``capacity`` at a time."""

    capacity: int

    def submit(self, spec: TaskSpec) -> Future[TaskOutcome]: ...

    def close(self) -> None: ...


class DaskExecutor:
    """Run a flow's tasks on a Dask distributed cluster.

    Args:
        cluster: a ``distributed.Client`` (left open: it is the caller's), or the
            scheduler's address (``"tcp://host:8786"``, ``"dask://host:8786"``); with an
            address, a client is connected for the run and closed after it.
        environment: variables set in the workers before each task: a mapping, or names
            whose values are copied from this process's environment (say
            ``["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]``). By
            default none: the workers' own environment must reach the catalog.
        max_tasks: tasks submitted at a time (default: twice the cluster's worker threads,
            read when the run starts; ``max_workers=`` of ``run`` above 1 sets it too).
        timeout: seconds to wait for the scheduler, a first worker and every worker's
            catalog check before the run fails.

    Raises:
        InvalidInputError: a bad argument.
        MissingDependencyError: ``distributed`` is not installed (the ``dask`` extra).
    """

    def __init__(self, cluster: Any, *, environment: Mapping[str, str] | Sequence[str]
                 | None = None, max_tasks: int | None = None, timeout: float = 60.0) -> None:
        require("distributed", "dask", purpose="running flow tasks on a Dask cluster")
        if isinstance(cluster, str):
            address = cluster.strip()
            if address.startswith(DASK_SCHEME):
                address = "tcp://" + address[len(DASK_SCHEME):]
            if "://" not in address or address.endswith("://"):
                raise InvalidInputError(f"a Dask scheduler address looks like "
                                        f"dask://host:8786 or tcp://host:8786, got {cluster!r}")
            self.address: str | None = address
            self.client: Any = None
        elif is_instance(cluster, "distributed", "Client"):
            self.address, self.client = None, cluster
        else:
            raise InvalidInputError(f"DaskExecutor takes a distributed.Client or a scheduler "
                                    f"address, got {type(cluster).__name__}")
        if max_tasks is not None and (isinstance(max_tasks, bool)
                                      or not isinstance(max_tasks, int) or max_tasks < 1):
            raise InvalidInputError(f"max_tasks must be a positive integer, got {max_tasks!r}")
        if not timeout > 0:
            raise InvalidInputError(f"timeout must be positive, got {timeout!r}")
        self.environment = _environment(environment)
        self.max_tasks = max_tasks
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        where = self.address or getattr(self.client, "scheduler", None) or self.client
        return f"DaskExecutor({where!r})"

    def open(self, flow_cls: type[FlowBase], catalog: ArtifactCatalog, run_id: str,
             max_workers: int) -> DaskPool:
        """Connect, check that every worker reaches the catalog, and return the pool.

        Raises:
            InvalidInputError: the scheduler does not answer, it has no worker, or a
                worker cannot open the catalog or does not find the run in it.
            InvalidFlowError: the flow class cannot be imported by workers.
        """
        locator = FlowLocator.of(flow_cls)
        location = CatalogLocation.of(catalog, catalog)  # explicit: no default resolution
        client, owned = self.client, False
        if client is None:
            distributed = require("distributed", "dask",
                                  purpose="running flow tasks on a Dask cluster")
            try:
                client = distributed.Client(self.address, timeout=self.timeout,
                                            set_as_default=False)
            except OSError as exc:
                raise InvalidInputError(
                    f"cannot reach the Dask scheduler at {self.address} within "
                    f"{self.timeout:g} s ({exc})") from None
            owned = True
        try:
            threads = _check_workers(client, location, run_id, dict(self.environment),
                                     self.timeout)
            requests = dask_requests(flow_cls, client.scheduler_info()["workers"])
        except BaseException:
            if owned:
                client.close()
            raise
        capacity = self.max_tasks or (max_workers if max_workers > 1
                                      else TASKS_PER_THREAD * threads)
        return DaskPool(client, owned, locator, location, dict(self.environment), capacity,
                        requests)


class DaskPool:
    """The tasks of one run on a Dask cluster (see :class:`DaskExecutor`)."""

    def __init__(self, client: Any, owned: bool, locator: FlowLocator,
                 location: CatalogLocation, environment: dict[str, str],
                 capacity: int, requests: dict[str, dict[str, float]] | None = None) -> None:
        self.client, self.owned = client, owned
        self.locator, self.location, self.environment = locator, location, environment
        self.capacity = capacity
        self.requests = requests or {}  # step -> Dask resources= (see clusterresources)
        self._pending: dict[str, Any] = {}  # key -> dask future (kept, or Dask forgets it)
        self._lock = threading.Lock()

    def submit(self, spec: TaskSpec) -> Future[TaskOutcome]:
        key = f"archivist-{spec.flow}-{spec.step}-{uuid.uuid4().hex}"
        remote = self.client.submit(run_on_worker, self.locator, self.location,
                                    self.environment, spec, key=key, pure=False,
                                    resources=self.requests.get(spec.step))
        result: Future[TaskOutcome] = Future()
        result.set_running_or_notify_cancel()
        with self._lock:
            self._pending[key] = remote

        def transfer(done: Any) -> None:  # in a thread of the Dask client
            with self._lock:
                self._pending.pop(key, None)
            try:
                result.set_result(done.result())
            except BaseException as exc:  # KilledWorker, CancelledError, …
                result.set_exception(exc)

        remote.add_done_callback(transfer)
        return result

    def close(self) -> None:
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        try:
            if pending:
                with contextlib.suppress(Exception):
                    self.client.cancel(pending)
        finally:
            if self.owned:
                self.client.close()


def executor_of(value: object) -> DaskExecutor | None:
    """What ``run(executor=...)`` names: ``None`` (or ``"local"``) for local processes, a
    ``dask://host:port`` address, a ``distributed.Client``, or a :class:`DaskExecutor`.

    Raises:
        InvalidInputError: anything else.
        MissingDependencyError: a Dask executor without ``distributed`` installed.
    """
    if value is None or value == "local":
        return None
    if isinstance(value, DaskExecutor):
        return value
    if isinstance(value, str) and value.startswith(DASK_SCHEME):
        return DaskExecutor(value)
    if is_instance(value, "distributed", "Client"):
        return DaskExecutor(value)
    raise InvalidInputError(f"executor must be 'local', a Dask scheduler address "
                            f"(dask://host:8786), a distributed.Client or a DaskExecutor, "
                            f"got {value!r}")


def _environment(given: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    if given is None:
        return {}
    if isinstance(given, Mapping):
        return {str(k): str(v) for k, v in given.items()}
    if isinstance(given, str):
        raise InvalidInputError("environment= takes a mapping or a list of variable names, "
                                f"got the string {given!r}")
    missing = [name for name in given if name not in os.environ]
    if missing:
        raise InvalidInputError(f"environment= names {missing[0]!r}, which is not set here")
    return {name: os.environ[name] for name in given}


def _check_workers(client: Any, location: CatalogLocation, run_id: str,
                   environment: dict[str, str], timeout: float) -> int:
    """Ask every worker to open the catalog and find ``run_id``; their threads in all.

    Raises:
        InvalidInputError: no worker within ``timeout``, or one that failed the check.
    """
    distributed = require("distributed", "dask", purpose="running flow tasks on a Dask cluster")
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, distributed.TimeoutError):
        raise InvalidInputError(f"the Dask cluster at {client.scheduler.address} has no "
                                f"worker (waited {timeout:g} s)") from None
    threads: dict[str, int] = client.nthreads()
    checks = {address: client.submit(check_catalog, location, run_id, environment,
                                     key=f"archivist-check-{uuid.uuid4().hex}",
                                     workers=[address], allow_other_workers=False, pure=False)
              for address in threads}
    with contextlib.suppress(TimeoutError, distributed.TimeoutError):
        distributed.wait(list(checks.values()), timeout=timeout)
    waiting = {f for f in checks.values() if not f.done()}
    for address, future in checks.items():
        if future in waiting:
            client.cancel([future])
            raise InvalidInputError(
                f"the Dask worker {address} did not open the catalog "
                f"{_shown(location)} within {timeout:g} s; can it reach it?")
        problem = future.result()
        if problem is not None:
            raise InvalidInputError(f"the Dask worker {address} cannot use the catalog "
                                    f"{_shown(location)}: {problem}")
    return max(1, sum(threads.values()))


def _shown(location: CatalogLocation) -> str:
    return location.backend or "(default)"


# -- on the workers -----------------------------------------------------------------------
class _Opened(threading.local):
    """What one worker thread keeps between tasks: the catalogs it opened, by location
    (the :data:`KEPT_CATALOGS` used last), and the values read by version id (immutable
    content: the tasks of a foreach load its sequence once per thread)."""

    def __init__(self) -> None:
        self.catalogs: OrderedDict[CatalogLocation, ArtifactCatalog] = OrderedDict()
        self.values = ValueCache()


#: Catalogs a worker thread keeps open between tasks (a long-lived worker serves many
#: runs, maybe on other catalogs: the least recently used is closed).
KEPT_CATALOGS = 4

_opened = _Opened()
#: Flow classes by locator, with the (mtime, size) of their file when imported by path.
_flows: dict[FlowLocator, tuple[type[FlowBase], tuple[int, int] | None]] = {}
_flows_lock = threading.Lock()


def _catalog(location: CatalogLocation) -> ArtifactCatalog:
    catalogs = _opened.catalogs
    catalog = catalogs.get(location)
    if catalog is None:
        _must_exist(location)
        catalog = catalogs[location] = location.open()
        while len(catalogs) > KEPT_CATALOGS:
            _, oldest = catalogs.popitem(last=False)
            with contextlib.suppress(Exception):
                oldest.close()
    catalogs.move_to_end(location)
    return catalog


def _flow(locator: FlowLocator) -> type[FlowBase]:
    """The flow class, imported once per worker process; a flow file imported by path
    (``archivist flow run flow.py``) is imported again when it changed since, as a new
    local worker process would (a module imported by name stays: restart the workers
    to change it, as for any code Dask runs)."""
    by_path = locator.module.startswith(FILE_MODULE_PREFIX) and locator.file is not None
    stamp = None
    if by_path and locator.file is not None:
        with contextlib.suppress(OSError):
            found = os.stat(locator.file)
            stamp = (found.st_mtime_ns, found.st_size)
    with _flows_lock:
        cached = _flows.get(locator)
        if cached is not None and cached[1] == stamp:
            return cached[0]
        if cached is not None and by_path:
            sys.modules.pop(locator.module, None)
        flow_cls = locator.load()
        _flows[locator] = (flow_cls, stamp)
        return flow_cls


def _must_exist(location: CatalogLocation) -> None:
    """A local catalog's database must be there: opening would create an empty one."""
    backend = location.backend or ""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if backend.startswith(prefix):
            path = Path(backend[len(prefix):])
            if not path.exists():
                raise InvalidInputError(
                    f"the catalog database {path} does not exist on this worker (a local "
                    "catalog works only with workers on its machine; use a catalog server "
                    "or PostgreSQL and S3)")


def check_catalog(location: CatalogLocation, run_id: str,
                  environment: dict[str, str]) -> str | None:
    """On a worker: ``None`` if it opens the catalog and finds the run, else why not."""
    os.environ.update(environment)
    try:
        _catalog(location).get_run(run_id)
    except Exception as exc:
        _opened.catalogs.pop(location, None)
        return f"{type(exc).__name__}: {exc}"
    return None


def run_on_worker(locator: FlowLocator, location: CatalogLocation,
                  environment: dict[str, str], spec: TaskSpec) -> TaskOutcome:
    """On a worker: one task with its decorators, as a local worker process runs it."""
    started = time.time()
    os.environ.update(environment)
    try:
        flow_cls = _flow(locator)
        catalog = _catalog(location)
    except Exception as exc:  # reported like a failed step: type, message, traceback
        return portable(_failed(exc, started))

    def isolate(task: TaskSpec, seconds: float) -> TaskOutcome:
        with _children_allowed():
            return run_isolated(locator, location, task, seconds)

    outcome = run_attempts(flow_cls, flow_cls.spec().graph, spec, catalog, _opened.values,
                           isolate)
    return portable(outcome)


def _failed(exc: Exception, started: float) -> TaskOutcome:
    kind = type(exc)
    text = "".join(traceback.format_exception(exc))
    return TaskOutcome(pid=os.getpid(), started_at=started, ended_at=time.time(),
                       error=f"{kind.__name__}: {exc}", traceback=text, exception=exc,
                       details={"exception_type": f"{kind.__module__}.{kind.__qualname__}",
                                "traceback": text[-MAX_TRACEBACK:]})


@contextlib.contextmanager
def _children_allowed() -> Iterator[None]:
    """Let a daemonic Dask worker start the process of a ``@timeout`` attempt.

    Dask starts its worker processes as daemons (``distributed.worker.daemon``), and
    ``multiprocessing`` refuses children to a daemon, which would leave them behind when
    it exits; the attempt's process is killed and joined before :func:`run_isolated`
    returns, so it never outlives the task. (The flag is this process's view of itself.)
    """
    config: dict[str, Any] = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    config["daemon"] = False
    yield
