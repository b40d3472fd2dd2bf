"""HTTP to a catalog server: one pooled ``httpx.Client``, retries, typed errors, pages.

Every call of the remote backend and the remote blob store goes through
:class:`Transport` (STYLE P6: local and remote differ by transport only). It

* sends ``Authorization: Bearer <api key>`` when a key is set;
* retries with exponential backoff (and ``Retry-After``) on connection failures and 5xx
  answers, but only for idempotent calls: ``GET``/``HEAD``/``PUT``/``DELETE`` and the
  read-only ``POST`` lookups that say so. A ``POST`` that creates something is sent once
  (a retry after a lost answer could create it twice), except when the connection could
  not even be opened: then nothing reached the server and sending again is safe;
* turns an error answer into the typed error the server raised (the envelope's ``type``
  through :data:`archivist.errors.ERRORS_BY_CODE`), so an ``ArtifactNotFoundError`` is a
  ``KeyError`` here as it is on the server;
* turns a server that stays unreachable into ``StorageError`` naming the URL.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from archivist.errors import ArchivistError, InvalidInputError, StorageError
from archivist.wire import MAX_PAGE, encode_cursor, error_from_dict

API = "/api/v1"
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=16)
try:
    USER_AGENT = f"archivist/{importlib.metadata.version('archivist')}"
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    USER_AGENT = "archivist"

#: Request body: bytes, or a factory of chunk iterables (called again for each attempt,
#: so a streamed upload can be retried from its start).
Body = bytes | Callable[[], Iterable[bytes]]
Params = list[tuple[str, str]] | Mapping[str, str]


class HttpClient(Protocol):
    """What the transport needs of a client: an ``httpx.Client``, an ``httpx2.Client``, or
    Starlette's ``TestClient`` (built on whichever of the two is installed) in tests.

    Only what both libraries spell the same way is used: ``build_request`` with plain
    values (no ``httpx.Timeout`` or ``httpx.QueryParams``, which the other library refuses
    or misreads), ``send``, ``close``, and the answers' ``status_code``, ``headers``,
    ``content``, ``json()`` and ``iter_bytes()``.
    """

    def build_request(self, method: str, url: str, *, params: Any = ..., json: Any = ...,
                      content: Any = ..., headers: Any = ...) -> Any: ...

    def send(self, request: Any, *, stream: bool = ..., follow_redirects: bool = ...) -> Any: ...

    def close(self) -> None: ...


def transport_errors() -> tuple[type[Exception], ...]:
    """The connection-level errors a client can raise: httpx's, and httpx2's once it is
    loaded (a client handed in may be built on it; nothing here imports it)."""
    other = sys.modules.get("httpx2")
    if other is None:
        return (httpx.TransportError,)
    return (httpx.TransportError, other.TransportError)


def _never_sent(exc: Exception) -> bool:
    """Whether ``exc`` says the connection never opened (so the request carried nothing)."""
    other = sys.modules.get("httpx2")
    unsent: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
    if other is not None:
        unsent += (other.ConnectError, other.ConnectTimeout)
    return isinstance(exc, unsent)


def segment(value: str, *, safe: str = "") -> str:
    """``value`` quoted as one path segment (``/`` included unless ``safe`` keeps it)."""
    return quote(value, safe=safe)


class Transport:
    """Requests to one catalog server.

    Obtain it from the backend (``RemoteCatalogBackend(url).transport``) or directly::

        transport = Transport("https://catalog.example.com", api_key="ak_…")
        transport.json("GET", "/api/v1/projects")

    Args:
        base_url: the server's URL (``http://host:port``; a path prefix is kept).
        api_key: sent as a Bearer token; ``None`` sends no credentials.
        client: an ``httpx.Client`` or ``httpx2.Client`` to use, with its own timeouts
            (tests pass a ``TestClient`` or one on a ``MockTransport``); it is not closed
            by :meth:`close`. ``None`` makes a pooled httpx client with ``timeout``.
        timeout: seconds, or an ``httpx.Timeout``, for the client made here (default:
            10 s to connect, 60 s between bytes).
        retries: extra attempts after the first for a retryable failure.
        backoff: seconds before the first retry; doubled each time, capped at ``max_delay``.
        sleep: how to wait (tests pass a recorder).

    Raises:
        InvalidInputError: ``base_url`` is not an ``http://`` or ``https://`` URL.
    """

    def __init__(self, base_url: str, api_key: str | None = None, *,
                 client: HttpClient | None = None,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT, retries: int = 4,
                 backoff: float = 0.2, max_delay: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidInputError(f"a catalog server URL must be http(s)://host[:port], "
                                    f"got {base_url!r}")
        self.base_url = str(url).rstrip("/")
        self.api_key = api_key
        self._owned = client is None
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._client: HttpClient = client if client is not None else self._new_client()
        self._pid = os.getpid()
        self.retries = retries
        self.backoff = backoff
        self.max_delay = max_delay
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    def _new_client(self) -> httpx.Client:
        return httpx.Client(timeout=self._timeout, limits=DEFAULT_LIMITS)

    def _pool(self) -> HttpClient:
        # A forked worker (flows run steps in processes) must not share the parent's
        # sockets: it gets a pool of its own, and leaves the parent's alone.
        if self._owned and os.getpid() != self._pid:
            self._client, self._pid = self._new_client(), os.getpid()
        return self._client

    def url(self, path: str) -> str:
        """The absolute URL of an API path (``/api/v1/…``)."""
        return self.base_url + path

    def close(self) -> None:
        """Close the connection pool (not a client that was passed in)."""
        if self._owned:
            self._client.close()

    # -- requests -------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Params | None = None,
                json: Any = None, content: Body | None = None,
                headers: Mapping[str, str] | None = None,
                idempotent: bool | None = None) -> httpx.Response:
        """Send a request and read the whole answer.

        Raises:
            ArchivistError: the typed error of an error answer (4xx/5xx).
            StorageError: the server could not be reached, after the retries.
        """
        response = self._send(method, path, params=params, json=json, content=content,
                              headers=headers, idempotent=idempotent, stream=False)
        self._raise_for(response)
        return response

    def json(self, method: str, path: str, *, params: Params | None = None,
             json: Any = None, idempotent: bool | None = None) -> Any:
        """:meth:`request` and decode the JSON answer (``None`` for an empty one).

        Raises:
            ArchivistError: as :meth:`request`.
            StorageError: also when the answer is not JSON.
        """
        response = self.request(method, path, params=params, json=json, idempotent=idempotent)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise StorageError(f"{method} {self.url(path)} answered {response.status_code} "
                               f"with a body that is not JSON: {response.text[:200]!r}") from None

    @contextlib.contextmanager
    def stream(self, method: str, path: str, *, params: Params | None = None,
               headers: Mapping[str, str] | None = None,
               follow_redirects: bool = False) -> Iterator[httpx.Response]:
        """Send a request and hand out the answer unread (downloads); closed on exit.

        Redirects are followed only when asked (a blob may redirect to a presigned URL;
        httpx drops the ``Authorization`` header when the host changes).

        Raises:
            ArchivistError: as :meth:`request` (the error body is read first).
            StorageError: as :meth:`request`.
        """
        response = self._send(method, path, params=params, json=None, content=None,
                              headers=headers, idempotent=None, stream=True,
                              follow_redirects=follow_redirects)
        try:
            self._raise_for(response)
            yield response
        finally:
            response.close()

    def collect(self, path: str, params: list[tuple[str, str]], *, limit: int,
                offset: int = 0) -> list[Any]:
        """Up to ``limit`` items of a paginated list from ``offset``, following
        ``next_cursor`` page by page (at most :data:`~archivist.wire.MAX_PAGE` a page).

        Raises:
            ArchivistError, StorageError: as :meth:`json`; ``StorageError`` also for an
                answer that is not ``{"data": [...], "next_cursor": …}``.
        """
        items: list[Any] = []
        cursor = encode_cursor(offset) if offset else None
        while len(items) < limit:
            page_params = [*params, ("limit", str(min(limit - len(items), MAX_PAGE)))]
            if cursor is not None:
                page_params.append(("cursor", cursor))
            body = self.json("GET", path, params=page_params)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise StorageError(f"GET {self.url(path)} did not answer a list page")
            items += body["data"]
            cursor = body.get("next_cursor")
            if not isinstance(cursor, str) or not body["data"]:
                break
        return items[:limit]

    # -- the retry loop -------------------------------------------------------------------
    def _send(self, method: str, path: str, *, params: Params | None, json: Any,
              content: Body | None, headers: Mapping[str, str] | None,
              idempotent: bool | None, stream: bool,
              follow_redirects: bool = False) -> httpx.Response:
        retry_all = method in IDEMPOTENT if idempotent is None else idempotent
        merged = {"User-Agent": USER_AGENT, **(headers or {})}
        if self.api_key:
            merged["Authorization"] = f"Bearer {self.api_key}"
        url = self.url(path)
        # a plain list of pairs, not httpx.QueryParams: a client of another httpx build
        # (Starlette's TestClient) would read a foreign QueryParams as a dict and drop
        # repeated keys (type=Model&type=Dataset)
        query: list[tuple[str, str | int | float | bool | None]] = (
            list(params.items()) if isinstance(params, Mapping) else list(params or ()))
        attempt = 0
        while True:
            body = content() if callable(content) else content
            client = self._pool()
            # no timeout here: a client handed in keeps its own (and an httpx2 client
            # refuses an httpx.Timeout)
            request = client.build_request(method, url, params=query, json=json,
                                           content=body, headers=merged)
            try:
                response: httpx.Response = client.send(
                    request, stream=stream, follow_redirects=follow_redirects)
            except transport_errors() as exc:
                # A connection that never opened carried nothing: safe to retry any call.
                if attempt < self.retries and (retry_all or _never_sent(exc)):
                    self._sleep(self._delay(attempt, None))
                    attempt += 1
                    continue
                raise StorageError(f"cannot reach the catalog server at {self.base_url} "
                                   f"({method} {path}): {type(exc).__name__}: {exc}",
                                   url=url) from exc
            if response.status_code >= 500 and retry_all and attempt < self.retries:
                delay = self._delay(attempt, response)
                response.close()
                self._sleep(delay)
                attempt += 1
                continue
            return response

    def pause(self, attempt: int) -> None:
        """Wait before retry number ``attempt + 1`` (exponential backoff with jitter)."""
        self._sleep(self._delay(attempt, None))

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        after = response.headers.get("Retry-After") if response is not None else None
        if after is not None and after.strip().isdigit():
            return min(float(after), self.max_delay)
        # Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): clients
        # retrying together do not stampede the server together.
        ceiling = min(self.backoff * 2 ** attempt, self.max_delay)
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        response.read()
        body: Any
        try:
            body = response.json() if response.content else ""
        except ValueError:
            body = response.text
        error: ArchivistError = error_from_dict(response.status_code, body)
        raise error
