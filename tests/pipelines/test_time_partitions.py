"""``partition_by`` times in their stored form; ``time_partition`` buckets (issue 13)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from archivist import ArtifactCatalog, InvalidInputError, pipeline, step


def test_partition_by_a_datetime_stores_utc_iso(local_catalog: ArtifactCatalog) -> None:
    @step(partition_by=["dt", "day"])
    def load(dt: datetime, day: date) -> int:
        return 1

    with pipeline("p", catalog=local_catalog):
        load(datetime(2021, 1, 1, 14, 5, tzinfo=timezone(timedelta(hours=1))), date(2021, 1, 2))
    art = local_catalog.get("load")
    assert art.partitions == {"dt": "2021-01-01T13:05:00+00:00", "day": "2021-01-02"}
    assert [a.id for a in local_catalog.search("partition.dt>=2021-01-01T12:00")] == [art.id]


def test_a_rerun_in_the_same_bucket_is_the_same_version(
        local_catalog: ArtifactCatalog) -> None:
    @step(time_partition="dt")
    def daily(dt: datetime) -> int:
        return 7

    with pipeline("p", catalog=local_catalog):
        first = daily(datetime(2021, 1, 1, 9, 0))
    with pipeline("p", catalog=local_catalog):
        daily(datetime(2021, 1, 1, 18, 30))
    assert first == 7
    assert [a.version for a in local_catalog.versions("daily")] == [1]


def test_a_time_partition_takes_a_date_or_iso_text(local_catalog: ArtifactCatalog) -> None:
    @step(time_partition="dt", time_partition_granularity="Hour")
    def hourly(dt: object) -> int:
        return 1

    with pipeline("p", catalog=local_catalog):
        hourly(date(2021, 1, 1))
        with pytest.raises(InvalidInputError, match="datetime, a date or ISO 8601"):
            hourly("yesterday")
    art = local_catalog.get("hourly")
    assert art.partitions == {"dt": "2021-01-01T00:00:00+00:00", "dt.granularity": "hour"}


def test_a_bad_declaration_is_refused_at_decoration() -> None:
    with pytest.raises(InvalidInputError, match="one of minute, hour, day, month"):
        @step(time_partition="dt", time_partition_granularity="week")
        def weekly(dt: datetime) -> int:
            return 1
    with pytest.raises(InvalidInputError, match="time_partition names 'ds'"):
        @step(time_partition="ds")
        def daily(dt: datetime) -> int:
            return 1
