"""The search page: one box for the whole query language, facets that add terms to it,
sortable columns, pages. The query is in the URL, so a search can be shared."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from archivist.errors import ArtifactNotFoundError, InvalidQueryError
from archivist.model import Artifact
from archivist.query.ast import Group, LineageTerm, Query
from archivist.query.parser import parse_query
from archivist.server.ui.render import page
from archivist.server.ui.routing import UiRoute
from archivist.server.ui.session import UiSession, open_session

router = APIRouter(route_class=UiRoute, include_in_schema=False)
PAGE = 50
#: the columns that sort, and the query language's key for each
SORTS = (("name", "name"), ("type", "type"), ("version", "version"), ("size", "size"),
         ("created", "created"))
FACETS = ("q", "type", "tag", "partition", "since", "until", "sort")


def _quoted(value: str) -> str:
    """A value as one token of the query language (quoted when it has spaces or quotes)."""
    if value and all(c.isalnum() or c in "._-*@/:" for c in value):
        return value
    return json.dumps(value, ensure_ascii=False)


def query_text(request: Request) -> str:
    """The query the page runs: the box, plus a term for every facet given."""
    params = request.query_params
    terms = [params.get("q", "").strip()]
    types = [t for t in params.getlist("type") if t]
    if types:
        terms.append("type:" + ",".join(_quoted(t) for t in types))
    for pair in params.getlist("tag"):
        key, sep, value = pair.partition(":")
        if sep and key.strip() and value.strip():
            terms.append(f"tag.{_quoted(key.strip())}:{_quoted(value.strip())}")
    for pair in params.getlist("partition"):
        key, sep, value = pair.partition("=")
        if sep and key.strip() and value.strip():
            terms.append(f"partition.{_quoted(key.strip())}={_quoted(value.strip())}")
    if params.get("since"):
        terms.append(f"created>={_quoted(params['since'])}")
    if params.get("until"):
        terms.append(f"created<{_quoted(params['until'])}")
    sort = params.get("sort", "")
    if sort.lstrip("-") in dict(SORTS) and "sort:" not in terms[0]:
        terms.append(f"sort:{sort}")
    return " ".join(t for t in _anded(terms) if t)


def _anded(terms: list[str]) -> list[str]:
    """The box, then the facet terms ANDed to all of it: ``a OR b`` becomes ``(a OR b)``,
    so a facet holds for every alternative. A box that does not parse stays alone, so
    its error is the box's (``a OR`` must not become ``a OR type:Model``)."""
    if len(terms) == 1:
        return terms
    try:
        parsed = parse_query(terms[0])
    except InvalidQueryError:
        return terms[:1]
    top = parsed.terms[0] if len(parsed.terms) == 1 else None
    if isinstance(top, Group) and not top.negated:
        return [f"({terms[0]})", *terms[1:]]
    return terms


def _link(request: Request, **changes: str | int | None) -> str:
    """This search's URL with some parameters changed (``None`` removes one)."""
    items = [(k, v) for k, v in request.query_params.multi_items()
             if k in (*FACETS, "page") and k not in changes]
    items += [(k, str(v)) for k, v in changes.items() if v is not None]
    return "/search?" + urlencode(items)


def _lineage_link(ui: UiSession, parsed: Query, text: str) -> str | None:
    """The lineage page of the version a ``downstream-of:``/``upstream-of:`` term names,
    with this query's results highlighted."""
    for term in parsed.terms:
        if isinstance(term, LineageTerm) and not term.negated:
            try:
                found = ui.service.get_version(ui.project, term.ref)
            except ArtifactNotFoundError:
                return None
            direction = "down" if term.direction == "downstream" else "up"
            return (f"/versions/{found.id}/lineage?" +
                    urlencode({"direction": direction, "highlight": text}))
    return None


@router.get("/search")
def search(request: Request) -> Response:
    ui = open_session(request)
    text = query_text(request)
    try:
        number = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        number = 1
    error = None
    results: list[Artifact] = []
    lineage = None
    try:
        parsed = parse_query(text)
        found = ui.service.search(ui.project, text, PAGE + 1, (number - 1) * PAGE)
        results, more = found[:PAGE], len(found) > PAGE
        lineage = _lineage_link(ui, parsed, text)
    except InvalidQueryError as exc:
        error, more = exc, False
    sort = request.query_params.get("sort", "")
    columns = []
    for label, key in SORTS:
        flipped = f"-{key}" if sort == key else key
        arrow = " ▲" if sort == key else " ▼" if sort == f"-{key}" else ""
        columns.append((_link(request, sort=flipped, page=None), label + arrow))
    status = 422 if error is not None else 200
    return page(request, "search.html", {
        "title": "Search", "text": text, "box": request.query_params.get("q", ""),
        "error": error, "results": results, "sort_columns": columns, "number": number,
        "previous": _link(request, page=number - 1) if number > 1 else None,
        "next": _link(request, page=number + 1) if more else None,
        "types": sorted(ui.service.count_types(ui.project).items()),
        "chosen_types": request.query_params.getlist("type"),
        "tags": [t for t in request.query_params.getlist("tag") if t.strip()],
        "partitions": [p for p in request.query_params.getlist("partition") if p.strip()],
        "since": request.query_params.get("since", ""),
        "until": request.query_params.get("until", ""),
        "sort": sort, "lineage": lineage, "offset": (number - 1) * PAGE}, status=status)
