"""Dependencies of the routes, as types (STYLE P26): the server state, the caller, and
the project a route works in, checked for the scope the route needs.

    @router.get("/projects/{project}/versions")
    def list_versions(project: ReadProject, service: ServiceDep) -> …
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from archivist.errors import UnauthenticatedError
from archivist.server.auth import Principal
from archivist.server.service import Service
from archivist.server.state import ServerState

STATE_KEY = "archivist"
_bearer = HTTPBearer(auto_error=False, description="An API key: `archivist keys create`.")


# Dependencies that do no I/O are ``async``: FastAPI runs a sync one in the threadpool,
# a hop that costs more than the work (~0.1 ms each under load). Each dependency is also
# a node FastAPI solves on every request (~25 µs each on the benchmark VM, cached or
# not): the caller and the service read the state off the request rather than
# depending on ``StateDep``, so a route with a project and a service solves six nodes,
# not nine.
def _state(request: Request) -> ServerState:
    state: ServerState = getattr(request.app.state, STATE_KEY)
    return state


async def get_state(request: Request) -> ServerState:
    return _state(request)


StateDep = Annotated[ServerState, Depends(get_state)]


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <key>``: a key that authenticated in the
    last seconds comes from the process's cache (:mod:`archivist.server.keycache`), any
    other is looked up in the database, in the threadpool.

    Raises:
        UnauthenticatedError: no key, or not a valid one (unless the server runs in
            insecure single-user mode, where there are no keys).
    """
    state = _state(request)
    if state.settings.insecure_single_user:
        return Principal(key=None)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthenticatedError(
            "this server needs an API key: send 'Authorization: Bearer <key>' "
            "(set ARCHIVIST_CATALOG_API_KEY for the Python client and the CLI)")
    secret = credentials.credentials
    key = state.keys.cached(secret)
    if key is None:
        key = await run_in_threadpool(state.keys.authenticate, secret)
    return Principal(key=key)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_service(request: Request, principal: PrincipalDep) -> Service:
    """What the caller may do (:class:`archivist.server.service.Service`)."""
    return Service(_state(request), principal)


ServiceDep = Annotated[Service, Depends(get_service)]

ProjectPath = Annotated[str, Path(description="Project (namespace) name.",
                                  examples=["default"])]


def _project_with(needed: str) -> Callable[[ProjectPath, PrincipalDep], Awaitable[str]]:
    async def project_access(project: ProjectPath, principal: PrincipalDep) -> str:
        return principal.enter(project, needed)

    project_access.__name__ = f"project_{needed}"
    return project_access


ReadProject = Annotated[str, Depends(_project_with("read"))]
WriteProject = Annotated[str, Depends(_project_with("write"))]
AdminProject = Annotated[str, Depends(_project_with("admin"))]
