"""Choosing a backend: a plain mapping from what the user gave to what opens it.

=================================  ==========================================================
``None``                           resolved by :func:`archivist.config.resolve`: the endpoint
                                   of ``ARCHIVIST_CATALOG_ENDPOINT`` or the config file, else
                                   the local home
a folder (``"./.archivist"``)      SQLite ``<folder>/catalog.db`` + ``<folder>/blobs``
``file:///abs/dir``                the same folder, as a URL (``file://./rel`` too)
``sqlite:///path/catalog.db``      that database; blobs next to it unless given
``postgresql://…``                 that database; ``blobs=`` required
``http://…`` / ``https://…``       a catalog server (:class:`RemoteCatalogBackend`); the API
                                   key from ``ARCHIVIST_CATALOG_API_KEY`` / the config file
a ``RemoteCatalogBackend``         used as is, with the server's blobs of the project
a ``Backend`` object               used as is; ``blobs=`` required
=================================  ==========================================================
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote

from archivist.backends.base import Backend
from archivist.config import Target
from archivist.errors import InvalidInputError
from archivist.model import GcReport, VerifyReport
from archivist.store.blobs import Blobs
from archivist.store.stores import open_blobs

if TYPE_CHECKING:
    from archivist.backends.remote.backend import RemoteCatalogBackend

SQL_SCHEMES = ("sqlite", "postgresql", "postgres")
REMOTE_SCHEMES = ("http", "https")


class Maintenance(Protocol):
    """``verify`` and ``gc`` of an opened catalog, wherever its blobs are."""

    def verify(self) -> VerifyReport:
        """Rehash every referenced blob, list the rest (see ``ArtifactCatalog.verify``)."""
        ...

    def gc(self, *, dry_run: bool, grace: float, scratch: Path | None = None) -> GcReport:
        """Free unreferenced blobs older than ``grace`` seconds (see
        ``ArtifactCatalog.gc``); ``scratch`` is the catalog's local working folder."""
        ...


@dataclass(frozen=True)
class LocalMaintenance:
    """Maintenance by this process: the functions of :mod:`archivist.maintenance`."""

    backend: Backend
    blobs: Blobs

    def verify(self) -> VerifyReport:
        from archivist import maintenance

        return maintenance.verify(self.backend, self.blobs)

    def gc(self, *, dry_run: bool, grace: float, scratch: Path | None = None) -> GcReport:
        from archivist import maintenance

        return maintenance.gc(self.backend, self.blobs, dry_run=dry_run, grace=grace,
                              scratch=scratch)


@dataclass(frozen=True)
class Opened:
    """What :func:`open_backend` opened: rows, bytes, the local home, maintenance, and
    where a catalog without a home keeps its hash cache (``None``: it keeps none)."""

    backend: Backend
    blobs: Blobs
    home: Path | None
    maintenance: Maintenance
    hash_cache: Path | None = None


def open_backend(backend: str | os.PathLike[str] | Backend | None, target: Target, *,
                 blobs: str | Blobs | None = None, busy_timeout: float = 10.0,
                 project: str = "default",
                 database_timeouts: tuple[float, float] | None = None) -> Opened:
    """Open the backend and blob store ``backend``/``target`` name, for ``project``.

    ``database_timeouts`` — (connect, statement) seconds — bound a PostgreSQL catalog's
    waits (:mod:`archivist.backends.sql.timeouts`); ``None``: no bound.

    Raises:
        InvalidInputError: an unknown scheme, a database without a blob store, or
            ``blobs=`` given for a catalog server (which keeps its own).
    """
    if backend is None:
        if target.endpoint:
            return _open_remote(_remote(target.endpoint, target.api_key), blobs, project)
        assert target.home is not None
        return _open_home(target.home, blobs, busy_timeout)
    if isinstance(backend, str | os.PathLike):
        text = os.fspath(backend)
        scheme = text.split("://", 1)[0].split("+", 1)[0].lower() if "://" in text else ""
        if not scheme:
            return _open_home(Path(text).expanduser(), blobs, busy_timeout)
        if scheme == "file":
            return _open_home(file_url_path(text), blobs, busy_timeout)
        if scheme in REMOTE_SCHEMES:
            return _open_remote(_remote(text, target.api_key), blobs, project)
        if scheme not in SQL_SCHEMES:
            raise InvalidInputError(f"unknown catalog backend {text!r}: use a folder, "
                                    "file:///folder, sqlite:///…, postgresql://… or "
                                    "http(s)://server")
        from archivist.backends.sql.backend import SqlBackend

        if scheme == "sqlite":
            database = Path(text.split(":///", 1)[-1])
            home = database.parent
            return _local(SqlBackend(text, busy_timeout=busy_timeout),
                          _blobs(blobs, home / "blobs"), home)
        if blobs is None:
            raise InvalidInputError("a PostgreSQL catalog needs a blob store: pass "
                                    "blobs='s3://bucket/prefix' (or any fsspec URL)")
        url = text.replace("postgres://", "postgresql://", 1)
        connect, statement = database_timeouts or (None, None)
        return _local(SqlBackend(url, connect_timeout=connect, statement_timeout=statement),
                      _blobs(blobs, None), None)
    from archivist.backends.remote.backend import RemoteCatalogBackend

    if isinstance(backend, RemoteCatalogBackend):
        return _open_remote(backend, blobs, project)
    if blobs is None:
        raise InvalidInputError("a custom backend needs blobs= (an fsspec URL or Blobs)")
    return _local(backend, _blobs(blobs, None), None)


def file_url_path(url: str) -> Path:
    """The folder of a ``file://`` URL: ``file:///abs/dir``, ``file://localhost/abs/dir``,
    or ``file://./rel/dir`` as the relative path people also write.

    Raises:
        InvalidInputError: a file URL naming another host, or no path.
    """
    rest = url[len("file://"):]
    if rest.startswith("localhost/"):
        rest = rest[len("localhost"):]
    if not rest or not (rest.startswith(("/", "./", "../", "~")) or rest in (".", "..")):
        raise InvalidInputError(f"cannot use {url!r} as a catalog folder: write "
                                "file:///absolute/path or file://./relative/path")
    return Path(unquote(rest)).expanduser()


def _remote(url: str, api_key: str | None) -> RemoteCatalogBackend:
    from archivist.backends.remote.backend import RemoteCatalogBackend

    return RemoteCatalogBackend(url, api_key)


def _open_remote(backend: RemoteCatalogBackend, blobs: str | Blobs | None,
                 project: str) -> Opened:
    from archivist.backends.remote.backend import RemoteMaintenance

    if blobs is not None:
        raise InvalidInputError(f"a catalog server keeps its own blobs; do not pass blobs= "
                                f"with {backend.url}")
    # Digests of unchanged local files, so re-registering a tree hashes only what changed;
    # kept with the download cache (content digests hold whatever server is asked). A
    # folder that cannot be made just means no hash cache (HashCache degrades to none).
    with contextlib.suppress(OSError):
        backend.cache.root.mkdir(parents=True, exist_ok=True)
    return Opened(backend.for_project(project), backend.blobs_for(project), None,
                  RemoteMaintenance(backend, project),
                  hash_cache=backend.cache.root / "hashcache.db")


def _local(backend: Backend, blobs: Blobs, home: Path | None) -> Opened:
    return Opened(backend, blobs, home, LocalMaintenance(backend, blobs))


def _open_home(home: Path, blobs: str | Blobs | None, busy_timeout: float) -> Opened:
    from archivist.backends.sql.backend import SqlBackend

    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"cannot use {home} as the catalog folder: "
                                f"{exc.strerror or exc}") from None
    if not home.is_dir():
        raise InvalidInputError(f"cannot use {home} as the catalog folder: not a directory")
    database = home.resolve() / "catalog.db"
    return _local(SqlBackend(f"sqlite:///{database}", busy_timeout=busy_timeout),
                  _blobs(blobs, home / "blobs"), home)


def _blobs(blobs: str | Blobs | None, default: Path | None) -> Blobs:
    if blobs is None:
        assert default is not None
        return open_blobs(str(default))
    if isinstance(blobs, str):
        return open_blobs(blobs)
    return blobs
