"""API keys over HTTP: an admin key manages the keys of its own project."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from archivist import keys
from archivist.errors import InvalidInputError
from archivist.server import responses
from archivist.server.auth import project_not_found
from archivist.server.deps import PrincipalDep, StateDep
from archivist.server.schemas import KeyCreate, KeyCreated, KeyList

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.post("", status_code=201, response_model=KeyCreated,
             responses=responses.errors(403, 404))
def create_key(body: KeyCreate, state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """Make a key for the admin key's project. The secret (`key`) is in this response
    only; the server keeps its hash."""
    principal.require("admin")
    if not principal.sees(body.project):
        raise project_not_found(body.project)
    if body.name is not None and not body.name.strip():
        raise InvalidInputError("a key name must not be blank")
    key, secret = keys.create_key(state.store, body.project, body.scope, body.name)
    out = key.to_dict()
    del out["revoked_at"]
    return JSONResponse({**out, "key": secret}, status_code=201)


@router.get("", response_model=KeyList, responses=responses.errors(403))
def list_keys(state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """Keys of the admin key's project (all keys on an insecure single-user server),
    revoked ones included; never their secrets."""
    principal.require("admin")
    project = None if principal.key is None else principal.key.project
    return JSONResponse({"data": [k.to_dict() for k in keys.list_keys(state.store, project)]})


@router.delete("/{key_id}", status_code=204, response_class=Response,
               responses=responses.errors(403, 404))
def revoke_key(key_id: str, state: StateDep, principal: PrincipalDep) -> Response:
    """Revoke a key of the admin key's project (it authenticates no more)."""
    principal.require("admin")
    project = None if principal.key is None else principal.key.project
    keys.revoke_key(state.store, key_id, project=project)
    state.keys.forget(key_id)  # at once in this process; other processes within the TTL
    return responses.no_content()
