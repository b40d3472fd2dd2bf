"""What one server app holds: the metadata store, a blob store per project, metrics.

Nothing here is mutable state of the catalog: several server processes on one database
and bucket hold the same things (an open engine and cached blob-store handles), so any
of them can answer any request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from archivist.backends import open_backend
from archivist.backends.base import Backend, ServerStore
from archivist.config import Target
from archivist.errors import ArchivistError, InvalidInputError
from archivist.server.keycache import KeyCache
from archivist.server.metrics import ServerMetrics
from archivist.server.settings import ServerSettings
from archivist.store.blobs import Blobs
from archivist.store.spool import reclaim_spools
from archivist.store.stores import open_blobs

#: How long the per-type counts of a project are reused, and for how many projects.
COUNTS_TTL = 10.0
COUNTS_KEPT = 1000
#: The digest the readiness check asks the blob store about (one HEAD or stat).
READY_PROBE = "sha256:" + "0" * 64


class ServerState:
    """The store, blob stores and metrics of one app (``app.state.archivist``).

    Raises:
        InvalidInputError: the settings name no usable catalog, or its backend cannot
            hold API keys.
    """

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        url = settings.database_url()
        # With ``{{project}}`` in the URL the store ``open_backend`` makes from it is never
        # used (``blobs()`` opens one per project); a database needs the argument anyway.
        opened = open_backend(url, Target(), blobs=settings.blobs,
                              busy_timeout=settings.busy_timeout,
                              database_timeouts=(settings.database_connect_timeout,
                                                 settings.database_statement_timeout))
        if not isinstance(opened.backend, ServerStore):
            opened.backend.close()
            raise InvalidInputError(f"the catalog at {url!r} cannot serve: its backend keeps "
                                    "no API keys (use a SQLite or PostgreSQL database)")
        self.backend: Backend = opened.backend
        self.store: ServerStore = opened.backend
        self._shared: Blobs | None = None if settings.blobs_per_project else opened.blobs
        self._per_project: dict[str, Blobs] = {}
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[float, dict[str, int]]] = {}
        self.metrics = ServerMetrics(self.store.count_versions)
        # Uploads a killed server process left half-spooled (kill -9, OOM): nobody's now.
        reclaim_spools(settings.spool_dir)
        if self._shared is not None and self._shared.local_root() is not None:
            for path, mtime in self._shared.temp_files():
                if mtime == 0.0:  # a local store's temp whose owner is gone
                    self._shared.remove_temp(path)
        self.keys = KeyCache(self.store, settings.key_cache_ttl)

    def blobs(self, project: str) -> Blobs:
        """The blob store of ``project`` (validated by the caller)."""
        if self._shared is not None:
            return self._shared
        with self._lock:
            found = self._per_project.get(project)
            if found is None:
                found = self._per_project[project] = open_blobs(
                    self.settings.blobs_url(project))
            return found

    def type_counts(self, project: str) -> dict[str, int]:
        """Live versions of ``project`` per type, counted at most every
        :data:`COUNTS_TTL` seconds (a count walks every version of the project: ~45 ms at
        100,000; the home and search pages show it on every view)."""
        now = time.monotonic()
        with self._lock:
            held = self._counts.get(project)
        if held is not None and now - held[0] < COUNTS_TTL:
            return dict(held[1])
        counts = self.store.count_types(project)
        with self._lock:
            if len(self._counts) >= COUNTS_KEPT:
                self._counts.clear()
            self._counts[project] = (now, counts)
        return dict(counts)

    def visible_blobs(self, project: str, digests: Iterable[str]) -> set[str]:
        """Which of ``digests`` ``project`` may see. Its own store is all its own; in a
        store shared by projects, only a blob one of its versions needs or that it uploaded
        itself (``ServerStore.visible_blobs``): a digest's name proves nothing."""
        if self.settings.blobs_per_project:
            return set(digests)
        return self.store.visible_blobs(project, digests)

    def project_digests(self, project: str) -> Callable[[Iterable[str]], list[str]]:
        """A filter keeping the digests ``project`` may see, for listing a whole store."""
        if self.settings.blobs_per_project:
            return list
        mine = self.store.project_blobs(project)
        return lambda digests: [d for d in digests if d in mine]

    def ready(self) -> dict[str, str]:
        """``"ok"``, or the error, for the database and the blob store (each is asked
        once, and answers within its timeouts). With one store per project, the store of
        project ``default`` stands for them all."""
        checks: dict[str, str] = {}
        for name, check in (("database", self.store.ping), ("store", self._ping_store)):
            try:
                check()
                checks[name] = "ok"
            except ArchivistError as exc:
                checks[name] = str(exc)
        return checks

    def _ping_store(self) -> None:
        self.blobs("default").exists(READY_PROBE)

    def close(self) -> None:
        self.backend.close()
