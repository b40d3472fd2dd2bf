"""Transport: retries only where a repeat is harmless, typed errors, pages, credentials."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

import httpx
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

Handler = Callable[[httpx.Request], httpx.Response]


def scripted(*answers: httpx.Response | Exception) -> tuple[list[httpx.Request], Handler]:
    """A handler giving ``answers`` in turn, and the list of requests it saw."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return seen, handle


def transport(handler: Handler, *, api_key: str | None = None,
              sleeps: list[float] | None = None) -> Transport:
    record = sleeps if sleeps is not None else []
    return Transport("http://catalog.test", api_key,
                     client=httpx.Client(transport=httpx.MockTransport(handler)),
                     sleep=record.append)


def envelope(error: Exception, status: int) -> httpx.Response:
    assert isinstance(error, ArtifactNotFoundError | ConflictError | PermissionDeniedError |
                      InvalidQueryError | UnauthenticatedError | PayloadTooLargeError)
    return httpx.Response(status, json=wire.error_to_dict(error))


def test_a_get_is_retried_after_a_503_with_backoff() -> None:
    seen, handle = scripted(httpx.Response(503), httpx.Response(503),
                            httpx.Response(200, json={"data": ["default"]}))
    sleeps: list[float] = []
    assert transport(handle, sleeps=sleeps).json("GET", "/api/v1/projects") == {
        "data": ["default"]}
    assert len(seen) == 3
    assert len(sleeps) == 2 and 0 < sleeps[0] <= 0.2 and sleeps[1] <= 0.4


def test_a_post_that_creates_is_not_retried_after_a_503() -> None:
    seen, handle = scripted(httpx.Response(503), httpx.Response(201, json={"data": []}))
    with pytest.raises(StorageError):
        transport(handle).request("POST", "/api/v1/projects/p/versions", json={"versions": []})
    assert len(seen) == 1


def test_a_post_is_not_retried_after_a_read_error_but_is_when_nothing_was_sent() -> None:
    seen, handle = scripted(httpx.ReadError("connection reset"))
    with pytest.raises(StorageError, match="cannot reach the catalog server"):
        transport(handle).request("POST", "/api/v1/projects/p/versions", json={})
    assert len(seen) == 1
    seen, handle = scripted(httpx.ConnectError("refused"), httpx.Response(201, json={}))
    transport(handle).request("POST", "/api/v1/projects/p/versions", json={})
    assert len(seen) == 2


def test_read_only_posts_may_say_they_are_idempotent() -> None:
    seen, handle = scripted(httpx.Response(502), httpx.Response(200, json={"missing": []}))
    body = transport(handle).json("POST", "/api/v1/projects/p/blobs/missing",
                                  json={"digests": []}, idempotent=True)
    assert body == {"missing": []} and len(seen) == 2


def test_connection_errors_are_retried_then_reported_as_storage_errors() -> None:
    seen, handle = scripted(*[httpx.ConnectError("refused")] * 5)
    with pytest.raises(StorageError, match=r"catalog\.test"):
        transport(handle).json("GET", "/api/v1/projects")
    assert len(seen) == 5  # the first attempt and 4 retries


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    _, handle = scripted(httpx.Response(503, headers={"Retry-After": "2"}),
                         httpx.Response(503, headers={"Retry-After": "3600"}),
                         httpx.Response(200, json={}))
    sleeps: list[float] = []
    transport(handle, sleeps=sleeps).json("GET", "/api/v1/projects")
    assert sleeps == [2.0, 5.0]


def test_a_retried_upload_sends_its_whole_body_again() -> None:
    bodies: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        return httpx.Response(503 if len(bodies) == 1 else 201, json={})

    def chunks() -> list[bytes]:
        return [b"abc", b"def"]

    transport(handle).request("PUT", "/api/v1/projects/p/blobs/x", content=chunks)
    assert bodies == [b"abcdef", b"abcdef"]


@pytest.mark.parametrize("error, status", [
    (ArtifactNotFoundError("no artifact named 'x'"), 404),
    (ConflictError("deleted"), 409),
    (PermissionDeniedError("read-only key"), 403),
    (UnauthenticatedError("no key"), 401),
    (PayloadTooLargeError("over 10GB"), 413),
    (InvalidQueryError("unexpected ')'", position=3, token=")"), 422),
])
def test_error_answers_become_the_servers_typed_error(error: Exception, status: int) -> None:
    _, handle = scripted(envelope(error, status))
    with pytest.raises(type(error)) as raised:
        transport(handle).json("GET", "/api/v1/projects/p/refs/x")
    assert str(raised.value) == str(error)


def test_a_missing_version_is_a_key_error_remotely_too() -> None:
    _, handle = scripted(envelope(ArtifactNotFoundError("gone"), 404))
    with pytest.raises(KeyError):
        transport(handle).json("GET", "/api/v1/projects/p/refs/x")


def test_a_proxy_error_page_is_a_storage_error_naming_the_status() -> None:
    _, handle = scripted(*[httpx.Response(502, text="<html>Bad Gateway</html>")] * 5)
    with pytest.raises(StorageError, match="502"):
        transport(handle).json("GET", "/api/v1/projects")


def test_the_api_key_is_sent_as_a_bearer_token_and_none_without_one() -> None:
    seen, handle = scripted(httpx.Response(200, json={}), httpx.Response(200, json={}))
    transport(handle, api_key="ak_secret").json("GET", "/api/v1/projects")
    transport(handle).json("GET", "/api/v1/projects")
    assert seen[0].headers["Authorization"] == "Bearer ak_secret"
    assert "Authorization" not in seen[1].headers
    assert seen[0].headers["User-Agent"].startswith("archivist")


def test_collect_follows_cursors_until_the_limit() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        offset = wire.decode_cursor(request.url.params.get("cursor") or wire.encode_cursor(0))
        limit = int(request.url.params["limit"])
        data = list(range(offset, min(offset + limit, 2500)))
        return httpx.Response(200, json={"data": data, "next_cursor": wire.next_cursor(
            offset, limit, len(data))})

    t = transport(handle)
    assert t.collect("/api/v1/projects/p/versions", [], limit=2200) == list(range(2200))
    assert t.collect("/api/v1/projects/p/versions", [], limit=10, offset=2495) == list(
        range(2495, 2500))
    assert t.collect("/api/v1/projects/p/versions", [("type", "Model")], limit=3) == [0, 1, 2]


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
