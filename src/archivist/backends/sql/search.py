"""Compile a parsed search query (:mod:`archivist.query.ast`) to one SQLAlchemy Core SELECT.

The statement selects ``versions.seq`` of live versions, ordered and paged. It is built
from Core expressions only: every value from the query — words, tag values, paths, refs —
is a bound parameter, so no user text ever reaches SQL as text (SPEC §3). Full-text
input is quoted token by token before it becomes an FTS5 or tsquery expression, so
``NEAR``, ``^x`` or ``a & | b`` are words, never syntax; the only operators in those
expressions are the ones written here, from the query's AND, OR and parentheses.

Full text: SQLite's FTS5 table ``search_docs(body)`` (rowid = seq, ``unicode61
remove_diacritics 2``) or, on PostgreSQL, ``search_docs(rowid, body tsvector)`` built with
``to_tsvector('simple', fold(text))`` (:func:`archivist.query.lexer.fold`). Relevance
(bm25 / ts_rank) is computed over the newest ``RANKED_MATCHES`` text matches only: ranking
costs about 1 µs per match, and a common word can match most of the catalog
(research/performance.md, R9); older matches follow, newest first. The text that drives
and ranks is the query's top-level words and phrases, with its groups made only of words
(``fraud (raw OR clean)``); a query whose words all sit in mixed groups
(``fraud OR type:Model``) ranks by any of its words, the other matches after.

Plan shape (SQLite, 100 k versions): with text, the full-text index drives the join, so
a rare word reads a few rows instead of the whole project, and the tags it holds as tokens
(``stage:production``) are met in the same index scan. Ordered by relevance, the score is
computed in that scan only for the versions that meet every other term; only
``sort:-created`` walks the ``(project, created)`` index and probes the matches. Tags
without a token, partitions and aliases are EXISTS probes on their ``(seq, key)`` keys.
An OR is one SQL ``OR`` of its alternatives' conditions, a group of words one text match.

It is one module of over 400 lines because it is one compiler: every term kind's SQL on both
dialects, which must change together; splitting it would scatter the parity between
SQLite and PostgreSQL over several files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG

from archivist.backends.sql.fulltext import fts5_string, tag_token, tsquery_string
from archivist.backends.sql.lineage import reachable
from archivist.backends.sql.tables import (
    aliases,
    artifacts,
    partitions,
    search_docs,
    tags,
    versions,
)
from archivist.errors import InvalidInputError
from archivist.names import fold_name
from archivist.query.ast import (
    Compare,
    FieldTerm,
    Group,
    LineageTerm,
    Op,
    PartitionTerm,
    Query,
    Sort,
    TagTerm,
    Term,
    Text,
)

RANKED_MATCHES = 20_000
DIALECTS = ("sqlite", "postgresql")

#: The FTS5 table itself: the left side of MATCH and the argument of bm25().
_FTS: sa.ColumnClause[Any] = sa.literal_column("search_docs")
#: bm25 weights of the FTS5 columns: the text ranks, the tag tokens do not.
_TEXT_WEIGHT: Any = sa.literal_column("1.0")
_TAGS_WEIGHT: Any = sa.literal_column("0.0")
_BOOLEANS = ("true", "false")
_COLUMNS = {
    "project": versions.c.project, "pipeline": versions.c.source_pipeline,
    "run": versions.c.source_run_id, "step": versions.c.source_step, "user": versions.c.user,
}


def compile_search(query: Query, *, project: str, dialect: str,
                   resolve_seq: Callable[[str], int], now: float, limit: int,
                   offset: int) -> sa.Select[Any]:
    """The SELECT of ``versions.seq`` answering ``query`` in ``project`` (or in the
    projects its ``project:`` terms name), in the query's order, paged.

    ``resolve_seq`` turns a lineage ref into a seq; ``now`` (epoch seconds) anchors ``age``.

    Raises:
        ArtifactNotFoundError: from ``resolve_seq``, for a lineage ref that names nothing.
        InvalidInputError: a negative ``limit`` or ``offset``.
        ValueError: an unsupported ``dialect``.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"search supports {', '.join(DIALECTS)}, not {dialect!r}")
    if limit < 0 or offset < 0:
        raise InvalidInputError("limit and offset must not be negative")
    scope = None if _names_projects(query.terms) else project
    compiler = _Compiler(dialect, scope, resolve_seq, now)
    return compiler.select(query, limit, offset)


def _names_projects(terms: Sequence[Term]) -> bool:
    """Whether every match must meet a ``project:`` term: one among ``terms``, or one in
    every alternative of a group. Such a query chooses its projects itself."""
    return any((isinstance(t, FieldTerm) and t.field == "project" and not t.negated)
               or (isinstance(t, Group) and not t.negated
                   and all(_names_projects(a) for a in t.alternatives)) for t in terms)


def _textual(term: Term) -> bool:
    """Whether ``term``, its own ``negated`` aside, is one text match: a word or phrase,
    or a group of them (``(fraud detector) OR "raw data"``)."""
    if isinstance(term, Group):
        return all(_drives(t) for a in term.alternatives for t in a)
    return isinstance(term, Text)


def _drives(term: Term) -> bool:
    """Whether ``term`` is text the matches must contain: it joins the driving match."""
    return not term.negated and _textual(term)


def _words(terms: Sequence[Term]) -> list[Text]:
    """The words and phrases ``terms`` look for (not those they exclude)."""
    out: list[Text] = []
    for term in terms:
        if isinstance(term, Text) and not term.negated:
            out.append(term)
        elif isinstance(term, Group) and not term.negated:
            out += _words([t for a in term.alternatives for t in a])
    return out


@dataclass
class _Compiler:
    dialect: str
    scope: str | None
    resolve_seq: Callable[[str], int]
    now: float
    ctes: int = 0
    joins: list[tuple[Any, Any]] = field(default_factory=list)

    def select(self, query: Query, limit: int, offset: int) -> sa.Select[Any]:
        where: list[Any] = [versions.c.deleted_at.is_(None)]
        if self.scope is not None:
            where.append(versions.c.project == self.scope)
        source: Any = versions
        texts = [t for t in query.terms if _drives(t)]
        string = self.fts_query(texts) if texts else None
        param = sa.bindparam(None, string, type_=sa.String)  # one parameter for all text
        # Tags the index holds as tokens are met in the same scan as the text.
        indexed = {id(t): _tag_tokens(t) for t in query.terms} if string is not None else {}
        tokens = [found for found in indexed.values() if found is not None]
        hit = self.hit(texts, tokens, param)
        relevance = bool(texts) and not query.sort
        if texts and string is None:
            where.append(sa.false())
        elif relevance:
            # The index drives and ranks: the score is computed only for the versions that
            # meet every term, after the other conditions, in the index's own scan.
            # SQLite: ``+ 0`` keeps the index the outer loop; a rowid constraint it could
            # use would let the planner probe the index once per version instead (30 s)
            rowid = (search_docs.c.rowid + sa.literal_column("0") if self.dialect == "sqlite"
                     else search_docs.c.rowid)
            source = search_docs.join(versions, versions.c.seq == rowid)
            where.append(hit)
        elif texts and query.sort[:1] != (Sort("created", (), True),):
            # The text matches drive: a rare word reads a few rows instead of the project.
            matched = sa.select(search_docs.c.rowid).where(hit).subquery("matched")
            source = matched.join(versions, versions.c.seq == matched.c.rowid)
        elif texts:  # newest first: walk the (project, created) index, probe the matches
            where.append(versions.c.seq.in_(sa.select(search_docs.c.rowid).where(hit)))
        for term in query.terms:
            if not _drives(term) and indexed.get(id(term)) is None:
                where.append(self.condition(term))
        order: list[Any] = []
        for key in query.sort:
            order += self.sort(key)
        if relevance:
            order.append(self.score(param).nulls_last())
        elif not query.sort:
            if not texts:  # words only in groups with other terms
                string = self.fts_query([Group(tuple((t,) for t in _words(query.terms)))])
                param = sa.bindparam(None, string, type_=sa.String)
            if string is not None:
                ranked = self.ranked(param)
                self.joins.append((ranked, ranked.c.seq == versions.c.seq))
                order += [ranked.c.score.is_(None), ranked.c.score]
        order += [versions.c.created_at.desc(), versions.c.seq.desc()]
        for table, on in self.joins:
            source = source.outerjoin(table, on)
        return (sa.select(versions.c.seq).select_from(source).where(*where)
                .order_by(*order).limit(limit).offset(offset))

    def condition(self, term: Term) -> Any:
        return self.negated(term) if term.negated else self.term(term)

    def negated(self, term: Term) -> Any:
        """NOT term, true also where the term compares a missing value (SQL NULL)."""
        condition = self.term(term)
        if isinstance(term, Compare | FieldTerm | Group):
            condition = sa.func.coalesce(condition, sa.false())
        return sa.not_(condition)

    def term(self, term: Term) -> Any:
        """The condition ``term`` states, ignoring its ``negated``."""
        if _textual(term):
            string = self.fts_query([replace(term, negated=False)])
            if string is None:
                return sa.false()
            return versions.c.seq.in_(self.matches(sa.bindparam(None, string, type_=sa.String)))
        if isinstance(term, Group):
            return sa.or_(*(sa.and_(*(self.condition(t) for t in alternative))
                            for alternative in term.alternatives))
        if isinstance(term, FieldTerm):
            return self.field(term)
        if isinstance(term, TagTerm):
            return _has(tags, tags.c.key == term.key,
                        _any(tags.c.text, term.values, term.prefixes))
        if isinstance(term, PartitionTerm):
            value = partitions.c.value
            # byte order on both databases: a PostgreSQL locale may skip '-', ':' and '+'
            ordered = value.collate("C") if self.dialect == "postgresql" else value
            match = (_any(value, term.values, term.prefixes) if term.op == "="
                     else _compare(ordered, term.op, term.values[0]))
            if term.times:  # only a month, a day or ISO date-time text is a time
                match = sa.and_(match, sa.or_(sa.func.length(value).in_((7, 10)),
                                              sa.func.substr(value, 11, 1) == "T"))
            return _has(partitions, partitions.c.key == term.key, match)
        if isinstance(term, Compare):
            return self.compare(term)
        assert isinstance(term, LineageTerm)  # a Text is _textual
        return self.lineage(term)

    # -- full text ------------------------------------------------------------------------

    def fts_query(self, texts: Sequence[Term]) -> str | None:
        """The FTS5 or tsquery string; ``None`` when it can match nothing."""
        if self.dialect == "postgresql":
            return tsquery_string(texts)
        return fts5_string(texts)

    def hit(self, texts: Sequence[Term], tokens: Sequence[Sequence[str]], param: Any) -> Any:
        """The condition on ``search_docs`` of the driving text and the indexed tags:
        one FTS5 MATCH on SQLite, the tsvector and the token array on PostgreSQL."""
        if self.dialect == "postgresql":
            array = sa.type_coerce(search_docs.c.tagtok, ARRAY(sa.Text))
            return sa.and_(self.match(param), *(array.overlap(list(t)) for t in tokens))
        if not tokens:
            return self.match(param)
        return self.match(sa.bindparam(None, fts5_string(texts, tokens), type_=sa.String))

    def matches(self, param: Any) -> sa.Select[Any]:
        # never correlated: the outer statement may scan search_docs itself
        return sa.select(search_docs.c.rowid).where(self.match(param)).correlate(None)

    def match(self, param: Any, table: Any = search_docs) -> Any:
        if self.dialect == "postgresql":
            return table.c.body.op("@@")(_tsquery(param))
        # FTS5's hidden column is named after the table, also under an alias
        hidden = "search_docs" if table is search_docs else f"{table.name}.search_docs"
        return sa.literal_column(hidden).op("MATCH")(param)

    def score(self, param: Any) -> Any:
        """The relevance of the ``search_docs`` row in the FROM (lower is better), for the
        newest ``RANKED_MATCHES`` matches of the text; NULL for older ones."""
        newest = search_docs.alias("newest")
        cutoff = (sa.select(newest.c.rowid).where(self.match(param, newest))
                  .order_by(newest.c.rowid.desc()).limit(1).offset(RANKED_MATCHES - 1)
                  .scalar_subquery())
        if self.dialect == "postgresql":
            rank: Any = -sa.func.ts_rank(search_docs.c.body, _tsquery(param))
        else:
            rank = sa.func.bm25(_FTS, _TEXT_WEIGHT, _TAGS_WEIGHT)
        return sa.case((search_docs.c.rowid >= sa.func.coalesce(cutoff, 0), rank))

    def ranked(self, param: Any) -> sa.Subquery:
        """The newest ``RANKED_MATCHES`` matches with a score (lower is better)."""
        score: Any = sa.func.bm25(_FTS, _TEXT_WEIGHT, _TAGS_WEIGHT)
        if self.dialect == "postgresql":
            score = -sa.func.ts_rank(search_docs.c.body, _tsquery(param))
        return (sa.select(search_docs.c.rowid.label("seq"), score.label("score"))
                .where(self.match(param)).order_by(search_docs.c.rowid.desc())
                .limit(RANKED_MATCHES).subquery("ranked"))

    # -- fields, comparisons, lineage -------------------------------------------------------

    def field(self, term: FieldTerm) -> Any:
        if term.field == "name":
            names = sa.select(artifacts.c.pk).where(_any(
                artifacts.c.name_folded, [fold_name(v) for v in term.values],
                [fold_name(p) for p in term.prefixes], like=True))
            if self.scope is not None:
                names = names.where(artifacts.c.project == self.scope)
            return versions.c.artifact_pk.in_(names)
        if term.field == "type":
            return _any(sa.func.lower(versions.c.artifact_type), [v.lower() for v in term.values],
                        [p.lower() for p in term.prefixes], like=True)
        if term.field == "digest":
            return _any(versions.c.digest, term.values, term.prefixes, like=True)
        if term.field == "version":
            return versions.c.version.in_([int(v) for v in term.values])
        if term.field == "alias":
            return _has(aliases, _any(aliases.c.alias, term.values, term.prefixes))
        return _any(_COLUMNS[term.field], term.values, term.prefixes)

    def compare(self, term: Compare) -> Any:
        value = term.value
        if term.target == "metadata":
            node = _JsonValue(self.dialect, term.path)
            if isinstance(value, bool):
                return node.boolean == ("true" if value else "false")
            if isinstance(value, float):
                return _compare(node.number, term.op, value)
            return _compare(node.string, term.op, value)
        if term.target == "tags":
            key = tags.c.key == term.path[0]
            if isinstance(value, bool):
                match = tags.c.text == ("true" if value else "false")
            elif isinstance(value, float):
                match = sa.and_(tags.c.text.not_in(_BOOLEANS), _compare(tags.c.num, term.op,
                                                                        value))
            else:
                match = _compare(tags.c.text, term.op, value)
            return _has(tags, key, match)
        assert isinstance(value, float)
        if term.target == "size":
            return _compare(versions.c.size, term.op, value)
        if term.target == "version":
            return _compare(versions.c.version, term.op, int(value))
        created = versions.c.created_at
        if term.target == "age":  # younger than N = created after now - N
            flipped: dict[Op, Op] = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
            return _compare(created, flipped[term.op], self.now - value)
        end = value + term.span
        if term.span and term.op == "=":
            return sa.and_(created >= value, created < end)
        if term.span and term.op == ">":
            return created >= end
        if term.span and term.op == "<=":
            return created < end
        return _compare(created, term.op, value)

    def lineage(self, term: LineageTerm) -> Any:
        start = self.resolve_seq(term.ref)
        self.ctes += 1
        direction = "down" if term.direction == "downstream" else "up"
        cte = reachable(start, direction, term.depth, name=f"lineage_{self.ctes}")
        return versions.c.seq.in_(sa.select(cte.c.seq).where(cte.c.seq != start))

    # -- order ----------------------------------------------------------------------------

    def sort(self, key: Sort) -> list[Any]:
        def way(expr: Any) -> Any:
            return expr.desc() if key.descending else expr.asc()

        if key.key == "created":
            return [way(versions.c.created_at)]
        if key.key == "name":
            return [way(sa.func.lower(versions.c.name))]
        if key.key == "version":
            return [way(versions.c.version)]
        if key.key == "size":
            return [versions.c.size.is_(None), way(versions.c.size)]
        if key.key == "type":
            return [way(sa.func.lower(versions.c.artifact_type))]
        if key.key == "metadata":
            node = _JsonValue(self.dialect, key.path)
            group = sa.case((node.is_number, 0), (node.is_string, 1), else_=2)
            return [group, way(node.number), way(node.string)]
        tag = tags.alias(f"sort_tag_{len(self.joins) + 1}")
        self.joins.append((tag, sa.and_(tag.c.seq == versions.c.seq,
                                        tag.c.key == key.path[0])))
        is_number = sa.and_(tag.c.num.is_not(None), tag.c.text.not_in(_BOOLEANS))
        group = sa.case((is_number, 0), (tag.c.text.is_not(None), 1), else_=2)
        return [group, way(sa.case((is_number, tag.c.num))), way(tag.c.text)]


class _JsonValue:
    """The metadata value at ``path``, typed: numbers, strings and booleans apart, so a
    comparison never casts a string to a number (nor errors on PostgreSQL)."""

    def __init__(self, dialect: str, path: tuple[str | int, ...]) -> None:
        column = versions.c.metadata
        if dialect == "postgresql":
            keys = [sa.bindparam(None, str(p), type_=sa.String) for p in path]
            text = sa.func.jsonb_extract_path_text(column, *keys, type_=sa.String)
            kind = sa.func.jsonb_typeof(sa.func.jsonb_extract_path(column, *keys))
            self.is_number: Any = kind == "number"
            self.is_string: Any = kind == "string"
            self.number: Any = sa.case((self.is_number, sa.cast(text, sa.Float)))
            self.boolean: Any = sa.case((kind == "boolean", text))
        else:
            json_path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f'."{p}"'
                                      for p in path)
            where = sa.bindparam(None, json_path, type_=sa.String)
            text = sa.func.json_extract(column, where, type_=sa.String)
            kind = sa.func.json_type(column, where)
            self.is_number = kind.in_(("integer", "real"))
            self.is_string = kind == "text"
            self.number = sa.case((self.is_number, sa.func.json_extract(column, where,
                                                                         type_=sa.Float)))
            self.boolean = sa.case((kind.in_(_BOOLEANS), kind))
        self.string: Any = sa.case((self.is_string, text))


def _tag_tokens(term: Term) -> tuple[str, ...] | None:
    """The index tokens of a tag term that the index alone can answer: exact values (no
    prefix), not negated, each short enough to have a token; else ``None``."""
    if not isinstance(term, TagTerm) or term.negated or term.prefixes or not term.values:
        return None
    tokens = tuple(tag_token(term.key, v) for v in term.values)
    return None if None in tokens else tuple(t for t in tokens if t is not None)


def _has(table: sa.Table, *conditions: Any) -> Any:
    """A row of ``table`` (tags, partitions, aliases) for this version meets ``conditions``.

    EXISTS probes the table's ``(seq, key)`` primary key once per candidate version: on
    SQLite, ``seq IN (SELECT …)`` would first collect every version with, say,
    ``stage=production`` (~14 ms at 100 k versions, against ~1 ms for the probe).
    """
    return sa.exists().where(table.c.seq == versions.c.seq, *conditions)


def _tsquery(param: Any) -> Any:
    return sa.func.to_tsquery(sa.cast(sa.literal("simple"), REGCONFIG), param)


def _any(column: Any, values: Sequence[str], prefixes: Sequence[str], like: bool = False) -> Any:
    """``column`` equal to any value or starting with any prefix. ``like`` (for columns
    compared lower-cased) uses LIKE with ``_ % \\`` escaped; others compare a substring,
    which is case-sensitive on every database (SQLite's LIKE is not)."""
    options: list[Any] = [column.in_(list(values))] if values else []
    for prefix in prefixes:
        if like:
            escaped = (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
            options.append(column.like(escaped + "%", escape="\\"))
        else:
            options.append(sa.func.substr(column, 1, len(prefix)) == prefix)
    return sa.or_(*options)


def _compare(left: Any, op: Op, value: Any) -> Any:
    if op == "=":
        return left == value
    if op == ">":
        return left > value
    if op == ">=":
        return left >= value
    if op == "<":
        return left < value
    return left <= value
