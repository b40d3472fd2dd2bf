"""A crash in the middle of a schema migration (issue 16), on SQLite and PostgreSQL.

A catalog is written at the head revision, taken back to revision 0005 (the Alembic
downgrades, then its datetime partition values rewritten to the form 0005 stored,
``2021-01-01 13:05:00``), so that opening it runs 0006 (a data migration rewriting
those values in two tables) and 0007 (an index). A child process opens it, and a hook
on every engine's statements SIGKILLs the child at a chosen point: in the middle of
0006's rewrite, just before and just after a revision stamp, just after 0007's
``CREATE INDEX``. The child's exit status proves the kill landed there.

Then, before anything reopens it, the catalog is exactly at one revision: the stamp's,
with every value in that revision's form (never half rewritten) and the index present
if and only if the stamp is 0007 or later. Reopening completes the upgrade to the head:
every value in its stored form in both tables, a query by datetime partition finds
every version, ``verify`` is clean. SQLite runs each migration in its own transaction
(Alembic's default where DDL is not transactional to it; our engine issues the
``BEGIN``), PostgreSQL the whole upgrade in one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects.postgresql import JSONB

from archivist import ArtifactCatalog
from archivist.backends.sql.engine import MIGRATIONS

VERSIONS = 30
START = datetime(2021, 1, 1, 13, 5, tzinfo=UTC)
INDEX = "ix_history_kind_key"
#: (statement prefix, which occurrence, kill before or after it runs)
KILL_POINTS = [
    ("UPDATE partitions", 1, "before"),  # 0006 begins its rewrite
    ("UPDATE versions", VERSIONS // 2, "before"),  # half of 0006's rewrite done
    ("UPDATE alembic_version", 1, "before"),  # 0006 done, not stamped
    ("UPDATE alembic_version", 1, "after"),  # 0006 stamped, not committed
    ("CREATE INDEX ix_history_kind_key", 1, "after"),  # 0007's index built
    ("UPDATE alembic_version", 2, "after"),  # 0007 stamped, not committed
]
_VERSIONS_TABLE = sa.table("versions", sa.column("seq", sa.BigInteger),
                           sa.column("partitions",
                                     sa.JSON().with_variant(JSONB(), "postgresql")))

CHILD = """
import os, signal, sys
import sqlalchemy as sa

target, blobs, prefix, nth, when = sys.argv[1:6]
seen = 0

def hook(conn, cursor, statement, parameters, context, executemany):
    global seen
    if statement.lstrip().upper().startswith(prefix.upper()):
        seen += 1
        if seen == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)

sa.event.listen(sa.engine.Engine, when + "_cursor_execute", hook)
from archivist import ArtifactCatalog
ArtifactCatalog(target, blobs=blobs or None).close()
sys.exit(3)  # the kill point was never reached
"""


class OldCatalog:
    """Where a catalog lives: what ``ArtifactCatalog`` opens, and its database URL."""

    def __init__(self, target: str, blobs: str | None, url: str) -> None:
        self.target, self.blobs, self.url = target, blobs, url

    def open(self) -> ArtifactCatalog:
        return ArtifactCatalog(self.target, blobs=self.blobs)


@pytest.fixture(params=["sqlite", "postgres"])
def old_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OldCatalog]:
    if request.param == "sqlite":
        home = tmp_path / "home"
        where = OldCatalog(str(home), None, f"sqlite:///{home / 'catalog.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        where = OldCatalog(url, str(tmp_path / "blobs"), url)
    with where.open() as catalog:
        for i in range(VERSIONS):
            catalog.register("series", data=f"value {i}".encode(),
                             partitions={"ts": START + timedelta(minutes=i), "i": str(i)})
    _back_to_0005(where.url)
    yield where


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def _back_to_0005(url: str) -> None:
    """Downgrade to 0005 and store partition values as 0005 did (``str(datetime)``)."""
    engine = _engine(url)
    with engine.connect() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
        conn.commit()
    with engine.begin() as conn:
        for seq, key, value in conn.execute(sa.text("SELECT seq, key, value FROM partitions")):
            conn.execute(sa.text("UPDATE partitions SET value = :v WHERE seq = :s AND key = :k"),
                         {"v": _old_form(value), "s": seq, "k": key})
        for seq, parts in conn.execute(sa.select(_VERSIONS_TABLE)).all():
            parts = json.loads(parts) if isinstance(parts, str) else parts
            conn.execute(_VERSIONS_TABLE.update().where(_VERSIONS_TABLE.c.seq == seq)
                         .values(partitions={k: _old_form(v) for k, v in parts.items()}))
    assert _state(url) == ("0005", VERSIONS, 0, False)
    engine.dispose()


def _old_form(value: str) -> str:
    return value.replace("T", " ").removesuffix("+00:00") if ":" in value else value


def _state(url: str) -> tuple[str | None, int, int, bool]:
    """(revision, datetime values in 0005's form, in the stored form, index present),
    each count agreeing between the ``partitions`` rows and the versions' objects."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
            rows = [v for (v,) in conn.execute(
                sa.text("SELECT value FROM partitions WHERE key = 'ts'"))]
            objects = [json.loads(p) if isinstance(p, str) else p
                       for (p,) in conn.execute(sa.text("SELECT partitions FROM versions"))]
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("history")}
    finally:
        engine.dispose()
    old = sum(" " in v for v in rows)
    new = sum(v.endswith("+00:00") for v in rows)
    assert (old, new) == (sum(" " in o["ts"] for o in objects),
                          sum(o["ts"].endswith("+00:00") for o in objects))
    return revision, old, new, INDEX in indexes


def _killed_while_upgrading(where: OldCatalog, prefix: str, nth: int, when: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVIST_")}
    env["ARCHIVIST_CONFIG"] = os.devnull
    child = subprocess.run([sys.executable, "-c", CHILD, where.target, where.blobs or "",
                            prefix, str(nth), when], env=env, capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr  # the kill landed there


@pytest.mark.parametrize(("prefix", "nth", "when"), KILL_POINTS,
                         ids=[f"{w}-{p.split()[-1]}-{n}" for p, n, w in KILL_POINTS])
def test_a_migration_killed_midway_leaves_one_revision_and_reopening_completes_it(
        old_catalog: OldCatalog, prefix: str, nth: int, when: str) -> None:
    _killed_while_upgrading(old_catalog, prefix, nth, when)

    revision, old, new, indexed = _state(old_catalog.url)
    assert revision in {"0005", "0006"}  # the kill came before 0007's commit
    if revision == "0005":
        assert (old, new, indexed) == (VERSIONS, 0, False)  # 0006 rolled back whole
    else:
        assert (old, new, indexed) == (0, VERSIONS, False)  # 0006 whole, 0007 not begun

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with old_catalog.open() as catalog:
        assert _state(old_catalog.url) == (head, 0, VERSIONS, True)
        found = catalog.list(name="series", limit=100,
                             partitions={"ts": START + timedelta(minutes=7)})
        assert [a.partitions["i"] for a in found] == ["7"]
        assert len(catalog.list(name="series", limit=100)) == VERSIONS
        assert catalog.verify().ok
