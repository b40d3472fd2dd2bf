"""Reading a SQLite catalog whose disk is full.

In WAL mode, the first connection to a catalog creates ``catalog.db-wal`` and
``catalog.db-shm`` (and the last one to close removes them). On a full disk that
creation fails, and SQLite answers every open — reads too — with "disk I/O error". A
catalog closed cleanly holds everything in ``catalog.db`` itself, so it can still be read
in SQLite's immutable mode, which creates nothing: ``ls``, ``show`` and ``verify`` keep
working, and a write says the disk is full.

    if disk_full(database) and readable(database):
        engine = read_only_engine(database)
"""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from archivist.errors import StorageError

log = logging.getLogger("archivist.sql")
#: Free bytes under which a filesystem counts as full (SQLite needs a few pages).
FULL_BELOW = 1024 * 1024


def disk_full(database: str) -> bool:
    """Whether the filesystem holding ``database`` has (almost) no space left."""
    try:
        stats = os.statvfs(os.path.dirname(os.path.abspath(database)))
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < FULL_BELOW


def full_error(database: str) -> StorageError:
    """The error a write (or an open that must write) gets on a full disk."""
    log.warning("the disk holding %s is full", database)
    return StorageError("the disk holding the catalog database is full (ENOSPC): free "
                        "some space, then retry; reads still work", reason="disk_full")


def readable(database: str) -> bool:
    """Whether ``database`` can be read without its WAL: it has none (it was closed
    cleanly), so ``catalog.db`` holds every committed transaction."""
    wal = f"{database}-wal"
    return os.path.exists(database) and (not os.path.exists(wal) or
                                         os.path.getsize(wal) == 0)


def read_only_engine(database: str) -> sa.Engine:
    """An engine reading ``database`` in immutable mode (no -wal, -shm nor lock); a
    write transaction raises :func:`full_error`."""
    uri = f"file:{quote(os.path.abspath(database))}?mode=ro&immutable=1"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.isolation_level = None  # BEGIN is ours (see _on_begin)
        return conn

    engine = sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.QueuePool,
                              pool_size=4, max_overflow=8)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get("archivist_write", False):
            raise full_error(database)
        conn.exec_driver_sql("BEGIN")

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    return engine
