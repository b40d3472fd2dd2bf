"""Durations (``"1d"``, ``"2h"``) and points in time given as text, datetimes or numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from archivist.errors import InvalidInputError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
MAX_SECONDS = 100 * 365 * 86400


def parse_duration(value: str | float | int) -> float:
    """Seconds in ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1w"`` or a number of seconds.

    Raises:
        InvalidInputError: anything else, negative or longer than a century.
    """
    if isinstance(value, bool):
        raise InvalidInputError("a duration is a number of seconds or text like '1d'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(str(value).strip())
        if not match:
            raise InvalidInputError(f"invalid duration {value!r}: use e.g. '30s', '15m', "
                                    "'2h', '1d', '1w'")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not 0 <= seconds <= MAX_SECONDS:
        raise InvalidInputError(f"duration {value!r} out of range")
    return seconds


def to_epoch(value: datetime | str | float | int | None) -> float | None:
    """Seconds since the epoch for a datetime, an ISO 8601 string, or a number."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInputError("expected a datetime, an ISO 8601 string or epoch seconds")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(f"invalid date {value!r}: use ISO 8601 "
                                    "(2024-01-31 or 2024-01-31T12:00:00Z)") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    raise InvalidInputError(f"expected a datetime, got {type(value).__name__}")
