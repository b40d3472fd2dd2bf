"""Prometheus metrics of one server app: a registry per app, no process-wide globals.

=========================================  ==================================================
``archivist_http_requests_total``          counter by ``method``, ``route`` (the path
                                           template, ``unmatched`` for 404s), ``status``
``archivist_http_request_duration_seconds`` histogram by ``method``, ``route``
``archivist_blob_bytes_in_total``          bytes of accepted blob uploads
``archivist_blob_bytes_out_total``         bytes of blob downloads sent
``archivist_versions``                     live versions (all projects), counted at scrape
=========================================  ==================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServerMetrics:
    """The counters of one app; ``render()`` is the ``/metrics`` body.

    Args:
        count_versions: called at each scrape for the ``archivist_versions`` gauge.
    """

    def __init__(self, count_versions: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("archivist_http_requests", "HTTP requests served.",
                                ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram("archivist_http_request_duration_seconds",
                                 "Time from request to the end of the response.",
                                 ("method", "route"), buckets=_BUCKETS, registry=self.registry)
        self.blob_bytes_in = Counter("archivist_blob_bytes_in", "Bytes of blobs uploaded.",
                                     registry=self.registry)
        self.blob_bytes_out = Counter("archivist_blob_bytes_out",
                                      "Bytes of blobs sent to clients.", registry=self.registry)
        self.registry.register(_VersionCounts(count_versions))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _VersionCounts(Collector):
    """The ``archivist_versions`` gauge, read from the database when scraped (several
    server processes share one database, so no process could keep the count itself).
    One total, not a series per project: any key may scrape, and project names are not
    for every key to see."""

    def __init__(self, count: Callable[[], dict[str, int]]) -> None:
        self._count = count

    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily("archivist_versions", _VERSIONS_HELP)]

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("archivist_versions", _VERSIONS_HELP,
                                value=sum(self._count().values()))


_VERSIONS_HELP = "Live versions in the catalog (every project)."
