"""Full-text match strings: the words of a query as an FTS5 or a PostgreSQL tsquery.

Pure functions, tested without a database. Every word is quoted before it joins the
expression, so the only operators in it are the ones written here: AND between the
terms of an alternative, OR between the alternatives of a group, ``*`` (FTS5) or ``:*``
(tsquery) after a word to match it as a prefix. PostgreSQL has no ``unicode61``
tokenizer, so its words are folded here as the documents are (:func:`fold`).

A version's short tags are indexed beside its text as tokens (:func:`tag_token`): on SQLite
in the FTS5 column ``tagtok``, on PostgreSQL in a text array. The user's words match the
``body`` column only (:func:`fts5_string` says so), so no word can find a tag token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from archivist.query.ast import Group, Term, Text
from archivist.query.lexer import fold

#: Tags whose key and string form together are longer (UTF-8 bytes) get no token: they are
#: found by the tags table alone.
TAG_TOKEN_MAX_BYTES = 96


def tag_token(key: str, text: str | None) -> str | None:
    """The index token of the tag ``key`` whose string form is ``text``: ``t``, the hex of
    the key's UTF-8, ``x``, the hex of the text's. Letters and digits only, so every
    tokenizer keeps it whole, and reversible, so two tags never share a token. ``None``
    for a tag without a string form or longer than :data:`TAG_TOKEN_MAX_BYTES`."""
    if text is None:
        return None
    key_bytes, text_bytes = key.encode(), text.encode()
    if len(key_bytes) + len(text_bytes) > TAG_TOKEN_MAX_BYTES:
        return None
    return f"t{key_bytes.hex()}x{text_bytes.hex()}"


def fts5_string(texts: Sequence[Term], tags: Sequence[Sequence[str]] = ()) -> str | None:
    """An FTS5 query from words, phrases and groups of only words and phrases: each
    word a quoted string with ``*`` (prefix), each phrase one quoted string, all joined
    by AND, matched in the ``body`` column; a group is its alternatives joined by OR, in
    parentheses. Each entry of ``tags`` (the tokens of one tag term's values, see
    :func:`tag_token`) adds "any of these tokens in ``tagtok``". ``None`` if it can match
    nothing (a term with no word left to match)."""
    text = _all_of(texts, _FTS5)
    if text is None:
        return None
    parts = [f"{{body}} : ({text})"]
    parts += ["{tagtok} : (" + " OR ".join(_fts5_quote(t) for t in tokens) + ")"
              for tokens in tags]
    return " AND ".join(parts)


def tsquery_string(texts: Sequence[Term]) -> str | None:
    """A ``to_tsquery('simple', …)`` string from folded words: ``'fraud':* & 'detector':*``;
    a phrase is ``('a' <-> 'b')``, a group ``((…) | (…))``. ``None`` if it can match
    nothing (a term with no word left to match)."""
    return _all_of(texts, _TSQUERY)


@dataclass(frozen=True)
class _Syntax:
    both: str
    either: str
    text: Callable[[Text], str | None]


def _all_of(terms: Sequence[Term], syntax: _Syntax) -> str | None:
    parts: list[str] = []
    for term in terms:
        part = syntax.text(term) if isinstance(term, Text) else _any_of(term, syntax)
        if part is None:
            return None
        parts.append(part)
    return syntax.both.join(parts)


def _any_of(term: Term, syntax: _Syntax) -> str | None:
    assert isinstance(term, Group)
    found = [p for p in (_all_of(a, syntax) for a in term.alternatives) if p is not None]
    if len(found) < 2:
        return found[0] if found else None
    return "(" + syntax.either.join(f"({p})" for p in found) + ")"


def _fts5_text(text: Text) -> str | None:
    kept = [w for w in text.words if fold(w)]
    if not kept or (not text.phrase and len(kept) < len(text.words)):
        return None
    if text.phrase:
        return _fts5_quote(" ".join(kept))
    return " AND ".join(_fts5_quote(w) + "*" for w in kept)


def _ts_text(text: Text) -> str | None:
    folded = [fold(w) for w in text.words]
    kept = [_ts_quote(w) for w in folded if w]
    if not kept or (not text.phrase and len(kept) < len(folded)):
        return None
    if text.phrase:
        return "(" + " <-> ".join(kept) + ")"
    return " & ".join(w + ":*" for w in kept)


_FTS5 = _Syntax(" AND ", " OR ", _fts5_text)
_TSQUERY = _Syntax(" & ", " | ", _ts_text)


def _fts5_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _ts_quote(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
