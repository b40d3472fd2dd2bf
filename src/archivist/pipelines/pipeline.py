"""``pipeline``: the run that ``@step`` calls record themselves into.

Three spellings, one behaviour::

    with pipeline("fraud_detection", parameters={"lr": 0.1}) as run:
        train(featurize(load_raw()))
    print(run.pathspec)                     # "fraud_detection/1"

    @pipeline                               # name: the function's; parameters: its arguments
    def fraud_detection(lr: float = 0.1): ...

    @pipeline("fraud", catalog=catalog, openlineage="http://localhost:5000")
    def main(): ...

A decorated function returns what the function returns; its last run is at
``main.last_run``. The block (or function) ending with an exception — or any step in it
having failed, even if the exception was caught — ends the run ``failed``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Unpack

from archivist import names
from archivist.catalog import artifactpath
from archivist.catalog.arguments import LogFields
from archivist.catalog.logbook import PlotArtifact
from archivist.errors import ArtifactNotFoundError, InvalidInputError
from archivist.materializers._jsonsafe import json_safe
from archivist.materializers.column_stats import PREVIEW_ROWS
from archivist.model import RunRecord
from archivist.pipelines.context import ActiveRun, running
from archivist.pipelines.openlineage import listener_for
from archivist.pipelines.runs import RunListener, RunRecorder

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog
    from archivist.model import Artifact


class PipelineRun:
    """The run of a ``with pipeline(...)`` block: its identity and the logging helpers."""

    def __init__(self, recorder: RunRecorder, active: ActiveRun) -> None:
        self.recorder = recorder
        self._active = active
        self.catalog = active.catalog

    @property
    def id(self) -> str:
        return self.recorder.id

    @property
    def uid(self) -> str:
        return self.recorder.id

    @property
    def number(self) -> int:
        return self.recorder.number

    @property
    def pathspec(self) -> str:
        return self.recorder.pathspec

    @property
    def pipeline(self) -> str:
        return self.recorder.pipeline

    @property
    def record(self) -> RunRecord:
        """The run as stored now (status, tasks, versions)."""
        self.recorder.flush()  # the cached tasks recorded so far, written
        return self.catalog.get_run(self.recorder.id)

    @property
    def artifact_path(self) -> str | None:
        """The folder this run's ``log_*`` calls copy to, ``{{project}}`` and
        ``{{run.uid}}`` filled in (MLRun's ``context.artifact_path``); ``None``: none."""
        template = artifactpath.chosen(None, self.catalog.artifact_path)
        if template is None:
            return None
        return str(artifactpath.expand(template, project=self.catalog.project,
                                       run_uid=self.recorder.id))

    def artifact(self, key: str) -> Artifact:
        """The newest version named ``key`` this run produced (MLRun's
        ``run.artifact(key)``).

        Raises:
            ArtifactNotFoundError: the run produced no version named ``key``.
        """
        found = self.catalog.list(name=key, source_run_id=self.recorder.id, limit=1)
        if not found:
            raise ArtifactNotFoundError(f"run {self.recorder.pathspec} produced no version "
                                        f"named {key!r}")
        return found[0]

    def log_dataset(self, key: str, df: Any, preview: int = PREVIEW_ROWS, stats: bool = True,
                    *, format: str = "parquet", index: bool = True,
                    artifact_path: str | os.PathLike[str] | None = None,
                    **fields: Unpack[LogFields]) -> Artifact:
        """See :meth:`ArtifactCatalog.log_dataset`."""
        return self.catalog.log_dataset(key, df, preview=preview, stats=stats, format=format,
                                        index=index, artifact_path=artifact_path, **fields)

    def log_model(self, key: str, model: Any, metrics: Mapping[str, Any] | None = None, *,
                  artifact_path: str | os.PathLike[str] | None = None,
                  **fields: Unpack[LogFields]) -> Artifact:
        """See :meth:`ArtifactCatalog.log_model`."""
        return self.catalog.log_model(key, model, metrics=metrics, artifact_path=artifact_path,
                                      **fields)

    def log_plot(self, key: str, figure: Any, *,
                 artifact_path: str | os.PathLike[str] | None = None,
                 **fields: Unpack[LogFields]) -> Artifact:
        """See :meth:`ArtifactCatalog.log_plot`."""
        return self.catalog.log_plot(key, figure, artifact_path=artifact_path, **fields)

    def log_metrics(self, key: str, metrics: Mapping[str, Any], *,
                    artifact_path: str | os.PathLike[str] | None = None,
                    **fields: Unpack[LogFields]) -> Artifact:
        """See :meth:`ArtifactCatalog.log_metrics`."""
        return self.catalog.log_metrics(key, metrics, artifact_path=artifact_path, **fields)

    def log_artifact(self, item: str | PlotArtifact, body: Any = None,
                     local_path: str | os.PathLike[str] | None = None, *,
                     artifact_path: str | os.PathLike[str] | None = None,
                     **fields: Unpack[LogFields]) -> Artifact:
        """See :meth:`ArtifactCatalog.log_artifact`."""
        return self.catalog.log_artifact(item, body, local_path, artifact_path=artifact_path,
                                         **fields)

    def __repr__(self) -> str:
        return f"PipelineRun({self.recorder.pathspec!r}, id={self.recorder.id!r})"


@dataclass(frozen=True)
class _Open:
    """One run in progress: its handle, its context scope, whether we own the catalog."""

    run: PipelineRun
    scope: contextlib.ExitStack[bool | None]
    owned: bool


class _Pipeline:
    """A configured pipeline: a context manager, and a decorator."""

    def __init__(self, name: str | None, *, catalog: ArtifactCatalog | None,
                 parameters: Mapping[str, Any] | None, openlineage: Any,
                 source: Any, artifact_path: str | os.PathLike[str] | None = None) -> None:
        self.name = None if name is None else names.check_name(name, "pipeline")
        self.artifact_path = artifactpath.check(artifact_path)
        self.catalog = catalog
        self.parameters = dict(parameters or {})
        self.openlineage = openlineage
        self.source = source
        self._open: list[_Open] = []  # the with-blocks entered on this object

    def __enter__(self) -> PipelineRun:
        if self.name is None:
            raise InvalidInputError("with pipeline(...) needs a name: "
                                    "pipeline('fraud_detection')")
        opened = self._start(self.name, self.parameters, self.source)
        self._open.append(opened)
        return opened.run

    def __exit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> None:
        self._end(self._open.pop(), exc)

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        name = self.name or names.check_name(fn.__name__, "pipeline")
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            params = {**self.parameters, **json_safe(dict(bound.arguments))}
            opened = self._start(name, params, fn)  # per call: safe in threads, recursion
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                wrapper.__dict__["last_run"] = self._end(opened, exc)
                raise
            wrapper.__dict__["last_run"] = self._end(opened, None)
            return result

        wrapper.__dict__["last_run"] = None  # read as fn.last_run: the run of the last call
        return wrapper

    def _start(self, name: str, parameters: Mapping[str, Any], source: Any) -> _Open:
        owned = self.catalog is None
        if self.catalog is None:
            from archivist.catalog import ArtifactCatalog

            catalog = ArtifactCatalog()
        else:
            catalog = self.catalog
        try:
            listeners: list[RunListener] = []
            emitter = listener_for(self.openlineage, catalog)
            if emitter is not None:
                listeners.append(emitter)
            recorder = RunRecorder(catalog, name, parameters=parameters, source=source,
                                   listeners=listeners)
            recorder.start()
        except BaseException:
            if owned:
                catalog.close()
            raise
        active = ActiveRun(recorder=recorder, catalog=catalog)
        scope = contextlib.ExitStack()
        scope.enter_context(running(active))
        if self.artifact_path is not None:
            scope.enter_context(artifactpath.run_default(self.artifact_path))
        return _Open(PipelineRun(recorder, active), scope, owned)

    def _end(self, opened: _Open, exc: BaseException | None) -> RunRecord:
        run = opened.run
        try:
            opened.scope.close()
            failed = run.recorder.failure or exc  # the failed step says more
            return run.recorder.finish(error=failed)
        finally:
            if opened.owned:
                run.catalog.close()


def pipeline(name: str | Callable[..., Any] | None = None, *,
             catalog: ArtifactCatalog | None = None,
             parameters: Mapping[str, Any] | None = None, openlineage: Any = None,
             artifact_path: str | os.PathLike[str] | None = None) -> Any:
    """A run that ``@step`` calls inside it are recorded into.

    Args:
        name: the pipeline's name (the first half of the run's pathspec); as a bare
            decorator, the function's name.
        catalog: where to record (default: ``ArtifactCatalog()``, closed afterwards).
        parameters: JSON object recorded with the run (a decorated function adds its
            arguments).
        openlineage: emit OpenLineage events: an ``http(s)://`` URL, a file path, an
            ``OpenLineageClient``, ``False`` to turn off; ``None`` follows the
            environment (``OPENLINEAGE_URL``, ``ARCHIVIST_OPENLINEAGE_FILE``).
        artifact_path: the folder every ``log_*`` call of the run copies to (over the
            catalog's ``set_environment``); may use ``{{project}}`` and ``{{run.uid}}``.

    Raises:
        InvalidNameError: a malformed name.
        InvalidInputError: parameters that are not a JSON object.
    """
    if callable(name):
        return _Pipeline(None, catalog=catalog, parameters=parameters,
                         openlineage=openlineage, source=name,
                         artifact_path=artifact_path)(name)
    caller = sys._getframe(1).f_code.co_filename
    return _Pipeline(name, catalog=catalog, parameters=parameters, openlineage=openlineage,
                     source=caller if caller and not caller.startswith("<") else None,
                     artifact_path=artifact_path)
