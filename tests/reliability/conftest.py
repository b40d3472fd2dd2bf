"""Process contexts for the reliability tests.

``spawn`` for the concurrency tests (fresh interpreters, as real pipeline workers are);
``forkserver`` for the kill loops, which start a child per iteration: the server has
archivist and pandas imported once, so a child is ready in milliseconds instead of the
second a fresh interpreter takes — and it holds no SQLite connection of the test
process (forking one is how SQLite databases get corrupted).
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver
from typing import Any

import pytest

from tests.reliability.pgfaults import pg_template, spool_dir  # noqa: F401 (fixtures)

#: What a child needs, imported once in the forkserver (opening a catalog the first time
#: imports the SQL backend and Alembic lazily: 0.3 s per child otherwise).
PRELOAD = ["tests.reliability.workers", "archivist", "archivist.store.localfs",
           "archivist.backends.sql.backend", "alembic.command", "alembic.config",
           "alembic.runtime.migration", "alembic.script", "sqlalchemy.dialects.sqlite",
           "pandas", "pyarrow.parquet", "pyarrow.pandas_compat",
           # the writers of test_crash_pg.py (PostgreSQL + S3)
           "sqlalchemy.dialects.postgresql", "psycopg", "s3fs", "aiobotocore.session"]


@pytest.fixture(scope="session")
def spawn_ctx() -> Any:
    return multiprocessing.get_context("spawn")


@pytest.fixture(scope="session")
def forkserver_ctx() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    # Started now, before a test points the temp dir at its own (long) tmp_path: the
    # forkserver's socket lives there, and an AF_UNIX path has at most 107 bytes.
    forkserver.ensure_running()
    return ctx
