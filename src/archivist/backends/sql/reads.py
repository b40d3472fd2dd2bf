"""Reading rows back as records: hydration, reference resolution, listing, history."""

from __future__ import annotations

import contextlib
import difflib
import operator
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from archivist.backends.sql.engine import read_transaction, translate_errors
from archivist.backends.sql.tables import (
    aliases,
    artifacts,
    edges,
    history,
    partitions,
    tags,
    versions,
)
from archivist.errors import ArtifactNotFoundError
from archivist.model import Artifact, HistoryEntry, ListFilter
from archivist.names import fold_name
from archivist.refs import Ref
from archivist.timepartitions import GRANULARITY_SUFFIX

MAX_SQL_INT = 2**31 - 1
_LIVE = versions.c.deleted_at.is_(None)


def tag_text(value: Any) -> str | None:
    """The string form a tag is matched by: ``stage:production``, ``f1:0.91``, ``ok:true``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tag_num(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


# Statements are built once: constructing a Core statement costs more than running it
# (an aliased table builds its column proxies every time), and the compiled form is
# cached by SQLAlchemy per statement object.
_SEQS: sa.BindParameter[list[int]] = sa.bindparam("seqs", expanding=True)
_ROWS = sa.select(versions).where(versions.c.seq.in_(_SEQS))
_parent = versions.alias("parent")
_EXTRAS = sa.union_all(
    sa.select(sa.literal("t").label("what"), tags.c.seq, tags.c.key, tags.c.value)
    .where(tags.c.seq.in_(_SEQS)),
    sa.select(sa.literal("a"), aliases.c.seq, aliases.c.alias, sa.null())
    .where(aliases.c.seq.in_(_SEQS)),
    sa.select(sa.literal("p"), edges.c.child, _parent.c.id, sa.null())
    .join(_parent, _parent.c.seq == edges.c.parent).where(edges.c.child.in_(_SEQS)),
)


def hydrate(conn: sa.Connection, seqs: Sequence[int]) -> list[Artifact]:
    """Records for ``seqs``, in that order (two queries, whatever the count)."""
    if not seqs:
        return []
    rows = {r.seq: r for r in conn.execute(_ROWS, {"seqs": list(seqs)})}
    return hydrate_rows(conn, [rows[s] for s in seqs if s in rows])


def hydrate_rows(conn: sa.Connection, rows: Sequence[Any]) -> list[Artifact]:
    """Records for already-fetched ``versions`` rows: one query for tags, aliases, parents."""
    if not rows:
        return []
    tag_map: dict[int, dict[str, Any]] = {}
    alias_map: dict[int, list[str]] = {}
    parent_map: dict[int, list[str]] = {}
    for what, seq, key, value in conn.execute(_EXTRAS, {"seqs": [r.seq for r in rows]}):
        if what == "t":
            tag_map.setdefault(seq, {})[key] = value
        elif what == "a":
            alias_map.setdefault(seq, []).append(key)
        else:
            parent_map.setdefault(seq, []).append(key)
    pick = _fields_of(rows[0])
    return [
        _record(pick(tuple(r)), tag_map.get(r.seq, {}), sorted(alias_map.get(r.seq, [])),
                parent_map.get(r.seq, []))
        for r in rows
    ]


#: The ``versions`` columns a record is made of, in :func:`_record`'s order.
_RECORD_COLUMNS = ("id", "name", "version", "artifact_type", "project", "created_at",
                   "digest", "size", "kind", "format", "reference_uri", "metadata",
                   "partitions", "description", "source_step", "source_run_id",
                   "source_pipeline", "user", "code_version", "deleted_at")


def _fields_of(row: Any) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A picker of :data:`_RECORD_COLUMNS` from the tuples of rows shaped like ``row``:
    reading a row by position is ~20 times cheaper than by attribute (SQLAlchemy's ``Row``)."""
    position = {name: i for i, name in enumerate(row._fields)}
    return operator.itemgetter(*(position[name] for name in _RECORD_COLUMNS))


def _record(fields: tuple[Any, ...], tag_values: dict[str, Any], alias_names: list[str],
            parent_ids: list[str]) -> Artifact:
    (id_, name, version, artifact_type, project, created_at, digest, size, kind, format_,
     reference_uri, metadata, partitions, description, source_step, source_run_id,
     source_pipeline, user, code_version, deleted_at) = fields
    return Artifact.trusted(
        id=id_, name=name, version=version, artifact_type=artifact_type,
        project=project, created_at=datetime.fromtimestamp(created_at, UTC),
        digest=digest, size=size, kind=kind, format=format_, reference_uri=reference_uri,
        storage_path=None, metadata=metadata or {}, tags=tag_values, aliases=alias_names,
        partitions=partitions or {}, parent_ids=parent_ids, description=description,
        source_step=source_step, source_run_id=source_run_id,
        source_pipeline=source_pipeline, user=user, code_version=code_version,
        deleted=deleted_at is not None,
    )


_BY_ID = sa.select(versions).where(versions.c.id == sa.bindparam("id"))
_NAMED = (versions.c.project == sa.bindparam("project"),
          versions.c.name == sa.bindparam("name"), versions.c.deleted_at.is_(None))
_BY_NUMBER = sa.select(versions).where(*_NAMED, versions.c.version == sa.bindparam("version"))
_LATEST = sa.select(versions).where(*_NAMED).order_by(versions.c.version.desc()).limit(1)
_BY_ALIAS = (
    sa.select(versions)
    .join(aliases, aliases.c.seq == versions.c.seq)
    .join(artifacts, artifacts.c.pk == aliases.c.artifact_pk)
    .where(artifacts.c.project == sa.bindparam("project"),
           artifacts.c.name == sa.bindparam("name"), aliases.c.alias == sa.bindparam("alias"))
)


def resolve_seq(conn: sa.Connection, ref: Ref, project: str) -> int:
    """The seq of the version ``ref`` names (see :func:`resolve_row`)."""
    return int(resolve_row(conn, ref, project).seq)


def resolve_row(conn: sa.Connection, ref: Ref, project: str) -> Any:
    """The ``versions`` row ``ref`` names (live versions only, except by id).

    Raises:
        ArtifactNotFoundError: with what exists instead.
    """
    project = ref.project or project
    if ref.id is not None:
        row = conn.execute(_BY_ID, {"id": ref.id}).first()
        if row is None or (ref.project is not None and row.project != ref.project):
            raise ArtifactNotFoundError(f"no version with id {ref.id!r}", ref=ref.id)
        return row
    assert ref.name is not None
    params: dict[str, Any] = {"project": project, "name": ref.name}
    if ref.alias is not None:
        row = conn.execute(_BY_ALIAS, {**params, "alias": ref.alias}).first()
    elif ref.version is not None:
        row = None if ref.version > MAX_SQL_INT else conn.execute(
            _BY_NUMBER, {**params, "version": ref.version}).first()
    else:
        row = conn.execute(_LATEST, params).first()
    if row is None:
        raise ArtifactNotFoundError(_not_found_message(conn, ref, project), ref=str(ref))
    return row


def _not_found_message(conn: sa.Connection, ref: Ref, project: str) -> str:
    assert ref.name is not None
    live = conn.execute(
        sa.select(versions.c.version)
        .where(versions.c.project == project, versions.c.name == ref.name, _LIVE)
        .order_by(versions.c.version)
    ).scalars().all()
    if ref.alias is not None:
        what = f"alias {ref.alias!r} of {ref.name!r}"
        if live:
            known = conn.execute(
                sa.select(aliases.c.alias)
                .join(artifacts, artifacts.c.pk == aliases.c.artifact_pk)
                .where(artifacts.c.project == project, artifacts.c.name == ref.name)
                .order_by(aliases.c.alias)
            ).scalars().all()
            return (f"no {what} in project {project!r}; aliases that exist: "
                    f"{', '.join(known) or 'none'}")
    elif ref.version is not None:
        what = f"version {ref.version} of {ref.name!r}"
    else:
        what = f"live version of {ref.name!r}"
    if live:
        shown = ", ".join(str(v) for v in live[-20:])
        return f"no {what} in project {project!r}; live versions: {shown}"
    names = conn.execute(
        sa.select(artifacts.c.name).where(artifacts.c.project == project).limit(10_000)
    ).scalars().all()
    close = difflib.get_close_matches(ref.name, names, n=3, cutoff=0.6)
    folded = [n for n in names if fold_name(n) == fold_name(ref.name) and n != ref.name]
    hint = f"; did you mean: {', '.join(dict.fromkeys(folded + close))}?" if folded or close else ""
    if ref.name in names:
        return f"no {what} in project {project!r}: every version is deleted"
    renamed = conn.execute(  # the newest rename away from this spelling (renaming.py)
        sa.select(artifacts.c.name).join(history, history.c.artifact_pk == artifacts.c.pk)
        .where(artifacts.c.project == project, history.c.kind == "rename",
               history.c.key == ref.name)
        .order_by(history.c.pk.desc()).limit(1)).scalar()
    if renamed is not None:
        return (f"no artifact named {ref.name!r} in project {project!r}: it was renamed to "
                f"{renamed!r}")
    return f"no artifact named {ref.name!r} in project {project!r}{hint}"


def list_seqs(conn: sa.Connection, f: ListFilter) -> list[int]:
    query = sa.select(versions.c.seq).where(versions.c.project == f.project)
    if not f.include_deleted:
        query = query.where(_LIVE)
    if f.artifact_type:
        query = query.where(versions.c.artifact_type.in_(list(f.artifact_type)))
    if f.name is not None:
        query = query.where(versions.c.name == f.name)
    for column, value in ((versions.c.source_step, f.source_step),
                          (versions.c.source_run_id, f.source_run_id),
                          (versions.c.source_pipeline, f.source_pipeline),
                          (versions.c.digest, f.digest),
                          (versions.c.kind, f.kind)):
        if value is not None:
            query = query.where(column == value)
    if f.since is not None:
        query = query.where(versions.c.created_at >= f.since)
    if f.until is not None:
        query = query.where(versions.c.created_at < f.until)
    for key, value in f.tags.items():
        query = query.where(sa.exists().where(
            tags.c.seq == versions.c.seq, tags.c.key == key, tags.c.text == tag_text(value)))
    for key, text in f.partitions.items():
        query = query.where(_has_partition(key, text))
    for key, accepted in f.partition_spellings.items():
        # a time and the buckets holding it: one of them, each with its granularity
        query = query.where(sa.or_(*(
            _has_partition(key, text) if granularity is None else
            sa.and_(_has_partition(key, text),
                    _has_partition(key + GRANULARITY_SUFFIX, granularity))
            for text, granularity in accepted)))
    if f.latest_only:
        newer = versions.alias("newer")
        query = query.where(~sa.exists().where(
            newer.c.artifact_pk == versions.c.artifact_pk, newer.c.version > versions.c.version,
            newer.c.deleted_at.is_(None)))
    # Commit order, not ``created_at``: a registration stamps its time before its bytes
    # land, so concurrent writers commit (and number versions) in another order.
    query = query.order_by(versions.c.seq if f.oldest_first else versions.c.seq.desc())
    query = query.limit(f.limit).offset(f.offset)
    return list(conn.execute(query).scalars())


def _has_partition(key: str, text: str) -> sa.Exists:
    return sa.exists().where(partitions.c.seq == versions.c.seq, partitions.c.key == key,
                             partitions.c.value == text)


def history_entries(conn: sa.Connection, project: str, name: str, *,
                    version_id: str | None = None,
                    limit: int | None = None) -> list[HistoryEntry]:
    subject = versions.alias("subject")
    query = (sa.select(history, subject.c.id.label("version_id"))
             .join(artifacts, artifacts.c.pk == history.c.artifact_pk)
             .outerjoin(subject, subject.c.seq == history.c.seq)
             .where(artifacts.c.project == project, artifacts.c.name == name))
    if version_id is not None:
        query = query.where(subject.c.id == version_id)
    if limit is None:
        rows = conn.execute(query.order_by(history.c.pk)).all()
    else:  # the newest ``limit``, oldest first
        rows = conn.execute(query.order_by(history.c.pk.desc()).limit(limit)).all()[::-1]
    if not rows and not conn.execute(sa.select(artifacts.c.pk).where(
            artifacts.c.project == project, artifacts.c.name == name)).first():
        raise ArtifactNotFoundError(f"no artifact named {name!r} in project {project!r}")
    return [HistoryEntry(at=datetime.fromtimestamp(r.at, UTC), kind=r.kind, key=r.key,
                         old=r.old, new=r.new, version_id=r.version_id, user=r.user)
            for r in rows]


# One statement per reference kind that resolves the ref and returns the version row,
# once per tag, alias and parent (``what``/``key``/``value``; one row with ``what`` NULL
# when it has none): a single statement reads one snapshot on every database, so on
# PostgreSQL it runs outside a transaction, one round trip instead of four.
def _resolved(target: sa.ScalarSelect[Any]) -> sa.Select[Any]:
    parent = versions.alias("parent")
    extras = sa.union_all(
        sa.select(sa.literal("t").label("what"), tags.c.seq.label("owner"),
                  tags.c.key.label("key"), tags.c.value.label("value"))
        .where(tags.c.seq == target),
        sa.select(sa.literal("a"), aliases.c.seq, aliases.c.alias, sa.null())
        .where(aliases.c.seq == target),
        sa.select(sa.literal("p"), edges.c.child, parent.c.id, sa.null())
        .join(parent, parent.c.seq == edges.c.parent).where(edges.c.child == target),
    ).subquery("extras")
    return (sa.select(versions, extras.c.what, extras.c.key.label("extra_key"),
                      extras.c.value.label("extra_value"))
            .outerjoin(extras, extras.c.owner == versions.c.seq)
            .where(versions.c.seq == target))


_SEQ_BY_ALIAS = (
    sa.select(aliases.c.seq).join(artifacts, artifacts.c.pk == aliases.c.artifact_pk)
    .where(artifacts.c.project == sa.bindparam("project"),
           artifacts.c.name == sa.bindparam("name"), aliases.c.alias == sa.bindparam("alias"))
)
_ONE = {
    "id": _resolved(sa.select(versions.c.seq).where(
        versions.c.id == sa.bindparam("id")).scalar_subquery()),
    "alias": _resolved(_SEQ_BY_ALIAS.scalar_subquery()),
    "number": _resolved(sa.select(versions.c.seq).where(
        *_NAMED, versions.c.version == sa.bindparam("version")).scalar_subquery()),
    "latest": _resolved(sa.select(versions.c.seq).where(*_NAMED)
                        .order_by(versions.c.version.desc()).limit(1).scalar_subquery()),
}


def get_one(engine: sa.Engine, ref: Ref, project: str) -> Artifact:
    """The record ``ref`` names, in one statement (same results as :func:`resolve_row`).

    Raises:
        ArtifactNotFoundError: with what exists instead.
    """
    kind, params = _one_params(ref, project)
    rows = [] if kind is None else _single_read(engine, _ONE[kind], params)
    if rows and ref.id is not None and ref.project is not None and rows[0].project != ref.project:
        rows = []
    if not rows:
        with read_transaction(engine) as conn:
            # Raises with what exists; a version that appeared meanwhile is returned.
            return hydrate_rows(conn, [resolve_row(conn, ref, project)])[0]
    tag_map: dict[str, Any] = {}
    alias_names: list[str] = []
    parent_ids: list[str] = []
    for r in rows:
        if r.what == "t":
            tag_map[r.extra_key] = r.extra_value
        elif r.what == "a":
            alias_names.append(r.extra_key)
        elif r.what == "p":
            parent_ids.append(r.extra_key)
    return _record(_fields_of(rows[0])(tuple(rows[0])), tag_map, sorted(alias_names),
                   parent_ids)


def _one_params(ref: Ref, project: str) -> tuple[str | None, dict[str, Any]]:
    if ref.id is not None:
        return "id", {"id": ref.id}
    assert ref.name is not None
    params: dict[str, Any] = {"project": ref.project or project, "name": ref.name}
    if ref.alias is not None:
        return "alias", {**params, "alias": ref.alias}
    if ref.version is not None:
        if ref.version > MAX_SQL_INT:
            return None, params
        return "number", {**params, "version": ref.version}
    return "latest", params


def _single_read(engine: sa.Engine, stmt: sa.Select[Any], params: dict[str, Any]) -> list[Any]:
    if engine.dialect.name != "postgresql":
        with read_transaction(engine) as conn:
            return list(conn.execute(stmt, params))
    with translate_errors(), engine.connect() as conn:
        # One statement needs no transaction: in autocommit psycopg sends no BEGIN (a
        # round trip). Set on the driver's connection rather than through SQLAlchemy's
        # isolation-level option, whose set-and-reset on every checkout cost ~0.2 ms of
        # CPU per call (measured on the benchmark VM); the pool gets the connection back
        # as it lent it.
        driver: Any = conn.connection.driver_connection
        driver.autocommit = True
        try:
            return list(conn.execute(stmt, params))
        finally:
            with contextlib.suppress(Exception):  # a connection the error closed
                driver.autocommit = False
