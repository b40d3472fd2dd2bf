"""Transport: retries only where a repeat is harmless, typed errors, pages, credentials.

Every test runs twice: with an ``httpx`` client and with an ``httpx2`` client, since a
client handed in (Starlette's ``TestClient`` above all) may be built on either.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx
import httpx2
import pytest

from archivist import wire
from archivist.backends.remote.transport import Transport
from archivist.errors import (
    ArtifactNotFoundError,
    ConflictError,
    InvalidQueryError,
    PayloadTooLargeError,
    PermissionDeniedError,
    StorageError,
    UnauthenticatedError,
)

Handler = Callable[[Any], Any]


@pytest.fixture(params=[httpx, httpx2], ids=lambda module: module.__name__)
def http(request: pytest.FixtureRequest) -> ModuleType:
    """The client library of the test: ``httpx`` or ``httpx2``."""
    module: ModuleType = request.param
    return module


def scripted(*answers: Any) -> tuple[list[Any], Handler]:
    """A handler giving ``answers`` (responses or exceptions) in turn, and the list of
    requests it saw."""
    seen: list[Any] = []
    queue = list(answers)

    def handle(request: Any) -> Any:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return seen, handle


def transport(http: ModuleType, handler: Handler, *, api_key: str | None = None,
              sleeps: list[float] | None = None) -> Transport:
    record = sleeps if sleeps is not None else []
    return Transport("http://catalog.test", api_key,
                     client=http.Client(transport=http.MockTransport(handler)),
                     sleep=record.append)


def envelope(http: ModuleType, error: Exception, status: int) -> Any:
    assert isinstance(error, ArtifactNotFoundError | ConflictError | PermissionDeniedError |
                      InvalidQueryError | UnauthenticatedError | PayloadTooLargeError)
    return http.Response(status, json=wire.error_to_dict(error))


def test_a_get_is_retried_after_a_503_with_backoff(http: ModuleType) -> None:
    seen, handle = scripted(http.Response(503), http.Response(503),
                            http.Response(200, json={"data": ["default"]}))
    sleeps: list[float] = []
    assert transport(http, handle, sleeps=sleeps).json("GET", "/api/v1/projects") == {
        "data": ["default"]}
    assert len(seen) == 3
    assert len(sleeps) == 2 and 0 < sleeps[0] <= 0.2 and sleeps[1] <= 0.4


def test_a_post_that_creates_is_not_retried_after_a_503(http: ModuleType) -> None:
    seen, handle = scripted(http.Response(503), http.Response(201, json={"data": []}))
    with pytest.raises(StorageError):
        transport(http, handle).request("POST", "/api/v1/projects/p/versions",
                                        json={"versions": []})
    assert len(seen) == 1


def test_a_post_is_not_retried_after_a_read_error_but_is_when_nothing_was_sent(
        http: ModuleType) -> None:
    seen, handle = scripted(http.ReadError("connection reset"))
    with pytest.raises(StorageError, match="cannot reach the catalog server"):
        transport(http, handle).request("POST", "/api/v1/projects/p/versions", json={})
    assert len(seen) == 1
    seen, handle = scripted(http.ConnectError("refused"), http.Response(201, json={}))
    transport(http, handle).request("POST", "/api/v1/projects/p/versions", json={})
    assert len(seen) == 2


def test_read_only_posts_may_say_they_are_idempotent(http: ModuleType) -> None:
    seen, handle = scripted(http.Response(502), http.Response(200, json={"missing": []}))
    body = transport(http, handle).json("POST", "/api/v1/projects/p/blobs/missing",
                                  json={"digests": []}, idempotent=True)
    assert body == {"missing": []} and len(seen) == 2


def test_connection_errors_are_retried_then_reported_as_storage_errors(http: ModuleType) -> None:
    seen, handle = scripted(*[http.ConnectError("refused")] * 5)
    with pytest.raises(StorageError, match=r"catalog\.test"):
        transport(http, handle).json("GET", "/api/v1/projects")
    assert len(seen) == 5  # the first attempt and 4 retries


def test_retry_after_is_honoured_up_to_the_cap(http: ModuleType) -> None:
    _, handle = scripted(http.Response(503, headers={"Retry-After": "2"}),
                         http.Response(503, headers={"Retry-After": "3600"}),
                         http.Response(200, json={}))
    sleeps: list[float] = []
    transport(http, handle, sleeps=sleeps).json("GET", "/api/v1/projects")
    assert sleeps == [2.0, 5.0]


def test_a_retried_upload_sends_its_whole_body_again(http: ModuleType) -> None:
    bodies: list[bytes] = []

    def handle(request: Any) -> Any:
        bodies.append(request.read())
        return http.Response(503 if len(bodies) == 1 else 201, json={})

    def chunks() -> list[bytes]:
        return [b"abc", b"def"]

    transport(http, handle).request("PUT", "/api/v1/projects/p/blobs/x", content=chunks)
    assert bodies == [b"abcdef", b"abcdef"]


@pytest.mark.parametrize("error, status", [
    (ArtifactNotFoundError("no artifact named 'x'"), 404),
    (ConflictError("deleted"), 409),
    (PermissionDeniedError("read-only key"), 403),
    (UnauthenticatedError("no key"), 401),
    (PayloadTooLargeError("over 10GB"), 413),
    (InvalidQueryError("unexpected ')'", position=3, token=")"), 422),
])
def test_error_answers_become_the_servers_typed_error(http: ModuleType, error: Exception,
                                                    status: int) -> None:
    _, handle = scripted(envelope(http, error, status))
    with pytest.raises(type(error)) as raised:
        transport(http, handle).json("GET", "/api/v1/projects/p/refs/x")
    assert str(raised.value) == str(error)


def test_a_missing_version_is_a_key_error_remotely_too(http: ModuleType) -> None:
    _, handle = scripted(envelope(http, ArtifactNotFoundError("gone"), 404))
    with pytest.raises(KeyError):
        transport(http, handle).json("GET", "/api/v1/projects/p/refs/x")


def test_a_proxy_error_page_is_a_storage_error_naming_the_status(http: ModuleType) -> None:
    _, handle = scripted(*[http.Response(502, text="<html>Bad Gateway</html>")] * 5)
    with pytest.raises(StorageError, match="502"):
        transport(http, handle).json("GET", "/api/v1/projects")


def test_the_api_key_is_sent_as_a_bearer_token_and_none_without_one(http: ModuleType) -> None:
    seen, handle = scripted(http.Response(200, json={}), http.Response(200, json={}))
    transport(http, handle, api_key="ak_secret").json("GET", "/api/v1/projects")
    transport(http, handle).json("GET", "/api/v1/projects")
    assert seen[0].headers["Authorization"] == "Bearer ak_secret"
    assert "Authorization" not in seen[1].headers
    assert seen[0].headers["User-Agent"].startswith("archivist")


def test_collect_follows_cursors_until_the_limit(http: ModuleType) -> None:
    def handle(request: Any) -> Any:
        offset = wire.decode_cursor(request.url.params.get("cursor") or wire.encode_cursor(0))
        limit = int(request.url.params["limit"])
        data = list(range(offset, min(offset + limit, 2500)))
        return http.Response(200, json={"data": data, "next_cursor": wire.next_cursor(
            offset, limit, len(data))})

    t = transport(http, handle)
    assert t.collect("/api/v1/projects/p/versions", [], limit=2200) == list(range(2200))
    assert t.collect("/api/v1/projects/p/versions", [], limit=10, offset=2495) == list(
        range(2495, 2500))
    assert t.collect("/api/v1/projects/p/versions", [("type", "Model")], limit=3) == [0, 1, 2]


def test_a_client_handed_in_keeps_its_own_timeouts(http: ModuleType) -> None:
    seen, handle = scripted(http.Response(200, json={}))
    client = http.Client(transport=http.MockTransport(handle), timeout=http.Timeout(3.0))
    Transport("http://catalog.test", client=client).json("GET", "/api/v1/projects")
    assert seen[0].extensions["timeout"] == {"connect": 3.0, "read": 3.0, "write": 3.0,
                                             "pool": 3.0}


def test_the_pool_made_here_has_the_timeouts_asked_for() -> None:
    own = Transport("http://catalog.test", timeout=7.5)._pool()
    assert isinstance(own, httpx.Client) and own.timeout == httpx.Timeout(7.5)
    default = Transport("http://catalog.test")._pool()
    assert isinstance(default, httpx.Client)
    assert (default.timeout.connect, default.timeout.read) == (10.0, 60.0)


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="http"):
        Transport("ftp://catalog.test")


def _child_pool_is_its_own(t: Transport, parent_pool_id: int, out: Any) -> None:
    out.put(id(t._pool()) != parent_pool_id and id(t._pool()) == id(t._pool()))


def test_a_forked_worker_gets_its_own_connection_pool() -> None:
    t = Transport("http://catalog.test")
    parent_pool = t._pool()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_child_pool_is_its_own, args=(t, id(parent_pool), out))
    child.start()
    child.join(30)
    assert out.get(timeout=5) is True
    assert t._pool() is parent_pool  # the parent keeps its own
    t.close()
