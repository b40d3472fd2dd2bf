"""The parsed form of a search query (SPEC §3): small frozen records, no I/O, no SQL.

``parse_query`` builds a :class:`Query`; ``backends/sql/search.py`` compiles it. Every term
of ``Query.terms`` must hold (AND); a :class:`Group` holds when any of its alternatives
does (OR); ``negated`` turns a term into "must not hold". Values are already checked and
converted: sizes are bytes, dates are seconds since the epoch (UTC), durations are
seconds, lineage references are valid ``refs``.

    fraud_detector              Text(words=("fraud", "detector"))
    "fraud detector"            Text(words=("fraud", "detector"), phrase=True)
    type:Model,Dataset          FieldTerm("type", values=("Model", "Dataset"))
    name:fraud*                 FieldTerm("name", prefixes=("fraud",))
    stage:production            TagTerm("stage", values=("production",))
    metadata.accuracy>=0.9      Compare("metadata", ("accuracy",), ">=", 0.9)
    size>10MB                   Compare("size", (), ">", 10_000_000.0)
    created>=2024-01-01         Compare("created", (), ">=", 1704067200.0, span=86400.0)
    age<2d                      Compare("age", (), "<", 172800.0)
    partition.report_date=2023-10-26
                                PartitionTerm("report_date", "=", values=("2023-10-26",))
    downstream-of:raw:3~2       LineageTerm("downstream", "raw:3", depth=2)
    sort:-created               Sort("created", descending=True)
    fraud OR type:Model stage:production
                                Group(((Text(("fraud",)),),
                                       (FieldTerm("type", ("Model",)),
                                        TagTerm("stage", ("production",)))))
    -(a b)                      Group(((Text(("a",)), Text(("b",))),), negated=True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

#: ``a!=b`` is parsed as ``-a=b`` (it also matches versions without ``a``), so no ``!=``.
Op: TypeAlias = Literal["=", ">", ">=", "<", "<="]

#: ``key:value`` keys that name a column of the version rather than a tag.
FIELDS = ("type", "name", "project", "alias", "version", "pipeline", "run", "step", "digest",
          "user")
#: Keys ``sort:`` accepts besides ``metadata.<path>`` and ``tags.<key>``.
SORT_KEYS = ("created", "name", "version", "size", "type")


@dataclass(frozen=True, slots=True)
class Text:
    """Full-text words, each matched as a prefix; a phrase matches its words in order."""

    words: tuple[str, ...]
    phrase: bool = False
    negated: bool = False


@dataclass(frozen=True, slots=True)
class FieldTerm:
    """A field equal to any of ``values`` or starting with any of ``prefixes``."""

    field: str
    values: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    negated: bool = False


@dataclass(frozen=True, slots=True)
class TagTerm:
    """A tag whose string form is any of ``values`` or starts with any of ``prefixes``."""

    key: str
    values: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Compare:
    """``target[.path] op value``.

    ``target`` is ``metadata`` (``path`` is the key path; an ``int`` indexes a list),
    ``tags`` (``path`` is the one key), or a column: ``size`` (bytes), ``created`` (epoch
    seconds), ``age`` (seconds before the time the query runs) or ``version``. A number
    compares with numbers, a string with strings, a boolean (``true``/``false``) with
    booleans. A date covers
    ``span`` seconds (a day for ``2024-01-01``), so ``created=2024-01-01`` is that day
    and ``created>2024-01-01`` starts the day after.
    """

    target: Literal["metadata", "tags", "size", "created", "age", "version"]
    path: tuple[str | int, ...]
    op: Op
    value: float | str | bool
    negated: bool = False
    span: float = 0.0


@dataclass(frozen=True, slots=True)
class PartitionTerm:
    """A partition value compared as a string.

    With ``op == "="`` the value is any of ``values`` or starts with any of ``prefixes``;
    the other operators take exactly one value. ``times``: the value was a month, day or
    instant, turned into stored text (:mod:`archivist.timepartitions`), and only stored
    months, days and times compare with it.
    """

    key: str
    op: Op
    values: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    negated: bool = False
    times: bool = False


@dataclass(frozen=True, slots=True)
class LineageTerm:
    """Versions derived from (``downstream``) or feeding (``upstream``) the version ``ref``
    names, within ``depth`` hops (``None``: transitively); ``ref`` itself excluded."""

    direction: Literal["downstream", "upstream"]
    ref: str
    depth: int | None = None
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Sort:
    """One sort key: ``created``, ``name``, ``version``, ``size``, ``type``,
    ``metadata.<path>`` or ``tags.<key>``; ``path`` holds the key path of the last two."""

    key: str
    path: tuple[str | int, ...] = ()
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Group:
    """Terms joined by ``OR``, or a negated ``-(…)``: holds when any of ``alternatives``
    holds, an alternative being terms that must all hold.

    The parser keeps the tree small: ``(a b)`` adds its terms to the terms around it,
    ``-(a)`` is ``-a``, ``(a OR b) OR c`` is one group of three alternatives.
    """

    alternatives: tuple[tuple[Term, ...], ...]
    negated: bool = False


Term: TypeAlias = Text | FieldTerm | TagTerm | Compare | PartitionTerm | LineageTerm | Group


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: every term must hold (``fraud OR raw`` is one :class:`Group`);
    ``sort`` empty means relevance, then newest.

    Obtain it from :func:`archivist.query.parse_query`; ``Query()`` matches everything.
    """

    terms: tuple[Term, ...] = ()
    sort: tuple[Sort, ...] = ()
    #: the text it was parsed from (a remote backend sends this, never the tree)
    text: str = field(default="", compare=False)
