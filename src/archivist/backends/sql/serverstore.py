"""The catalog server's rows on SQL: API keys, version counts, blob visibility, leases,
and the summaries of the web UI's home page.

:class:`ServerRows` is the ``ServerStore`` half of ``SqlBackend`` (contract in
``backends/base.py``); the statements are the functions below.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from archivist.backends.sql import engine as engines
from archivist.backends.sql.tables import (
    aliases,
    api_keys,
    artifacts,
    blob_claims,
    blob_refs,
    inflight,
    runs,
    versions,
)
from archivist.errors import ArtifactNotFoundError, ConflictError
from archivist.model import ApiKey

_BY_ID = sa.select(api_keys).where(api_keys.c.id == sa.bindparam("id"))
_BY_HASH = sa.select(api_keys).where(api_keys.c.secret_hash == sa.bindparam("hash"))
_COUNTS = (sa.select(versions.c.project, sa.func.count())
           .where(versions.c.deleted_at.is_(None)).group_by(versions.c.project))
#: Digests per ``IN (…)`` list: well under SQLite's and psycopg's parameter limits.
_CHUNK = 500


def _chunks(digests: Iterable[str]) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(digests))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start:start + _CHUNK]


def _referred(project: str) -> sa.Select[Any]:
    return (sa.select(blob_refs.c.digest).join(versions, versions.c.seq == blob_refs.c.seq)
            .where(versions.c.project == project))


def _claimed(project: str) -> sa.Select[Any]:
    return sa.select(blob_claims.c.digest).where(blob_claims.c.project == project)


def _insert(engine: sa.Engine, table: sa.Table) -> Any:
    return (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(table)


def create_key(engine: sa.Engine, key: ApiKey, secret_hash: str) -> None:
    with engines.write_transaction(engine) as conn:
        conn.execute(api_keys.insert(), [{
            "id": key.id, "project": key.project, "scope": key.scope, "name": key.name,
            "secret_hash": secret_hash, "created_at": key.created_at.timestamp(),
            "revoked_at": None if key.revoked_at is None else key.revoked_at.timestamp()}])


def get_key(engine: sa.Engine, key_id: str) -> ApiKey:
    with engines.read_transaction(engine) as conn:
        row = conn.execute(_BY_ID, {"id": key_id}).first()
    if row is None:
        raise ArtifactNotFoundError(f"no API key with id {key_id!r}")
    return _key(row)


def get_key_by_hash(engine: sa.Engine, secret_hash: str) -> tuple[ApiKey, str]:
    with engines.read_transaction(engine) as conn:
        row = conn.execute(_BY_HASH, {"hash": secret_hash}).first()
    if row is None:
        raise ArtifactNotFoundError("no API key has this secret")
    return _key(row), str(row.secret_hash)


def list_keys(engine: sa.Engine, project: str | None) -> list[ApiKey]:
    stmt = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    if project is not None:
        stmt = stmt.where(api_keys.c.project == project)
    with engines.read_transaction(engine) as conn:
        return [_key(row) for row in conn.execute(stmt)]


def revoke_key(engine: sa.Engine, key_id: str, at: float) -> None:
    with engines.write_transaction(engine) as conn:
        if conn.execute(_BY_ID, {"id": key_id}).first() is None:
            raise ArtifactNotFoundError(f"no API key with id {key_id!r}")
        conn.execute(api_keys.update().where(api_keys.c.id == key_id,
                                             api_keys.c.revoked_at.is_(None))
                     .values(revoked_at=at))


def count_versions(engine: sa.Engine) -> dict[str, int]:
    with engines.read_transaction(engine) as conn:
        return {str(project): int(count) for project, count in conn.execute(_COUNTS)}


def count_types(engine: sa.Engine, project: str) -> dict[str, int]:
    stmt = (sa.select(versions.c.artifact_type, sa.func.count())
            .where(versions.c.project == project, versions.c.deleted_at.is_(None))
            .group_by(versions.c.artifact_type))
    with engines.read_transaction(engine) as conn:
        return {str(kind): int(count) for kind, count in conn.execute(stmt)}


def recent_ids(engine: sa.Engine, project: str, limit: int) -> list[str]:
    # By creation time, which an index of the project holds in order: the newest ``limit``
    # are read and nothing is sorted (newest by ``seq`` would sort every version).
    stmt = (sa.select(versions.c.id)
            .where(versions.c.project == project, versions.c.deleted_at.is_(None))
            .order_by(versions.c.created_at.desc(), versions.c.seq.desc()).limit(limit))
    with engines.read_transaction(engine) as conn:
        return [str(i) for i in conn.execute(stmt).scalars()]


def aliased(engine: sa.Engine, project: str, limit: int) -> list[tuple[str, str, str, int]]:
    # From the project's artifacts to their few alias rows, not from its many versions.
    stmt = (sa.select(versions.c.name, aliases.c.alias, versions.c.id, versions.c.version)
            .select_from(artifacts)
            .join(aliases, aliases.c.artifact_pk == artifacts.c.pk)
            .join(versions, versions.c.seq == aliases.c.seq)
            .where(artifacts.c.project == project)
            .order_by(versions.c.name, aliases.c.alias).limit(limit))
    with engines.read_transaction(engine) as conn:
        return [(str(n), str(a), str(i), int(v)) for n, a, i, v in conn.execute(stmt)]


def visible_blobs(engine: sa.Engine, project: str, digests: Iterable[str]) -> set[str]:
    found: set[str] = set()
    with engines.read_transaction(engine) as conn:
        for chunk in _chunks(digests):
            found.update(conn.execute(_claimed(project).where(
                blob_claims.c.digest.in_(chunk))).scalars())
            rest = [d for d in chunk if d not in found]
            if rest:
                found.update(conn.execute(_referred(project).where(
                    blob_refs.c.digest.in_(rest)).distinct()).scalars())
    return found


def project_blobs(engine: sa.Engine, project: str) -> set[str]:
    with engines.read_transaction(engine) as conn:
        return set(conn.execute(sa.union(_claimed(project), _referred(project))).scalars())


def claim_blobs(engine: sa.Engine, project: str, digests: Iterable[str], at: float) -> None:
    rows = [{"project": project, "digest": d, "claimed_at": at} for d in dict.fromkeys(digests)]
    if rows:
        with engines.write_transaction(engine) as conn:
            conn.execute(_insert(engine, blob_claims).on_conflict_do_nothing(), rows)


def forget_blobs(engine: sa.Engine, digests: Iterable[str]) -> None:
    with engines.write_transaction(engine) as conn:
        for chunk in _chunks(digests):
            conn.execute(blob_claims.delete().where(blob_claims.c.digest.in_(chunk)))


def lease_project_blobs(engine: sa.Engine, project: str, token: str, digests: Iterable[str],
                        expires_at: float) -> None:
    rows = [{"token": token, "digest": d, "expires_at": expires_at, "project": project}
            for d in dict.fromkeys(digests)]
    with engines.write_transaction(engine) as conn:
        # a token is one project's: another project's lease under it is left alone
        taken = conn.execute(sa.select(inflight.c.project).where(
            inflight.c.token == token, inflight.c.project != project).limit(1)).first()
        if taken is not None:
            raise ConflictError("this lease token is taken; lease under a new version id")
        if rows:
            stmt = _insert(engine, inflight)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["token", "digest"],
                set_={"expires_at": stmt.excluded.expires_at}), rows)


def release_project_blobs(engine: sa.Engine, project: str, token: str) -> None:
    with engines.write_transaction(engine) as conn:
        conn.execute(inflight.delete().where(inflight.c.token == token,
                                             inflight.c.project == project))


def project_leased_digests(engine: sa.Engine, project: str, now: float) -> set[str]:
    with engines.read_transaction(engine) as conn:
        return set(conn.execute(sa.select(inflight.c.digest).where(
            inflight.c.project == project, inflight.c.expires_at > now)).scalars())


def project_blob_references(engine: sa.Engine, project: str) -> dict[str, bool]:
    live = sa.func.max(sa.case((versions.c.deleted_at.is_(None), 1), else_=0))
    with engines.read_transaction(engine) as conn:
        rows = conn.execute(sa.select(blob_refs.c.digest, live)
                            .join(versions, versions.c.seq == blob_refs.c.seq)
                            .where(versions.c.project == project)
                            .group_by(blob_refs.c.digest))
        return {str(digest): bool(flag) for digest, flag in rows}


def run_project(engine: sa.Engine, run_id: str) -> str:
    with engines.read_transaction(engine) as conn:
        found = conn.execute(sa.select(runs.c.project).where(runs.c.id == run_id)).scalar()
    if found is None:
        raise ArtifactNotFoundError(f"no run with id {run_id!r}", ref=run_id)
    return str(found)


def _key(row: Any) -> ApiKey:
    revoked = row.revoked_at
    return ApiKey(id=row.id, project=row.project, scope=row.scope, name=row.name,
                  created_at=datetime.fromtimestamp(row.created_at, UTC),
                  revoked_at=None if revoked is None else datetime.fromtimestamp(revoked, UTC))


class ServerRows:
    """``ServerStore`` on ``self.engine`` (``SqlBackend`` inherits it)."""

    engine: sa.Engine

    def create_key(self, key: ApiKey, secret_hash: str) -> None:
        create_key(self.engine, key, secret_hash)

    def get_key(self, key_id: str) -> ApiKey:
        return get_key(self.engine, key_id)

    def get_key_by_hash(self, secret_hash: str) -> tuple[ApiKey, str]:
        return get_key_by_hash(self.engine, secret_hash)

    def list_keys(self, project: str | None) -> list[ApiKey]:
        return list_keys(self.engine, project)

    def revoke_key(self, key_id: str, at: float) -> None:
        revoke_key(self.engine, key_id, at)

    def ping(self) -> None:
        with engines.read_transaction(self.engine) as conn:
            conn.execute(sa.text("SELECT 1"))

    def count_versions(self) -> dict[str, int]:
        return count_versions(self.engine)

    def count_types(self, project: str) -> dict[str, int]:
        return count_types(self.engine, project)

    def aliased(self, project: str, limit: int) -> list[tuple[str, str, str, int]]:
        return aliased(self.engine, project, limit)

    def recent_ids(self, project: str, limit: int) -> list[str]:
        return recent_ids(self.engine, project, limit)

    def visible_blobs(self, project: str, digests: Iterable[str]) -> set[str]:
        return visible_blobs(self.engine, project, digests)

    def project_blobs(self, project: str) -> set[str]:
        return project_blobs(self.engine, project)

    def claim_blobs(self, project: str, digests: Iterable[str], at: float) -> None:
        claim_blobs(self.engine, project, digests, at)

    def forget_blobs(self, digests: Iterable[str]) -> None:
        forget_blobs(self.engine, digests)

    def lease_project_blobs(self, project: str, token: str, digests: Iterable[str],
                            expires_at: float) -> None:
        lease_project_blobs(self.engine, project, token, digests, expires_at)

    def release_project_blobs(self, project: str, token: str) -> None:
        release_project_blobs(self.engine, project, token)

    def project_leased_digests(self, project: str, now: float) -> set[str]:
        return project_leased_digests(self.engine, project, now)

    def project_blob_references(self, project: str) -> dict[str, bool]:
        return project_blob_references(self.engine, project)

    def run_project(self, run_id: str) -> str:
        return run_project(self.engine, run_id)
