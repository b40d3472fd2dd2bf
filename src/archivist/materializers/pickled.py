"""The pickle fallback: written freely for anything no other materializer handles.

Unpickling runs code chosen by whoever wrote the file, so ``needs_consent`` is true and
:meth:`MaterializerRegistry.load` refuses the format without ``allow_pickle=True``, before
opening the file. Do not call :meth:`PickleMaterializer.load` directly on bytes you did not
write yourself.
"""

from __future__ import annotations

import pickle
import platform
from pathlib import Path
from typing import Any

from archivist.errors import IntegrityError, InvalidInputError

PROTOCOL = pickle.HIGHEST_PROTOCOL  # 5 on Python 3.8+


class PickleMaterializer:
    """Any picklable object, as a pickle (protocol 5); loading needs consent."""

    name = "pickle"
    artifact_type = "Object"
    needs_consent = True

    def handles(self, obj: object) -> bool:
        return True

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        try:
            with open(dest, "wb") as f:
                pickle.dump(obj, f, protocol=PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as e:
            t = type(obj)
            raise InvalidInputError(
                f"cannot store a {t.__module__}.{t.__qualname__}: no materializer handles it "
                f"and it cannot be pickled ({e}); register a materializer for it, or save it "
                "to a file yourself and register path=...") from e
        t = type(obj)
        return {"python_type": f"{t.__module__}.{t.__qualname__}", "pickle_protocol": PROTOCOL,
                "python_version": platform.python_version()}

    def load(self, path: Path) -> object:
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except (pickle.UnpicklingError, EOFError) as e:
            raise IntegrityError(f"stored pickle is damaged: {e}") from None

    def sniff(self, head: bytes) -> bool:
        return is_pickle(head)


def is_pickle(head: bytes) -> bool:
    """Whether ``head`` starts like a pickle of protocol 2 to 5 (``PROTO`` opcode)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
