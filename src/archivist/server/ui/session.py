"""Who is looking at the UI, in which project, and whether a form really comes from our
own pages.

Without ``--insecure-single-user`` a user logs in with an API key; the key is kept only
in an ``HttpOnly``, ``SameSite=Strict`` cookie (a page's scripts cannot read it, another
site's requests do not carry it) and is checked like a bearer key on every request.
Every form carries a token derived from that key and every write must come from this
origin (``Sec-Fetch-Site``/``Origin``), so another site cannot make a browser write.
A single-user server has no keys: its project comes from ``?project=`` or the
``archivist_project`` cookie (``default``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Request

from archivist import names
from archivist.errors import InvalidNameError, PermissionDeniedError, UnauthenticatedError
from archivist.server.auth import Principal
from archivist.server.deps import STATE_KEY
from archivist.server.service import Service
from archivist.server.state import ServerState

KEY_COOKIE = "archivist_key"
PROJECT_COOKIE = "archivist_project"
SCOPES = ("read", "write", "admin")


class LoginRequired(Exception):
    """The page needs a logged-in caller: answer with a redirect to the login page."""

    def __init__(self, next_url: str, message: str | None = None) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.message = message


@dataclass(frozen=True)
class UiSession:
    """The caller of one UI request."""

    service: Service
    project: str
    csrf: str
    single_user: bool

    @property
    def principal(self) -> Principal:
        return self.service.principal

    @property
    def can_write(self) -> bool:
        key = self.principal.key
        return key is None or SCOPES.index(key.scope) >= SCOPES.index("write")

    @property
    def who(self) -> str:
        key = self.principal.key
        return "single user" if key is None else f"{self.principal.user} ({key.scope})"


def state_of(request: Request) -> ServerState:
    state: ServerState = getattr(request.app.state, STATE_KEY)
    return state


def open_session(request: Request) -> UiSession:
    """The session of ``request`` (kept on ``request.state.ui`` for the templates).

    Raises:
        LoginRequired: a server with keys, and no valid key in the cookie.
        InvalidNameError: a malformed ``?project=``.
    """
    state = state_of(request)
    if state.settings.insecure_single_user:
        chosen = request.query_params.get("project") or request.cookies.get(PROJECT_COOKIE)
        project = _project(chosen)
        session = UiSession(Service(state, Principal(key=None)), project,
                            _token("single-user:" + project), single_user=True)
    else:
        secret = request.cookies.get(KEY_COOKIE)
        if not secret:
            raise LoginRequired(_here(request))
        key = state.keys.cached(secret)
        if key is None:
            try:
                key = state.keys.authenticate(secret)
            except UnauthenticatedError:
                raise LoginRequired(_here(request), "that key is not valid (any more): "
                                    "log in again") from None
        session = UiSession(Service(state, Principal(key=key)), key.project,
                            _token(secret), single_user=False)
    request.state.ui = session
    return session


def check_form(request: Request, session: UiSession, token: str | None) -> None:
    """A write from a form of this UI: same origin, and the session's token.

    Raises:
        PermissionDeniedError: another site's request, a missing or wrong token, or a
            key that cannot write.
    """
    check_same_origin(request)
    if token is None or not hmac.compare_digest(token, session.csrf):
        raise PermissionDeniedError("this form is stale or was not sent by this page: "
                                    "reload the page and try again")
    if not session.can_write:
        raise PermissionDeniedError("this API key can only read (scope read)")


def check_same_origin(request: Request) -> None:
    """Raises PermissionDeniedError when the browser says the request comes from another
    site (``Sec-Fetch-Site``) or origin (``Origin`` other than this host)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise PermissionDeniedError("a write sent from another site is refused")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise PermissionDeniedError("a write sent from another origin is refused")


def safe_next(value: str | None) -> str:
    """A local path to go back to after login (never another host)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="/")


def _project(value: str | None) -> str:
    if not value:
        return "default"
    try:
        return names.check_name(value, "project")
    except InvalidNameError:
        raise InvalidNameError(f"invalid project {value[:60]!r}") from None


def _token(secret: str) -> str:
    return hashlib.sha256(b"archivist-ui-form:" + secret.encode()).hexdigest()[:32]


def _here(request: Request) -> str:
    path = request.url.path
    return path + ("?" + request.url.query if request.url.query else "")
