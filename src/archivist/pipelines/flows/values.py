"""Values in a running flow: the in-process cache and what a foreach fans out over."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from archivist.errors import InvalidInputError

#: Values that cannot change in place: reading one never needs a re-hash or a copy.
IMMUTABLE = (int, float, complex, str, bytes, bool, type(None))


class ValueCache:
    """Values by version id, kept by the process that runs tasks in-process.

    Readers copy a mutable value before handing it to a step, so one branch changing a
    list in place never changes what a sibling sees (as when each task loads its own). At
    most ``size`` values are kept (least recently used go first); the others are loaded
    from the catalog again when read.
    """

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._values: OrderedDict[str, Any] = OrderedDict()

    def peek(self, version_id: str) -> tuple[bool, Any]:
        """``(found, value)``; the value is the cache's own: copy it before changing it."""
        if version_id not in self._values:
            return False, None
        self._values.move_to_end(version_id)
        return True, self._values[version_id]

    def put(self, version_id: str, value: Any) -> None:
        """Keep ``value`` (the caller no longer changes it)."""
        self._values[version_id] = value
        self._values.move_to_end(version_id)
        while len(self._values) > self.size:
            self._values.popitem(last=False)


def items_of(value: Any, attribute: str) -> list[Any]:
    """The items a foreach over ``value`` fans out to.

    Raises:
        InvalidInputError: ``value`` is not iterable.
    """
    if isinstance(value, list):
        return value
    try:
        return list(value)
    except TypeError:
        raise InvalidInputError(f"foreach={attribute!r}: self.{attribute} is a "
                                f"{type(value).__name__}, not an iterable") from None
