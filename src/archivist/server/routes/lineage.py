"""Lineage walks from a version."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from archivist import wire
from archivist.model import LineageRows
from archivist.server import responses
from archivist.server.auth import Principal
from archivist.server.checks import check_version_id
from archivist.server.deps import PrincipalDep, StateDep
from archivist.server.schemas import LineageOut
from archivist.server.state import ServerState

router = APIRouter(prefix="/api/v1", tags=["lineage"])


@router.get("/versions/{version_id}/lineage", response_model=LineageOut,
            responses=responses.errors(403, 404))
def lineage(
    version_id: str, state: StateDep, principal: PrincipalDep,
    direction: Annotated[Literal["up", "down", "both"], Query(
        description="up: parents and ancestors; down: children and descendants.")] = "both",
    depth: Annotated[int | None, Query(ge=1, le=1000, description=(
        "Hops to walk; omit for unbounded."))] = None,
) -> JSONResponse:
    """Parents/children one hop away, ids within `depth` hops, and the edges among them."""
    check_version_id(version_id)
    principal.version(state.backend.get_versions_by_id([version_id]), version_id, "read")
    rows = state.backend.lineage(version_id, direction, depth)
    return JSONResponse(wire.lineage_to_dict(_visible(state, principal, rows)))


def _visible(state: ServerState, principal: Principal, rows: LineageRows) -> LineageRows:
    """Leave out versions of projects the key does not see (a registration may name a
    parent of another project on a catalog without keys)."""
    if principal.key is None:
        return rows
    ids = list(dict.fromkeys([*rows.upstream, *rows.downstream, *rows.parents,
                              *rows.children, *(end for edge in rows.edges for end in edge)]))
    seen = {a.id for a in state.backend.get_versions_by_id(ids) if principal.sees(a.project)}
    keep = [i for i in ids if i in seen]
    if len(keep) == len(ids):
        return rows
    return LineageRows(parents=[i for i in rows.parents if i in seen],
                       children=[i for i in rows.children if i in seen],
                       upstream=[i for i in rows.upstream if i in seen],
                       downstream=[i for i in rows.downstream if i in seen],
                       edges=[(p, c) for p, c in rows.edges if p in seen and c in seen])
