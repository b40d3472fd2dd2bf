"""The page of one version: what it is, who made it from what, its content (a dataset's
schema, preview and statistics, a plot, a model's metrics), and its tags and aliases,
which a caller with a ``write`` key can change here."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from archivist.errors import ArchivistError, InvalidInputError
from archivist.model import Artifact, RunRecord
from archivist.server.ui.charts import histogram
from archivist.server.ui.lookups import manifest_of, version_refs, visible_version
from archivist.server.ui.render import page
from archivist.server.ui.routing import UiRoute
from archivist.server.ui.session import UiSession, check_form, open_session

router = APIRouter(route_class=UiRoute, include_in_schema=False)
#: metadata keys shown in their own sections rather than in the JSON
SHOWN_APART = ("schema", "preview", "stats", "metrics")
NEIGHBOURS = 200
HISTORY = 200
#: files of a directory listed on its page (the archive holds them all)
FILES = 1000


@router.get("/versions/{version_id}")
def version(request: Request, version_id: str) -> Response:
    ui = open_session(request)
    artifact = visible_version(ui, version_id)
    service = ui.service
    history = service.history(artifact.project, artifact.name, version_id=artifact.id,
                              limit=HISTORY)
    parents = service.lookup(artifact.parent_ids[:NEIGHBOURS])
    children = service.lookup(service.lineage(artifact.id, "down", 1).children[:NEIGHBOURS])
    run = _run(ui, artifact)
    stats = artifact.metadata.get("stats")
    columns = [(column, values, histogram(values))
               for column, values in (stats.items() if isinstance(stats, dict) else ())
               if isinstance(values, dict)]
    rest = {k: v for k, v in artifact.metadata.items() if k not in SHOWN_APART}
    files = manifest_of(ui, artifact).entries[:FILES] if artifact.kind == "directory" else ()
    return page(request, "version.html", {
        "title": f"{artifact.name}:{artifact.version}", "a": artifact, "history": history,
        "parents": parents, "children": children, "run": run,
        "refs": version_refs(ui, history),
        "schema": _list_of_dicts(artifact.metadata.get("schema")),
        "preview": _list_of_dicts(artifact.metadata.get("preview")),
        "columns": columns, "metrics": _metrics(artifact), "metadata": rest,
        "ref": f"{artifact.name}:{artifact.version}", "files": files, "more_files": FILES,
        "is_image": artifact.format == "png" and artifact.kind == "file"})


@router.post("/versions/{version_id}/tags")
def change_tag(request: Request, version_id: str, key: Annotated[str, Form()],
               action: Annotated[str, Form()] = "set", value: Annotated[str, Form()] = "",
               csrf: Annotated[str | None, Form()] = None) -> Response:
    ui = open_session(request)
    check_form(request, ui, csrf)
    visible_version(ui, version_id)
    if action == "remove":
        ui.service.update_tags(version_id, {}, [key.strip()])
    else:
        ui.service.update_tags(version_id, {key.strip(): tag_value(value)}, [])
    return RedirectResponse(f"/versions/{version_id}", status_code=303)


@router.post("/versions/{version_id}/aliases")
def change_alias(request: Request, version_id: str, alias: Annotated[str, Form()],
                 action: Annotated[str, Form()] = "set",
                 csrf: Annotated[str | None, Form()] = None) -> Response:
    ui = open_session(request)
    check_form(request, ui, csrf)
    artifact = visible_version(ui, version_id)
    if action == "remove":
        ui.service.remove_alias(artifact.project, artifact.name, alias.strip())
    else:
        ui.service.set_alias(version_id, alias.strip())
    return RedirectResponse(f"/versions/{version_id}", status_code=303)


def tag_value(text: str) -> Any:
    """A tag value typed in a form: a JSON number, ``true``/``false`` or ``null`` when it
    reads as one, else the text itself (as the CLI's ``tag`` does)."""
    stripped = text.strip()
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return stripped
    if isinstance(parsed, dict | list):
        raise InvalidInputError("a tag value is a string, a number, true, false or null")
    return parsed


def _run(ui: UiSession, artifact: Artifact) -> RunRecord | None:
    if not artifact.source_run_id:
        return None
    try:
        return ui.service.get_run(artifact.project, artifact.source_run_id)
    except ArchivistError:  # a run id recorded by hand, or of a run not kept
        return None


def _list_of_dicts(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [row for row in value if isinstance(row, dict)]


def _metrics(artifact: Artifact) -> dict[str, Any]:
    """``metadata.metrics``, or for a model without it, its numeric metadata."""
    found = artifact.metadata.get("metrics")
    if isinstance(found, dict):
        return dict(found)
    if artifact.artifact_type.lower() != "model":
        return {}
    return {k: v for k, v in artifact.metadata.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}
