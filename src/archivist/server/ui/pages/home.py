"""The home page: what the project holds, which version each alias names, what ran."""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter, Request
from fastapi.responses import Response

from archivist.server.ui.render import page
from archivist.server.ui.routing import UiRoute
from archivist.server.ui.session import PROJECT_COOKIE, open_session

router = APIRouter(route_class=UiRoute, include_in_schema=False)
RECENT = 12
ALIASES = 300


@router.get("/")
def home(request: Request) -> Response:
    ui = open_session(request)
    service, project = ui.service, ui.project
    counts = sorted(service.count_types(project).items(), key=lambda kv: (-kv[1], kv[0]))
    by_name: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for name, alias, version_id, number in service.aliased(project, ALIASES):
        by_name[name].append((alias, version_id, number))
    recent = service.recent(project, RECENT)
    runs = service.list_runs(project, None, None, RECENT, 0)
    response = page(request, "home.html", {
        "title": project, "counts": counts, "total": sum(c for _, c in counts),
        "aliases": sorted(by_name.items()), "recent": recent, "runs": runs})
    if ui.single_user and request.query_params.get("project"):
        response.set_cookie(PROJECT_COOKIE, project, samesite="strict", path="/")
    return response
