"""PostgreSQL pool: a connection idle for a while is pinged before use (and replaced if
the server cut it); one used a moment ago is not pinged (one round trip fewer)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from archivist.backends.sql import engine as engines
from archivist.errors import StorageError


def _terminate_others(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.commit()


def _read(engine: sa.Engine) -> int:
    with engines.read_transaction(engine) as conn:
        return int(conn.execute(sa.text("SELECT 1")).scalar_one())


def test_an_idle_connection_cut_by_the_server_is_replaced(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engines.create_engine(postgres_url)
    killer = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        assert _read(engine) == 1
        _terminate_others(killer)
        monkeypatch.setattr(engines, "PING_AFTER", 0.0)  # it has been idle "long enough"
        assert _read(engine) == 1
    finally:
        engine.dispose()
        killer.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engines.create_engine(postgres_url)
    killer = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        assert _read(engine) == 1
        # Not pinged, so a connection cut since fails its next use (a ping would have
        # replaced it): that is the cost; the pool is renewed after it.
        _terminate_others(killer)
        monkeypatch.setattr(engines, "PING_AFTER", 3600.0)
        with pytest.raises(StorageError):
            _read(engine)
        assert _read(engine) == 1
    finally:
        engine.dispose()
        killer.dispose()
