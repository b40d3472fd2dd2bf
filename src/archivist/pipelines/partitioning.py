"""``@partition_by_key`` and ``@partition_by_date``: a step's partitions declared as
decorators, in the words of Flyte's artifacts page::

    from archivist import partition_by_date, partition_by_key, step

    @step
    @partition_by_date(key="report_date")          # a day: 2023-10-26
    def generate_daily_report(report_date: datetime) -> File: ...

    @step
    @partition_by_key(key="customer_id")
    def process_customer_transactions(customer_id: str) -> File: ...

They say what ``@step(partition_by=[...])`` and ``@step(time_partition=...,
time_partition_granularity=...)`` say, above or below ``@step``: ``partition_by_key``
stores the argument's value as the outputs' partition, ``partition_by_date`` its
granularity bucket (``"day"`` by default; ``"month"``, ``"hour"``, ``"minute"``), with the
key ``<key>.granularity``. A query with any time inside the bucket finds the outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from archivist import names, timepartitions
from archivist.errors import InvalidInputError
from archivist.pipelines.stepspec import mark_partition

F = TypeVar("F", bound=Callable[..., Any])


def partition_by_key(key: str) -> Callable[[F], F]:
    """The step's outputs are partitioned by the value of its argument ``key``.

    Raises:
        InvalidNameError: a malformed key.
        InvalidInputError: (when the step is declared) ``key`` is not a parameter.
    """
    names.check_name(key, "partition key")
    return _marking(key, None)


def partition_by_date(key: str, granularity: str = "day") -> Callable[[F], F]:
    """The step's outputs are partitioned by the time of its argument ``key`` (a
    datetime, a date or ISO text), stored as its ``granularity`` bucket.

    Raises:
        InvalidNameError: a malformed key.
        InvalidInputError: an unknown granularity; (when the step is declared) ``key`` is
            not a parameter, or the step already has another time partition.
    """
    names.check_name(key, "partition key")
    return _marking(key, timepartitions.check_granularity(granularity))


def _marking(key: str, granularity: str | None) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        if not callable(func):
            raise InvalidInputError(f"@partition_by_* decorates a function, got "
                                    f"{type(func).__name__}")
        mark_partition(func, key, granularity)
        return func

    return decorate
