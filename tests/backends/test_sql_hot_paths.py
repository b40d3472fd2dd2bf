"""Batched registration writes and the one-statement ``get_version`` (SQLite and PostgreSQL).

A batch's aliases are written in a few statements, but must read as if set one by one:
an alias moves from an earlier record of the batch to a later one, with one history
entry per move. ``get_version`` reads a version and its tags, aliases and parents in
one statement. Statement counts are pinned so a per-record query cannot creep back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archivist.backends.base import NewVersion
from archivist.backends.sql.backend import SqlBackend
from archivist.errors import ArtifactNotFoundError
from archivist.refs import parse_ref


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlBackend]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/catalog.db"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    store = SqlBackend(url)
    yield store
    store.close()


_COUNTER = iter(range(1, 10**9))


def _new(name: str, aliases: tuple[str, ...] = (), **extra: Any) -> NewVersion:
    return NewVersion(id=f"{next(_COUNTER):032x}", project="default", name=name,
                      artifact_type="model", created_at=time.time(), aliases=aliases, **extra)


def _count(store: SqlBackend) -> list[str]:
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", listener)
    return seen


def test_batch_aliases_read_as_if_set_one_by_one(backend: SqlBackend) -> None:
    first = _new("model", ("prod",))
    backend.create_versions([first])
    a, b, c = _new("model", ("prod", "prod", "dev")), _new("model", ("dev",)), _new("other", ("x",))
    backend.create_versions([a, b, c])
    entries = [(h.key, h.old, h.new) for h in backend.history("default", "model")]
    assert entries == [("prod", None, first.id), ("prod", first.id, a.id),
                       ("dev", None, a.id), ("dev", a.id, b.id)]
    assert backend.get_version(parse_ref("model@prod"), "default").id == a.id
    assert backend.get_version(parse_ref("model@dev"), "default").aliases == ["dev"]
    assert backend.get_version(parse_ref("other@x"), "default").id == c.id


def test_batch_statement_count_does_not_grow_per_record(backend: SqlBackend) -> None:
    backend.create_versions([_new("warm", ("prod",))])
    seen = _count(backend)
    backend.create_versions([_new(f"m{i % 10}", ("a",) if i % 3 == 0 else (),
                                  tags={"k": i, "s": "x"}) for i in range(100)])
    # BEGIN (SQLite), 10 counter upserts, versions, seq lookup, tags, documents, alias
    # lookup + insert + history, lease release: nothing per record.
    assert len(seen) <= 20


def test_get_version_is_one_statement_with_everything(backend: SqlBackend) -> None:
    parent = _new("data")
    backend.create_versions([parent])
    child = _new("model", ("prod", "best"), tags={"f1": 0.9, "ok": True, "n": 3, "s": "x"},
                 parent_ids=(parent.id,), partitions={"day": "1"})
    backend.create_versions([child])
    seen = _count(backend)
    for ref in ("model@prod", "model:1", "model", "model:latest"):
        found = backend.get_version(parse_ref(ref), "default")
        assert (found.id, found.tags, found.aliases, found.parent_ids, found.partitions) == (
            child.id, {"f1": 0.9, "ok": True, "n": 3, "s": "x"}, ["best", "prod"],
            [parent.id], {"day": "1"})
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 4
    bare = backend.get_version(parse_ref("data"), "default")
    assert (bare.tags, bare.aliases, bare.parent_ids) == ({}, [], [])


def test_not_found_still_lists_what_exists(backend: SqlBackend) -> None:
    backend.create_versions([_new("model", ("prod",))])
    with pytest.raises(ArtifactNotFoundError, match="aliases that exist: prod"):
        backend.get_version(parse_ref("model@staging"), "default")
    with pytest.raises(ArtifactNotFoundError, match="live versions: 1"):
        backend.get_version(parse_ref("model:2"), "default")
    with pytest.raises(ArtifactNotFoundError, match="did you mean: model"):
        backend.get_version(parse_ref("modl"), "default")


def test_a_single_read_hands_its_connection_back_transactional(backend: SqlBackend) -> None:
    # On PostgreSQL the one-statement read runs in autocommit (no BEGIN round trip),
    # set on the driver's connection: the pool must get it back as it lent it, or a
    # later write transaction would commit statement by statement.
    backend.create_versions([_new("model", ("prod",))])
    for _ in range(5):
        assert backend.get_version(parse_ref("model@prod"), "default").aliases == ["prod"]
    with pytest.raises(ArtifactNotFoundError):
        backend.get_version(parse_ref("model@nope"), "default")
    with backend.engine.connect() as conn:
        if backend.engine.dialect.name == "postgresql":
            assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
        conn.exec_driver_sql("CREATE TABLE probe (x integer)")
        conn.rollback()
    assert "probe" not in sa.inspect(backend.engine).get_table_names()
