"""Choosing a backend: a plain mapping from what the user gave to what opens it.

=================================  ==========================================
``None``                           resolved by :func:`archivist.config.resolve`
a folder (``"./.archivist"``)      SQLite ``<folder>/catalog.db`` + ``<folder>/blobs``
``sqlite:///path/catalog.db``      that database; blobs next to it unless given
``postgresql://…``                 that database; ``blobs=`` required
a ``Backend`` object               used as is; ``blobs=`` required
=================================  ==========================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from archivist.backends.base import Backend
from archivist.config import Target
from archivist.errors import InvalidInputError
from archivist.store.blobs import Blobs, FsspecBlobs

SQL_SCHEMES = ("sqlite", "postgresql", "postgres")


@dataclass(frozen=True)
class Opened:
    backend: Backend
    blobs: Blobs
    home: Path | None


def open_backend(backend: str | os.PathLike[str] | Backend | None, target: Target, *,
                 blobs: str | Blobs | None = None, busy_timeout: float = 10.0) -> Opened:
    """Open the backend and blob store ``backend``/``target`` name.

    Raises:
        InvalidInputError: an unknown scheme, or a database without a blob store.
    """
    if backend is None:
        if target.endpoint:
            raise InvalidInputError(
                f"the catalog endpoint {target.endpoint!r} (from ARCHIVIST_CATALOG_ENDPOINT or "
                "the config file) needs the remote backend, which this version of archivist "
                "does not include; unset it to use the local catalog")
        assert target.home is not None
        return _open_home(target.home, blobs, busy_timeout)
    if isinstance(backend, str | os.PathLike):
        text = os.fspath(backend)
        scheme = text.split("://", 1)[0].split("+", 1)[0].lower() if "://" in text else ""
        if not scheme:
            return _open_home(Path(text).expanduser(), blobs, busy_timeout)
        if scheme not in SQL_SCHEMES:
            raise InvalidInputError(f"unknown catalog backend {text!r}: use a folder, "
                                    "sqlite:///…, or postgresql://…")
        from archivist.backends.sql.backend import SqlBackend

        if scheme == "sqlite":
            database = Path(text.split(":///", 1)[-1])
            home = database.parent
            return Opened(SqlBackend(text, busy_timeout=busy_timeout),
                          _blobs(blobs, home / "blobs"), home)
        if blobs is None:
            raise InvalidInputError("a PostgreSQL catalog needs a blob store: pass "
                                    "blobs='s3://bucket/prefix' (or any fsspec URL)")
        url = text.replace("postgres://", "postgresql://", 1)
        return Opened(SqlBackend(url), _blobs(blobs, None), None)
    if blobs is None:
        raise InvalidInputError("a custom backend needs blobs= (an fsspec URL or Blobs)")
    return Opened(backend, _blobs(blobs, None), None)


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
    return Opened(SqlBackend(f"sqlite:///{database}", busy_timeout=busy_timeout),
                  _blobs(blobs, home / "blobs"), home)


def _blobs(blobs: str | Blobs | None, default: Path | None) -> Blobs:
    if blobs is None:
        assert default is not None
        return FsspecBlobs(str(default))
    if isinstance(blobs, str):
        return FsspecBlobs(blobs)
    return blobs
