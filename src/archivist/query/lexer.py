"""Split a query into terms, and read the keys, values and literals inside them.

A query is terms separated by whitespace. A term is an optional ``-`` followed by pieces:
runs of plain characters and double-quoted strings (``\\`` escapes the next character
inside quotes), glued together until unquoted whitespace::

    -name:"x y"*   ->  RawTerm(negated=True, pieces=[Piece("name:"), Piece("x y", quoted),
                                                     Piece("*")])

``split`` cuts a term at its operator, ``segments`` reads a dotted key and ``items`` a
value list. The literal readers (numbers, sizes, dates, durations) raise ``ValueError``
with a message; the parser adds the position. Full-text words are runs of letters, digits
and combining marks, the characters SQLite's ``unicode61`` tokenizer keeps, so ``_ - . /``
and all other punctuation separate words.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from archivist.errors import InvalidQueryError

MAX_QUERY = 4096
MAX_PATH_DEPTH = 16  # levels of a dotted key: metadata.a.b.c
MAX_SIZE = 2**63 - 1  # bytes: the size column is a signed 64-bit integer
MAX_DURATION = 100 * 365.25 * 86400  # a century; longer ages match everything anyway

_ALLOWED_CONTROLS = "\t\n\r\x0b\x0c"  # whitespace: they separate terms
_SHOWN = 24  # characters of a bad token repeated in an error message


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


def error(message: str, pos: int, token: str) -> InvalidQueryError:
    return InvalidQueryError(message, position=pos, token=token[:_SHOWN])


def scan(text: str) -> list[RawTerm]:
    """Split ``text`` into terms.

    Raises:
        InvalidQueryError: a query over 4096 characters, a control character, an
            unterminated quote, or a ``-`` with nothing to negate.
    """
    if len(text) > MAX_QUERY:
        raise error(f"the query is {len(text)} characters long; the limit is {MAX_QUERY}",
                    MAX_QUERY, text[MAX_QUERY:])
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in ("Cc", "Cs") and ch not in _ALLOWED_CONTROLS:
            raise error(f"control character {ch!r} in the query", i, ch)
    terms: list[RawTerm] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, negated = i, text[i] == "-"
        if negated:
            i += 1
            if i == n or text[i].isspace():
                raise error("'-' must be followed by the term to exclude (e.g. -stage:dev)",
                            start, "-")
            if text[i] == "-":
                raise error("one '-' negates a term; '--' is not allowed", start, "--")
        pieces: list[Piece] = []
        while i < n and not text[i].isspace():
            if text[i] == '"':
                opening = i
                content, i = _quoted(text, i)
                pieces.append(Piece(content, opening, quoted=True))
            else:
                j = i
                while j < n and not text[j].isspace() and text[j] != '"':
                    j += 1
                pieces.append(Piece(text[i:j], i))
                i = j
        terms.append(RawTerm(tuple(pieces), start, text[start:i], negated))
    return terms


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


# -- the parts of a term -----------------------------------------------------------------

_OPERATOR = re.compile(r"!=|>=|<=|[:=<>]")
_KEY_START = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True, slots=True)
class Split:
    """A term cut at its first operator outside quotes: ``key op value``."""

    raw: RawTerm
    key: tuple[Piece, ...]
    op: str
    op_pos: int
    value: tuple[Piece, ...]

    def fail(self, message: str, pos: int) -> InvalidQueryError:
        """An error at ``pos``, showing the term from there."""
        return error(message, pos, self.raw.source[max(pos - self.raw.pos, 0):])


@dataclass(frozen=True, slots=True)
class Segment:
    """One level of a dotted key."""

    text: str
    pos: int
    quoted: bool


@dataclass(frozen=True, slots=True)
class Item:
    """One value; ``prefix`` when it ended in an unquoted ``*`` (dropped from ``text``)."""

    text: str
    pos: int
    quoted: bool
    prefix: bool


def split(raw: RawTerm) -> Split | None:
    """Cut a term at its operator; ``None`` for full text (no operator, or a key that
    starts with punctuation: ``'1'='1``, ``(a:b)``).

    Raises:
        InvalidQueryError: an operator with nothing before or after it.
    """
    for index, piece in enumerate(raw.pieces):
        match = None if piece.quoted else _OPERATOR.search(piece.text)
        if match is None:
            continue
        before, after = piece.text[:match.start()], piece.text[match.end():]
        key = (*raw.pieces[:index], *([Piece(before, piece.pos)] if before else []))
        value = (*([Piece(after, piece.pos + match.end())] if after else []),
                 *raw.pieces[index + 1:])
        op_pos = piece.pos + match.start()
        cut = Split(raw, key, match.group(), op_pos, value)
        if key and not key[0].quoted and not _KEY_START.match(key[0].text):
            return None
        if not key:
            raise cut.fail(f"'{match.group()}' needs a field or key before it "
                           "(e.g. type:Model, stage:production)", op_pos)
        if not value:
            raise cut.fail(f"nothing after '{match.group()}': give a value "
                           f"(e.g. {raw.source}x)", op_pos)
        return cut
    return None


def segments(cut: Split, pieces: tuple[Piece, ...]) -> list[Segment]:
    """The levels of a dotted key: ``metadata."a.b".c`` -> metadata, a.b (quoted), c.

    Raises:
        InvalidQueryError: an empty level, a quote inside a level, or over 16 levels.
    """
    out: list[Segment] = []
    text, pos, after_quote = "", pieces[0].pos, False
    for piece in pieces:
        if piece.quoted:
            if text or after_quote:
                raise cut.fail('a quoted key must be a whole segment (e.g. metadata."a.b".c)',
                               piece.pos)
            if not piece.text or '"' in piece.text or "\\" in piece.text:
                raise cut.fail("a quoted key must not be empty nor hold '\"' or '\\'",
                               piece.pos)
            out.append(Segment(piece.text, piece.pos, True))
            after_quote = True
            continue
        at = piece.pos
        for index, part in enumerate(piece.text.split(".")):
            if index == 0 and after_quote and part:
                raise cut.fail("expected '.' after a quoted key", at)
            if index == 0 and not after_quote:
                text, pos = (text + part, pos) if text else (part, at)
            elif index > 0:
                if not after_quote:
                    out.append(Segment(text, pos, False))
                text, pos, after_quote = part, at, False
            at += len(part) + 1
    if not after_quote:
        out.append(Segment(text, pos, False))
    for segment in out:
        if not segment.text:
            raise cut.fail("empty key: a key segment is missing around '.'", segment.pos)
    if len(out) > MAX_PATH_DEPTH + 1:
        raise cut.fail(f"the key is more than {MAX_PATH_DEPTH} levels deep",
                       out[MAX_PATH_DEPTH + 1].pos)
    return out


def groups(cut: Split, listing: bool = True) -> list[list[Piece]]:
    """The value's pieces, cut at unquoted commas when ``listing``.

    Raises:
        InvalidQueryError: an empty item (``type:a,,b``, ``type:a,``).
    """
    out: list[list[Piece]] = [[]]
    for piece in cut.value:
        if piece.quoted or not listing:
            out[-1].append(piece)
            continue
        pos = piece.pos
        for index, part in enumerate(piece.text.split(",")):
            if index:
                out.append([])
            if part:
                out[-1].append(Piece(part, pos))
            pos += len(part) + 1
    if any(not group for group in out):
        raise cut.fail("empty value in a list (e.g. type:Model,Dataset)", cut.op_pos)
    return out


def items(cut: Split, listing: bool) -> list[Item]:
    """The value: one item, or with ``listing`` a comma-separated list of them."""
    out = []
    for group in groups(cut, listing):
        text, last = "".join(p.text for p in group), group[-1]
        prefix = listing and not last.quoted and last.text.endswith("*")
        out.append(Item(text[:-1] if prefix else text, group[0].pos,
                        any(p.quoted for p in group), prefix))
    return out


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
