"""Connect and statement timeouts for PostgreSQL that hold when the database hangs.

A stopped or frozen database (SIGSTOP, a VM paused, a network partition that keeps TCP
up) answers nothing, so its own ``statement_timeout`` never fires and the driver waits
forever. Here:

* ``connect_timeout`` is libpq's: a connection not made within it fails;
* the server's ``statement_timeout`` is set on each new connection, so a statement that is
  merely slow is cancelled by PostgreSQL (SQLSTATE 57014) and the connection stays usable;
* a :class:`Watchdog` gives every statement, commit, rollback and pool ping a deadline a
  second past that; a connection still waiting then has its socket shut down, so the
  waiting call fails at once (``StorageError`` saying the database did not answer in
  time) and the pool drops that connection.

    install(engine, statement_timeout=30.0)
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import sqlalchemy as sa

#: Seconds past the database's own statement timeout before the socket is shut down.
GRACE = 1.0
#: Attribute set on the driver's exception when the watchdog cut its connection.
TIMED_OUT = "archivist_timed_out"


class Watchdog:
    """Deadlines of driver connections; a thread shuts down the socket of a late one.

    The thread runs only while some deadline is pending (it ends when none is).
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._due: dict[int, tuple[float, Any]] = {}
        self._cut: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, dbapi_connection: Any) -> None:
        """Give ``dbapi_connection`` a deadline :attr:`limit` seconds from now."""
        with self._lock:
            self._due[id(dbapi_connection)] = (time.monotonic() + self.limit, dbapi_connection)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="archivist-sql-watchdog")
                self._thread.start()

    def stop(self, dbapi_connection: Any) -> None:
        """``dbapi_connection`` finished in time."""
        with self._lock:
            self._due.pop(id(dbapi_connection), None)

    def was_cut(self, dbapi_connection: Any) -> bool:
        """Whether the watchdog shut ``dbapi_connection`` down (asked once)."""
        with self._lock:
            key = id(dbapi_connection)
            found = key in self._cut
            self._cut.discard(key)
            return found

    def _run(self) -> None:
        tick = min(0.25, self.limit / 4)
        while True:
            time.sleep(tick)
            now = time.monotonic()
            with self._lock:
                if not self._due:
                    self._thread = None
                    return
                late = [key for key, (deadline, _c) in self._due.items() if deadline <= now]
                cut = [self._due.pop(key)[1] for key in late]
                self._cut.update(late)
            for dbapi_connection in cut:
                _shut_down(dbapi_connection)


def _shut_down(dbapi_connection: Any) -> None:
    """Shut the connection's socket down: the call waiting on it fails at once."""
    with contextlib.suppress(Exception):
        fd = dbapi_connection.pgconn.socket
        sock = socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM)  # a duplicate fd
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


def install(engine: sa.Engine, statement_timeout: float) -> Watchdog:
    """Set PostgreSQL's ``statement_timeout`` on each connection of ``engine`` and watch
    every statement, commit, rollback and checkout ping; the watchdog (its
    :meth:`Watchdog.start`/:meth:`Watchdog.stop` wrap the pool's own ping)."""
    watchdog = Watchdog(statement_timeout + GRACE)
    milliseconds = max(1, int(statement_timeout * 1000))

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        watchdog.start(dbapi_connection)
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {milliseconds}")
            dbapi_connection.commit()
        finally:
            watchdog.stop(dbapi_connection)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(conn: sa.Connection, *_args: Any) -> None:
        watchdog.start(conn.connection.dbapi_connection)

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(conn: sa.Connection, *_args: Any) -> None:
        watchdog.stop(conn.connection.dbapi_connection)

    @sa.event.listens_for(engine, "commit")
    @sa.event.listens_for(engine, "rollback")
    def _ending(conn: sa.Connection) -> None:
        if not conn.invalidated:  # (an invalidated one has no driver connection left)
            watchdog.start(conn.connection.dbapi_connection)  # ended at checkin

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            watchdog.stop(dbapi_connection)

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(context: sa.engine.ExceptionContext) -> None:
        conn = context.connection
        raw = (conn.connection.dbapi_connection
               if conn is not None and not conn.invalidated else None)
        if raw is not None:
            watchdog.stop(raw)
            if watchdog.was_cut(raw):
                with contextlib.suppress(AttributeError):
                    setattr(context.original_exception, TIMED_OUT, statement_timeout)
                context.is_disconnect = True

    return watchdog
