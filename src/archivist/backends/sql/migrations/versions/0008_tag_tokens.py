"""Tag tokens in the full-text index: a search meets its words and its tags in one scan.

Each version's short tags (key and string form at most 96 UTF-8 bytes together) get one
token, ``t<hex of key>x<hex of text>`` (:func:`archivist.backends.sql.fulltext.tag_token`).
On SQLite they go in a second FTS5 column, ``tagtok`` (an FTS5 table cannot gain a column:
it is rebuilt, its documents copied); on PostgreSQL in a text array with a GIN index. The
tokens of existing versions are computed here in SQL, the same bytes as the Python side.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_FTS5 = "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'"
_SQLITE_TOKENS = (
    "SELECT group_concat('t' || lower(hex(t.key)) || 'x' || lower(hex(t.text)), ' ') "
    "FROM tags t WHERE t.seq = d.rowid AND t.text IS NOT NULL "
    "AND length(CAST(t.key AS BLOB)) + length(CAST(t.text AS BLOB)) <= 96")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE VIRTUAL TABLE search_docs_0008 USING fts5(body, tagtok, {_FTS5})")
        op.execute("INSERT INTO search_docs_0008 (rowid, body, tagtok) "
                   f"SELECT d.rowid, d.body, ({_SQLITE_TOKENS}) FROM search_docs d")
        op.execute("DROP TABLE search_docs")
        op.execute("ALTER TABLE search_docs_0008 RENAME TO search_docs")
        return
    op.execute("ALTER TABLE search_docs ADD COLUMN tagtok TEXT[]")
    op.execute(
        "UPDATE search_docs d SET tagtok = t.tokens FROM (SELECT g.seq, array_agg("
        "'t' || encode(convert_to(g.key, 'UTF8'), 'hex') || 'x' "
        "|| encode(convert_to(g.text, 'UTF8'), 'hex')) AS tokens FROM tags g "
        "WHERE g.text IS NOT NULL AND octet_length(g.key) + octet_length(g.text) <= 96 "
        "GROUP BY g.seq) t WHERE d.rowid = t.seq")
    op.execute("CREATE INDEX ix_search_docs_tagtok ON search_docs USING GIN (tagtok)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE VIRTUAL TABLE search_docs_0007 USING fts5(body, {_FTS5})")
        op.execute("INSERT INTO search_docs_0007 (rowid, body) SELECT rowid, body "
                   "FROM search_docs")
        op.execute("DROP TABLE search_docs")
        op.execute("ALTER TABLE search_docs_0007 RENAME TO search_docs")
        return
    op.execute("DROP INDEX ix_search_docs_tagtok")
    op.execute("ALTER TABLE search_docs DROP COLUMN tagtok")
