"""Fault seams and oracles for the fault and crash tests on PostgreSQL + S3 (issue 16).

* :class:`FaultyS3`: fails the Nth request one ``S3FileSystem`` sends (every s3fs call,
  reads, listings and multipart parts included, reaches botocore through ``get_s3``).
* :class:`FaultySql`: fails the Nth SQL statement of an engine, COMMIT included, with
  the driver's own error class (``psycopg.OperationalError`` on PostgreSQL).
* :class:`PgS3Template`: a catalog in a PostgreSQL database and an S3 bucket, copied
  (``CREATE DATABASE … TEMPLATE``, object copies) for each faulted run.
* :func:`leftovers`: what a failed operation may not leave in the bucket or the spool
  folder (stray keys, open multipart uploads, spools, partial objects under a digest).
"""

from __future__ import annotations

import errno
import functools
import itertools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from archivist import ArtifactCatalog
from tests.fixtures.postgres import PostgresCluster
from tests.fixtures.s3 import clear_s3fs_instances, empty_bucket
from tests.helpers import Snapshot

_DIGEST_KEY = re.compile(r"sha256/[0-9a-f]{2}/[0-9a-f]{62}")
#: How a faulted S3 request fails: an I/O error before it is sent, a 500 answer, or an
#: answer lost after S3 acted on it (three requests in a row: s3fs retries a cut once).
S3_KINDS = ("eio", "500", "lost")
_LOST_RUN = 3


class FaultyS3:
    """Counts the S3 requests of ``fs`` while armed and fails the Nth (see
    :data:`S3_KINDS`). :meth:`remove` puts the filesystem back (s3fs caches instances:
    a later catalog may get this one)."""

    def __init__(self, fs: Any) -> None:
        self.fs = fs
        self.armed = False
        self.fail_at = 0
        self.kind = "eio"
        self.calls: list[str] = []
        self.fired = 0
        self._get_s3 = fs.get_s3
        fs.get_s3 = self._client

    def arm(self, fail_at: int = 0, kind: str = "eio") -> None:
        self.armed, self.fail_at, self.kind, self.calls, self.fired = (
            True, fail_at, kind, [], 0)

    def disarm(self) -> None:
        self.armed = False

    def remove(self) -> None:
        self.fs.get_s3 = self._get_s3

    async def _client(self, bucket: str | None = None) -> Any:
        return _Client(await self._get_s3(bucket), self)

    def wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            if not self.armed:
                return await method(*args, **kwargs)
            self.calls.append(name)
            n = len(self.calls)
            last = self.fail_at + (_LOST_RUN - 1 if self.kind == "lost" else 0)
            if not self.fail_at <= n <= last:
                return await method(*args, **kwargs)
            self.fired += 1
            if self.kind == "eio":
                raise OSError(errno.EIO, f"{os.strerror(errno.EIO)} (injected)")
            if self.kind == "500":
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "InternalError",
                                             "Message": "We encountered an internal error "
                                                        "(injected)"},
                                   "ResponseMetadata": {"HTTPStatusCode": 500}}, name)
            from botocore.exceptions import ConnectionClosedError

            await method(*args, **kwargs)  # S3 acts; the answer never arrives
            raise ConnectionClosedError(endpoint_url="http://s3.invalid/injected")
        return call


class _Client:
    """An aiobotocore client whose operations go through :meth:`FaultyS3.wrap`."""

    def __init__(self, client: Any, faults: FaultyS3) -> None:
        self._real = client
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name not in self._real.meta.method_to_api_mapping:  # not an S3 operation
            return attr
        return self._faults.wrap(name, attr)


class FaultySql:
    """Counts the SQL statements of ``engine`` while armed, COMMITs included (the
    driver's ``commit()`` runs no cursor), and fails the Nth with ``error(text)`` — the
    driver's class, which SQLAlchemy wraps as it wraps a real one."""

    def __init__(self, engine: sa.Engine, error: Callable[[str], Exception]) -> None:
        self.engine = engine
        self.error = error
        self.armed = False
        self.fail_at = 0
        self.statements: list[str] = []
        self.fired = 0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        self._commit = engine.dialect.do_commit
        engine.dialect.do_commit = self._do_commit  # type: ignore[method-assign]

    def arm(self, fail_at: int = 0) -> None:
        self.armed, self.fail_at, self.statements, self.fired = True, fail_at, [], 0

    def disarm(self) -> None:
        self.armed = False

    def remove(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        self.engine.dialect.do_commit = self._commit  # type: ignore[method-assign]

    def _count(self, what: str) -> None:
        self.statements.append(what)
        if len(self.statements) == self.fail_at:
            self.fired += 1
            raise self.error(f"server closed the connection unexpectedly (injected at {what})")

    def _do_commit(self, dbapi_connection: Any) -> None:
        if self.armed:
            self._count("COMMIT")
        self._commit(dbapi_connection)

    def _before(self, _conn: Any, _cursor: Any, statement: str, parameters: Any,
                _context: Any, _many: bool) -> tuple[str, Any]:
        if self.armed:
            self._count(statement.split()[0] if statement.strip() else "?")
        return statement, parameters


def psycopg_error(text: str) -> Exception:
    import psycopg

    return psycopg.OperationalError(text)


# -- a catalog on PostgreSQL + S3, copied per run -------------------------------------------
_runs = itertools.count(1)


@dataclass
class PgS3Template:
    """The catalog in database ``database`` and bucket ``bucket`` (prefix ``blobs``)."""

    cluster: PostgresCluster
    s3: Any  # a boto3 client
    database: str
    bucket: str
    made: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.cluster.url(self.database)

    @property
    def blobs_url(self) -> str:
        return f"s3://{self.bucket}/blobs"

    def copy(self) -> tuple[str, str]:
        """A new database and bucket holding what the template holds: (url, blobs url)."""
        import psycopg
        from psycopg import sql

        n = next(_runs)
        database, bucket = f"{self.database}_r{n}", f"{self.bucket[:40]}-r{n}"
        with psycopg.connect(host="127.0.0.1", port=self.cluster.port, user="postgres",
                             dbname="postgres", autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(database), sql.Identifier(self.database)))
        self.s3.create_bucket(Bucket=bucket)
        for key in bucket_keys(self.s3, self.bucket):
            self.s3.copy_object(Bucket=bucket, Key=key,
                                CopySource={"Bucket": self.bucket, "Key": key})
        self.made.append((database, bucket))
        clear_s3fs_instances()
        return self.cluster.url(database), f"s3://{bucket}/blobs"

    def drop_copies(self) -> None:
        clear_s3fs_instances()
        for database, bucket in self.made:
            self.cluster.drop_database(database)
            empty_bucket(self.s3, bucket)
        self.made.clear()


def bucket_keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def bucket_of(blobs_url: str) -> tuple[str, str]:
    bucket, _, prefix = blobs_url.removeprefix("s3://").partition("/")
    return bucket, prefix


def leftovers(catalog: ArtifactCatalog, s3: Any, blobs_url: str, spool_dir: str,
              new_digests: Iterable[str] = ()) -> list[str]:
    """What no operation, failed or not, may leave behind on PostgreSQL + S3: keys that
    are not ``<prefix>/sha256/ab/<62 hex>``, open multipart uploads, spools (the
    operation has returned: any spool is a leak), objects under a digest key whose bytes
    do not hash to it (``new_digests`` are rehashed), and a failing ``verify``."""
    problems = []
    bucket, prefix = bucket_of(blobs_url)
    stray = [k for k in bucket_keys(s3, bucket)
             if not _DIGEST_KEY.fullmatch(k.removeprefix(prefix + "/"))]
    if stray:
        problems.append(f"stray keys in the bucket: {stray[:3]}")
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    if uploads:
        problems.append(f"open multipart uploads: {[u['Key'] for u in uploads][:3]}")
    spools = os.listdir(spool_dir) if os.path.isdir(spool_dir) else []
    if spools:
        problems.append(f"spools left: {spools[:3]}")
    bad = {d: s for d in new_digests if (s := catalog.blobs.check(d)) != "ok"}
    if bad:
        problems.append(f"objects under a digest key that are not that digest: {bad}")
    report = catalog.verify()
    if not report.ok:
        problems.append(f"verify: corrupt={report.corrupt} missing={report.missing} "
                        f"suspicious={report.suspicious}")
    return problems


def gap_problems(catalog: ArtifactCatalog) -> list[str]:
    engine: sa.Engine = catalog.backend.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT name, count(*), min(version), max(version) FROM versions GROUP BY name"
        )).all()
    return [f"versions of {name} not gap-free: {low}..{high} for {count}"
            for name, count, low, high in rows if (low, high) != (1, count)]


def rows_of(s: Snapshot, ignore: tuple[str, ...] = ()) -> dict[str, int]:
    return {k: v for k, v in s.rows.items() if k not in ignore}
