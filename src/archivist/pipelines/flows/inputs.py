"""A join's ``inputs``: one :class:`BranchView` per incoming task, in :class:`JoinInputs`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from archivist.pipelines.flows.state import Held, TaskInput


class TaskContext(Protocol):
    """What a branch needs of its task (:class:`~archivist.pipelines.flows.task.TaskContext`):
    a version's value, recorded as read."""

    def load(self, held: Held) -> Any: ...


class BranchView:
    """One input of a join: ``inputs.train.accuracy`` loads the branch's attribute."""

    def __init__(self, context: TaskContext, source: TaskInput) -> None:
        self._context = context
        self._source = source

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        held = self._source.data.get(name)
        if held is None:
            raise AttributeError(f"branch {self._source.label!r} has no attribute {name!r}; "
                                 f"it has: {', '.join(sorted(self._source.data)) or 'none'}")
        return self._context.load(held)

    def __repr__(self) -> str:
        return f"<branch {self._source.label}>"


class JoinInputs:
    """A join's ``inputs``: iterable, indexable by position and by branch step name
    (``inputs["train"]`` or ``inputs.train``; a foreach's inputs by position only)."""

    def __init__(self, branches: list[BranchView]) -> None:
        self._branches = branches

    def __len__(self) -> int:
        return len(self._branches)

    def __iter__(self) -> Iterator[BranchView]:
        return iter(self._branches)

    def __getitem__(self, key: int | str) -> BranchView:
        if isinstance(key, str):
            found = [b for b in self._branches if b._source.step == key]
            if len(found) == 1:
                return found[0]
            if not found:
                raise KeyError(f"no branch {key!r}; branches: "
                               f"{', '.join(b._source.label for b in self._branches)}")
            raise KeyError(f"{len(found)} inputs come from step {key!r} (a foreach); "
                           "index them by position: inputs[0]")
        return self._branches[key]

    def __getattr__(self, name: str) -> BranchView:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(exc.args[0]) from None

    def __repr__(self) -> str:
        return f"<inputs {', '.join(b._source.label for b in self._branches)}>"
