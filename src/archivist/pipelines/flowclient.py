"""``Flow("TrainFlow")``: a flow's recorded runs, as Metaflow's client ``Flow`` (see
:mod:`archivist.client`); the runs are :class:`~archivist.pipelines.client.Run` objects
sharing one catalog."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from archivist import names
from archivist.errors import ArtifactNotFoundError
from archivist.limits import MAX_LIST
from archivist.pipelines.client import Run

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog


class Flow:
    """A flow's (or pipeline's) recorded runs, as Metaflow's client ``Flow``::

        from archivist.client import Flow, Run

        flow = Flow("TrainFlow")
        flow.latest_run, flow.latest_successful_run, flow.runs(), flow["3"]

    Not the class flows are written with (``archivist.Flow``): this one reads.

    Args:
        name: the flow's name (its class name; a pipeline's name).
        catalog, project, allow_pickle: as for :class:`Run`; the runs share the catalog.

    Raises:
        InvalidNameError: a malformed name.
        ArtifactNotFoundError: the catalog holds no run of this flow.
    """

    def __init__(self, name: str, catalog: ArtifactCatalog | str | os.PathLike[str] | None
                 = None, *, project: str | None = None, allow_pickle: bool = False) -> None:
        from archivist.catalog import ArtifactCatalog

        self.name = names.check_name(name, "flow")
        self._owned = not isinstance(catalog, ArtifactCatalog)
        self.catalog = catalog if isinstance(catalog, ArtifactCatalog) else \
            ArtifactCatalog(catalog, project)
        self.allow_pickle = allow_pickle
        if not self.catalog.runs(self.name, limit=1):
            self.close()
            raise ArtifactNotFoundError(f"no run of flow {self.name!r} in project "
                                        f"{self.catalog.project!r}")

    def close(self) -> None:
        """Close the catalog this object opened (not one it was given)."""
        if self._owned:
            self.catalog.close()

    def __enter__(self) -> Flow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Flow({self.name!r})"

    @property
    def id(self) -> str:
        return self.name

    @property
    def pathspec(self) -> str:
        return self.name

    def runs(self, status: str | None = None) -> list[Run]:
        """Every run of the flow (``status``: only ``running``, ``succeeded`` or
        ``failed`` ones), newest first."""
        found: list[Run] = []
        while True:
            page = self.catalog.runs(self.name, status, limit=MAX_LIST, offset=len(found))
            found += [self._run(record.id) for record in page]
            if len(page) < MAX_LIST:
                return found

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

    def __getitem__(self, run_id: str | int) -> Run:
        """The run numbered ``run_id`` (``flow["12"]``, as Metaflow's ``Flow``)."""
        return self._run(f"{self.name}/{run_id}")

    @property
    def latest_run(self) -> Run | None:
        """The newest run, whatever its status."""
        found = self.catalog.runs(self.name, limit=1)
        return self._run(found[0].id) if found else None

    @property
    def latest_successful_run(self) -> Run | None:
        """The newest run that succeeded."""
        found = self.catalog.runs(self.name, "succeeded", limit=1)
        return self._run(found[0].id) if found else None

    def _run(self, ref: str) -> Run:
        return Run(ref, self.catalog, allow_pickle=self.allow_pickle)
