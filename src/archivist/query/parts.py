"""The parts of one term: its key, its operator and its value.

``split`` cuts a term at its first operator outside quotes, ``segments`` reads a dotted
key and ``items`` a value list::

    -name:"x y"*   ->  Split(key=[Piece("name")], op=":", value=[Piece("x y", quoted),
                                                               Piece("*")])
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archivist.errors import InvalidQueryError
from archivist.query.lexer import Piece, RawTerm, error

MAX_PATH_DEPTH = 16  # levels of a dotted key: metadata.a.b.c
_OPERATOR = re.compile(r"!=|>=|<=|[:=<>]")


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
    starts with punctuation: ``'1'='1``; letters and digits of any script start a key).

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
        if key and not key[0].quoted and not key[0].text[:1].isalnum():
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
