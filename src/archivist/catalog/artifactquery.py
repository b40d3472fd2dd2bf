"""``ArtifactQuery``: Flyte's artifact queries, over the catalog::

    from archivist import ArtifactQuery

    report = ArtifactQuery.get_latest(task_name="generate_daily_report",
                                      partition_keys={"report_date": datetime(2023, 10, 26)})
    report.uri, report.download("report.txt"), report.load()
    ArtifactQuery.list_artifacts(task_name="process_customer_transactions",
                                 partition_keys={"customer_id": "cust_123"})

Called on the class, a query reads the default catalog (``ARCHIVIST_HOME``, the config
file, ``./.archivist``: what ``ArtifactCatalog()`` opens), opened once per location and
process; ``ArtifactQuery(catalog)`` queries the catalog given. ``name`` is the artifact's
name, ``task_name`` the step that produced it (a step without ``outputs=`` stores its
value under its own name, so either finds it); ``partition_keys`` (Flyte's word) or
``partitions`` match partition values, a ``datetime`` or ``date`` matching the bucket of a
partition declared by day (or hour, month), a finer time included (13:05 finds the
day). The records come back bound to their catalog: ``.download()`` and ``.load()`` work
on them; ``.uri`` is the version's ``archivist://`` address, which ``catalog.open``,
``catalog.download`` and ``archivist get`` take.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archivist.catalog.facade import ArtifactCatalog
from archivist.config import resolve
from archivist.errors import InvalidInputError
from archivist.model import Artifact

_DEFAULTS: dict[tuple[Any, ...], ArtifactCatalog] = {}
_LOCK = threading.Lock()
_CLOSING = [False]  # closing at exit is registered once


class _QueryMethod:
    """A method that works on the class (the default catalog) and on an instance."""

    def __init__(self, func: Any) -> None:
        self.func = func
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__

    def __get__(self, obj: ArtifactQuery | None, cls: type[ArtifactQuery]) -> Any:
        target = obj if obj is not None else cls()
        return self.func.__get__(target, cls)


class ArtifactQuery:
    """Queries for versions by name, producing step and partitions (Flyte's vocabulary).

    Args:
        catalog: the catalog to query (default: the default catalog, see the module doc).
        project: the project to query (default: the catalog's).
    """

    def __init__(self, catalog: ArtifactCatalog | None = None, *,
                 project: str | None = None) -> None:
        self._catalog = catalog
        self.project = project

    @property
    def catalog(self) -> ArtifactCatalog:
        """The catalog queried."""
        if self._catalog is None:
            self._catalog = default_catalog()
        return self._catalog

    def _filters(self, name: str | None, task_name: str | None,
                 partition_keys: Mapping[str, Any] | None,
                 partitions: Mapping[str, Any] | None) -> dict[str, Any]:
        if name is None and task_name is None:
            raise InvalidInputError("ArtifactQuery needs a name= or a task_name= (the step "
                                    "that produced the artifact)")
        if partition_keys is not None and partitions is not None:
            raise InvalidInputError("give partition_keys= or partitions=, not both")
        chosen = partition_keys if partition_keys is not None else partitions
        if chosen is not None and not isinstance(chosen, Mapping):
            raise InvalidInputError(f"partition_keys must be a mapping key -> value, got "
                                    f"{type(chosen).__name__}")
        return {"name": name, "source_step": task_name, "partitions": chosen,
                "project": self.project}

    @_QueryMethod
    def get_latest(self, name: str | None = None, *, task_name: str | None = None,
                   partition_keys: Mapping[str, Any] | None = None,
                   partitions: Mapping[str, Any] | None = None) -> Artifact | None:
        """The newest live version matching, or ``None``.

        Raises:
            InvalidInputError: neither ``name`` nor ``task_name``, or a bad partition.
        """
        return self.catalog.get_latest(**self._filters(name, task_name, partition_keys,
                                                       partitions))

    @_QueryMethod
    def list_artifacts(self, name: str | None = None, *, task_name: str | None = None,
                       partition_keys: Mapping[str, Any] | None = None,
                       partitions: Mapping[str, Any] | None = None,
                       limit: int = 100, offset: int = 0) -> list[Artifact]:
        """Every live version matching, newest first (a page of ``limit``).

        Raises:
            InvalidInputError: neither ``name`` nor ``task_name``, a bad partition or page.
        """
        return self.catalog.list(limit=limit, offset=offset,
                                 **self._filters(name, task_name, partition_keys, partitions))

    def __repr__(self) -> str:
        return f"ArtifactQuery({self._catalog!r})"


def default_catalog() -> ArtifactCatalog:
    """The catalog ``ArtifactCatalog()`` opens here now, opened once per location (and
    closed when the interpreter exits)."""
    target = resolve()
    home = target.home
    key = (target.endpoint, target.api_key, target.project,
           os.fspath(Path(home).absolute()) if home is not None else None)
    with _LOCK:
        found = _DEFAULTS.get(key)
        if found is None:
            found = _DEFAULTS[key] = ArtifactCatalog()
            if not _CLOSING[0]:
                _CLOSING[0] = True
                atexit.register(close_defaults)
        return found


def close_defaults() -> None:
    """Close the catalogs :func:`default_catalog` opened."""
    with _LOCK:
        for catalog in _DEFAULTS.values():
            catalog.close()
        _DEFAULTS.clear()
