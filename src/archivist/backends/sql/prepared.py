"""Hot write statements on SQLite: compiled once, run with ``exec_driver_sql``.

``Connection.execute`` of a Core statement costs ~175 µs of Python per call on the
benchmark VM (cache key, execution context, result setup); ``exec_driver_sql`` of the
same SQL ~50 µs, and a registration runs five to eight statements. A :class:`Prepared`
statement is compiled once per set of parameter names by SQLAlchemy's own compiler, and
its parameters pass through the same bind processors (JSON encoding, …), so the rows are
the ones ``execute`` writes. It still runs through the connection: events (statement
counts, fault injection) fire and driver errors are wrapped as ``DBAPIError`` for
:func:`~archivist.backends.sql.engine.translate_errors`. PostgreSQL runs the Core
statement unchanged (psycopg's own costs dominate there).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

_Processor = Callable[[Any], Any] | None


class Prepared:
    """A Core statement run on SQLite as plain SQL with positional parameters.

    Statements whose compiled form needs more than the given parameters (a Python-side
    column default, an expanding ``IN``) run through ``Connection.execute`` instead.
    """

    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt
        self._forms: dict[tuple[str, ...], tuple[str, tuple[tuple[str, _Processor], ...]] | None]
        self._forms = {}
        self._lock = threading.Lock()

    def execute(self, conn: sa.Connection,
                params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> sa.CursorResult[Any]:
        """``conn.execute(stmt, params)``; a list of mappings is an ``executemany``
        (every mapping with the same keys)."""
        if conn.dialect.name != "sqlite":
            return conn.execute(self.stmt, params)
        many = not isinstance(params, Mapping)
        rows: Sequence[Mapping[str, Any]] = params if many else [params]  # type: ignore[list-item,assignment]
        keys = tuple(rows[0])
        form = self._forms[keys] if keys in self._forms else self._compile(conn.dialect, keys)
        if form is None:
            return conn.execute(self.stmt, params)
        sql, order = form
        values = [tuple(row[k] if p is None else p(row[k]) for k, p in order) for row in rows]
        return conn.exec_driver_sql(sql, values if many else values[0])

    def _compile(self, dialect: sa.Dialect, keys: tuple[str, ...]
                 ) -> tuple[str, tuple[tuple[str, _Processor], ...]] | None:
        compiled = self.stmt.compile(dialect=dialect, column_keys=list(keys))
        names = tuple(compiled.positiontup or ())
        form: tuple[str, tuple[tuple[str, _Processor], ...]] | None = None
        expanding = any(b.expanding for b in compiled.binds.values())
        if set(names) <= set(keys) and not expanding:
            order = tuple((name, compiled.binds[name].type._cached_bind_processor(dialect))
                          for name in names)
            form = (compiled.string, order)
        with self._lock:
            self._forms[keys] = form
        return form
