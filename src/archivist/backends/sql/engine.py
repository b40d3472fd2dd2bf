"""Engines and transactions for the SQL metadata store, and schema migration on open.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (a committed transaction survives a
process crash; on power loss the last few may roll back, never corrupt) and every write
transaction starts with ``BEGIN IMMEDIATE``: a deferred transaction that upgrades to a
write lock gets ``SQLITE_BUSY`` at once, ignoring ``busy_timeout`` — the classic cause of
"database is locked" under parallel writers (reliability.md, takeaway 8).

PostgreSQL needs no such mode: the version counter row is locked by the upsert that bumps
it (``INSERT … ON CONFLICT DO UPDATE`` holds the row lock until commit, as ``SELECT … FOR
UPDATE`` would), so concurrent registrations of one name queue on that row and number
gap-free. Its errors are translated by SQLSTATE: a deadlock, serialization failure or
lock timeout means "busy, retry" (``ConflictError``), a constraint violation a conflict,
a data exception (a value too long or out of range) ``InvalidInputError``, a lost
connection a ``StorageError`` naming the cause.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from archivist._extras import missing
from archivist.backends.sql import fulldisk, timeouts
from archivist.errors import (
    ArchivistError,
    ConflictError,
    InvalidInputError,
    StorageError,
)

log = logging.getLogger("archivist.sql")
MIGRATIONS = Path(__file__).with_name("migrations")
_WRITE = "archivist_write"
#: Seconds a pooled PostgreSQL connection may sit idle before it is pinged on checkout.
PING_AFTER = 5.0
_IDLE_SINCE = "archivist_idle_since"
#: SQLSTATEs after which the same transaction, retried, can succeed.
_PG_BUSY = {"40001": "serialization failure", "40P01": "deadlock",
            "55P03": "lock not available"}


def create_engine(url: str, *, busy_timeout: float = 10.0,
                  connect_timeout: float | None = None,
                  statement_timeout: float | None = None) -> sa.Engine:
    """An engine for ``url`` with the pragmas and transaction mode archivist relies on.

    ``postgresql://`` without a driver means psycopg (3), the driver the ``postgres``
    extra installs (SQLAlchemy's default would be psycopg2). On PostgreSQL,
    ``connect_timeout`` and ``statement_timeout`` (seconds; ``None``: none) bound the
    wait for a database that hangs (:mod:`archivist.backends.sql.timeouts`).

    Raises:
        MissingDependencyError: the database driver is not installed.
        InvalidInputError: ``url`` is not a database URL SQLAlchemy can parse.
    """
    if url.startswith("sqlite"):
        # LIFO: the connection used last is used next. Its page cache is current; a
        # connection that sat idle while another wrote re-reads every page it touches
        # (one register: +45 % on the benchmark VM with two connections taking turns).
        engine = sa.create_engine(
            url, connect_args={"timeout": busy_timeout, "check_same_thread": False},
            pool_size=4, max_overflow=8, pool_use_lifo=True,
        )
        _configure_sqlite(engine, busy_timeout)
        return engine
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        # A server runs up to 40 requests at once per process (the threadpool): a pool
        # smaller than that closes and reopens connections under load (a connection
        # kept in the pool costs nothing until it is used).
        connect_args = ({} if connect_timeout is None else
                        {"connect_timeout": max(2, math.ceil(connect_timeout))})
        engine = sa.create_engine(parsed, pool_size=16, max_overflow=24,
                                  connect_args=connect_args)
    except ImportError as exc:
        # the postgres extra installs psycopg (3); a driver named in the URL is the user's
        driver = parsed.drivername.partition("+")[2]
        raise (missing("psycopg", "postgres", purpose="a PostgreSQL catalog")
               if driver == "psycopg" else
               missing(exc.name or driver, None, purpose=f"a {parsed.drivername} database")
               ) from None
    watchdog = (None if statement_timeout is None
                else timeouts.install(engine, statement_timeout))
    _ping_when_idle(engine, watchdog)
    return engine


def _ping_when_idle(engine: sa.Engine, watchdog: timeouts.Watchdog | None) -> None:
    """Ping a pooled connection before use only if it sat idle :data:`PING_AFTER`
    seconds or more (the ones a database restart, an idle timeout or a proxy may have
    cut); ``pool_pre_ping`` would ping before every transaction, one round trip each.

    A connection cut while in steady use fails its next statement instead
    (``StorageError``); SQLAlchemy then drops every connection of the pool made before,
    so the next transactions get fresh ones.
    """
    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER:
            return  # just opened, or used a moment ago
        if watchdog is not None:
            watchdog.start(dbapi_connection)
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: the pool opens a new connection
            raise sa.exc.DisconnectionError(f"stale pooled connection: {exc}") from exc
        finally:
            if watchdog is not None:
                watchdog.stop(dbapi_connection)


def _configure_sqlite(engine: sa.Engine, busy_timeout: float) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA synchronous = NORMAL")
        # A registration writes ~25 WAL pages; checkpointing every 1,000 pages (the
        # default) costs a ~5 ms stall every ~40 calls. 4,000 pages (16 MB) cuts that.
        cursor.execute("PRAGMA wal_autocheckpoint = 4000")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction: ``BEGIN IMMEDIATE`` on SQLite; commit on success.

    Raises:
        ConflictError: the catalog stayed locked past the busy timeout, or a deadlock or
            lock timeout on PostgreSQL ("retry"); or a constraint was violated.
        InvalidInputError: PostgreSQL refused a value (too long, out of range).
        StorageError: any other database failure.
    """
    with translate_errors(), engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


@contextlib.contextmanager
def read_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A read transaction: one consistent snapshot for every query inside it.

    SQLite's read transaction is a snapshot already; PostgreSQL's default (READ COMMITTED)
    takes a new one per statement, so a listing and the hydration after it could see two
    states: there the transaction is REPEATABLE READ (read-only transactions never fail
    to serialize).
    """
    with translate_errors(), engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Set on the driver's connection (no round trip): psycopg then opens the
            # transaction with ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY``, one
            # statement where ``BEGIN`` + ``SET TRANSACTION`` were two. The pool puts the
            # defaults back when the connection returns.
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into typed archivist errors (never a bare SQL traceback).

    Raises:
        ConflictError: busy (locked, deadlock, lock timeout) or a constraint violation.
        InvalidInputError: a value PostgreSQL refused.
        StorageError: anything else, including an unreachable server.
    """
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if type(exc.orig).__module__.startswith("psycopg"):
            raise _postgres_error(exc) from exc
        raise _sqlite_error(exc) from exc


def _sqlite_error(exc: sa.exc.DBAPIError) -> ArchivistError:
    text = str(exc.orig).lower()
    if isinstance(exc, sa.exc.OperationalError) and (
            "locked" in text or "busy" in text or "could not obtain lock" in text):
        return ConflictError("the catalog is busy (locked by another writer); retry")
    if "database or disk is full" in text or getattr(exc.orig, "sqlite_errorcode", 0) == 13:
        return StorageError("the catalog database's disk is full (SQLITE_FULL); free some "
                            "space, then retry", reason="disk_full")
    if isinstance(exc, sa.exc.IntegrityError):
        log.info("constraint violation: %s", exc.orig)
        return ConflictError("the change conflicts with the catalog's state (a row it "
                             "adds exists already, or one it needs does not)")
    return StorageError(f"catalog database error: {exc.orig}")


#: What a client is told for SQLSTATE classes where PostgreSQL's own message would name
#: the database, its host or port (those go to the server's log only).
_PG_CLASSES = {
    "08": "lost the connection to the catalog database; check that it is up, then retry",
    "57P": "the catalog database is shutting down or restarting; retry",
    "53100": "the catalog database's disk is full; free some space, then retry",
    "53": "the catalog database is out of resources (connections or memory); retry",
    "57014": "the catalog database did not answer in time (statement timeout); retry",
    "28": "the catalog database refused the server's credentials",
    "3D": "the catalog database does not exist",
}


def _postgres_error(exc: sa.exc.DBAPIError) -> ArchivistError:
    state = str(getattr(exc.orig, "sqlstate", None) or "")
    lines = str(exc.orig).strip().splitlines()
    detail = lines[0] if lines else type(exc.orig).__name__
    waited = getattr(exc.orig, timeouts.TIMED_OUT, None)
    if waited is not None:
        log.warning("catalog database did not answer within %s s: %s", waited, detail)
        return StorageError(f"the catalog database did not answer within {waited:g} s "
                            "(statement timeout); check that it is up, then retry",
                            reason="timeout")
    if not state and isinstance(exc, sa.exc.OperationalError):  # no server answered
        log.warning("catalog database unreachable: %s", detail)
        return StorageError("cannot reach the catalog database; check that PostgreSQL is "
                            "up and the URL is right, then retry")
    if state in _PG_BUSY:
        return ConflictError(f"the catalog is busy ({_PG_BUSY[state]}); retry",
                             sqlstate=state)
    if state.startswith("22"):  # data exception: a value names.py should have refused
        return InvalidInputError(f"the catalog database refused a value: {detail}",
                                 sqlstate=state)
    if state.startswith("23"):  # integrity constraint violation
        log.info("constraint violation (%s): %s", state, detail)
        return ConflictError("the change conflicts with the catalog's state (a row it "
                             "adds exists already, or one it needs does not)", sqlstate=state)
    log.warning("catalog database error (%s): %s", state, detail)
    for prefix in (state, state[:3], state[:2]):
        if prefix in _PG_CLASSES:
            return StorageError(_PG_CLASSES[prefix], sqlstate=state)
    return StorageError(f"catalog database error (SQLSTATE {state}); the server's log has "
                        "the detail", sqlstate=state)


def enable_wal(database: str, lock_path: str) -> None:
    """Switch a SQLite file to WAL mode once, under the opening lock.

    The switch is persistent, and doing it on every connection races: when several
    processes convert a new file at once SQLite answers "database is locked" at once,
    ignoring the busy timeout (seen in the first-open test, C8).
    """
    import sqlite3

    with _file_lock(lock_path):
        conn = sqlite3.connect(database, timeout=30)
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            if fulldisk.disk_full(database):
                raise fulldisk.full_error(database) from exc
            raise StorageError(f"cannot open the catalog database {database}: {exc}") from exc
        finally:
            conn.close()


def migrate(engine: sa.Engine, lock_path: str | None) -> None:
    """Bring the schema to the newest Alembic revision, once, even with racing openers.

    SQLite openers serialize on a file lock next to the database; PostgreSQL ones on an
    advisory lock. Opening an up-to-date catalog costs one query.
    """
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    with translate_errors():
        if _current_revision(engine) == head:
            return
        with _migration_lock(engine, lock_path), engine.connect() as conn:
            if _current_revision(engine) == head:
                return
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()


def _current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine, lock_path: str | None) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(7420001)"))
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(7420001)"))
                conn.commit()
        return
    if lock_path is None:
        yield
        return
    with _file_lock(lock_path):
        yield


@contextlib.contextmanager
def _file_lock(lock_path: str) -> Iterator[None]:
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(f"cannot open the lock file {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
