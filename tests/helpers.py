"""Test helpers: environment isolation, catalog snapshots, the store-consistency oracle.

The oracle of the crash and fault tests (reliability.md part d): after a failed
operation the catalog equals its snapshot from before or from after that operation,
and ``assert_store_consistent`` holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archivist import ArtifactCatalog

#: Files under a catalog home that change without any logical change.
VOLATILE = ("catalog.db", "catalog.db-wal", "catalog.db-shm", "catalog.db.lock",
            "hashcache.db", "hashcache.db-wal", "hashcache.db-shm")


def isolate_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("ARCHIVIST_CATALOG_ENDPOINT", "ARCHIVIST_CATALOG_API_KEY", "ARCHIVIST_HOME",
                "ARCHIVIST_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ARCHIVIST_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("ARCHIVIST_CACHE_DIR", str(tmp_path / "blob-cache"))  # remote downloads
    monkeypatch.delenv("ARCHIVIST_CACHE_SIZE", raising=False)


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, int]
    blobs: frozenset[str]
    files: frozenset[str]


def snapshot(catalog: ArtifactCatalog) -> Snapshot:
    """Row counts per table, the set of blob digests, the set of files under the home."""
    engine: sa.Engine = catalog.backend.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names()
                  if not t.startswith("search_docs_") and t != "alembic_version"]
        rows = {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                for t in tables}
    files: set[str] = set()
    if catalog.home is not None:
        for root, _dirs, names in os.walk(catalog.home):
            for name in names:
                rel = os.path.relpath(os.path.join(root, name), catalog.home)
                if rel not in VOLATILE:
                    files.add(rel)
    return Snapshot(rows=rows, blobs=frozenset(catalog.blobs.iter_digests()),
                    files=frozenset(files))


def assert_store_consistent(catalog: ArtifactCatalog) -> None:
    """verify().ok, no live row without its blobs, no temp files, versions gap-free."""
    report = catalog.verify()
    assert report.ok, report.to_dict()
    assert not list(catalog.blobs.temp_files()), "temporary files left behind"
    engine: sa.Engine = catalog.backend.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows: Any = conn.execute(sa.text(
            "SELECT artifact_pk, count(*), min(version), max(version) FROM versions "
            "GROUP BY artifact_pk")).all()
    for _pk, count, low, high in rows:
        assert (low, high) == (1, count), f"versions not gap-free: {low}..{high} for {count}"


@dataclass(frozen=True)
class Opening:
    """How to open one SQL catalog again and again: its URL (for Alembic) and the
    ``ArtifactCatalog`` arguments."""

    url: str
    target: str
    blobs: str | None = None

    def open(self) -> ArtifactCatalog:
        return ArtifactCatalog(self.target, blobs=self.blobs)


def sql_catalog(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> Opening:
    """A fresh catalog on ``database`` ("sqlite": a home under ``tmp_path``; "postgres": a
    database of the session's cluster with an S3 bucket for the blobs)."""
    if database == "sqlite":
        home = tmp_path / "old"
        return Opening(f"sqlite:///{home / 'catalog.db'}", str(home))
    url = request.getfixturevalue("postgres_url")
    return Opening(url, url, request.getfixturevalue("s3_blobs_url"))


def downgrade(url: str, revision: str) -> None:
    """Take the schema at ``url`` back to ``revision`` with the Alembic downgrades (what a
    catalog of an older release looks like; opening it again migrates it to the head)."""
    from alembic import command
    from alembic.config import Config

    from archivist.backends.sql.engine import MIGRATIONS

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
            conn.commit()
    finally:
        engine.dispose()
