"""The search language (SPEC §3): ``parse_query(text) -> Query``; no SQL here.

``lexer`` splits a query into terms and reads literals, ``parser`` builds the ``ast``;
``backends/sql/search.py`` compiles a :class:`Query` to SQL. See docs/query-language.md.
"""

from __future__ import annotations

from archivist.query.ast import (
    Compare,
    FieldTerm,
    LineageTerm,
    PartitionTerm,
    Query,
    Sort,
    TagTerm,
    Term,
    Text,
)
from archivist.query.parser import parse_query

__all__ = [
    "Compare",
    "FieldTerm",
    "LineageTerm",
    "PartitionTerm",
    "Query",
    "Sort",
    "TagTerm",
    "Term",
    "Text",
    "parse_query",
]
