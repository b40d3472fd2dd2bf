"""A small catalog database, written with Core, for the search compiler tests.

Every version gets the same full-text document the backend writes (name, description,
string tag values and metadata strings, with ``_ - . /`` as spaces).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from archivist.backends.sql import documents, tables
from archivist.backends.sql.search import compile_search
from archivist.errors import ArtifactNotFoundError
from archivist.query import parse_query

NOW = datetime(2024, 3, 10, tzinfo=UTC).timestamp()
DIGEST = "sha256:ab12" + "0" * 60


def day(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# seq: (project, name, version, type, created, fields)
VERSIONS: dict[int, tuple[str, str, int, str, str, dict[str, Any]]] = {
    1: ("default", "fraud_detector_v2", 1, "Model", "2024-01-10", dict(
        size=5_000_000, digest=DIGEST, description="Detects card fraud",
        source_pipeline="fraud_detection", source_run_id="run-abc-123",
        source_step="train_model", user="alice",
        metadata={"accuracy": 0.95, "framework": "sklearn", "layers": [{"units": 64}],
                  "a.b": {"c": 1}},
        tags={"stage": "production", "team": "fraud", "f1": 0.91, "type": "internal"},
        partitions={"report_date": "2023-10-26"})),
    2: ("default", "fraud_detector_v2", 2, "Model", "2024-03-09", dict(
        size=50_000_000, metadata={"accuracy": 0.88, "framework": "torch"},
        tags={"stage": "staging", "f1": 0.85})),
    3: ("default", "raw_transactions", 1, "Dataset", "2023-12-01", dict(
        size=2 * 2**30, metadata={"rows": 1_000_000, "accuracy": "n/a"},
        partitions={"report_date": "2023-10-26", "region": "eu"})),
    4: ("default", "raw_transactions", 2, "Dataset", "2023-12-02", dict(
        size=10, deleted_at=day("2023-12-03"))),
    5: ("default", "features", 1, "FeatureSet", "2024-02-01", dict(
        metadata={"accuracy": 0.7}, tags={"flag": True},
        partitions={"report_date": "2023-10-27"})),
    6: ("default", "fraudX", 1, "Model", "2024-02-15", dict(
        size=1, tags={"stage": "dev"})),
    7: ("default", "fraud_", 1, "Model", "2024-02-16", dict(size=2)),
    8: ("team", "fraud_model", 1, "Model", "2024-02-20", dict(
        tags={"stage": "production"})),
    9: ("default", "notes", 1, "File", "2024-01-05", dict(
        description="Café in İstanbul, Straße", metadata={"accuracy": 1})),
    10: ("default", "cyc_a", 1, "File", "2024-01-06", {}),
    11: ("default", "cyc_b", 1, "File", "2024-01-07", {}),
    12: ("default", "report", 1, "Plot", "2024-01-11", dict(size=100)),
    13: ("default", "orphan", 1, "File", "2023-12-05", {}),
}
ALIASES = {("fraud_detector_v2", "production"): 1, ("fraud_detector_v2", "champion"): 2}
EDGES = [(3, 5), (5, 1), (5, 2), (1, 12), (3, 4), (4, 13), (10, 11), (11, 10)]
LIVE = sorted(s for s, v in VERSIONS.items() if v[0] == "default" and "deleted_at" not in v[5])


def _document(name: str, fields: dict[str, Any]) -> str:
    parts = [name, fields.get("description") or ""]
    parts += [v for v in fields.get("tags", {}).values() if isinstance(v, str)]
    parts += list(_strings(fields.get("metadata", {})))
    return re.sub(r"[_\-./]+", " ", " ".join(p for p in parts if p))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _tag_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def build(engine: sa.Engine) -> None:
    """Create the tables on ``engine`` (SQLite or PostgreSQL) and write the versions."""
    tables.metadata_obj.create_all(engine)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE VIRTUAL TABLE search_docs USING fts5("
                                 "body, tagtok, tokenize = 'unicode61 remove_diacritics 2')")
        else:  # as migrations 0001 and 0008 make it
            conn.exec_driver_sql("CREATE TABLE search_docs (rowid BIGINT PRIMARY KEY, "
                                 "body TSVECTOR, tagtok TEXT[])")
            conn.exec_driver_sql("CREATE INDEX ix_search_docs_body ON search_docs "
                                 "USING GIN (body)")
            conn.exec_driver_sql("CREATE INDEX ix_search_docs_tagtok ON search_docs "
                                 "USING GIN (tagtok)")
        pks: dict[tuple[str, str], int] = {}
        for project, name, *_ in VERSIONS.values():
            pks.setdefault((project, name), len(pks) + 1)
        conn.execute(tables.artifacts.insert(), [
            {"pk": pk, "project": p, "name": n, "name_folded": n.lower(), "last_version": 2}
            for (p, n), pk in pks.items()])
        for seq, (project, name, version, kind, created, fields) in VERSIONS.items():
            conn.execute(tables.versions.insert().values(
                seq=seq, id=f"id-{seq}", artifact_pk=pks[(project, name)], project=project,
                name=name, version=version, artifact_type=kind, kind="none",
                created_at=day(created), metadata=fields.get("metadata", {}),
                partitions=fields.get("partitions", {}), size=fields.get("size"),
                digest=fields.get("digest"), description=fields.get("description"),
                source_pipeline=fields.get("source_pipeline"),
                source_run_id=fields.get("source_run_id"),
                source_step=fields.get("source_step"), user=fields.get("user"),
                deleted_at=fields.get("deleted_at")))
            for key, value in fields.get("tags", {}).items():
                num = float(value) if isinstance(value, int | float) else None
                conn.execute(tables.tags.insert().values(
                    seq=seq, key=key, value=value, text=_tag_text(value), num=num))
            for key, value in fields.get("partitions", {}).items():
                conn.execute(tables.partitions.insert().values(seq=seq, key=key, value=value))
            tokens = documents.tag_tokens({k: _tag_text(v)
                                           for k, v in fields.get("tags", {}).items()})
            documents.insert_documents(conn, [{"rowid": seq, "body": _document(name, fields),
                                               "tagtok": tokens}])
        for (name, alias), seq in ALIASES.items():
            conn.execute(tables.aliases.insert().values(
                artifact_pk=pks[("default", name)], alias=alias, seq=seq))
        conn.execute(tables.edges.insert(), [{"parent": p, "child": c} for p, c in EDGES])


def dialect(name: str) -> sa.Dialect:
    """A dialect to compile statements for; no driver needed."""
    return sa.make_url(f"{name}://").get_dialect()()


def resolve(ref: str) -> int:
    name, _, version = ref.partition(":")
    for seq, (project, n, v, *_rest) in VERSIONS.items():
        if project == "default" and n == name and str(v) == (version or "1"):
            return seq
    raise ArtifactNotFoundError(f"no version {ref!r}")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    path = tmp_path_factory.mktemp("search") / "catalog.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    build(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def search(engine: sa.Engine) -> Callable[..., list[int]]:
    """Run a query string; the seqs in the order the query gives."""

    def run(text: str, *, project: str = "default", limit: int = 100, offset: int = 0,
            now: float = NOW) -> list[int]:
        stmt = compile_search(parse_query(text), project=project, dialect="sqlite",
                              resolve_seq=resolve, now=now, limit=limit, offset=offset)
        with engine.connect() as conn:
            return [int(s) for s in conn.execute(stmt).scalars()]

    return run
