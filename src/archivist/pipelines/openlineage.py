"""OpenLineage: every run and step as RunEvents, for Marquez and other lineage servers.

A run is the job ``<pipeline>`` and each task the job ``<pipeline>.<step>`` (with a
``parent`` facet naming the run), both in the namespace ``archivist://<project>``; the
run id of a step's events is its task id. Each gets a ``START`` event and then
``COMPLETE`` or ``FAIL`` (with an ``errorMessage`` facet) carrying its input and output
datasets: the versions consumed and produced, named ``<name>:<version>`` in the namespace
``archivist://<project>`` with a ``version`` facet holding the version id.

Events go through the ``openlineage-python`` client to an HTTP endpoint (``/api/v1/lineage``
under the URL, as Marquez expects) or appended as JSON lines to a file. Enable per run with
``pipeline(..., openlineage=...)`` or for every run with ``OPENLINEAGE_URL`` /
``ARCHIVIST_OPENLINEAGE_FILE``. A sink that fails is logged; it never fails the pipeline.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archivist._extras import missing
from archivist.errors import InvalidInputError
from archivist.model import RunRecord, TaskRecord

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog

PRODUCER = "https://github.com/archivist-dev/archivist"
ENV_URL = "OPENLINEAGE_URL"
ENV_FILE = "ARCHIVIST_OPENLINEAGE_FILE"
#: a lineage server that is down costs a pipeline well under a second, once
RETRY = {"total": 2, "connect": 2, "read": 2, "backoff_factor": 0.1,
         "status_forcelist": [500, 502, 503, 504], "allowed_methods": ["HEAD", "POST"]}
log = logging.getLogger(__name__)


def namespace(project: str) -> str:
    """The OpenLineage namespace of a project's jobs and datasets."""
    return f"archivist://{project}"


class OpenLineageEmitter:
    """A run listener that emits OpenLineage RunEvents through a client.

    Args:
        catalog: the catalog the run is recorded in (to name versions).
        client: an ``openlineage.client.OpenLineageClient``.
    """

    def __init__(self, catalog: ArtifactCatalog, client: Any) -> None:
        self.catalog = catalog
        self.client = client
        self.namespace = namespace(catalog.project)
        #: set after a failed emit: the rest of the run sends nothing (one warning)
        self.broken = False

    def run_started(self, run: RunRecord) -> None:
        self._emit("START", run.id, run.pipeline, run.started_at, (), (), None, None)

    def task_started(self, run: RunRecord, task: TaskRecord) -> None:
        self._emit("START", task.id, f"{run.pipeline}.{task.step}",
                   task.started_at or datetime.now(UTC), (), (), None, run)

    def task_ended(self, run: RunRecord, task: TaskRecord) -> None:
        state = "FAIL" if task.status == "failed" else "COMPLETE"
        self._emit(state, task.id, f"{run.pipeline}.{task.step}",
                   task.ended_at or datetime.now(UTC), task.consumed, task.produced,
                   task.error, run)

    def run_ended(self, run: RunRecord) -> None:
        state = "FAIL" if run.status == "failed" else "COMPLETE"
        self._emit(state, run.id, run.pipeline, run.ended_at or datetime.now(UTC),
                   run.consumed, run.produced, run.error, None)

    def close(self) -> None:
        self.client.close()

    def _emit(self, state: str, run_id: str, job: str, at: datetime, inputs: Sequence[str],
              outputs: Sequence[str], error: str | None, parent: RunRecord | None) -> None:
        if self.broken:
            return
        from openlineage.client.event_v2 import (
            InputDataset,
            Job,
            OutputDataset,
            Run,
            RunEvent,
            RunState,
        )
        from openlineage.client.generated import parent_run
        from openlineage.client.generated.dataset_version_dataset import (
            DatasetVersionDatasetFacet,
        )
        from openlineage.client.generated.error_message_run import ErrorMessageRunFacet

        facets: dict[str, Any] = {}
        if parent is not None:
            facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=parent.id),
                job=parent_run.Job(namespace=self.namespace, name=parent.pipeline))
        if error is not None:
            facets["errorMessage"] = ErrorMessageRunFacet(message=error,
                                                          programmingLanguage="python")
        named = self._names([*inputs, *outputs])

        def datasets(ids: Sequence[str], kind: Any) -> list[Any]:
            return [kind(namespace=self.namespace, name=named[i],
                         facets={"version": DatasetVersionDatasetFacet(datasetVersion=i)})
                    for i in ids if i in named]

        event = RunEvent(
            eventType=RunState[state], eventTime=at.isoformat(),
            run=Run(runId=run_id, facets=facets),
            job=Job(namespace=self.namespace, name=job),
            inputs=datasets(inputs, InputDataset), outputs=datasets(outputs, OutputDataset),
            producer=PRODUCER)
        try:
            self.client.emit(event)
        except Exception as exc:  # the sink's failure is never the pipeline's
            self.broken = True
            log.warning("OpenLineage events stop for this run: the sink failed (%s: %s)",
                        type(exc).__name__, exc)

    def _names(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        found = self.catalog.backend.get_versions_by_id(list(dict.fromkeys(ids)))
        return {a.id: f"{a.name}:{a.version}" for a in found}


def listener_for(target: Any, catalog: ArtifactCatalog) -> OpenLineageEmitter | None:
    """The emitter ``pipeline(openlineage=target)`` asks for, or ``None`` (off).

    ``target``: ``False`` (off), ``None`` (the environment: ``OPENLINEAGE_URL``, else
    ``ARCHIVIST_OPENLINEAGE_FILE``, else off; ``OPENLINEAGE_DISABLED=true`` turns the
    environment's sinks off), an ``http(s)://`` URL, a ``file://`` URL or
    a path (JSON lines appended), or an ``OpenLineageClient``.

    Raises:
        MissingDependencyError: ``openlineage-python`` is not installed.
        InvalidInputError: a target of another kind.
    """
    if target is False:
        return None
    if target is None:
        if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() in ("1", "true", "yes"):
            return None  # the client's own switch, honoured for the environment's sinks
        target = os.environ.get(ENV_URL) or os.environ.get(ENV_FILE) or None
        if target is None:
            return None
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if isinstance(target, str):
        return OpenLineageEmitter(catalog, client_for(target))
    if hasattr(target, "emit"):
        return OpenLineageEmitter(catalog, target)
    raise InvalidInputError("openlineage= takes a URL, a file path, an OpenLineageClient "
                            f"or False, got {type(target).__name__}")


def client_for(target: str) -> Any:
    """An ``OpenLineageClient`` sending to an HTTP(S) URL or appending to a file.

    Raises:
        MissingDependencyError: ``openlineage-python`` is not installed.
        InvalidInputError: an empty target.
    """
    try:
        from openlineage.client import OpenLineageClient
        from openlineage.client.transport.file import FileConfig, FileTransport
        from openlineage.client.transport.http import HttpConfig, HttpTransport
    except ImportError:
        raise missing("openlineage-python", "openlineage",
                      purpose="sending OpenLineage events") from None
    if not target.strip():
        raise InvalidInputError("the OpenLineage target is empty")
    if target.startswith(("http://", "https://")):
        transport: Any = HttpTransport(HttpConfig(url=target.rstrip("/"), timeout=5.0,
                                                  retry=dict(RETRY)))
    else:
        path = Path(target.removeprefix("file://")).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        transport = FileTransport(FileConfig(log_file_path=str(path), append=True))
    return OpenLineageClient(transport=transport)
