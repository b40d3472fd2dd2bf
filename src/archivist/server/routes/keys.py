"""API keys over HTTP: an admin key manages the keys of its own project."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from archivist.server import responses
from archivist.server.deps import ServiceDep
from archivist.server.schemas import KeyCreate, KeyCreated, KeyList

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.post("", status_code=201, response_model=KeyCreated,
             responses=responses.errors(403, 404))
def create_key(body: KeyCreate, service: ServiceDep) -> JSONResponse:
    """Make a key for the admin key's project. The secret (`key`) is in this response
    only; the server keeps its hash."""
    key, secret = service.create_key(body.project, body.scope, body.name)
    out = key.to_dict()
    del out["revoked_at"]
    return JSONResponse({**out, "key": secret}, status_code=201)


@router.get("", response_model=KeyList, responses=responses.errors(403))
def list_keys(service: ServiceDep) -> JSONResponse:
    """Keys of the admin key's project (all keys on an insecure single-user server),
    revoked ones included; never their secrets."""
    return JSONResponse({"data": [k.to_dict() for k in service.list_keys()]})


@router.delete("/{key_id}", status_code=204, response_class=Response,
               responses=responses.errors(403, 404))
def revoke_key(key_id: str, service: ServiceDep) -> Response:
    """Revoke a key of the admin key's project (it authenticates no more)."""
    service.revoke_key(key_id)
    return responses.no_content()
