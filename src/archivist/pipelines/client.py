"""Reading past flow runs: ``Run`` -> ``Step`` -> ``Task`` -> ``DataArtifact``.

::

    from archivist import Run

    run = Run("TrainFlow/3")                 # or a run id; catalog= to choose the catalog
    run.status, run.parameters, [s.name for s in run.steps]
    run["train"].task.data.accuracy          # a value, loaded from the catalog
    run["train"].task["accuracy"].sha        # its digest; .finished_at, .id, .version
    [t.data.score for t in run["score"]]     # a foreach step has one task per item
    run.artifacts                            # the versions the run produced (catalog ids)

Values load through the catalog (hashed before they are trusted); a value stored as a
pickle loads only with ``Run(..., allow_pickle=True)``. Works for every run kind (the
steps of a function pipeline are tasks as well).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from archivist.model import Artifact, TaskRecord

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog


class Run:
    """One recorded run, by pathspec (``"MyFlow/3"``) or id.

    Args:
        pathspec: ``"<pipeline>/<number>"`` or the run's id.
        catalog: an :class:`ArtifactCatalog`, a folder or URL; ``None`` opens the default
            catalog (``ARCHIVIST_HOME``, the config file, ``./.archivist``).
        project: the project of a catalog this opens (default: the catalog's).
        allow_pickle: let ``.data`` unpickle values stored as pickles.

    Raises:
        InvalidNameError: a malformed pathspec.
        ArtifactNotFoundError: no such run (the message lists what exists).
    """

    def __init__(self, pathspec: str, catalog: ArtifactCatalog | str | os.PathLike[str] | None
                 = None, *, project: str | None = None, allow_pickle: bool = False) -> None:
        from archivist.catalog import ArtifactCatalog

        self._owned = not isinstance(catalog, ArtifactCatalog)
        self.catalog = catalog if isinstance(catalog, ArtifactCatalog) else \
            ArtifactCatalog(catalog, project)
        self.allow_pickle = allow_pickle
        try:
            self.record = self.catalog.get_run(pathspec)
        except BaseException:
            self.close()
            raise
        self._versions: dict[str, Artifact] = {}

    def close(self) -> None:
        """Close the catalog this object opened (not one it was given)."""
        if self._owned:
            self.catalog.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Run({self.pathspec!r}, status={self.status!r})"

    def refresh(self) -> Run:
        """Read the run again (its status and tasks, while it is still running)."""
        self.record = self.catalog.get_run(self.record.id)
        return self

    # -- the run -----------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.record.id

    @property
    def pathspec(self) -> str:
        return self.record.pathspec

    @property
    def status(self) -> str:
        """``running``, ``succeeded`` or ``failed``."""
        return self.record.status

    @property
    def successful(self) -> bool:
        return self.record.status == "succeeded"

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.record.parameters)

    @property
    def started_at(self) -> datetime:
        return self.record.started_at

    @property
    def finished_at(self) -> datetime | None:
        return self.record.ended_at

    @property
    def error(self) -> str | None:
        return self.record.error

    @property
    def steps(self) -> list[Step]:
        """The steps that ran, in the order their first task started."""
        order = list(dict.fromkeys(t.step for t in self.record.tasks))
        return [Step(self, name) for name in order]

    def __getitem__(self, step: str) -> Step:
        if not any(t.step == step for t in self.record.tasks):
            names = ", ".join(dict.fromkeys(t.step for t in self.record.tasks)) or "none"
            raise KeyError(f"run {self.pathspec} has no step {step!r}{self._untaken(step)}; "
                           f"steps: {names}")
        return Step(self, step)

    def _untaken(self, step: str) -> str:
        """Why a step of the flow has no task: the switches that went elsewhere."""
        graph = self.record.details.get("graph") or {}
        if step not in (graph.get("steps") or ()) or not graph.get("switches"):
            return ""
        taken = list(dict.fromkeys(
            f"{t.step!r} took {t.details['switch']['step']!r} "
            f"({t.details['switch']['condition']} = {t.details['switch']['value']!r})"
            for t in self.record.tasks if isinstance(t.details.get("switch"), dict)))[:5]
        return f" (a step of the flow that did not run: the switch {'; '.join(taken)})" \
            if taken else " (a step of the flow that did not run)"

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __contains__(self, step: object) -> bool:
        return any(t.step == step for t in self.record.tasks)

    @property
    def artifacts(self) -> list[Artifact]:
        """The versions the run produced (ids, names, digests: the catalog's records)."""
        return self._records(self.record.produced)

    @property
    def data(self) -> DataView:
        """The attributes of the ``end`` task (the flow's final state)."""
        return self["end"].task.data

    def _records(self, ids: list[str]) -> list[Artifact]:
        missing = [i for i in ids if i not in self._versions]
        if missing:
            for found in self.catalog.backend.get_versions_by_id(missing):
                self._versions[found.id] = found
        return [self._versions[i] for i in ids if i in self._versions]


class Step:
    """The tasks of one step of a run: ``run["train"]``."""

    def __init__(self, run: Run, name: str) -> None:
        self.run = run
        self.name = name

    def __repr__(self) -> str:
        return f"Step({self.pathspec!r})"

    @property
    def pathspec(self) -> str:
        return f"{self.run.pathspec}/{self.name}"

    @property
    def tasks(self) -> list[Task]:
        """Every task of the step (a foreach step has one per item), in item order: by
        foreach position (outer loops first, as recorded by flows), then index."""
        found = sorted((t for t in self.run.record.tasks if t.step == self.name),
                       key=lambda t: (list(t.details.get("foreach") or ()), t.index))
        return [Task(self.run, t) for t in found]

    @property
    def task(self) -> Task:
        """The step's task (the first one, for a foreach step)."""
        return self.tasks[0]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index: int) -> Task:
        for task in self.tasks:
            if task.index == index:
                return task
        raise KeyError(f"step {self.pathspec} has no task {index}; it has "
                       f"{len(self.tasks)}")

    @property
    def finished_at(self) -> datetime | None:
        ends = [t.finished_at for t in self.tasks]
        return None if not ends or None in ends else max(e for e in ends if e is not None)


class Task:
    """One task: its status, times and attributes (``task.data.x``, ``task["x"]``)."""

    def __init__(self, run: Run, record: TaskRecord) -> None:
        self.run = run
        self.record = record

    def __repr__(self) -> str:
        return f"Task({self.pathspec!r}, status={self.status!r})"

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def step(self) -> str:
        return self.record.step

    @property
    def index(self) -> int:
        return self.record.index

    @property
    def pathspec(self) -> str:
        return f"{self.run.pathspec}/{self.record.step}/{self.record.index}"

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def successful(self) -> bool:
        return self.record.status == "succeeded"

    @property
    def cached(self) -> bool:
        """The task was reused from an earlier run (resume) or cache, not executed."""
        return self.record.cached

    @property
    def error(self) -> str | None:
        return self.record.error

    @property
    def exception(self) -> BaseException | str | None:
        """Why the task failed (Metaflow's ``task.exception``): the exception object where
        it can be re-created — a builtin type, or one of a module already imported here,
        whose constructor takes the message — else its text (``"OddError: 1/2"``);
        ``None`` for a task that did not fail. The traceback is in
        ``details["traceback"]``; a failure ``@catch`` saved is in ``details["caught"]``.
        """
        if self.record.error is None:
            return None
        return rebuilt_exception(str(self.record.details.get("exception_type") or ""),
                                 self.record.error)

    @property
    def started_at(self) -> datetime | None:
        return self.record.started_at

    @property
    def finished_at(self) -> datetime | None:
        return self.record.ended_at

    @property
    def details(self) -> dict[str, Any]:
        return dict(self.record.details)

    @property
    def data(self) -> DataView:
        """The task's attributes as values: ``task.data.accuracy``."""
        return DataView(self)

    def __getitem__(self, name: str) -> DataArtifact:
        version_id = self.record.data.get(name)
        if version_id is None:
            raise KeyError(f"task {self.pathspec} has no attribute {name!r}; it has: "
                           f"{', '.join(sorted(self.record.data)) or 'none'}")
        return DataArtifact(self, name, version_id)

    def __contains__(self, name: object) -> bool:
        return name in self.record.data

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self.artifacts)

    @property
    def artifacts(self) -> list[DataArtifact]:
        """Every attribute of the task, by name."""
        return [self[name] for name in sorted(self.record.data)]


class DataView:
    """Attribute access to a task's values: ``task.data.accuracy``."""

    def __init__(self, task: Task) -> None:
        self._task = task

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._task[name].data
        except KeyError as exc:
            raise AttributeError(exc.args[0]) from None

    def __dir__(self) -> list[str]:
        return sorted(self._task.record.data)

    def __repr__(self) -> str:
        return f"<data of {self._task.pathspec}: {', '.join(dir(self))}>"


class DataArtifact:
    """One attribute of a task: ``task["accuracy"]`` — the catalog version holding it."""

    def __init__(self, task: Task, name: str, version_id: str) -> None:
        self.task = task
        self.name = name
        self.id = version_id

    def __repr__(self) -> str:
        return f"DataArtifact({self.task.pathspec}/{self.name}, {self.version.ref})"

    @property
    def version(self) -> Artifact:
        """The catalog's record of the version (name, number, parents, …)."""
        found = self.task.run._records([self.id])
        if not found:
            from archivist.errors import ArtifactNotFoundError

            raise ArtifactNotFoundError(f"version {self.id} of {self.task.pathspec}/"
                                        f"{self.name} is not in the catalog")
        return found[0]

    @property
    def data(self) -> Any:
        """The value, loaded (and verified) from the catalog.

        Raises:
            PickleNotAllowedError: stored as a pickle and the Run has no allow_pickle.
            IntegrityError: the bytes are missing or corrupt.
        """
        value = self.task.run.catalog.load(self.id, allow_pickle=self.task.run.allow_pickle)
        if isinstance(value, bytes):  # an IncludeFile's file: text as the steps read it
            included = self.version.metadata.get("include_file")
            if isinstance(included, dict) and included.get("is_text"):
                return value.decode(str(included.get("encoding") or "utf-8"))
        return value

    @property
    def sha(self) -> str | None:
        """The content digest (``sha256:…``)."""
        return self.version.digest

    @property
    def finished_at(self) -> datetime:
        """When the version holding the value was created."""
        return self.version.created_at

    @property
    def created_at(self) -> datetime:
        return self.version.created_at

    @property
    def produced(self) -> bool:
        """This task created the version (rather than carrying it from an earlier step)."""
        return self.id in self.task.record.produced


def rebuilt_exception(qualified: str, error: str) -> BaseException | str:
    """The exception ``error`` (``"<Type>: <message>"``) describes, re-created from its
    qualified type name without importing anything new; ``error`` when it cannot be."""
    module_name, _, name = qualified.rpartition(".")
    found: Any = sys.modules.get(module_name)
    for part in name.split(".") if found is not None and name else ():
        found = getattr(found, part, None)
    if not isinstance(found, type) or not issubclass(found, Exception):
        return error
    prefix = f"{found.__name__}: "
    message = error[len(prefix):] if error.startswith(prefix) else error
    try:
        exc = found(message)
    except Exception:  # a constructor that wants other arguments
        return error
    return exc if str(exc) == message else error
