"""Parse the search language (docs/query-language.md) into a :class:`Query`.

Terms join with AND (a space, or ``AND``), which binds tighter than ``OR``; parentheses
group; ``-`` or ``NOT`` negates a term or a group::

    query        :=  alternative ("OR" alternative)*
    alternative  :=  unit ("AND"? unit)*
    unit         :=  ("-" | "NOT")? (term | "(" query ")")

``sort:`` terms order the whole query, so they stand in its top-level AND only: not
inside parentheses, not in a query with a top-level ``OR``, not negated.
:mod:`archivist.query.terms` says what each term means.
"""

from __future__ import annotations

from dataclasses import replace

from archivist.errors import InvalidQueryError
from archivist.query import lexer, parts, terms
from archivist.query.ast import Group, Query, Sort, Term
from archivist.query.lexer import Mark, RawTerm, Token, error

#: parentheses inside parentheses; each level nests the SQL statement deeper
MAX_NESTING = 8

_EXAMPLE = "(e.g. (fraud OR raw) sort:-created)"


def parse_query(text: str) -> Query:
    """Parse a search query; ``""`` (or only whitespace) matches everything.

    Raises:
        InvalidQueryError: the query is malformed or over a limit (4096 characters, 64
            terms, 256 parentheses and operators, keys 16 levels deep, parentheses 8
            levels deep); ``position`` and ``token`` point at the offending part.
    """
    if not isinstance(text, str):
        raise InvalidQueryError(f"a query must be a string, got {type(text).__name__}")
    tokens = lexer.scan(text)
    _check_shape(text, tokens)
    return _Parser(text, tokens).query()


def _check_shape(text: str, tokens: list[Token]) -> None:
    """Every parenthesis closed, none nested too deep: before any recursion."""
    opened: list[Mark] = []
    for token in tokens:
        if isinstance(token, Mark) and token.kind == "(":
            opened.append(token)
            if len(opened) > MAX_NESTING:
                raise error(f"parentheses nest more than {MAX_NESTING} levels deep",
                            token.pos, text[token.pos:])
        elif isinstance(token, Mark) and token.kind == ")":
            if not opened:
                raise error("')' closes nothing: remove it, or add the '(' it closes",
                            token.pos, text[token.pos:])
            opened.pop()
    if opened:
        raise error("'(' is never closed: add the ')' that closes it", opened[0].pos,
                    text[opened[0].pos:])


def _flip(term: Term) -> Term:
    return replace(term, negated=not term.negated)


class _Parser:
    """A recursive descent over the tokens; ``_check_shape`` bounds its depth."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.at = 0
        self.sort: list[Sort] = []
        self.sort_at: int | None = None  # where the first sort: term is
        self.or_at: int | None = None  # where the first OR outside parentheses is

    def query(self) -> Query:
        alternatives = self.either(0)
        if self.or_at is not None and self.sort_at is not None:
            raise self.fail(f"sort: orders the whole query, so it cannot be part of an OR: "
                            f"put the OR in parentheses {_EXAMPLE}", self.sort_at)
        found = alternatives[0] if len(alternatives) == 1 else (Group(alternatives),)
        return Query(found, tuple(self.sort), self.text)

    def fail(self, message: str, pos: int) -> InvalidQueryError:
        return error(message, pos, self.text[pos:])

    def peek(self, *kinds: str) -> Token | None:
        """The next token; with ``kinds``, only a mark of one of them (else ``None``)."""
        token = self.tokens[self.at] if self.at < len(self.tokens) else None
        if kinds and not (isinstance(token, Mark) and token.kind in kinds):
            return None
        return token

    def either(self, depth: int) -> tuple[tuple[Term, ...], ...]:
        """Alternatives separated by OR, up to ``)`` or the end."""
        out: list[tuple[Term, ...]] = []
        while True:
            start = self.at
            found = self.all_of(depth)
            mark = self.peek("OR")
            if mark is None:
                break
            self.at += 1
            if start == self.at - 1 or self.peek() is None or self.peek(")", "OR", "AND"):
                assert isinstance(mark, Mark)
                raise self.fail("OR needs a term on each side (e.g. fraud OR raw)", mark.pos)
            if not depth and self.or_at is None:
                self.or_at = mark.pos
            out += self.spliced(found)
        out += self.spliced(found)
        return tuple(out)

    @staticmethod
    def spliced(found: tuple[Term, ...]) -> list[tuple[Term, ...]]:
        """``found`` as alternatives: the alternatives of a lone group, or itself."""
        if len(found) == 1 and isinstance(found[0], Group) and not found[0].negated:
            return list(found[0].alternatives)
        return [found]

    def all_of(self, depth: int) -> tuple[Term, ...]:
        """Units joined by spaces or AND, up to OR, ``)`` or the end."""
        out: list[Term] = []
        units = 0
        while self.peek() is not None and not self.peek(")", "OR"):
            mark = self.peek("AND")
            if mark is not None:
                self.at += 1
                if not units or self.peek() is None or self.peek(")", "OR", "AND"):
                    raise self.fail("AND needs a term on each side (e.g. fraud AND raw; a "
                                    "space means AND too)", mark.pos)
                continue
            out += self.unit(depth)
            units += 1
        return tuple(out)

    def unit(self, depth: int) -> list[Term]:
        """A term or a parenthesized group, maybe negated; ``[]`` for a sort term."""
        token = self.tokens[self.at]
        self.at += 1
        negate = isinstance(token, Mark) and token.kind == "NOT"
        if negate:
            after = self.peek()
            if after is None or (isinstance(after, Mark) and after.kind != "("):
                raise self.fail("NOT must be followed by the term or group to exclude "
                                "(e.g. NOT stage:dev)", token.pos)
            if after.negated:
                raise self.fail("one negation is enough: NOT and '-' together are not "
                                "allowed", token.pos)
            token = after
            self.at += 1
        if isinstance(token, Mark):
            return self.group(token, depth, negate)
        return self.term(token, depth, negate)

    def group(self, opening: Mark, depth: int, negate: bool) -> list[Term]:
        if self.peek(")"):
            raise self.fail("empty parentheses: put terms inside, or remove them",
                            opening.pos)
        alternatives = self.either(depth + 1)
        self.at += 1  # the ")": _check_shape saw that every "(" is closed
        negated = opening.negated or negate
        if len(alternatives) > 1:
            return [Group(alternatives, negated)]
        inner = alternatives[0]
        if not negated:
            return list(inner)
        return [_flip(inner[0])] if len(inner) == 1 else [Group((inner,), negated=True)]

    def term(self, raw: RawTerm, depth: int, negate: bool) -> list[Term]:
        after = self.peek("(")
        if isinstance(after, Mark) and after.glued:
            last = raw.pieces[-1]
            if not last.quoted and last.text[-1:] in (":", "=", "<", ">"):
                raise self.fail("a value cannot be a group: write (stage:a OR stage:b), or "
                                "stage:a,b", after.pos)
        split = parts.split(raw)
        if split is not None and isinstance(after, Mark) and after.glued:
            raise self.fail("'(' right after a value: quote a value holding '(' (e.g. "
                            'metadata.formula="f(x)"), or put a space before the group',
                            after.pos)
        if not terms.is_sort(split):
            found = terms.term(raw, split)
            return [_flip(found)] if negate else [found]
        assert split is not None
        if depth:
            raise self.fail("sort: orders the whole query, so it cannot be inside "
                            f"parentheses: put it after them {_EXAMPLE}", raw.pos)
        if negate:
            raise self.fail("sort cannot be negated; use sort:-KEY for descending order",
                            raw.pos)
        self.sort += terms.sort(split, self.sort)
        self.sort_at = raw.pos if self.sort_at is None else self.sort_at
        return []
