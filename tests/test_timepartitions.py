"""The stored form of partition times, granularity buckets and query bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from archivist import InvalidInputError, names
from archivist.timepartitions import bucket, canonical, check_granularity, query_bounds


@pytest.mark.parametrize(("given", "stored"), [
    (datetime(2021, 1, 1, 13, 5), "2021-01-01T13:05:00+00:00"),  # naive: UTC
    (datetime(2021, 1, 1, 8, 5, tzinfo=timezone(timedelta(hours=-5))),
     "2021-01-01T13:05:00+00:00"),
    (datetime(2021, 1, 1, 13, 5, 0, 250, tzinfo=UTC), "2021-01-01T13:05:00.000250+00:00"),
    (date(2021, 1, 1), "2021-01-01"),
    ("2021-01-01 13:05:00", "2021-01-01T13:05:00+00:00"),
    ("2021-01-01T14:05+01:00", "2021-01-01T13:05:00+00:00"),
    ("2021-01-01T13:05Z", "2021-01-01T13:05:00+00:00"),
    ("2021-01-01", "2021-01-01"),
    ("2021-02-30T10:00", "2021-02-30T10:00"),  # no such day: a string
    ("cust_123", "cust_123"),
])
def test_canonical(given: object, stored: str) -> None:
    assert canonical(given) == stored
    assert names.check_partitions({"dt": given}) == {"dt": stored}


def test_a_partition_that_is_no_string_nor_time_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"non-empty string \(or a datetime or date\)"):
        names.check_partitions({"dt": 3})


@pytest.mark.parametrize(("granularity", "stored"), [
    ("MONTH", "2021-01"), ("day", "2021-01-01"), ("hour", "2021-01-01T13:00:00+00:00"),
    ("minute", "2021-01-01T13:05:00+00:00"),
])
def test_bucket(granularity: str, stored: str) -> None:
    assert bucket(datetime(2021, 1, 1, 14, 5, 59, tzinfo=timezone(timedelta(hours=1))),
                  granularity) == stored


def test_bucket_of_a_date_and_of_text() -> None:
    assert bucket(date(2021, 1, 31), "hour") == "2021-01-31T00:00:00+00:00"
    assert bucket("2021-01-31T23:59", "month") == "2021-01"
    with pytest.raises(InvalidInputError, match="datetime, a date or ISO 8601"):
        bucket("yesterday", "day")
    with pytest.raises(InvalidInputError, match="minute, hour, day, month, not 'week'"):
        check_granularity("week")


@pytest.mark.parametrize(("text", "op", "bounds"), [
    ("2021-01-31", ">", (">=", "2021-02")),
    ("2021-01-15", "<=", ("<", "2021-01-16")),
    ("2021-12", "<=", ("<", "2022-01")),
    ("2021-01-01T00:00", ">=", (">=", "2021-01")),
    ("2021-01-02T00:00", "<", ("<", "2021-01-02")),
    ("2021-01-01T12:00+01:00", ">", (">", "2021-01-01T11:00:00+00:00")),
    ("2021-01-01T12:00", "<=", ("<=", "2021-01-01T12:00:00+00:00")),
    ("report-a", ">=", None),
    ("2021-13", ">=", None),
    ("9999-12-31", "<=", None),  # no day after it: compared as text
])
def test_query_bounds(text: str, op: str, bounds: tuple[str, str] | None) -> None:
    assert query_bounds(text, op) == bounds
