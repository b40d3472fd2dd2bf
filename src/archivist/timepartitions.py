"""Partition values that are times: one stored text form, granularity buckets, and the
text bounds a query compares with (docs/concepts.md, "Time partitions").

Stored form (:func:`canonical`): a ``datetime`` becomes ISO 8601 in UTC with its offset,
``2021-01-01T13:05:00+00:00`` (a naive datetime is taken as UTC, as Flyte does); a
``date`` becomes ``2021-01-01``; a string that reads as a date and a time
(``2021-01-01 13:05``, ``2021-01-01T14:05+01:00``) is rewritten to the datetime form.
Other strings are kept as given. Stored times share one zone and one layout, so they
sort as text in time order: a date sorts just before the times of its day and a month
(``2021-01``) just before its days, which is where their first instant belongs.

Granularity buckets (:func:`bucket`, Flyte's ``time_partition_granularity``): a time
partition declared ``month`` stores ``2021-01``, ``day`` ``2021-01-01``, ``hour``
``2021-01-01T13:00:00+00:00``, ``minute`` ``2021-01-01T13:05:00+00:00``.

Queries (:func:`query_bounds`, :func:`query_matches`): ``2021-01`` is a month and
``2021-01-01`` a day (both from midnight UTC), ``2021-01-01T12:00`` an instant (naive:
UTC). ``=`` with a month or a day matches what falls in it; ``>``, ``>=``, ``<``, ``<=``
compare times, as ``created`` does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from archivist.errors import InvalidInputError

#: Flyte's granularities (``flytekit.core.artifact.Granularity``), lower-cased.
GRANULARITIES = ("minute", "hour", "day", "month")
#: the partition key suffix recording a step's time partition granularity
GRANULARITY_SUFFIX = ".granularity"

_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
                       r"(Z|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")


def canonical(value: object) -> object:
    """The stored form of a partition value: datetimes, dates and strings that read as a
    date and a time in the form of the module doc; anything else unchanged.

    Raises:
        InvalidInputError: a datetime that has no UTC form (year 1 east of UTC).
    """
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        try:
            return _utc(datetime.fromisoformat(value)).isoformat()
        except (ValueError, InvalidInputError):
            return value  # 2021-02-30T10:00 is a string, not a time
    return value


def spellings(partitions: Mapping[str, str]) -> tuple[
        dict[str, str], dict[str, tuple[tuple[str, str | None], ...]]]:
    """``partitions`` (stored forms, as :func:`archivist.names.check_partitions` gives
    them) split into exact matches and, for each time among them, its accepted spellings
    ``(value, granularity)``, one filter per key (``ListFilter.partition_spellings``), so a
    backend answers it in one query.

    A value that is a time (a ``datetime``, or text :func:`canonical` turns into one)
    matches its stored instant, and each bucket holding it in a partition declared with a
    granularity (``{"d": "2021-01-01", "d.granularity": "day"}`` for 13:05 that day); a
    day (a ``date``, or ``2021-01-01``) matches itself and its month in a partition
    declared by month. Other values match themselves."""
    exact: dict[str, str] = {}
    accepted: dict[str, tuple[tuple[str, str | None], ...]] = {}
    for key, value in partitions.items():
        options = _options(key, value)
        if len(options) == 1:
            exact.update({k: str(v) for k, v in options[0].items()})
            continue
        accepted[key] = tuple(
            (str(option[key]), None if (g := option.get(key + GRANULARITY_SUFFIX)) is None
             else str(g)) for option in options)
    return exact, accepted


def _options(key: str, value: object) -> list[dict[str, object]]:
    if isinstance(key, str) and not key.endswith(GRANULARITY_SUFFIX):
        day = value if isinstance(value, date) and not isinstance(value, datetime) else None
        if isinstance(value, str) and _DATE.fullmatch(value) and _valid(value):
            day = date.fromisoformat(value)
        if day is not None:
            return [{key: day.isoformat()},
                    {key: bucket(day, "month"), key + GRANULARITY_SUFFIX: "month"}]
        stored = canonical(value)
        if isinstance(stored, str) and stored is not value and "T" in stored:
            when = datetime.fromisoformat(stored)
            found: list[dict[str, object]] = [{key: stored}]
            for granularity in GRANULARITIES:
                text = bucket(when, granularity)
                if text != stored:
                    found.append({key: text, key + GRANULARITY_SUFFIX: granularity})
            return found
    return [{key: value}]


def check_granularity(granularity: str) -> str:
    """``granularity`` lower-cased, if it is one of :data:`GRANULARITIES`.

    Raises:
        InvalidInputError: another value.
    """
    text = granularity.lower() if isinstance(granularity, str) else granularity
    if text not in GRANULARITIES:
        raise InvalidInputError(f"time_partition_granularity must be one of "
                                f"{', '.join(GRANULARITIES)}, not {granularity!r}")
    return str(text)


def bucket(value: object, granularity: str) -> str:
    """The stored text of the ``granularity`` bucket ``value`` (a datetime, a date, or
    ISO text of either) falls in.

    Raises:
        InvalidInputError: a value that is no time, or an unknown granularity.
    """
    granularity = check_granularity(granularity)
    when = _time_of(value)
    if granularity == "month":
        return f"{when.year:04d}-{when.month:02d}"
    if granularity == "day":
        return when.date().isoformat()
    if granularity == "hour":
        return when.replace(minute=0, second=0, microsecond=0).isoformat()
    return when.replace(second=0, microsecond=0).isoformat()


def query_bounds(text: str, op: str) -> tuple[str, str] | None:
    """``(op, text)`` comparing stored text as times for ``partition.KEY<op><text>``
    (``op`` one of ``> >= < <=``), or ``None`` when ``text`` is no month, day or instant.
    """
    start, end = _span(text)
    if start is None:
        return None
    if op == ">":
        return (">=", _shortest(end)) if end is not None else (">", _full(start))
    if op == ">=":
        return ">=", _shortest(start)
    if op == "<":
        return "<", _shortest(start)
    return ("<", _shortest(end)) if end is not None else ("<=", _full(start))


def query_matches(text: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``(values, prefixes)`` of stored text that ``partition.KEY=<text>`` matches: a
    month or a day is itself and every time in it, an instant its stored form; ``None``
    when ``text`` is none of them."""
    if _MONTH.fullmatch(text) and _valid(text + "-01"):
        return (text,), (text + "-",)
    if _DATE.fullmatch(text) and _valid(text):
        return (text,), (text + "T",)
    start, end = _span(text)
    return ((_full(start),), ()) if start is not None and end is None else None


def _span(text: str) -> tuple[datetime | None, datetime | None]:
    """Start and end (``None``: an instant) of a month, a day or an instant; ``(None,
    None)`` for other text, and for the last month and day of year 9999."""
    try:
        if _MONTH.fullmatch(text) and _valid(text + "-01"):
            start = datetime.fromisoformat(text + "-01").replace(tzinfo=UTC)
            return start, (start + timedelta(days=32)).replace(day=1)
        if _DATE.fullmatch(text) and _valid(text):
            start = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return start, start + timedelta(days=1)
    except OverflowError:
        return None, None
    if _DATETIME.fullmatch(text):
        try:
            return _utc(datetime.fromisoformat(text)), None
        except (ValueError, InvalidInputError):
            return None, None
    return None, None


def _shortest(when: datetime) -> str:
    """The smallest stored text meaning ``when``: its month or day when it starts one."""
    if when.time() == datetime.min.time():
        return f"{when.year:04d}-{when.month:02d}" if when.day == 1 else when.date().isoformat()
    return when.isoformat()


def _full(when: datetime) -> str:
    return when.isoformat()


def _valid(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _time_of(value: object) -> datetime:
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        start, _end = _span(value)
        if start is not None:
            return start
    raise InvalidInputError(f"a time partition takes a datetime, a date or ISO 8601 text "
                            f"(2021-01-01T13:05), not {value!r}")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInputError(f"{value.isoformat()} has no UTC time") from None
