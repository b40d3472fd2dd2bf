"""``SqlBackend``: the metadata store on SQLAlchemy Core, for SQLite and PostgreSQL.

It is one module of a little over 400 lines on purpose: each method is a short delegation
to the statement modules beside it, and the contract reads best as one list.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from archivist.backends.sql import (
    aliasing,
    documents,
    fulldisk,
    lineage,
    locks,
    prepared,
    reads,
    renaming,
    runs,
    serverstore,
)
from archivist.backends.sql import engine as engines
from archivist.backends.sql.search import compile_search
from archivist.backends.sql.tables import (
    aliases,
    artifacts,
    blob_refs,
    edges,
    history,
    inflight,
    partitions,
    tags,
    versions,
)
from archivist.errors import ArtifactNotFoundError, ConflictError, StorageError
from archivist.model import (
    Artifact,
    HistoryEntry,
    LineageRows,
    ListFilter,
    NewRun,
    NewVersion,
    RunRecord,
    TaskRecord,
)
from archivist.names import case_conflict, fold_name
from archivist.query.ast import Query
from archivist.refs import Ref, parse_ref


class SqlBackend(serverstore.ServerRows):
    """The metadata store on SQLite (the zero-config default) or PostgreSQL.

    Obtain one with ``SqlBackend("sqlite:////path/catalog.db")`` or
    ``SqlBackend("postgresql+psycopg://…")``; the schema is migrated on open. It is also
    the ``ServerStore`` of a catalog server (API keys: :class:`serverstore.ServerRows`).
    """

    def __init__(self, url: str, *, busy_timeout: float = 10.0,
                 connect_timeout: float | None = None,
                 statement_timeout: float | None = None) -> None:
        self.url = url
        self.engine = engines.create_engine(url, busy_timeout=busy_timeout,
                                            connect_timeout=connect_timeout,
                                            statement_timeout=statement_timeout)
        database = self.engine.url.database
        lock = f"{database}.lock" if url.startswith("sqlite") and database else None
        if lock is not None and database is not None:
            Path(lock).parent.mkdir(parents=True, exist_ok=True)
            try:
                engines.enable_wal(database, lock)
            except StorageError as exc:
                if exc.details.get("reason") != "disk_full" or not fulldisk.readable(database):
                    raise
                self.engine.dispose()  # reads go on; writes say the disk is full
                self.engine = fulldisk.read_only_engine(database)
        engines.migrate(self.engine, lock)

    # -- writes ------------------------------------------------------------------------
    def create_versions(self, records: Sequence[NewVersion], *,
                        task: TaskRecord | None = None) -> None:
        if not records:
            if task is not None:
                self.save_task(task)
            return
        ids = [r.id for r in records]
        try:
            with engines.write_transaction(self.engine) as conn:
                self._insert(conn, records)
                if task is not None:  # a step's finished task lands with its outputs
                    runs.save_task_in(conn, task)
                if len(ids) == 1:  # the leases end with the commit
                    _END_LEASE.execute(conn, {"lease_token": ids[0]})
                for start in range(0, len(ids) if len(ids) > 1 else 0, 10_000):
                    conn.execute(_END_LEASES, {"tokens": ids[start:start + 10_000]})
        except ConflictError:
            # The ids are the writer's idempotency key: a retry of a registration that
            # committed but whose answer was lost (the connection broke after COMMIT)
            # finds its versions there, and succeeds as the first attempt did.
            if not self._already_created(records):
                raise
            if task is not None:
                self.save_task(task)

    def _already_created(self, records: Sequence[NewVersion]) -> bool:
        """Whether every record is stored already (a retried registration); ``False``
        when none is.

        Raises:
            ConflictError: some ids are taken, by other versions or only in part.
        """
        found = {a.id: a for a in self.get_versions_by_id([r.id for r in records])}
        if not found:
            return False
        others = [r.id for r in records if r.id in found and not _same(found[r.id], r)]
        if others or len(found) != len(records):
            taken = others or list(found)
            raise ConflictError(f"version id(s) already registered as other versions: "
                                f"{', '.join(taken[:5])}; nothing was registered",
                                ids=taken[:100])
        return True

    def _insert(self, conn: sa.Connection, records: Sequence[NewVersion]) -> list[int]:
        counts: dict[tuple[str, str], int] = {}
        for r in records:
            key = (r.project, fold_name(r.name))
            counts[key] = counts.get(key, 0) + (1 if r.version is None else 0)
        names: dict[tuple[str, str], str] = {}
        for r in records:  # one spelling per name, in a batch too
            spelled = names.setdefault((r.project, fold_name(r.name)), r.name)
            if spelled != r.name:
                raise case_conflict(r.project, spelled, r.name)
        upsert = _UPSERT[conn.dialect.name]
        numbers: dict[tuple[str, str], tuple[int, int]] = {}  # key -> (pk, next number)
        for key, count in sorted(counts.items()):  # one lock order (locks.py)
            project, _folded = key
            row = upsert.execute(conn, {"project": project, "name": names[key],
                                        "name_folded": key[1], "last_version": count}).one()
            if row.name != names[key]:
                raise case_conflict(project, row.name, names[key])
            numbers[key] = (row.pk, row.last_version - count + 1)
        rows = []
        raises = []
        pks: dict[tuple[str, str], int] = {}
        for r in records:
            key = (r.project, fold_name(r.name))
            pk, number = numbers[key]
            pks[key] = pk
            if r.version is None:
                numbers[key] = (pk, number + 1)
            else:
                number = r.version
                raises.append({"b_pk": pk, "b_version": number})
            rows.append(_version_row(r, pk, number))
        if raises:
            conn.execute(_RAISE_LAST, raises)
        if len(rows) == 1:
            seqs = [int(_INSERT_VERSION.execute(conn, rows[0]).scalar_one())]
        else:
            # One executemany, then one lookup: RETURNING in parameter order makes SQLite
            # run an INSERT per row (~10x slower for a 10,000-version batch).
            _INSERT_VERSIONS.execute(conn, rows)
            ids = [r["id"] for r in rows]
            by_id_seq: dict[str, int] = {}
            for start in range(0, len(ids), 10_000):  # stay under SQLite's variable limit
                by_id_seq.update(conn.execute(_SEQS_OF, {"ids": ids[start:start + 10_000]}).all())
            seqs = [int(by_id_seq[r["id"]]) for r in rows]
        by_id = {r.id: s for r, s in zip(records, seqs, strict=True)}
        self._insert_children(conn, records, seqs, by_id, pks)
        return seqs

    def _insert_children(self, conn: sa.Connection, records: Sequence[NewVersion],
                         seqs: list[int], by_id: dict[str, int],
                         pks: dict[tuple[str, str], int]) -> None:
        outside = {p for r in records for p in r.parent_ids if p not in by_id}
        if outside:
            found = dict(conn.execute(
                sa.select(versions.c.id, versions.c.seq).where(versions.c.id.in_(outside))).all())
            missing = sorted(outside - found.keys())
            if missing:
                raise ArtifactNotFoundError(
                    f"parent version(s) not found: {', '.join(missing[:10])}; nothing was "
                    "registered", missing=missing)
            by_id = {**by_id, **found}
        tag_rows, part_rows, edge_rows, ref_rows, docs = [], [], [], [], []
        for r, seq in zip(records, seqs, strict=True):
            tag_rows += [_tag_row(seq, k, v) for k, v in r.tags.items()]
            part_rows += [{"seq": seq, "key": k, "value": v} for k, v in r.partitions.items()]
            edge_rows += [{"parent": by_id[p], "child": seq} for p in dict.fromkeys(r.parent_ids)]
            ref_rows += [{"seq": seq, "digest": d} for d in dict.fromkeys(r.blob_digests)]
            docs.append(documents.doc_row(seq, r.name, r.description, r.tags, r.metadata))
        for insert, rows in ((_INSERT_TAGS, tag_rows), (_INSERT_PARTITIONS, part_rows),
                             (_INSERT_EDGES, edge_rows), (_INSERT_BLOB_REFS, ref_rows)):
            if rows:
                insert.execute(conn, rows)
        documents.insert_documents(conn, docs)
        aliasing.register_aliases(conn, [
            aliasing.NewAlias(pks[(r.project, fold_name(r.name))], seq, r.id, alias, r.user)
            for r, seq in zip(records, seqs, strict=True) for alias in r.aliases])

    def update_tags(self, version_id: str, set_tags: dict[str, Any], remove: Sequence[str],
                    user: str | None) -> None:
        with engines.write_transaction(self.engine) as conn:
            row = self._live_row(conn, version_id, "tag")
            current = dict(conn.execute(
                sa.select(tags.c.key, tags.c.value).where(tags.c.seq == row.seq)).all())
            now = time.time()
            changes = []
            for key in remove:
                if key in current:
                    conn.execute(tags.delete().where(tags.c.seq == row.seq, tags.c.key == key))
                    changes.append(_history(row, "tag", key, current.pop(key), None, user, now))
            for key, value in set_tags.items():
                old = current.get(key)
                if key in current and _same_scalar(old, value):
                    continue  # not a change: a repeated request records nothing twice
                if key in current:
                    conn.execute(tags.update().where(tags.c.seq == row.seq, tags.c.key == key)
                                 .values(_tag_row(row.seq, key, value)))
                else:
                    conn.execute(tags.insert(), [_tag_row(row.seq, key, value)])
                current[key] = value
                changes.append(_history(row, "tag", key, old, value, user, now))
            if not changes:
                return
            conn.execute(history.insert(), changes)
            documents.delete_document(conn, row.seq)
            documents.insert_documents(conn, [documents.doc_row(
                row.seq, row.name, row.description, current, row.metadata)])

    def set_alias(self, version_id: str, alias: str, user: str | None) -> None:
        with engines.write_transaction(self.engine) as conn:
            row = self._live_row(conn, version_id, "alias")
            self._point_alias(conn, row.artifact_pk, row.seq, alias, user)

    def _point_alias(self, conn: sa.Connection, artifact_pk: int, seq: int, alias: str,
                     user: str | None) -> None:
        locks.lock_artifact(conn, artifact_pk)
        key = (aliases.c.artifact_pk == artifact_pk, aliases.c.alias == alias)
        old = conn.execute(sa.select(versions.c.id).join(aliases, aliases.c.seq == versions.c.seq)
                           .where(*key)).scalar()
        new_id = conn.execute(sa.select(versions.c.id).where(versions.c.seq == seq)).scalar()
        if old == new_id:
            return
        if old is None:
            conn.execute(aliases.insert(), [{"artifact_pk": artifact_pk, "alias": alias,
                                             "seq": seq}])
        else:
            conn.execute(aliases.update().where(*key).values(seq=seq))
        conn.execute(history.insert(), [{"artifact_pk": artifact_pk, "seq": seq,
                                         "kind": "alias", "key": alias, "old": old,
                                         "new": new_id, "user": user, "at": time.time()}])

    def remove_alias(self, project: str, name: str, alias: str, user: str | None) -> None:
        with engines.write_transaction(self.engine) as conn:
            locks.lock_name(conn, project, name)
            found = conn.execute(
                sa.select(aliases.c.artifact_pk, aliases.c.seq, versions.c.id)
                .join(artifacts, artifacts.c.pk == aliases.c.artifact_pk)
                .join(versions, versions.c.seq == aliases.c.seq)
                .where(artifacts.c.project == project, artifacts.c.name == name,
                       aliases.c.alias == alias)).first()
            if found is None:
                raise ArtifactNotFoundError(
                    f"{name!r} has no alias {alias!r} in project {project!r}")
            conn.execute(aliases.delete().where(aliases.c.artifact_pk == found.artifact_pk,
                                                aliases.c.alias == alias))
            conn.execute(history.insert(), [{"artifact_pk": found.artifact_pk,
                                             "seq": found.seq, "kind": "alias", "key": alias,
                                             "old": found.id, "new": None, "user": user,
                                             "at": time.time()}])

    def delete_version(self, version_id: str, user: str | None) -> None:
        with engines.write_transaction(self.engine) as conn:
            row = self._live_row(conn, version_id, "delete")
            locks.lock_artifact(conn, row.artifact_pk)
            now = time.time()
            conn.execute(versions.update().where(versions.c.seq == row.seq)
                         .values(deleted_at=now))
            pointing = conn.execute(sa.select(aliases.c.alias).where(
                aliases.c.seq == row.seq)).scalars().all()
            conn.execute(aliases.delete().where(aliases.c.seq == row.seq))
            changes = [_history(row, "alias", a, row.id, None, user, now) for a in pointing]
            changes.append(_history(row, "delete", f"v{row.version}", row.id, None, user, now))
            conn.execute(history.insert(), changes)
            documents.delete_document(conn, row.seq)

    def rename(self, project: str, old: str, new: str, user: str | None) -> None:
        with engines.write_transaction(self.engine) as conn:
            renaming.rename(conn, project, old, new, user)

    def update_description(self, version_id: str, description: str | None,
                           user: str | None) -> None:
        with engines.write_transaction(self.engine) as conn:
            renaming.describe(conn, self._live_row(conn, version_id, "describe"),
                              description, user)

    def update_metadata(self, version_id: str, set_keys: dict[str, Any],
                        remove: Sequence[str], user: str | None) -> None:
        with engines.write_transaction(self.engine) as conn:
            renaming.update_metadata(conn, self._live_row(conn, version_id, "update"),
                                     set_keys, remove, user)

    def _live_row(self, conn: sa.Connection, version_id: str, action: str) -> Any:
        row = conn.execute(locks.LIVE_ROW, {"id": version_id}).first()  # locked (locks.py)
        if row is None:
            raise ArtifactNotFoundError(f"no version with id {version_id!r}")
        if row.deleted_at is not None:
            raise ConflictError(f"{row.name}:{row.version} is deleted; cannot {action} it")
        return row

    # -- in-flight blob leases (gc safety) ---------------------------------------------
    def lease_blobs(self, token: str, digests: Iterable[str], expires_at: float) -> None:
        rows = [{"token": token, "digest": d, "expires_at": expires_at}
                for d in dict.fromkeys(digests)]
        if not rows:
            return
        with engines.write_transaction(self.engine) as conn:
            _LEASE[conn.dialect.name].execute(conn, rows)

    def release_blobs(self, token: str) -> None:
        with engines.write_transaction(self.engine) as conn:
            conn.execute(inflight.delete().where(inflight.c.token == token))

    def leased_digests(self, now: float) -> set[str]:
        with engines.read_transaction(self.engine) as conn:
            return set(conn.execute(sa.select(inflight.c.digest).where(
                inflight.c.expires_at > now)).scalars())

    # -- reads -------------------------------------------------------------------------
    def get_version(self, ref: Ref, project: str) -> Artifact:
        return reads.get_one(self.engine, ref, project)

    def get_versions_by_id(self, ids: Sequence[str]) -> list[Artifact]:
        with engines.read_transaction(self.engine) as conn:
            return _versions_by_id(conn, ids)

    def list_versions(self, filters: ListFilter) -> list[Artifact]:
        with engines.read_transaction(self.engine) as conn:
            return reads.hydrate(conn, reads.list_seqs(conn, filters))

    def search(self, query: Query, project: str, limit: int, offset: int) -> list[Artifact]:
        with engines.read_transaction(self.engine) as conn:
            stmt = compile_search(
                query, project=project, dialect=conn.dialect.name,
                resolve_seq=lambda ref: reads.resolve_seq(conn, parse_ref(ref), project),
                now=time.time(), limit=limit, offset=offset)
            return reads.hydrate(conn, [int(s) for s in conn.execute(stmt).scalars()])

    def spelling(self, project: str, name: str) -> str | None:
        with engines.read_transaction(self.engine) as conn:
            found = conn.execute(_SPELLING, {"project": project,
                                             "folded": fold_name(name)}).scalar()
            return None if found is None else str(found)

    def find_digest(self, digest: str, project: str) -> list[Artifact]:
        return self.list_versions(ListFilter(project=project, digest=digest, limit=20))

    def history(self, project: str, name: str, *, version_id: str | None = None,
                limit: int | None = None) -> list[HistoryEntry]:
        with engines.read_transaction(self.engine) as conn:
            return reads.history_entries(conn, project, name, version_id=version_id,
                                         limit=limit)

    def lineage(self, version_id: str, direction: str, depth: int | None) -> LineageRows:
        with engines.read_transaction(self.engine) as conn:
            start = reads.resolve_seq(conn, Ref(id=version_id), "")
            one_up = lineage.walk(conn, start, "up", 1) if direction != "down" else []
            one_down = lineage.walk(conn, start, "down", 1) if direction != "up" else []
            up = lineage.walk(conn, start, "up", depth) if direction != "down" else []
            down = lineage.walk(conn, start, "down", depth) if direction != "up" else []
            seen = [start, *dict.fromkeys(up + down)]
            ids = dict(conn.execute(sa.select(versions.c.seq, versions.c.id)
                                    .where(versions.c.seq.in_(seen))).all())
            return LineageRows(
                parents=[ids[s] for s in one_up], children=[ids[s] for s in one_down],
                upstream=[ids[s] for s in up], downstream=[ids[s] for s in down],
                edges=lineage.edges_among(conn, set(seen)))

    def blob_references(self) -> dict[str, bool]:
        live = sa.func.max(sa.case((versions.c.deleted_at.is_(None), 1), else_=0))
        with engines.read_transaction(self.engine) as conn:
            rows = conn.execute(sa.select(blob_refs.c.digest, live)
                                .join(versions, versions.c.seq == blob_refs.c.seq)
                                .group_by(blob_refs.c.digest))
            return {digest: bool(flag) for digest, flag in rows}

    def projects(self) -> list[str]:
        with engines.read_transaction(self.engine) as conn:
            return list(conn.execute(sa.select(artifacts.c.project).distinct()
                                     .order_by(artifacts.c.project)).scalars())

    def close(self) -> None:
        self.engine.dispose()

    # -- runs (contract on ``Backend``; SQL in ``runs.py``) -----------------------------
    def create_run(self, run: NewRun) -> RunRecord:
        return runs.create_run(self.engine, run)

    def get_run(self, ref: str, project: str) -> RunRecord:
        return runs.get_run(self.engine, ref, project)

    def list_runs(self, project: str, pipeline: str | None, status: str | None,
                  limit: int, offset: int) -> list[RunRecord]:
        return runs.list_runs(self.engine, project, pipeline, status, limit, offset)

    def update_run(self, run_id: str, status: str, ended_at: float | None,
                   error: str | None, details: dict[str, Any] | None = None) -> None:
        runs.update_run(self.engine, run_id, status, ended_at, error, details)

    def save_task(self, task: TaskRecord) -> None:
        runs.save_task(self.engine, task)

    def save_tasks(self, tasks: Sequence[TaskRecord]) -> None:
        if tasks:
            with engines.write_transaction(self.engine) as conn:
                runs.save_tasks_in(conn, tasks)

    def link_run_versions(self, run_id: str, consumed: Sequence[str],
                          produced: Sequence[str]) -> None:
        runs.link_run_versions(self.engine, run_id, consumed, produced)

    def find_cached_task(self, project: str, cache_key: str) -> TaskRecord | None:
        return runs.find_cached_task(self.engine, project, cache_key)

    def find_cached_outputs(self, project: str, cache_key: str
                            ) -> tuple[TaskRecord, list[Artifact]] | None:
        with engines.read_transaction(self.engine) as conn:
            task = runs.find_cached_task_in(conn, project, cache_key)
            if task is None:
                return None
            return task, _versions_by_id(conn, list(dict.fromkeys(task.data.values())))


def _versions_by_id(conn: sa.Connection, ids: Sequence[str]) -> list[Artifact]:
    """Records for ``ids`` (deleted ones included) in the order given, missing skipped:
    the rows by id, then one query for their tags, aliases and parents."""
    if len(ids) == 1:  # a plain equality: no expanding IN to render on every call
        row = conn.execute(_ROW_BY_ID, {"id": ids[0]}).first()
        return reads.hydrate_rows(conn, [] if row is None else [row])
    found: dict[str, Any] = {}
    for start in range(0, len(ids), 10_000):  # one statement, built once
        found.update((r.id, r) for r in conn.execute(
            _ROWS_BY_ID, {"ids": list(ids[start:start + 10_000])}))
    return reads.hydrate_rows(conn, [found[i] for i in ids if i in found])


_END_LEASES = inflight.delete().where(
    inflight.c.token.in_(sa.bindparam("tokens", expanding=True)))


def _upsert(insert: Any) -> Any:
    """Create the artifact row or bump its counter by the versions being added, in one
    statement; the returned ``last_version`` is the highest number now assigned."""
    stmt = insert(artifacts)
    return stmt.on_conflict_do_update(
        index_elements=["project", "name_folded"],
        set_={"last_version": artifacts.c.last_version + stmt.excluded.last_version},
    ).returning(artifacts.c.pk, artifacts.c.name, artifacts.c.last_version)


_UPSERT = {"sqlite": prepared.Prepared(_upsert(sqlite.insert)),
           "postgresql": prepared.Prepared(_upsert(postgresql.insert))}
_INSERT_VERSION = prepared.Prepared(versions.insert().returning(versions.c.seq))
_INSERT_VERSIONS = prepared.Prepared(versions.insert())
_INSERT_TAGS = prepared.Prepared(tags.insert())
_INSERT_PARTITIONS = prepared.Prepared(partitions.insert())
_INSERT_EDGES = prepared.Prepared(edges.insert())
_INSERT_BLOB_REFS = prepared.Prepared(blob_refs.insert())


def _lease(insert: Any) -> Any:
    stmt = insert(inflight)
    return stmt.on_conflict_do_update(index_elements=["token", "digest"],
                                      set_={"expires_at": stmt.excluded.expires_at})


_LEASE = {"sqlite": prepared.Prepared(_lease(sqlite.insert)),
          "postgresql": prepared.Prepared(_lease(postgresql.insert))}
_END_LEASE = prepared.Prepared(inflight.delete().where(
    inflight.c.token == sa.bindparam("lease_token")))
_SPELLING = sa.select(artifacts.c.name).where(
    artifacts.c.project == sa.bindparam("project"),
    artifacts.c.name_folded == sa.bindparam("folded"))
_SEQS_OF = sa.select(versions.c.id, versions.c.seq).where(
    versions.c.id.in_(sa.bindparam("ids", expanding=True)))
_ROWS_BY_ID = sa.select(versions).where(versions.c.id.in_(sa.bindparam("ids", expanding=True)))
_ROW_BY_ID = sa.select(versions).where(versions.c.id == sa.bindparam("id"))
# Bind names must differ from the table's column names (SQLAlchemy reserves those).
_RAISE_LAST = artifacts.update().where(
    artifacts.c.pk == sa.bindparam("b_pk"), artifacts.c.last_version < sa.bindparam("b_version"),
).values(last_version=sa.bindparam("b_version"))


def _same(stored: Artifact, record: NewVersion) -> bool:
    """Whether ``stored`` is what registering ``record`` made (a retry's check)."""
    return (stored.project == record.project
            and fold_name(stored.name) == fold_name(record.name)
            and stored.kind == record.kind and stored.digest == record.digest
            and stored.reference_uri == record.reference_uri
            and record.version in (None, stored.version))


def _version_row(r: NewVersion, pk: int, number: int) -> dict[str, Any]:
    return {
        "id": r.id, "artifact_pk": pk, "project": r.project, "name": r.name,
        "version": number, "artifact_type": r.artifact_type, "kind": r.kind,
        "format": r.format, "digest": r.digest, "size": r.size,
        "reference_uri": r.reference_uri, "metadata": r.metadata, "partitions": r.partitions,
        "description": r.description, "source_step": r.source_step,
        "source_run_id": r.source_run_id, "source_pipeline": r.source_pipeline,
        "user": r.user, "code_version": r.code_version, "created_at": r.created_at,
        "deleted_at": None,
    }


def _tag_row(seq: int, key: str, value: Any) -> dict[str, Any]:
    return {"seq": seq, "key": key, "value": value, "text": reads.tag_text(value),
            "num": reads.tag_num(value)}


def _same_scalar(old: Any, new: Any) -> bool:
    """Whether two tag values are the same JSON scalar (``1``, ``1.0`` and ``True`` are
    not)."""
    return type(old) is type(new) and bool(old == new)


def _history(row: Any, kind: str, key: str, old: Any, new: Any, user: str | None,
             at: float) -> dict[str, Any]:
    return {"artifact_pk": row.artifact_pk, "seq": row.seq, "kind": kind, "key": key,
            "old": old, "new": new, "user": user, "at": at}
