"""How a catalog server is configured: one frozen settings object, passed in.

``archivist server`` builds it from its options; with ``--workers N`` each uvicorn
worker rebuilds it from the JSON in ``ARCHIVIST_SERVER_SETTINGS`` (see
:func:`archivist.server.app.app_from_env`). Nothing is read from the environment at
import time.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from archivist.errors import InvalidInputError

SETTINGS_VARIABLE = "ARCHIVIST_SERVER_SETTINGS"
PROJECT_PLACEHOLDER = "{{project}}"
GIB = 1024**3
MIB = 1024**2
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class ServerSettings(BaseModel):
    """Settings of one catalog server process.

    Either ``home`` (a local catalog folder: SQLite ``catalog.db`` + ``blobs/``) or
    ``database`` (a SQLAlchemy URL) with ``blobs`` (a folder or fsspec URL, where
    ``{{project}}`` is replaced by the project name, giving each project its own store).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Annotated[str | None, Field(description="Local catalog folder (SQLite + blobs/).")] = None
    database: Annotated[str | None, Field(
        description="Database URL (sqlite:///… or postgresql://…).")] = None
    blobs: Annotated[str | None, Field(
        description="Blob store folder or fsspec URL; may contain {{project}}.")] = None
    host: str = "127.0.0.1"
    port: int = 8765
    insecure_single_user: Annotated[bool, Field(
        description="No API keys: anonymous admin access, loopback only.")] = False
    max_blob_size: Annotated[int, Field(ge=1, description="Largest blob upload, bytes.")] = (
        10 * GIB)
    max_json_size: Annotated[int, Field(ge=1024, description="Largest JSON body, bytes.")] = (
        32 * MIB)
    presign: Annotated[bool, Field(
        description="Redirect blob downloads to presigned URLs when the store is S3.")] = False
    presign_expires: Annotated[int, Field(ge=1, le=7 * 24 * 3600)] = 3600
    spool_dir: Annotated[str | None, Field(
        description="Where uploads are spooled while hashed (default: a local store's "
        "tmp/, else <temp folder>/archivist-spools).")] = None
    busy_timeout: float = 10.0
    database_connect_timeout: Annotated[float, Field(
        gt=0, le=600, description="Seconds to wait for a new PostgreSQL connection "
        "before answering 503.")] = 5.0
    database_statement_timeout: Annotated[float, Field(
        gt=0, le=3600, description="Seconds one PostgreSQL statement may run (or a "
        "hung database stay silent) before the request answers 503.")] = 30.0
    threads: Annotated[int, Field(
        ge=1, le=256, description="Requests doing database or store work at once per "
        "process (the threadpool); more helps only with a slow or distant database.")] = 8
    root_path: Annotated[str, Field(
        description="Path prefix the server answers under (behind a reverse proxy that "
        "mounts it at https://host/<prefix>); empty: the root.")] = ""
    key_cache_ttl: Annotated[float, Field(
        ge=0, le=300, description="Seconds an authenticated API key is trusted without a "
        "database lookup; a key revoked by another server process keeps working here that "
        "long (0: look every request up).")] = 5.0

    @field_validator("root_path")
    @classmethod
    def _root_path(cls, value: str) -> str:
        from archivist.server.rootpath import check_root_path

        return check_root_path(value)

    def database_url(self) -> str:
        """The metadata database this server opens.

        Raises:
            InvalidInputError: neither ``home`` nor ``database``, both, or a database
                without a blob store.
        """
        if self.home is not None and self.database is not None:
            raise InvalidInputError("give either --home or --database (with --blobs), not both")
        if self.database is not None:
            if self.blobs is None:
                raise InvalidInputError("--database needs --blobs (a folder or an fsspec URL "
                                        "such as s3://bucket/prefix)")
            return self.database
        home = Path(self.home if self.home is not None else ".archivist").expanduser()
        return f"sqlite:///{home.resolve() / 'catalog.db'}"

    def blobs_url(self, project: str) -> str:
        """The blob store of ``project`` (``{{project}}`` filled in)."""
        if self.blobs is not None:
            return self.blobs.replace(PROJECT_PLACEHOLDER, project)
        home = Path(self.home if self.home is not None else ".archivist").expanduser()
        return str(home.resolve() / "blobs")

    @property
    def blobs_per_project(self) -> bool:
        """Whether each project has its own store (``{{project}}`` in the URL)."""
        return self.blobs is not None and PROJECT_PLACEHOLDER in self.blobs

    def check_bind(self) -> None:
        """Refuse a configuration that would expose anonymous access.

        Raises:
            InvalidInputError: ``insecure_single_user`` with a host that is not loopback.
        """
        if self.insecure_single_user and not is_loopback(self.host):
            raise InvalidInputError(
                f"--insecure-single-user serves anyone without a key, so it binds only to "
                f"loopback (127.0.0.1, ::1 or localhost), not {self.host!r}; create API keys "
                "with 'archivist keys create' to serve a network")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or name (``0.0.0.0`` is not)."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
