"""Full text on PostgreSQL (tsvector, 'simple' parser) finds what SQLite's FTS5 finds.

A differential test: the same descriptions, full of what tokenizers disagree about
(e-mail addresses, URLs, apostrophes, accents, CJK, Greek, numbers with dots, symbols),
are registered on both backends, and every query must find the same versions on both:
words, phrases, negation, and their OR, AND, NOT and parentheses (a group of words is
one FTS5 or tsquery expression, a group with other terms an SQL OR), in the same order
wherever the order is not relevance.
"""

from __future__ import annotations

from pathlib import Path

from archivist import ArtifactCatalog

DOCUMENTS = [
    "contact alice@example.org now", "see https://docs.example.com/guide?x=1 here",
    "C++ and C# code", "O'Reilly books", "naïve résumé", "日本語のテキスト",
    "pi is 3.14159 ok", "1e5 rows", "#hashtag #ml", "v1.2.3 release", "user@host",
    "<b>bold</b>", "x=1,y=2", "key:value pair", "a+b", "foo&bar", "tab\tsep",
    "semi;colon", "under_score", "CamelCase", "ÀÉÎÕÜ caps", "Ελληνικά λέξεις",
    "emoji 🎉 party", "hyphen-ated", "dollar$sign", "percent%sign", "back\\slash",
    'quote"d', "paren(x)", "-neg", "2023-10-26",
]
QUERIES = [
    "alice", "example", "org", "alice@example", "https", "docs", "guide", "x", "C", "code",
    "Reilly", "O'Reilly", "naive", "resume", "日本語", "日本", "テキスト", "3", "14159",
    "3.14159", "1e5", "hashtag", "#hashtag", "ml", "v1", "1", "2", "release", "user",
    "host", "user@host", "b", "bold", "y", "key", "value", "key:value", "a", "foo", "bar",
    "foo&bar", "sep", "semi", "colon", "under", "score", "camelcase", "aeiou", "àéîõü",
    "ελληνικά", "λέξεις", "ελλ", "emoji", "party", "hyphen", "ated", "dollar", "sign",
    "percent", "back", "slash", "quote", "d", "paren", "neg", "2023", "10", "26",
    "2023-10-26", "reil", '"alice example"', "-alice", "example -org",
    # OR, AND, NOT, parentheses
    "alice OR bold", "alice OR bold OR party", "(naive OR resume) -caps", "-(alice OR example)",
    "hashtag OR 日本語", "x OR y", '"alice example" OR party', "NEAR(alice now)",
    "key OR value OR pair", "c OR code", "(alice OR reilly) (now OR books)", "alice or",
    "emoji AND party", "NOT (a OR b)", "(ελληνικά OR àéîõü) OR 3.14159", "alice OR",
    "alice OR name:doc1", "(alice OR bold) name:doc*", "-(alice OR name:doc3)",
    "name:doc1 OR name:doc2 OR 日本", "alice OR (bold -b)", "(((alice)))", "\u0301 OR alice",
    "alice OR \u0301", "-(\u0301 OR alice)", '"o reilly" OR "C C"', "user@host OR foo&bar",
]
#: ordered by something other than relevance: the order must be the same too
ORDERED = ["alice OR name:doc1 sort:name", "(alice OR bold OR party) sort:-name",
           "(x OR y OR a) sort:name"]


def _answers(catalog: ArtifactCatalog) -> dict[str, list[str] | str]:
    for i, text in enumerate(DOCUMENTS):
        catalog.register(f"doc{i}", description=text)
    answers: dict[str, list[str] | str] = {}
    for query in QUERIES + ORDERED:
        try:
            found = [a.name for a in catalog.search(query)]
            answers[query] = found if query in ORDERED else sorted(found)
        except Exception as exc:  # the error, if any, must be the same too
            answers[query] = type(exc).__name__
    return answers


def test_postgres_finds_what_sqlite_finds(postgres_url: str, tmp_path: Path) -> None:
    with ArtifactCatalog(tmp_path / "home") as catalog:
        sqlite_answers = _answers(catalog)
    with ArtifactCatalog(postgres_url, blobs=str(tmp_path / "blobs")) as catalog:
        answers = _answers(catalog)
    differences = {q: (sqlite_answers[q], answers[q]) for q in QUERIES + ORDERED
                   if answers[q] != sqlite_answers[q]}
    assert differences == {}, "query: (sqlite, postgres)"
    # The oracle is not trivially empty: most queries find something.
    assert sum(isinstance(a, list) and bool(a) for a in answers.values()) > len(QUERIES) * 0.8
