"""``Prepared`` statements write the rows ``Connection.execute`` writes (SQLite), still
fire the connection's events, and still raise SQLAlchemy's wrapped driver errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archivist.backends.sql import engine as engines
from archivist.backends.sql.backend import SqlBackend
from archivist.backends.sql.prepared import Prepared
from archivist.backends.sql.tables import run_tasks, tags
from archivist.errors import ConflictError


def _bare(path: Path) -> sa.Engine:
    """The two tables alone (SQLite leaves foreign keys unchecked by default)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    tags.metadata.create_all(engine, tables=[tags, run_tasks])
    return engine


def _rows(engine: sa.Engine, table: sa.Table) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(
            f"SELECT * FROM {table.name} ORDER BY 1, 2")]


def test_rows_are_the_ones_core_writes(tmp_path: Path) -> None:
    core, fast = _bare(tmp_path / "core.db"), _bare(tmp_path / "fast.db")
    values = [None, True, False, 0, -7, 2**62, 0.1, 1e300, "", "é \u00e9 \U0001f600", "null",
              '{"a": 1}']
    rows = [{"seq": i, "key": f"k{i}", "value": v,
             "text": v if isinstance(v, str) else None,
             "num": float(v) if isinstance(v, int | float) else None}
            for i, v in enumerate(values)]
    task = {"id": "t", "run_pk": 1, "step": "s", "idx": 0, "status": "running",
            "started_at": 1.5, "ended_at": None, "cached": True, "cache_key": None,
            "error": None, "consumed": ["a", "b"], "produced": [], "data": {"x": "y"},
            "details": {"nested": {"list": [1, 2.5, None, "ü"]}}}
    with core.begin() as conn:
        conn.execute(tags.insert(), rows)
        conn.execute(run_tasks.insert(), [task])
    with fast.begin() as conn:
        Prepared(tags.insert()).execute(conn, rows)
        Prepared(run_tasks.insert()).execute(conn, task)
    for table in (tags, run_tasks):
        assert _rows(core, table) == _rows(fast, table)
    assert len(_rows(fast, tags)) == len(values)
    core.dispose()
    fast.dispose()


def test_events_fire_and_errors_are_wrapped(tmp_path: Path) -> None:
    backend = SqlBackend(f"sqlite:///{tmp_path}/c.db")
    seen: list[str] = []
    sa.event.listen(backend.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *a: seen.append(statement))
    row = {"id": "t", "run_pk": 1, "step": "s", "idx": 0, "status": "running",
           "started_at": 1.0, "consumed": [], "produced": [], "data": {}, "details": {}}
    try:
        # no run 1: the foreign key refuses the row, as it does through Core
        with pytest.raises(ConflictError), engines.write_transaction(backend.engine) as conn:
            Prepared(run_tasks.insert()).execute(conn, row)
        assert any(s.startswith("INSERT INTO run_tasks") for s in seen)
    finally:
        backend.close()


def test_a_statement_needing_more_than_its_parameters_runs_through_core(
        tmp_path: Path) -> None:
    engine = _bare(tmp_path / "c.db")
    pick = Prepared(sa.select(tags.c.key).where(tags.c.seq.in_(
        sa.bindparam("seqs", expanding=True)), tags.c.key != "skip"))
    with engine.begin() as conn:
        Prepared(tags.insert()).execute(conn, [
            {"seq": s, "key": k, "value": 1, "text": None, "num": 1.0}
            for s, k in ((1, "a"), (2, "skip"), (3, "c"))])
        assert sorted(pick.execute(conn, {"seqs": [1, 2, 3]}).scalars()) == ["a", "c"]
    engine.dispose()
