"""The full-text document of a version: name words, description, tag and metadata text,
and one token per short tag (:func:`archivist.backends.sql.fulltext.tag_token`).

``_ - . /`` become spaces before indexing on every database, so ``fraud`` and
``detector`` both find ``fraud_detector_v2`` (and the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from archivist.backends.sql.fulltext import tag_token
from archivist.backends.sql.prepared import Prepared
from archivist.backends.sql.reads import tag_text
from archivist.backends.sql.tables import search_docs
from archivist.query.lexer import fold

MAX_DOCUMENT = 64 * 1024  # metadata such as dataset previews can be large; index the head
_SEPARATORS = re.compile(r"[_\-./]+")
_INSERT = Prepared(search_docs.insert())


def document(name: str, description: str | None, tag_values: Mapping[str, Any],
             metadata: Mapping[str, Any]) -> str:
    parts = [name, description or ""]
    parts += [str(v) for v in tag_values.values() if isinstance(v, str)]
    parts += list(_strings(metadata))
    text = " ".join(p for p in parts if p)
    return _SEPARATORS.sub(" ", text)[:MAX_DOCUMENT]


def tag_tokens(tag_texts: Mapping[str, str | None]) -> list[str]:
    """The index tokens of a version's tags, from their string forms (``tags.text``)."""
    return [t for t in (tag_token(k, v) for k, v in tag_texts.items()) if t is not None]


def doc_row(seq: int, name: str, description: str | None, tag_values: Mapping[str, Any],
            metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The row :func:`insert_documents` takes for one version."""
    texts = {k: tag_text(v) for k, v in tag_values.items()}
    return {"rowid": seq, "body": document(name, description, tag_values, metadata),
            "tagtok": tag_tokens(texts)}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def insert_documents(conn: sa.Connection, docs: list[dict[str, Any]]) -> None:
    """Index ``[{"rowid": seq, "body": text, "tagtok": [token, …]}, …]`` (:func:`doc_row`)."""
    if not docs:
        return
    if conn.dialect.name == "postgresql":
        # PostgreSQL has no diacritic-folding tokenizer: fold here as the query side does.
        docs = [{"rowid": d["rowid"], "body": fold(d["body"]), "tagtok": d["tagtok"] or None}
                for d in docs]
        stmt = search_docs.insert().values(
            rowid=sa.bindparam("rowid"),
            body=sa.func.to_tsvector(sa.literal_column("'simple'"), sa.bindparam("body")),
            tagtok=sa.bindparam("tagtok"))
        conn.execute(stmt, docs)
    else:
        _INSERT.execute(conn, [{**d, "tagtok": " ".join(d["tagtok"])} for d in docs])


def delete_document(conn: sa.Connection, seq: int) -> None:
    conn.execute(search_docs.delete().where(search_docs.c.rowid == seq))
