"""PostgreSQL specifics of the SQL backend: URLs, error translation, row locks.

Everything else about PostgreSQL runs in the contract suite (tests/contract); these are
the behaviours that only a PostgreSQL server shows.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from archivist import ArtifactCatalog, ConflictError, InvalidInputError, StorageError
from archivist.backends.sql.backend import SqlBackend
from archivist.backends.sql.engine import read_transaction, translate_errors
from archivist.backends.sql.tables import versions
from tests.fixtures.services import loopback_socket


def test_a_url_without_driver_uses_psycopg(postgres_url: str, tmp_path: Path) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with ArtifactCatalog(plain, blobs=str(tmp_path / "blobs")) as catalog:
        assert catalog.backend.engine.dialect.driver == "psycopg"  # type: ignore[attr-defined]
        assert catalog.get(catalog.register("a", data=b"a")).version == 1


def test_an_unreachable_server_is_a_storage_error(tmp_path: Path) -> None:
    with loopback_socket() as closed:  # bound, never listening: connections are refused
        url = f"postgresql+psycopg://postgres@127.0.0.1:{closed.getsockname()[1]}/nothing"
        with pytest.raises(StorageError, match="cannot reach the catalog database"):
            ArtifactCatalog(url, blobs=str(tmp_path / "blobs"))


def test_a_constraint_violation_is_a_conflict(postgres_url: str) -> None:
    backend = SqlBackend(postgres_url)
    try:
        row = {"project": "p", "name": "a", "name_folded": "a", "last_version": 1}
        with (pytest.raises(ConflictError, match="conflicts with the catalog's state") as info,
              translate_errors(), backend.engine.begin() as conn):
            conn.execute(sa.text("INSERT INTO artifacts (project, name, name_folded, "
                                     "last_version) VALUES (:project, :name, :name_folded, "
                                     ":last_version)"), [row, row])
        assert info.value.details["sqlstate"] == "23505"
    finally:
        backend.close()


def test_a_refused_value_is_invalid_input(postgres_url: str) -> None:
    """A value PostgreSQL refuses (SQLite would store it) is the caller's input, not an
    outage: InvalidInputError (HTTP 422), not StorageError (503, "retry")."""
    backend = SqlBackend(postgres_url)
    try:
        with (pytest.raises(InvalidInputError, match="refused a value") as info,
              translate_errors(), backend.engine.begin() as conn):
            conn.execute(sa.text("INSERT INTO artifacts (project, name, name_folded) "
                                 "VALUES ('p', :name, 'x')"), {"name": "n" * 129})
        assert info.value.details["sqlstate"] == "22001"  # string_data_right_truncation
    finally:
        backend.close()


def test_a_lock_timeout_is_busy_retry(postgres_url: str, tmp_path: Path) -> None:
    """A writer that cannot get the name's counter row in time is told to retry; once the
    lock holder is gone, the retry numbers on without a gap."""
    url = postgres_url + "?options=-c%20lock_timeout%3D300"
    with ArtifactCatalog(url, blobs=str(tmp_path / "blobs")) as catalog:
        catalog.register("model", data=b"v1")
        holder = sa.create_engine(postgres_url)
        locked, release = threading.Event(), threading.Event()

        def hold() -> None:
            with holder.begin() as conn:
                conn.execute(sa.text("SELECT last_version FROM artifacts WHERE name = 'model' "
                                     "FOR UPDATE"))
                locked.set()
                release.wait(30)

        thread = threading.Thread(target=hold)
        thread.start()
        try:
            assert locked.wait(30)
            started = time.monotonic()
            with pytest.raises(ConflictError, match=r"busy .*; retry") as info:
                catalog.register("model", data=b"v2")
            assert time.monotonic() - started < 5
            assert info.value.details["sqlstate"] == "55P03"
        finally:
            release.set()
            thread.join()
            holder.dispose()
        assert catalog.get(catalog.register("model", data=b"v2")).version == 2
        assert [a.version for a in catalog.versions("model")] == [1, 2]


def test_a_read_transaction_is_one_snapshot(postgres_url: str, tmp_path: Path) -> None:
    """A commit between two statements of one read transaction is not seen by the second
    (READ COMMITTED would show it), and the transaction cannot write."""
    with ArtifactCatalog(postgres_url, blobs=str(tmp_path / "blobs")) as catalog:
        catalog.register("a")
        engine: sa.Engine = catalog.backend.engine  # type: ignore[attr-defined]
        count = sa.select(sa.func.count()).select_from(versions)
        with read_transaction(engine) as conn:
            assert conn.execute(count).scalar_one() == 1
            catalog.register("a")  # commits on another connection
            assert conn.execute(count).scalar_one() == 1
        with read_transaction(engine) as conn:
            assert conn.execute(count).scalar_one() == 2
        with pytest.raises(StorageError, match="25006"), read_transaction(engine) as conn:
            conn.execute(versions.delete())  # read_only_sql_transaction
