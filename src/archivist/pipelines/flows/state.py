"""What moves between the tasks of a flow: picklable records, no behaviour.

A task's state is a mapping from attribute name to the :class:`Held` version that holds
its value; tasks hand each other these mappings (not the values), so a task running in
another process loads only what it reads, from the catalog, by version id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archivist.pipelines.flows.graph import Transition


@dataclass(frozen=True)
class Held:
    """The catalog version holding an attribute's value, and its content digest
    (``None``: not looked up yet; a task fetches the digests it must compare in one
    query, which most tasks never need)."""

    version_id: str
    digest: str | None = None


@dataclass(frozen=True)
class Frame:
    """An open foreach around a task: ``self.input`` is item ``index`` of ``items``."""

    step: str
    attribute: str
    items: Held
    index: int
    count: int


@dataclass(frozen=True)
class TaskInput:
    """One input of a task: the state its predecessor task ended with.

    ``label`` names the branch in a join's ``inputs`` and in merge conflicts: the step
    name for a branch, ``"step[i]"`` for the i-th foreach task.
    """

    step: str
    index: int
    label: str
    data: dict[str, Held]
    reused: bool = False


@dataclass(frozen=True)
class TaskSpec:
    """Everything a process needs to run one task of a run (sent to workers)."""

    run_id: str
    flow: str
    step: str
    stack: tuple[int, ...]
    frames: tuple[Frame, ...]
    inputs: tuple[TaskInput, ...]
    parameters: dict[str, Any]
    code_version: str | None = None
    #: ``Flow/run/step/task`` once the task is recorded, and the run a resumed run
    #: resumes: what ``archivist.current`` tells the step.
    pathspec: str = ""
    origin_run: str | None = None
    #: How many times a switch looped back to this step before this task (0: first).
    visit: int = 0

    @property
    def key(self) -> tuple[str, tuple[int, ...], int]:
        """``(step, foreach positions, visit)``: what identifies the task across runs
        (resume)."""
        return self.step, self.stack, self.visit

    def placed(self) -> dict[str, Any]:
        """Where the task is in its run, as its record keeps it: its foreach positions
        and, in a switch's loop, how many times the step ran before it there."""
        return {"foreach": list(self.stack), **({"visit": self.visit} if self.visit else {})}


@dataclass(frozen=True)
class TaskOutcome:
    """What a task did: its final state, the versions it wrote and read, where it went.

    ``error`` is ``"<Type>: <message>"`` of a failed step and ``exception`` the exception
    itself (from a worker: a :class:`~archivist.errors.StepFailedError` standing in for one
    that does not survive pickling). ``details`` go to the task record: the exception's
    qualified type and traceback, the attempts of a ``@retry``, ``@resources``.
    """

    data: dict[str, Held] = field(default_factory=dict)
    produced: list[str] = field(default_factory=list)
    consumed: list[str] = field(default_factory=list)
    transition: Transition | None = None
    foreach_count: int | None = None
    pid: int = 0
    started_at: float = 0.0
    ended_at: float = 0.0
    error: str | None = None
    traceback: str | None = None
    exception: BaseException | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class IncludedFile:
    """The value of an :class:`~archivist.IncludeFile` parameter during a run: the file
    version holding the content (stored once, content-addressed, before the run starts),
    read by a step as text or bytes."""

    version_id: str
    path: str
    is_text: bool = True
    encoding: str = "utf-8"

    def decode(self, raw: bytes) -> str | bytes:
        """What a step reads: ``raw`` decoded as text, or the bytes."""
        return raw.decode(self.encoding) if self.is_text else raw

    def recorded(self) -> dict[str, Any]:
        """What the run records as the parameter's value (a resume reuses the version)."""
        return {"path": self.path, "version": self.version_id}
