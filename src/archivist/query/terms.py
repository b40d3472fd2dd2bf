"""What one term of a query means: its key decides (docs/query-language.md).

The first operator outside quotes (``:`` ``=`` ``!=`` ``>=`` ``<=`` ``>`` ``<``) splits a
term into a key and a value (:mod:`archivist.query.parts`); a term without one is full
text. The key decides the meaning:

=============================  ============================================
``type`` ``name`` … ``user``   a field (``FIELDS``): ``FieldTerm``
``size`` ``created`` ``age``   a comparison on the version: ``Compare``
``version``                    ``version:3`` a field, ``version>=3`` a comparison
``metadata.<path>``            ``Compare`` on a metadata value
``tag.<key>`` ``tags.<key>``   a tag, even one named like a field
``partition.<key>``            ``PartitionTerm``
``sort``                       ``Sort`` keys, in order
``downstream-of`` …            ``LineageTerm``
a near miss of a keyword       an error naming the keyword (``tpye:Model``)
anything else                  a tag key: ``stage:production``
=============================  ============================================

A term whose key starts with punctuation (``'1'='1``) is full text as well.
``:`` takes a comma-separated any-of list whose items may end in ``*`` (prefix);
``=`` and the other comparisons take one value; ``a!=b`` means ``-a=b``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import cast

from archivist import names, timepartitions
from archivist.errors import InvalidNameError
from archivist.limits import MAX_LINEAGE_DEPTH
from archivist.query import lexer, parts, spelling
from archivist.query.ast import (
    FIELDS,
    SORT_KEYS,
    Compare,
    FieldTerm,
    Group,
    LineageTerm,
    Op,
    PartitionTerm,
    Sort,
    TagTerm,
    Term,
    Text,
)
from archivist.query.lexer import Piece, RawTerm, error
from archivist.query.parts import Item, Segment, Split
from archivist.refs import parse_ref

MAX_SORT_KEYS = 8  # distinct keys; each tags.KEY is a join, and SQLite joins at most 64

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")
_VERSION = re.compile(r"[1-9][0-9]{0,9}")
_HEX = re.compile(r"[0-9a-fA-F]{1,64}")
_DEPTH = re.compile(r"[1-9][0-9]*")
_COLUMNS = ("size", "created", "age")
_LINEAGE = {"downstream-of": "downstream", "upstream-of": "upstream"}
_TAGS = ("tag", "tags")
_PARTITIONS = ("partition", "partitions")
_PREFIXES = ("metadata", *_TAGS, *_PARTITIONS)
#: what a key without a dot may be a near miss of (``tpye``, ``sise``, ``srot``)
_KEYWORDS = (*FIELDS, *_COLUMNS, "sort", *_LINEAGE, *_PREFIXES)
_SORTABLE = (*SORT_KEYS, "metadata", "tags")


def term(raw: RawTerm, split: Split | None) -> Term:
    """The condition ``raw`` states; ``split`` is ``parts.split(raw)``, and not a sort.

    Raises:
        InvalidQueryError: a malformed term; ``position`` and ``token`` point into it.
    """
    if split is None:
        return _text(raw)
    found = _term(split)
    return replace(found, negated=not found.negated) if raw.negated else found


def is_sort(split: Split | None) -> bool:
    """Whether the term is ``sort:…`` (or a malformed sort, such as ``sort>x``)."""
    return split is not None and _head(split) == "sort"


def _text(raw: RawTerm) -> Text:
    first = raw.pieces[0]
    if len(raw.pieces) > 1:
        bad = raw.pieces[1]
        raise error("a quote must enclose a whole phrase or value; put a space before "
                    "or after it", bad.pos, raw.source[bad.pos - raw.pos:])
    found = lexer.words(first.text)
    if not found:
        what = "phrase" if first.quoted else "term"
        raise error(f"this {what} has no letters or digits to search for", first.pos,
                    raw.source[first.pos - raw.pos:])
    return Text(found, phrase=first.quoted, negated=raw.negated)


def _head(split: Split) -> str:
    first = split.key[0]
    if first.quoted:
        return ""
    return first.text.split(".", 1)[0].lower()


def _term(split: Split) -> Term:
    segments = parts.segments(split, split.key)
    head = "" if segments[0].quoted else segments[0].text.lower()
    rest = segments[1:]
    if head in ("metadata", *_TAGS, *_PARTITIONS) and not rest:
        raise split.fail(f"{head} needs a key: {head}.KEY (e.g. metadata.accuracy>=0.9, "
                         "tag.type:Model, partition.report_date=2023-10-26)",
                         segments[0].pos)
    if head == "metadata":
        return _compare(split, "metadata", tuple(_path_item(split, s) for s in rest))
    if head in _TAGS:
        return _tag(split, _key(split, rest))
    if head in _PARTITIONS:
        return _partition(split, _key(split, rest))
    if not rest and head in _LINEAGE:
        return _lineage(split, _LINEAGE[head])
    if not rest and head == "version" and split.op not in (":", "=", "!="):
        return _compare(split, "version", ())
    if not rest and head in _COLUMNS:
        return _compare(split, head, ())
    if not rest and head in FIELDS:
        return _field(split, head)
    key = _key(split, segments)
    _near_miss(split, segments[0], key, dotted=len(segments) > 1)
    if split.op not in (":", "=", "!="):
        raise split.fail(f"unknown field {key!r}: compare metadata.{key} or tags.{key}",
                         split.key[0].pos)
    return _tag(split, key)


def _near_miss(split: Split, head: Segment, key: str, dotted: bool) -> None:
    """Refuse a key one slip from a keyword: ``tpye:Model`` is not the tag ``tpye``."""
    keyword = None if head.quoted else spelling.near(head.text,
                                                     _PREFIXES if dotted else _KEYWORDS)
    if keyword is None:
        return
    source = split.raw.source[1:] if split.raw.negated else split.raw.source
    tagged = f"{'-' if split.raw.negated else ''}tag.{source}"
    verb = "match" if split.op in (":", "=", "!=") else "compare"
    raise split.fail(f"unknown field {head.text!r}; did you mean {keyword!r}? (to {verb} a "
                     f"tag named {key!r}, write {tagged})", head.pos)


# -- keys and values ------------------------------------------------------------------------

def _path_item(split: Split, segment: Segment) -> str | int:
    if segment.quoted:
        return segment.text
    if _INDEX.fullmatch(segment.text):
        return int(segment.text)
    if not _SEGMENT.fullmatch(segment.text):
        raise split.fail(f"invalid key {segment.text!r}: use letters, digits, '_' and '-' "
                         '(quote others: metadata."my key")', segment.pos)
    return segment.text


def _key(split: Split, segments: list[Segment]) -> str:
    """A tag or partition key: a name, dots allowed (``tags.a.b`` is the key ``a.b``)."""
    try:
        return names.check_name(".".join(s.text for s in segments), "key")
    except InvalidNameError as exc:
        raise split.fail(str(exc), segments[0].pos) from None


def _single(split: Split) -> Item:
    item = parts.items(split, listing=False)[0]
    if not item.quoted and "," in item.text:
        raise split.fail("a comparison takes one value; lists work with ':' "
                         "(e.g. type:Model,Dataset)", item.pos)
    return item


def _matches(items: list[Item]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    values = tuple(i.text for i in items if not i.prefix)
    prefixes = tuple(i.text for i in items if i.prefix)
    return values, prefixes


# -- terms --------------------------------------------------------------------------------

def _op(split: Split) -> Op:
    return "=" if split.op in (":", "!=") else split.op  # type: ignore[return-value]


def _equality_only(split: Split, what: str) -> None:
    if split.op not in (":", "=", "!="):
        raise split.fail(f"{what} takes ':', '=' or '!=', not '{split.op}'", split.op_pos)


def _field(split: Split, field: str) -> FieldTerm:
    _equality_only(split, field)
    items = parts.items(split, listing=split.op == ":")
    for item in items:
        if field == "version" and (item.prefix or not _VERSION.fullmatch(item.text)
                                   or int(item.text) > 2**31 - 1):
            raise split.fail(f"invalid version {item.text!r}: versions are 1, 2, 3, …",
                             item.pos)
    if field == "digest":
        items = [_digest(split, item) for item in items]
    values, prefixes = _matches(items)
    return FieldTerm(field, values, prefixes, negated=split.op == "!=")


def _digest(split: Split, item: Item) -> Item:
    text = item.text
    if text.lower().startswith("sha256:"):
        text = text[len("sha256:"):]
    if not _HEX.fullmatch(text):
        raise split.fail(f"invalid digest {item.text!r}: give sha256: and 1-64 hex digits "
                         "(a prefix is enough)", item.pos)
    return Item("sha256:" + text.lower(), item.pos, item.quoted, prefix=len(text) < 64)


def _tag(split: Split, key: str) -> TagTerm | Compare:
    if split.op == ":":
        values, prefixes = _matches(parts.items(split, listing=True))
        return TagTerm(key, values, prefixes)
    item = _single(split)
    value = _comparable(split, item, ordered=split.op not in ("=", "!="))
    if isinstance(value, str) and split.op in ("=", "!="):
        return TagTerm(key, (value,), negated=split.op == "!=")
    return Compare("tags", (key,), _op(split), value, negated=split.op == "!=")


def _partition(split: Split, key: str) -> PartitionTerm | Group:
    """Unquoted months, days and instants compare as times (:mod:`~archivist.timepartitions`):
    ``partition.dt=2021-01-01`` is that day, ``partition.dt>=2021-01-01T12:00`` from noon UTC;
    quoted values and other text compare as strings."""
    if split.op == ":":
        return _partition_any(key, parts.items(split, listing=True))
    item, op = _single(split), _op(split)
    if op == "=":
        return replace(_partition_any(key, [item]), negated=split.op == "!=")
    bounds = None if item.quoted else timepartitions.query_bounds(item.text, op)
    if bounds is not None:
        return PartitionTerm(key, cast(Op, bounds[0]), (bounds[1],), times=True)
    return PartitionTerm(key, op, (item.text,))


def _partition_any(key: str, items: list[Item]) -> PartitionTerm | Group:
    """Any of ``items``: strings (and ``prefix*``) as given, months, days and instants as
    times; a list of both is a group of the two terms."""
    values: list[str] = []
    prefixes: list[str] = []
    texts = [i for i in items if i.prefix or i.quoted
             or timepartitions.query_matches(i.text) is None]
    for item in items:
        if item not in texts:
            found = timepartitions.query_matches(item.text)
            assert found is not None
            values += found[0]
            prefixes += found[1]
    terms: list[PartitionTerm] = []
    if texts:
        terms.append(PartitionTerm(key, "=", *_matches(texts)))
    if values:
        terms.append(PartitionTerm(key, "=", tuple(dict.fromkeys(values)),
                                   tuple(dict.fromkeys(prefixes)), times=True))
    return terms[0] if len(terms) == 1 else Group(((terms[0],), (terms[1],)))


def _comparable(split: Split, item: Item, ordered: bool) -> float | str | bool:
    """A comparison value: numbers and ``true``/``false`` unquoted, strings otherwise."""
    if item.quoted:
        return item.text
    if lexer.is_number(item.text):
        try:
            return lexer.number(item.text)
        except ValueError as exc:
            raise split.fail(str(exc), item.pos) from None
    if lexer.is_not_a_number(item.text):
        raise split.fail(f"{item.text!r} is not a number you can compare with (quote it "
                         "to compare the string)", item.pos)
    if item.text in ("true", "false") and not ordered:
        return item.text == "true"
    if ordered:
        raise split.fail(f"{item.text!r} is not a number: quote it to compare strings "
                         f'(e.g. >="{item.text}")', item.pos)
    return item.text


def _compare(split: Split, target: str, path: tuple[str | int, ...]) -> Compare:
    item = _single(split)
    op, negated, span = _op(split), split.op == "!=", 0.0
    value: float | str | bool
    if target in ("metadata", "tags"):
        value = _comparable(split, item, ordered=op != "=")
    else:
        try:
            value, span = _column_value(target, op, item.text)
        except ValueError as exc:
            raise split.fail(str(exc), item.pos) from None
    if isinstance(value, bool) and op != "=":
        raise split.fail("true and false compare with '=' only", item.pos)
    return Compare(target, path, op, value, negated, span)  # type: ignore[arg-type]


def _column_value(target: str, op: Op, text: str) -> tuple[float, float]:
    """The value (and span, for dates) of a comparison on size, created, age or version."""
    if target == "size":
        return lexer.size(text), 0.0
    if target == "created":
        return lexer.date(text)
    if target == "age":
        if op == "=":
            raise ValueError("age takes < <= > >= (e.g. age<2d: made in the last two days)")
        return lexer.duration(text), 0.0
    if not _VERSION.fullmatch(text) or int(text) > 2**31 - 1:
        raise ValueError(f"invalid version {text!r}: versions are 1, 2, 3, …")
    return float(text), 0.0


def _lineage(split: Split, direction: str) -> LineageTerm:
    if split.op != ":":
        raise split.fail(f"{split.key[0].text} takes ':' (e.g. downstream-of:raw:3~2)",
                         split.op_pos)
    pieces = list(split.value)
    depth: int | None = None
    last = pieces[-1]
    if not last.quoted and "~" in last.text:
        cut = last.text.rindex("~")
        text = last.text[cut + 1:]
        if not _DEPTH.fullmatch(text) or int(text) > MAX_LINEAGE_DEPTH:
            raise split.fail(f"invalid depth {text!r} after '~': use 1-{MAX_LINEAGE_DEPTH} "
                             "(leave it out to follow every hop)", last.pos + cut)
        depth = int(text)
        pieces[-1] = Piece(last.text[:cut], last.pos)
    ref = "".join(p.text for p in pieces)
    try:
        parse_ref(ref)
    except InvalidNameError as exc:
        raise split.fail(f"invalid reference: {exc}", pieces[0].pos) from None
    return LineageTerm(direction, ref, depth)  # type: ignore[arg-type]


def sort(split: Split, before: list[Sort]) -> list[Sort]:
    """The new sort keys; a key already sorted by adds nothing and is skipped."""
    if split.raw.negated:
        raise split.fail("sort cannot be negated; use sort:-KEY for descending order",
                         split.raw.pos)
    if split.op != ":" or len(split.key) != 1 or split.key[0].text.lower() != "sort":
        raise split.fail("write sort:KEY or sort:-KEY (e.g. sort:-created)", split.key[0].pos)
    out: list[Sort] = []
    for group in parts.groups(split):
        descending = not group[0].quoted and group[0].text.startswith("-")
        if descending:
            rest = group[0].text[1:]
            group = ([Piece(rest, group[0].pos + 1)] if rest else []) + group[1:]
        if not group:
            raise split.fail("'-' must be followed by a sort key", split.op_pos + 1)
        key = _sort_key(split, tuple(group), descending)
        if any((k.key, k.path) == (key.key, key.path) for k in [*before, *out]):
            continue
        if len(before) + len(out) == MAX_SORT_KEYS:
            raise split.fail(f"more than {MAX_SORT_KEYS} sort keys", group[0].pos)
        out.append(key)
    return out


def _sort_key(split: Split, pieces: tuple[Piece, ...], descending: bool) -> Sort:
    segments = parts.segments(split, pieces)
    head = "" if segments[0].quoted else segments[0].text.lower()
    if len(segments) == 1 and head in SORT_KEYS:
        return Sort(head, (), descending)
    if head == "metadata" and len(segments) > 1:
        path = tuple(_path_item(split, s) for s in segments[1:])
        return Sort("metadata", path, descending)
    if head in _TAGS and len(segments) > 1:
        return Sort("tags", (_key(split, segments[1:]),), descending)
    keyword = None if segments[0].quoted else spelling.near(segments[0].text, _SORTABLE)
    hint = f"; did you mean {keyword!r}?" if keyword else ""
    raise split.fail("sort keys are created, name, version, size, type, metadata.PATH or "
                     f"tags.KEY{hint}", pieces[0].pos)
