"""``partition.KEY`` terms whose value is a month, a day or an instant (issue 13)."""

from __future__ import annotations

from archivist.query import Group, PartitionTerm, parse_query


def terms(text: str) -> tuple[object, ...]:
    return parse_query(text).terms


def test_a_day_is_itself_and_the_times_in_it() -> None:
    assert terms("partition.dt=2021-01-01") == (
        PartitionTerm("dt", "=", ("2021-01-01",), ("2021-01-01T",), times=True),)
    assert terms("partition.dt!=2021-01") == (
        PartitionTerm("dt", "=", ("2021-01",), ("2021-01-",), negated=True, times=True),)


def test_an_instant_is_its_stored_form() -> None:
    assert terms("partition.dt>=2021-01-01T12:00") == (
        PartitionTerm("dt", ">=", ("2021-01-01T12:00:00+00:00",), times=True),)
    assert terms("partition.dt=2021-01-01T13:05+02:00") == (
        PartitionTerm("dt", "=", ("2021-01-01T11:05:00+00:00",), times=True),)


def test_quoted_values_and_other_text_stay_strings() -> None:
    assert terms('partition.dt>="2021-01-01"') == (
        PartitionTerm("dt", ">=", ("2021-01-01",)),)
    assert terms("partition.region>=eu") == (PartitionTerm("region", ">=", ("eu",)),)
    assert terms("partition.dt:2021-01*") == (PartitionTerm("dt", "=", (), ("2021-01",)),)


def test_a_list_of_times_and_strings_is_a_group() -> None:
    assert terms("partition.dt:2021-01-02,latest") == (Group((
        (PartitionTerm("dt", "=", ("latest",)),),
        (PartitionTerm("dt", "=", ("2021-01-02",), ("2021-01-02T",), times=True),))),)
