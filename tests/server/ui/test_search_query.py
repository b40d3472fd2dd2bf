"""The search page's query: the box, with a term for every facet, ANDed to all of it."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from starlette.requests import Request

from archivist.query import parse_query
from archivist.server.ui.pages.search import query_text


def _request(*params: tuple[str, str]) -> Request:
    return Request({"type": "http", "query_string": urlencode(params).encode()})


@pytest.mark.parametrize(("params", "expected"), [
    ([("q", "fraud OR raw")], "fraud OR raw"),
    ([("q", "fraud OR raw"), ("type", "Model")], "(fraud OR raw) type:Model"),
    ([("q", "fraud OR raw"), ("sort", "-created")], "(fraud OR raw) sort:-created"),
    ([("q", "x (a OR b)"), ("type", "Model")], "x (a OR b) type:Model"),
    ([("q", "-(a OR b)"), ("tag", "stage:prod")], "-(a OR b) tag.stage:prod"),
    ([("q", "a OR"), ("type", "Model")], "a OR"),  # the error is the box's, as typed
    ([("q", "fraud"), ("type", "Model")], "fraud type:Model"),
])
def test_facets_hold_for_every_alternative(params: list[tuple[str, str]],
                                           expected: str) -> None:
    assert query_text(_request(*params)) == expected


def test_a_facet_narrows_each_alternative() -> None:
    text = query_text(_request(("q", "fraud OR raw"), ("type", "Model")))
    assert [type(t).__name__ for t in parse_query(text).terms] == ["Group", "FieldTerm"]
