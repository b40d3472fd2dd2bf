"""Run records on SQL: runs, their tasks and the versions they link (revision 0002).

``SqlBackend`` delegates its run methods here; the contract is documented once, on the
``Backend`` protocol in :mod:`archivist.backends.base`. Run numbers come from the
``pipelines`` counter row, bumped by an upsert in the creating transaction, so they are
gap-free and safe under concurrent creators on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from archivist.backends.sql import engine as engines
from archivist.backends.sql.prepared import Prepared
from archivist.backends.sql.tables import pipelines, run_io, run_tasks, runs
from archivist.errors import ArtifactNotFoundError, ConflictError
from archivist.model import NewRun, RunRecord, TaskRecord


def create_run(engine: sa.Engine, run: NewRun) -> RunRecord:
    """See ``Backend.create_run``."""
    with engines.write_transaction(engine) as conn:
        if conn.execute(sa.select(runs.c.pk).where(runs.c.id == run.id)).first() is not None:
            raise ConflictError(f"a run with id {run.id!r} already exists")
        bump = 1 if run.number is None else 0
        row = conn.execute(_UPSERT[conn.dialect.name], {
            "project": run.project, "name": run.pipeline, "last_number": bump}).one()
        number = int(row.last_number) if run.number is None else run.number
        if run.number is not None:
            taken = conn.execute(sa.select(runs.c.pk).where(
                runs.c.pipeline_pk == row.pk, runs.c.number == number)).first()
            if taken is not None:
                raise ConflictError(f"run {run.pipeline}/{number} already exists in project "
                                    f"{run.project!r}")
            conn.execute(pipelines.update().where(
                pipelines.c.pk == row.pk, pipelines.c.last_number < number)
                .values(last_number=number))
        conn.execute(runs.insert(), [{
            "id": run.id, "pipeline_pk": row.pk, "project": run.project,
            "pipeline": run.pipeline, "number": number, "kind": run.kind,
            "status": run.status, "started_at": run.started_at, "ended_at": run.ended_at,
            "parameters": run.parameters, "user": run.user, "host": run.host,
            "code_version": run.code_version, "code_dirty": run.code_dirty,
            "source_hash": run.source_hash, "error": run.error, "details": run.details}])
        return _record(conn.execute(sa.select(runs).where(runs.c.id == run.id)).one(), [], {})


def get_run(engine: sa.Engine, ref: str, project: str) -> RunRecord:
    """See ``Backend.get_run``."""
    with engines.read_transaction(engine) as conn:
        row = conn.execute(sa.select(runs).where(runs.c.project == project,
                                                 runs.c.id == ref)).first()
        if row is None and "/" in ref:
            pipeline, _, number = ref.rpartition("/")
            if number.isdigit():
                row = conn.execute(sa.select(runs).where(
                    runs.c.project == project, runs.c.pipeline == pipeline,
                    runs.c.number == int(number))).first()
        if row is None:
            raise ArtifactNotFoundError(_not_found(conn, ref, project), ref=ref)
        return _hydrate(conn, [row])[0]


def list_runs(engine: sa.Engine, project: str, pipeline: str | None, status: str | None,
              limit: int, offset: int) -> list[RunRecord]:
    """See ``Backend.list_runs``."""
    query = sa.select(runs).where(runs.c.project == project)
    if pipeline is not None:
        query = query.where(runs.c.pipeline == pipeline)
    if status is not None:
        query = query.where(runs.c.status == status)
    query = query.order_by(runs.c.started_at.desc(), runs.c.number.desc(), runs.c.pk.desc())
    with engines.read_transaction(engine) as conn:
        return _hydrate(conn, list(conn.execute(query.limit(limit).offset(offset)).all()))


def update_run(engine: sa.Engine, run_id: str, status: str, ended_at: float | None,
               error: str | None, details: dict[str, Any] | None) -> None:
    """See ``Backend.update_run``."""
    values: dict[str, Any] = {"status": status, "ended_at": ended_at, "error": error}
    if details is not None:
        values["details"] = details
    with engines.write_transaction(engine) as conn:
        done = conn.execute(runs.update().where(runs.c.id == run_id).values(**values))
        if done.rowcount == 0:
            raise ArtifactNotFoundError(f"no run with id {run_id!r}", ref=run_id)


def save_task(engine: sa.Engine, task: TaskRecord) -> None:
    """See ``Backend.save_task``."""
    with engines.write_transaction(engine) as conn:
        save_task_in(conn, task)


def save_tasks_in(conn: sa.Connection, tasks: Sequence[TaskRecord]) -> None:
    """:func:`save_task_in` of each task, in order: each run's row looked up once, the
    new tasks inserted and every run link written with one statement each."""
    run_pks: dict[str, int] = {}
    inserts: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    batch: dict[tuple[int, str, int], str] = {}  # (run, step, index) -> task id, this call
    for task in tasks:
        if task.run_id not in run_pks:
            run_pks[task.run_id] = _run_pk(conn, task.run_id)
        run_pk = run_pks[task.run_id]
        slot = (run_pk, task.step, task.index)
        if batch.get(slot, task.id) != task.id:
            raise ConflictError(f"the run already has a task {task.step}[{task.index}] "
                                f"({batch[slot]})")
        if slot in batch:  # the same task twice: the later record wins, written alone
            _insert_tasks(conn, inserts, links)
            inserts, links = [], []
            save_task_in(conn, task, run_pk)
            continue
        batch[slot] = task.id
        row = _task_row(conn, task, run_pk)
        if row is not None:
            inserts.append(row)
        links.extend(_link_rows(run_pk, task.consumed, task.produced))
    _insert_tasks(conn, inserts, links)


def save_task_in(conn: sa.Connection, task: TaskRecord, run_pk: int | None = None) -> None:
    """:func:`save_task` inside the caller's write transaction (``conn``); ``run_pk``:
    the row of ``task.run_id``, when the caller looked it up already."""
    run_pk = _run_pk(conn, task.run_id) if run_pk is None else run_pk
    row = _task_row(conn, task, run_pk)
    _insert_tasks(conn, [] if row is None else [row],
                  _link_rows(run_pk, task.consumed, task.produced))


def _task_row(conn: sa.Connection, task: TaskRecord, run_pk: int) -> dict[str, Any] | None:
    """Update ``task``'s existing row and answer ``None``, or answer the row to insert.

    Raises:
        ConflictError: another task holds its step and index, or the id is another
            run's task.
    """
    row = {"id": task.id, "step": task.step, "idx": task.index, "status": task.status,
           "started_at": _epoch(task.started_at), "ended_at": _epoch(task.ended_at),
           "cached": task.cached, "cache_key": task.cache_key, "error": task.error,
           "consumed": list(task.consumed), "produced": list(task.produced),
           "data": dict(task.data), "details": dict(task.details)}
    existing = None
    for found in _TASK_OR_CLASH.execute(conn, {"task_id": task.id, "run_pk": run_pk,
                                               "step": task.step, "idx": task.index}):
        if found.id != task.id:
            raise ConflictError(f"the run already has a task {task.step}[{task.index}] "
                                f"({found.id})")
        if found.run_pk != run_pk:
            raise ConflictError(f"task {task.id!r} belongs to another run")
        existing = found
    if existing is None:
        return {**row, "run_pk": run_pk}
    _UPDATE_TASK.execute(conn, {**{f"v_{k}": v for k, v in row.items()},
                                "task_pk": existing.pk})
    return None


def _insert_tasks(conn: sa.Connection, rows: list[dict[str, Any]],
                  links: list[dict[str, Any]]) -> None:
    if rows:
        _INSERT_TASK.execute(conn, rows)
    if links:  # links are a set: an existing one is left alone
        _LINK[conn.dialect.name].execute(conn, list({
            (r["run_pk"], r["role"], r["version_id"]): r for r in links}.values()))


def link_run_versions(engine: sa.Engine, run_id: str, consumed: Sequence[str],
                      produced: Sequence[str]) -> None:
    """See ``Backend.link_run_versions``."""
    with engines.write_transaction(engine) as conn:
        _insert_tasks(conn, [], _link_rows(_run_pk(conn, run_id), consumed, produced))


def find_cached_task(engine: sa.Engine, project: str, cache_key: str) -> TaskRecord | None:
    """See ``Backend.find_cached_task``."""
    with engines.read_transaction(engine) as conn:
        return find_cached_task_in(conn, project, cache_key)


def find_cached_task_in(conn: sa.Connection, project: str,
                        cache_key: str) -> TaskRecord | None:
    """:func:`find_cached_task` inside an open transaction."""
    row = conn.execute(_CACHED, {"project": project, "cache_key": cache_key}).first()
    return None if row is None else _task(row, row.run_id)


# -- helpers ---------------------------------------------------------------------------------
def _run_pk(conn: sa.Connection, run_id: str) -> int:
    pk = _RUN_PK.execute(conn, {"run_id": run_id}).scalar()
    if pk is None:
        raise ArtifactNotFoundError(f"no run with id {run_id!r}", ref=run_id)
    return int(pk)


def _link_rows(run_pk: int, consumed: Sequence[str],
               produced: Sequence[str]) -> list[dict[str, Any]]:
    return [{"run_pk": run_pk, "role": role, "version_id": v}
            for role, ids in (("in", consumed), ("out", produced)) for v in dict.fromkeys(ids)]


def _hydrate(conn: sa.Connection, rows: Sequence[Any]) -> list[RunRecord]:
    if not rows:
        return []
    pks = [r.pk for r in rows]
    ids = {r.pk: r.id for r in rows}
    tasks: dict[int, list[TaskRecord]] = {pk: [] for pk in pks}
    for t in conn.execute(sa.select(run_tasks).where(run_tasks.c.run_pk.in_(pks))
                          .order_by(run_tasks.c.started_at, run_tasks.c.pk)):
        tasks[t.run_pk].append(_task(t, ids[t.run_pk]))
    io: dict[int, dict[str, list[str]]] = {pk: {"in": [], "out": []} for pk in pks}
    for link in conn.execute(sa.select(run_io).where(run_io.c.run_pk.in_(pks))
                             .order_by(run_io.c.version_id)):
        io[link.run_pk][link.role].append(link.version_id)
    return [_record(r, tasks[r.pk], io[r.pk]) for r in rows]


def _record(row: Any, tasks: list[TaskRecord], io: dict[str, list[str]]) -> RunRecord:
    return RunRecord(
        id=row.id, project=row.project, pipeline=row.pipeline, number=row.number,
        started_at=datetime.fromtimestamp(row.started_at, UTC), kind=row.kind,
        status=row.status, ended_at=_when(row.ended_at), parameters=dict(row.parameters),
        user=row.user, host=row.host, code_version=row.code_version,
        code_dirty=None if row.code_dirty is None else bool(row.code_dirty),
        source_hash=row.source_hash, error=row.error, consumed=list(io.get("in", ())),
        produced=list(io.get("out", ())), tasks=tasks, details=dict(row.details))


def _task(row: Any, run_id: str) -> TaskRecord:
    return TaskRecord(
        id=row.id, run_id=run_id, step=row.step, index=row.idx, status=row.status,
        started_at=_when(row.started_at), ended_at=_when(row.ended_at),
        cached=bool(row.cached), cache_key=row.cache_key, error=row.error,
        consumed=list(row.consumed), produced=list(row.produced), data=dict(row.data),
        details=dict(row.details))


def _not_found(conn: sa.Connection, ref: str, project: str) -> str:
    pipeline = ref.rpartition("/")[0] if "/" in ref else None
    if pipeline:
        numbers = list(conn.execute(sa.select(runs.c.number).where(
            runs.c.project == project, runs.c.pipeline == pipeline)
            .order_by(runs.c.number)).scalars())
        if numbers:
            shown = ", ".join(str(n) for n in numbers[-10:])
            return (f"no run {ref!r} in project {project!r}; {pipeline!r} has runs "
                    f"{'…, ' if len(numbers) > 10 else ''}{shown}")
    known = list(conn.execute(sa.select(pipelines.c.name).where(
        pipelines.c.project == project).order_by(pipelines.c.name).limit(20)).scalars())
    if not known:
        return f"no run {ref!r}: project {project!r} has no runs"
    return (f"no run {ref!r} in project {project!r} (a run id or '<pipeline>/<number>'); "
            f"pipelines: {', '.join(known)}")


def _when(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _upsert(insert: Any) -> Any:
    stmt = insert(pipelines)
    return stmt.on_conflict_do_update(
        index_elements=["project", "name"],
        set_={"last_number": pipelines.c.last_number + stmt.excluded.last_number},
    ).returning(pipelines.c.pk, pipelines.c.last_number)


_UPSERT = {"sqlite": _upsert(sqlite.insert), "postgresql": _upsert(postgresql.insert)}
# Hot statements, built once (a pipeline step writes two task rows).
_RUN_PK = Prepared(sa.select(runs.c.pk).where(runs.c.id == sa.bindparam("run_id")))
_TASK_OR_CLASH = Prepared(sa.select(
    run_tasks.c.pk, run_tasks.c.run_pk, run_tasks.c.id).where(sa.or_(
    run_tasks.c.id == sa.bindparam("task_id"),
    sa.and_(run_tasks.c.run_pk == sa.bindparam("run_pk"),
            run_tasks.c.step == sa.bindparam("step"), run_tasks.c.idx == sa.bindparam("idx")))))
_INSERT_TASK = Prepared(run_tasks.insert())
_LINK = {"sqlite": Prepared(sqlite.insert(run_io).on_conflict_do_nothing()),
         "postgresql": Prepared(postgresql.insert(run_io).on_conflict_do_nothing())}
_TASK_COLUMNS = ("id", "step", "idx", "status", "started_at", "ended_at", "cached", "cache_key",
                 "error", "consumed", "produced", "data", "details")
_UPDATE_TASK = Prepared(run_tasks.update().where(run_tasks.c.pk == sa.bindparam("task_pk")).values(
    {c: sa.bindparam(f"v_{c}", type_=run_tasks.c[c].type) for c in _TASK_COLUMNS}))
_CACHED = (sa.select(run_tasks, runs.c.id.label("run_id"))
           .join(runs, runs.c.pk == run_tasks.c.run_pk)
           .where(runs.c.project == sa.bindparam("project"),
                  run_tasks.c.cache_key == sa.bindparam("cache_key"),
                  run_tasks.c.status == "succeeded")
           .order_by(run_tasks.c.ended_at.desc(), run_tasks.c.pk.desc()).limit(1))
