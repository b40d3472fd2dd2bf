"""Split a query into tokens: terms, parentheses and operators; read words and literals.

A query is terms separated by whitespace, with parentheses and the upper-case operators
``OR``, ``AND`` and ``NOT`` between them. A term is an optional ``-`` followed by pieces:
runs of plain characters and double-quoted strings (``\\`` escapes the next character
inside quotes), glued together until unquoted whitespace or a parenthesis::

    -name:"x y"*   ->  RawTerm(negated=True, pieces=[Piece("name:"), Piece("x y", quoted),
                                                     Piece("*")])
    -(a OR b)      ->  Mark("(", negated=True), RawTerm(a), Mark("OR"), RawTerm(b), Mark(")")

An unquoted ``(`` or ``)`` is always a parenthesis, even inside a word; ``OR``, ``AND``
and ``NOT`` are operators only as a whole unquoted term in capitals (``or``, ``"OR"``
are words). ``archivist.query.parts`` reads the key and value of a term. The literal
readers (numbers, sizes, dates, durations) raise ``ValueError`` with a message; the parser
adds the position. Full-text words are runs of letters, digits and combining marks, the
characters SQLite's ``unicode61`` tokenizer keeps, so ``_ - . /`` and all other
punctuation separate words.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeAlias

from archivist.errors import InvalidQueryError

MAX_QUERY = 4096
MAX_TERMS = 64
MAX_MARKS = 256  # parentheses and operators; scanning stops there, so "(" * 4096 is fast
MAX_SIZE = 2**63 - 1  # bytes: the size column is a signed 64-bit integer
MAX_DURATION = 100 * 365.25 * 86400  # a century; longer ages match everything anyway

_ALLOWED_CONTROLS = "\t\n\r\x0b\x0c"  # whitespace: they separate terms
_SHOWN = 24  # characters of a bad token repeated in an error message
_PLAIN = re.compile(r'[^\s"()]+')  # \s is str.isspace() for str patterns


@dataclass(frozen=True, slots=True)
class Piece:
    """A plain run of characters or the content of a quoted string, at ``pos``."""

    text: str
    pos: int
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class RawTerm:
    """The pieces of one term; ``pos`` is where it starts (at its ``-``, if any)."""

    pieces: tuple[Piece, ...]
    pos: int
    source: str
    negated: bool = False


Kind: TypeAlias = Literal["(", ")", "OR", "AND", "NOT"]
_OPERATORS: dict[str, Kind] = {"OR": "OR", "AND": "AND", "NOT": "NOT"}


@dataclass(frozen=True, slots=True)
class Mark:
    """A parenthesis (``-(`` is a ``(`` with ``negated``) or an operator, at ``pos``;
    ``glued`` when it touches what comes before it (``f(x)``)."""

    kind: Kind
    pos: int
    negated: bool = False
    glued: bool = False


Token: TypeAlias = RawTerm | Mark


def error(message: str, pos: int, token: str) -> InvalidQueryError:
    return InvalidQueryError(message, position=pos, token=token[:_SHOWN])


def scan(text: str) -> list[Token]:
    """Split ``text`` into terms, parentheses and operators.

    Raises:
        InvalidQueryError: a query over 4096 characters, 64 terms or 256 parentheses and
            operators, a control character, an unterminated quote, or a ``-`` with
            nothing to negate.
    """
    if len(text) > MAX_QUERY:
        raise error(f"the query is {len(text)} characters long; the limit is {MAX_QUERY}",
                    MAX_QUERY, text[MAX_QUERY:])
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in ("Cc", "Cs") and ch not in _ALLOWED_CONTROLS:
            raise error(f"control character {ch!r} in the query", i, ch)
    tokens: list[Token] = []
    i, n, terms = 0, len(text), 0
    while i < n:
        glued = i > 0 and not text[i - 1].isspace()
        if text[i].isspace():
            i += 1
            continue
        if len(tokens) - terms == MAX_MARKS:
            raise error(f"too many parentheses and operators: the limit is {MAX_MARKS}", i,
                        text[i:])
        if text[i] in "()":
            tokens.append(Mark("(" if text[i] == "(" else ")", i, glued=glued))
            i += 1
            continue
        start, negated = i, text[i] == "-"
        if negated:
            i += 1
            if i == n or text[i].isspace() or text[i] == ")":
                raise error("'-' must be followed by the term to exclude (e.g. -stage:dev)",
                            start, "-")
            if text[i] == "-":
                raise error("one '-' negates a term; '--' is not allowed", start, "--")
            if text[i] == "(":
                tokens.append(Mark("(", start, negated=True, glued=glued))
                i += 1
                continue
        pieces: list[Piece] = []
        while i < n and not text[i].isspace() and text[i] not in "()":
            if text[i] == '"':
                opening = i
                content, i = _quoted(text, i)
                pieces.append(Piece(content, opening, quoted=True))
            else:
                plain = _PLAIN.match(text, i)
                assert plain is not None  # text[i] is no space, quote or parenthesis
                pieces.append(Piece(plain.group(), i))
                i = plain.end()
        operator = (_OPERATORS.get(pieces[0].text)
                    if len(pieces) == 1 and not pieces[0].quoted and not negated else None)
        if operator is not None:
            tokens.append(Mark(operator, start, glued=glued))
            continue
        terms += 1
        if terms > MAX_TERMS:
            raise error(f"too many terms: the limit is {MAX_TERMS}", start, text[start:i])
        tokens.append(RawTerm(tuple(pieces), start, text[start:i], negated))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    """Read the quoted string opening at ``start``; return its content and the index
    after the closing quote."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise error("unterminated quote: add the closing '\"'", start, text[start:])


# -- full-text words ----------------------------------------------------------------------

def is_word_char(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "LNM" or category == "Co"


def words(text: str) -> tuple[str, ...]:
    """The full-text words of ``text``: ``fraud_detector-v2`` -> fraud, detector, v2."""
    out: list[str] = []
    current: list[str] = []
    for ch in text:
        if is_word_char(ch):
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return tuple(out)


def fold(text: str) -> str:
    """Lower-case and strip diacritics as SQLite's ``unicode61 remove_diacritics 2`` does:
    ``Café`` -> ``cafe``, ``İstanbul`` -> ``istanbul``; ``ß`` stays ``ß`` (not ``ss``).

    PostgreSQL has no such tokenizer, so its documents and queries are both folded here.
    """
    decomposed = unicodedata.normalize("NFD", text.lower())
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", kept)


# -- literals ----------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_NUMBERS = frozenset({"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity",
                          "+infinity", "-infinity"})
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)")
_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhdw])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DATE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:T(?P<hm>[0-9]{2}:[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?"
    r"(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})?)?"
)


def is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


def is_not_a_number(text: str) -> bool:
    """``NaN``, ``inf`` and friends: words that must not be compared as numbers."""
    return text.lower() in _NOT_NUMBERS


def number(text: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is out of range for a number")
    return value


def size(text: str) -> float:
    """``10MB`` -> 10_000_000; decimal (KB, MB, GB, TB, PB) and binary (KiB … PiB) units."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size: use bytes or a unit (e.g. 10MB, 1.5GiB, "
                         "512KB)")
    value = float(match.group(1)) * _SIZE_UNITS[unit]
    if not value <= MAX_SIZE:
        raise ValueError(f"size {text!r} is larger than the largest possible size")
    return value


def duration(text: str) -> float:
    """``2d`` -> 172800 seconds; units s, m, h, d, w."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration: use a number and s, m, h, d or w "
                         "(e.g. 2d, 36h)")
    value = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if not value <= MAX_DURATION:
        raise ValueError(f"duration {text!r} is longer than a century")
    return value


def date(text: str) -> tuple[float, float]:
    """``2024-01-01`` or an ISO datetime -> (seconds since the epoch, span in seconds).

    The span is one unit of the last component given: a day for a date, a minute for
    ``…T10:30``, a second for ``…T10:30:15``. Datetimes without an offset are UTC.
    """
    match = _DATE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a date: use YYYY-MM-DD or an ISO datetime "
                         "(e.g. 2024-01-01T10:30:00Z); for a duration, use age<2d")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not a valid date") from None
    if match.group("f"):
        span = 10.0 ** -len(match.group("f"))
    elif match.group("s"):
        span = 1.0
    elif match.group("hm"):
        span = 60.0
    else:
        span = 86400.0
    return seconds, span
