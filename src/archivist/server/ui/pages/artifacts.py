"""The page of an artifact name: every version with its aliases, the name's change
history, and how a metric moved across the versions."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from archivist import names
from archivist.errors import ArtifactNotFoundError
from archivist.model import ListFilter
from archivist.server.ui.charts import line_chart, metric_series
from archivist.server.ui.lookups import version_refs
from archivist.server.ui.render import page
from archivist.server.ui.routing import UiRoute
from archivist.server.ui.session import open_session

router = APIRouter(route_class=UiRoute, include_in_schema=False)
PAGE = 50
#: versions a metric chart spans (the newest ones)
CHARTED = 200
#: changes shown (the newest)
HISTORY = 50


@router.get("/artifacts/{name}")
def artifact(request: Request, name: str, page_number: int = 1) -> Response:
    ui = open_session(request)
    service, project = ui.service, ui.project
    name = names.check_name(name)
    number = max(page_number, 1)
    # The first page reads the newest CHARTED versions once: the table shows PAGE of
    # them, the chart all of them. Later pages read their PAGE (+1: is there more?).
    wanted = CHARTED if number == 1 else PAGE + 1
    found = service.list_versions(ListFilter(project=project, name=name, limit=wanted,
                                             offset=(number - 1) * PAGE))
    if not found and number == 1:
        raise ArtifactNotFoundError(f"no live version of {name!r} in project {project!r}")
    versions, more = found[:PAGE], len(found) > PAGE
    charted = found if number == 1 else service.list_versions(
        ListFilter(project=project, name=name, limit=CHARTED))
    series = metric_series(charted)
    chosen = request.query_params.get("metric")
    if chosen not in series:
        chosen = next((m for m in ("accuracy", "f1_score", "auc", "loss") if m in series),
                      next(iter(series), None))
    chart = line_chart(series[chosen]) if chosen else None
    history = service.history(project, name, limit=HISTORY)
    base = f"/artifacts/{quote(name, safe='')}"
    return page(request, "artifact.html", {
        "title": name, "name": name, "results": versions, "metrics": sorted(series),
        "metric": chosen, "chart": chart, "history": list(reversed(history)),
        "refs": version_refs(ui, history), "history_limit": HISTORY,
        "previous": f"{base}?page_number={number - 1}" if number > 1 else None,
        "next": f"{base}?page_number={number + 1}" if more else None, "base": base})
