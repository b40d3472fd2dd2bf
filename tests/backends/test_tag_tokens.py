"""Migration 0008 computes the tag tokens of existing versions in SQL: they must be the
bytes the Python side writes (:func:`archivist.backends.sql.fulltext.tag_token`), on
SQLite and on PostgreSQL, so a catalog upgraded in place searches like a new one."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from archivist.backends.sql.fulltext import TAG_TOKEN_MAX_BYTES, tag_token
from archivist.backends.sql.reads import tag_text
from tests.helpers import downgrade, sql_catalog

TAGS = {"stage": "production", "équipe": "données ☃", "ok": True, "n": 3, "f": 0.25,
        "long": "y" * TAG_TOKEN_MAX_BYTES, "k" * 40: "v" * (TAG_TOKEN_MAX_BYTES - 40)}


def _tokens(url: str) -> dict[int, set[str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT rowid, tagtok FROM search_docs")).all()
    finally:
        engine.dispose()
    found: dict[int, set[str]] = {}
    for seq, tokens in rows:
        words = tokens.split() if isinstance(tokens, str) else (tokens or [])
        found[int(seq)] = set(words)
    return found


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_upgraded_catalog_has_the_tokens_python_writes(
        database: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    opening = sql_catalog(database, tmp_path, request)
    with opening.open() as catalog:
        catalog.register("fraud_model", "Model", tags=TAGS)
        catalog.register("fraud_rules", "Model", tags={"stage": "dev"})
        catalog.register("untagged", "Model")
    written = _tokens(opening.url)
    expected = {tag_token(k, tag_text(v)) for k, v in TAGS.items()}
    assert set().union(*written.values()) == {t for t in expected if t} | {
        tag_token("stage", "dev")}
    assert tag_token("long", "y" * TAG_TOKEN_MAX_BYTES) is None  # too long: no token

    downgrade(opening.url, "0007")  # the schema of the release before 0008
    with opening.open() as catalog:  # opening migrates to the head
        assert _tokens(opening.url) == written
        assert {a.name for a in catalog.search("fraud stage:production")} == {"fraud_model"}
        assert {a.name for a in catalog.search("fraud équipe:\"données ☃\" n:3 ok:true")} \
            == {"fraud_model"}
