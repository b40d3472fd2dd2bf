"""Time partitions (issue 13): one stored ISO form, comparisons as times, granularity
buckets from ``@step(time_partition=...)`` — the same answers on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from archivist import ArtifactCatalog, pipeline, step


@pytest.fixture
def timed(catalog: ArtifactCatalog) -> ArtifactCatalog:
    catalog.register("t_0913", partitions={"dt": datetime(2021, 1, 1, 9, 13)})  # naive: UTC
    catalog.register("t_1305", partitions={"dt": datetime(2021, 1, 1, 14, 5,
                                                          tzinfo=timezone(timedelta(hours=1)))})
    catalog.register("t_day", partitions={"dt": date(2021, 1, 1)})
    catalog.register("t_next", partitions={"dt": "2021-01-02 00:30"})
    catalog.register("t_month", partitions={"dt": "2021-02"})
    catalog.register("other", partitions={"dt": "2021-01-01-eu"})
    return catalog


def test_times_are_stored_in_one_iso_form(timed: ArtifactCatalog) -> None:
    stored = {a.name: a.partitions["dt"] for a in timed.list()}
    assert stored == {"t_0913": "2021-01-01T09:13:00+00:00",
                      "t_1305": "2021-01-01T13:05:00+00:00", "t_day": "2021-01-01",
                      "t_next": "2021-01-02T00:30:00+00:00", "t_month": "2021-02",
                      "other": "2021-01-01-eu"}
    found = timed.get_latest(partitions={"dt": datetime(2021, 1, 1, 13, 5, tzinfo=UTC)})
    assert found is not None and found.name == "t_1305"
    assert timed.get_latest(partitions={"dt": "2021-01-01T15:05+02:00"}) == found


@pytest.mark.parametrize(("query", "expected"), [
    ("partition.dt>=2021-01-01T12:00", {"t_1305", "t_next", "t_month"}),
    ("partition.dt>2021-01-01T13:05:00Z", {"t_next", "t_month"}),
    ("partition.dt<=2021-01-01T13:05+00:00", {"t_0913", "t_1305", "t_day"}),
    ("partition.dt<2021-01-01T12:00", {"t_0913", "t_day"}),
    ("partition.dt=2021-01-01T13:05", {"t_1305"}),
    ("partition.dt=2021-01-01", {"t_0913", "t_1305", "t_day"}),
    ("partition.dt:2021-01-02,2021-02", {"t_next", "t_month"}),
    ("partition.dt=2021-01", {"t_0913", "t_1305", "t_day", "t_next"}),
    ("partition.dt>2021-01-01", {"t_next", "t_month"}),
    ("partition.dt>=2021-01-01", {"t_0913", "t_1305", "t_day", "t_next", "t_month"}),
    ("partition.dt<=2021-01-01", {"t_0913", "t_1305", "t_day"}),
    ("partition.dt>=2021-02-01", {"t_month"}),
    ("partition.dt<2021-02-01T00:00", {"t_0913", "t_1305", "t_day", "t_next"}),
    ("partition.dt!=2021-01-01", {"t_next", "t_month", "other"}),
    ('partition.dt="2021-01-01"', {"t_day"}),
])
def test_partition_times_compare_as_times(timed: ArtifactCatalog, query: str,
                                          expected: set[str]) -> None:
    assert {a.name for a in timed.search(query)} == expected


@pytest.mark.parametrize(("granularity", "asked", "stored"), [
    ("day", "2021-01-01", "2021-01-01"),
    ("month", "2021-01", "2021-01"),
    ("hour", "2021-01-01T13:00", "2021-01-01T13:00:00+00:00"),
    ("minute", datetime(2021, 1, 1, 13, 5), "2021-01-01T13:05:00+00:00"),
])
def test_a_time_partition_stores_its_bucket(catalog: ArtifactCatalog, granularity: str,
                                            asked: str | datetime, stored: str) -> None:
    @step(time_partition="dt", time_partition_granularity=granularity)
    def daily(dt: datetime) -> dict[str, int]:
        return {"rows": 3}

    with pipeline("timed", catalog=catalog):
        daily(datetime(2021, 1, 1, 13, 5, 42))
    found = catalog.get_latest("daily", partitions={"dt": asked})
    assert found is not None
    assert found.partitions == {"dt": stored, "dt.granularity": granularity}
    query = "partition.dt=" + (asked if isinstance(asked, str) else asked.isoformat())
    assert [a.id for a in catalog.search(query)] == [found.id]


def _bucketed(catalog: ArtifactCatalog) -> dict[str, str]:
    """Versions a query for 2021-01-01 13:05 matches (the instant, its hour, day and
    month buckets) and must not (the same text without its granularity, another one)."""
    spelled = {
        "instant": {"dt": "2021-01-01T13:05"},
        "hour": {"dt": "2021-01-01T13:00", "dt.granularity": "hour"},
        "plain_hour": {"dt": "2021-01-01T13:00"},
        "day": {"dt": "2021-01-01", "dt.granularity": "day"},
        "plain_day": {"dt": "2021-01-01"},
        "wrong_bucket": {"dt": "2021-01-01", "dt.granularity": "month"},
        "month": {"dt": "2021-01", "dt.granularity": "month"},
        "other_day": {"dt": "2021-01-02", "dt.granularity": "day"},
    }
    return {label: catalog.register("r", partitions=parts, tags={"label": label})
            for label, parts in spelled.items()}


def test_a_time_partition_is_one_filter_in_the_order_and_page_asked(
        catalog: ArtifactCatalog) -> None:
    """A time among ``list``'s partitions matches its instant and the buckets holding it
    in one backend query: its order (here oldest first) and page are the backend's, not
    a merge of several lists re-sorted newest first."""
    from archivist.catalog.timequery import list_matching

    ids = _bucketed(catalog)
    when = datetime(2021, 1, 1, 13, 5)
    matching = [ids[k] for k in ("month", "day", "hour", "instant")]  # newest first
    assert [a.id for a in catalog.list(partitions={"dt": when})] == matching
    assert [a.id for a in catalog.list(partitions={"dt": when}, limit=2, offset=1)] == (
        matching[1:3])
    oldest = list_matching(catalog.backend, catalog.project, {"dt": when}, limit=3,
                           offset=1, oldest_first=True)
    assert [a.id for a in oldest] == matching[::-1][1:4]
    latest = catalog.get_latest("r", partitions={"dt": "2021-01-01T13:05"})
    assert latest is not None and latest.id == ids["month"]
