"""Checks of what users hand the run API: run references, statuses, pipeline names."""

from __future__ import annotations

from archivist import names
from archivist.errors import InvalidInputError, InvalidNameError
from archivist.model import RUN_STATUSES


def check_run_ref(ref: object) -> str:
    """A run id (UUIDv7) or a pathspec ``"<pipeline>/<number>"``.

    Raises:
        InvalidNameError: anything else.
    """
    if isinstance(ref, str):
        if names.ID_PATTERN.fullmatch(ref):
            return ref
        pipeline, slash, number = ref.rpartition("/")
        if slash and number.isdigit() and number.isascii() and not number.startswith("0"):
            names.check_name(pipeline, "pipeline")
            return ref
    raise InvalidNameError(f"invalid run reference {ref!r:.80}: use a run id or "
                           "'<pipeline>/<number>' such as 'fraud_detection/3'")


def check_status(status: object) -> str | None:
    """``None`` or one of ``running``, ``succeeded``, ``failed``.

    Raises:
        InvalidInputError: another value.
    """
    if status is None:
        return None
    if not isinstance(status, str) or status not in RUN_STATUSES:
        raise InvalidInputError(f"run status must be one of {', '.join(RUN_STATUSES)}, "
                                f"got {status!r:.40}")
    return status
