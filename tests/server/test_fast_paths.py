"""The server's shortcuts keep their guarantees: the key cache (revocation at once here,
within the TTL elsewhere), ``Prefer: return=minimal`` on register, uploads adopted by the
store without a second copy."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from anyio import to_thread

from archivist import keys, wire
from archivist.backends.base import NewVersion
from archivist.errors import UnauthenticatedError
from archivist.ids import new_id
from archivist.server.keycache import KeyCache
from archivist.store import localfs
from archivist.store.blobs import FsspecBlobs
from archivist.store.hashing import hash_bytes
from tests.server.conftest import Server

API = "/api/v1"


class Lookups:
    """A ServerStore that counts key lookups."""

    def __init__(self, store: object) -> None:
        self.store = store
        self.calls = 0

    def get_key_by_hash(self, digest: str) -> tuple[keys.ApiKey, str]:
        self.calls += 1
        return self.store.get_key_by_hash(digest)  # type: ignore[attr-defined, no-any-return]


def test_a_cached_key_is_not_looked_up_again_until_the_ttl_ends(server: Server) -> None:
    now = [100.0]
    lookups = Lookups(server.state.store)
    cache = KeyCache(lookups, ttl=5.0, clock=lambda: now[0])  # type: ignore[arg-type]
    secret = server.secrets["read"]
    first = cache.authenticate(secret)
    assert cache.authenticate(secret) == first and lookups.calls == 1
    now[0] += 5.0
    assert cache.authenticate(secret) == first and lookups.calls == 2


def test_failures_are_not_cached_and_ttl_zero_caches_nothing(server: Server) -> None:
    lookups = Lookups(server.state.store)
    cache = KeyCache(lookups, ttl=5.0)  # type: ignore[arg-type]
    bad = keys.PREFIX + "x" * 43
    for _ in range(2):
        with pytest.raises(UnauthenticatedError):
            cache.authenticate(bad)
    assert lookups.calls == 2
    off = KeyCache(lookups, ttl=0)  # type: ignore[arg-type]
    off.authenticate(server.secrets["read"])
    off.authenticate(server.secrets["read"])
    assert lookups.calls == 4 and off.cached(server.secrets["read"]) is None


def test_a_key_revoked_through_this_server_is_refused_at_once(server: Server) -> None:
    made = server.client.post(f"{API}/keys", headers=server.auth("admin"),
                              json={"project": "p", "scope": "read", "name": "soon-gone"})
    assert made.status_code == 201
    victim = {"Authorization": f"Bearer {made.json()['key']}"}
    assert server.client.get(f"{API}/projects/p/versions", headers=victim).status_code == 200
    assert server.state.keys.cached(made.json()["key"]) is not None
    revoked = server.client.delete(f"{API}/keys/{made.json()['id']}",
                                   headers=server.auth("admin"))
    assert revoked.status_code == 204
    r = server.client.get(f"{API}/projects/p/versions", headers=victim)
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthenticated"


def test_a_key_revoked_elsewhere_works_here_only_within_the_ttl(server: Server) -> None:
    now = [100.0]
    server.state.keys = KeyCache(server.state.store, ttl=5.0, clock=lambda: now[0])
    key, secret = keys.create_key(server.state.store, "p", "read", "elsewhere")
    auth = {"Authorization": f"Bearer {secret}"}
    assert server.client.get(f"{API}/projects/p/versions", headers=auth).status_code == 200
    keys.revoke_key(server.state.store, key.id)  # as another process or the CLI would
    now[0] += 4.9
    assert server.client.get(f"{API}/projects/p/versions", headers=auth).status_code == 200
    now[0] += 0.1
    assert server.client.get(f"{API}/projects/p/versions", headers=auth).status_code == 401


def test_with_ttl_zero_a_revocation_elsewhere_is_seen_at_once(
        make_server: Callable[..., Server]) -> None:
    server = make_server(key_cache_ttl=0.0)
    key, secret = keys.create_key(server.state.store, "p", "read", "elsewhere")
    auth = {"Authorization": f"Bearer {secret}"}
    assert server.client.get(f"{API}/projects/p/versions", headers=auth).status_code == 200
    keys.revoke_key(server.state.store, key.id)
    assert server.client.get(f"{API}/projects/p/versions", headers=auth).status_code == 401


def _record(name: str) -> dict[str, object]:
    return wire.new_version_to_dict(NewVersion(
        id=new_id(), project="p", name=name, artifact_type="model", created_at=1.0e9,
        tags={"stage": "dev"}, metadata={"k": 1}))


def test_register_with_prefer_minimal_answers_empty_and_stores_the_same(server: Server) -> None:
    minimal = _record("minimal")
    r = server.client.post(f"{API}/projects/p/versions", headers={
        **server.auth("write"), "Prefer": "return=minimal"}, json={"versions": [minimal]})
    assert r.status_code == 201 and r.content == b""
    assert r.headers["preference-applied"] == "return=minimal"
    full = _record("full")
    r = server.client.post(f"{API}/projects/p/versions", headers=server.auth("write"),
                           json={"versions": [full]})
    assert r.status_code == 201 and r.json()["data"][0]["id"] == full["id"]
    got = server.client.post(f"{API}/versions/lookup", headers=server.auth("read"),
                             json={"ids": [minimal["id"]]}).json()["data"]
    assert [(a["name"], a["version"], a["tags"]) for a in got] == [("minimal", 1,
                                                                    {"stage": "dev"})]


def test_an_upload_is_adopted_by_a_local_store_not_copied(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_copy(*_args: object, **_kwargs: object) -> tuple[str, int]:
        raise AssertionError("the upload was copied again")

    monkeypatch.setattr(localfs.LocalBlobs, "put_file", no_copy)
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = hash_bytes(data)
    r = server.client.put(f"{API}/projects/p/blobs/{digest}", headers=server.auth("write"),
                          content=data)
    assert r.status_code == 201 and r.json() == {"digest": digest, "size": len(data)}
    blobs = server.state.blobs("p")
    stored = Path(blobs.path(digest))
    assert stored.read_bytes() == data and blobs.check(digest) == "ok"
    assert stored.stat().st_nlink == 1 and not (stat_mode := stored.stat().st_mode) & 0o222, \
        oct(stat_mode)
    assert blobs.temp_files() == []  # the spool became the blob: nothing left behind
    again = server.client.put(f"{API}/projects/p/blobs/{digest}", headers=server.auth("write"),
                              content=data)
    assert again.status_code == 201 and blobs.temp_files() == []


def test_a_wrong_digest_leaves_no_spool_in_the_store(server: Server) -> None:
    r = server.client.put(f"{API}/projects/p/blobs/{hash_bytes(b'other')}",
                          headers=server.auth("write"), content=b"these bytes")
    assert r.status_code == 422
    assert server.state.blobs("p").temp_files() == []
    assert not server.state.blobs("p").exists(hash_bytes(b"these bytes"))


def test_an_upload_to_an_fsspec_store_is_sent_from_the_spool(
        make_server: Callable[..., Server], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_respool(*_args: object, **_kwargs: object) -> tuple[str, int]:
        raise AssertionError("the upload was spooled again")

    monkeypatch.setattr(FsspecBlobs, "put_stream", no_respool)
    server = make_server(blobs=f"memory://{tmp_path.name}/{{{{project}}}}")
    data = b"x" * (2 * 1024 * 1024 + 5)
    digest = hash_bytes(data)
    r = server.client.put(f"{API}/projects/p/blobs/{digest}", headers=server.auth("write"),
                          content=data)
    assert r.status_code == 201, r.text
    blobs = server.state.blobs("p")
    assert type(blobs) is FsspecBlobs and blobs.size(digest) == len(data)
    with blobs.open(digest) as f:
        assert f.read() == data


def test_the_threadpool_is_sized_by_the_settings(make_server: Callable[..., Server]) -> None:
    async def tokens() -> float:
        return to_thread.current_default_thread_limiter().total_tokens

    server = make_server(threads=3)
    assert server.client.portal is not None
    assert server.client.portal.call(tokens) == 3
    assert server.client.get(f"{API}/projects/p/versions", headers=server.auth()).is_success
