"""The compare page: two to six versions side by side, their differences marked.

``/compare?v=REF&v=REF…``: each ``REF`` a version id (deleted versions too, as on their
own page) or a reference of the project (``name``, ``name:3``, ``name@alias``). With fewer
than two references the page is a form to pick them; a reference that names nothing
shows that form again with the reason.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from archivist.errors import ArchivistError
from archivist.model import Artifact
from archivist.names import ID_PATTERN
from archivist.server.ui.compare import compare
from archivist.server.ui.lookups import visible_version
from archivist.server.ui.render import page
from archivist.server.ui.routing import UiRoute
from archivist.server.ui.session import UiSession, open_session

router = APIRouter(route_class=UiRoute, include_in_schema=False)
MIN_VERSIONS = 2
MAX_VERSIONS = 6
#: recent versions offered as suggestions in the form's inputs
SUGGESTIONS = 100


@router.get("/compare")
def compare_page(request: Request) -> Response:
    ui = open_session(request)
    refs = [ref.strip() for ref in request.query_params.getlist("v") if ref.strip()]
    if len(refs) > MAX_VERSIONS:
        return _picker(request, ui, refs, [f"compare takes at most {MAX_VERSIONS} versions, "
                                           f"got {len(refs)}: leave some out"], 422)
    if len(refs) < MIN_VERSIONS:
        return _picker(request, ui, refs, [], 200)
    versions: list[Artifact] = []
    errors: list[str] = []
    status = 200
    for ref in refs:
        try:
            versions.append(_resolve(ui, ref))
        except ArchivistError as exc:
            errors.append(f"{ref[:80]}: {exc.message}")
            status = max(status, exc.status)
    if errors:
        return _picker(request, ui, refs, errors, status)
    only_changes = request.query_params.get("changes") == "1"
    moves = [{"baseline": _url([ref, *refs[:i], *refs[i + 1:]], only_changes),
              "drop": _url([*refs[:i], *refs[i + 1:]], only_changes)}
             for i, ref in enumerate(refs)]
    return page(request, "compare.html", {
        "title": "Compare " + " vs ".join(a.ref for a in versions), "c": compare(versions),
        "refs": refs, "errors": [], "moves": moves, "only_changes": only_changes,
        "toggle": _url(refs, not only_changes), "max_versions": MAX_VERSIONS,
        "suggestions": _suggestions(ui)})


def _url(refs: list[str], only_changes: bool) -> str:
    """The compare page of ``refs``, showing only the rows that differ or all."""
    query = [("v", ref) for ref in refs] + ([("changes", "1")] if only_changes else [])
    return "/compare?" + urlencode(query)


def _resolve(ui: UiSession, ref: str) -> Artifact:
    """The version ``ref`` names: by id (any visible project, deleted too) or by
    reference in the caller's project."""
    if ID_PATTERN.fullmatch(ref):
        return visible_version(ui, ref)
    return ui.service.get_version(ui.project, ref)


def _picker(request: Request, ui: UiSession, refs: list[str], errors: list[str],
            status: int) -> Response:
    return page(request, "compare.html", {
        "title": "Compare versions", "c": None, "refs": refs, "errors": errors, "moves": [],
        "only_changes": False, "toggle": "", "max_versions": MAX_VERSIONS,
        "suggestions": _suggestions(ui)}, status=status)


def _suggestions(ui: UiSession) -> list[str]:
    """References to recent versions of the project, for the inputs' completion list."""
    recent = ui.service.recent(ui.project, SUGGESTIONS)
    refs = [a.ref for a in recent]
    refs += [f"{a.name}@{alias}" for a in recent for alias in a.aliases]
    return list(dict.fromkeys(refs))
