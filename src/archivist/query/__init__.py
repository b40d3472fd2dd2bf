"""The search language (SPEC §3): ``parse_query(text) -> Query``; no SQL here.

``lexer`` splits a query into terms, parentheses and operators and reads literals,
``parts`` cuts a term into key and value, ``terms`` gives one term its meaning (with
``spelling`` catching misspelt keys), ``parser`` joins the terms with AND and OR into
the ``ast``; ``backends/sql/search.py`` compiles a :class:`Query` to SQL. See
docs/query-language.md.
"""

from __future__ import annotations

from archivist.query.ast import (
    Compare,
    FieldTerm,
    Group,
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
    "Group",
    "LineageTerm",
    "PartitionTerm",
    "Query",
    "Sort",
    "TagTerm",
    "Term",
    "Text",
    "parse_query",
]
