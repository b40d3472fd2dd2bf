"""Remote blobs: asked by digest before sending, streamed, cached, verified."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from archivist import ArtifactCatalog, IntegrityError, StorageError
from archivist.backends.remote.blobs import RemoteBlobs
from archivist.backends.remote.cache import BlobCache
from archivist.backends.remote.transport import Transport
from archivist.store.hashing import hash_bytes
from tests.remote.harness import BASE_URL

MakeRemote = Callable[..., ArtifactCatalog]


def puts(seen: list[tuple[str, str]]) -> list[str]:
    return [path for method, path in seen if method == "PUT" and "/blobs/" in path]


def blob_gets(seen: list[tuple[str, str]]) -> list[str]:
    return [path for method, path in seen if method == "GET" and "/blobs/" in path]


def test_a_blob_the_server_has_is_never_sent_again(make_remote: MakeRemote, tmp_path: Path,
                                                   requests_seen: list[tuple[str, str]]) -> None:
    first, second = make_remote(), make_remote()
    (tmp_path / "model.bin").write_bytes(b"weights" * 1000)
    first.register("model", path=tmp_path / "model.bin")
    assert len(puts(requests_seen)) == 1
    with pytest.warns(UserWarning, match="already in the catalog"):
        second.register("copy", path=tmp_path / "model.bin")
        second.register("same", data=b"weights" * 1000, artifact_type="File")
    assert len(puts(requests_seen)) == 1  # asked by digest (HEAD) and not sent


def test_a_directory_sends_only_the_files_the_server_lacks(
        make_remote: MakeRemote, tmp_path: Path, requests_seen: list[tuple[str, str]]) -> None:
    catalog = make_remote()
    folder = tmp_path / "data"
    folder.mkdir()
    for n in range(5):
        (folder / f"part-{n}").write_bytes(f"part {n}".encode())
    catalog.register("data", path=folder)
    sent = len(puts(requests_seen))
    assert sent == 6  # five files and the manifest
    (folder / "part-2").write_bytes(b"changed")
    catalog.register("data", path=folder)
    assert len(puts(requests_seen)) == sent + 2  # the changed file and the new manifest
    assert any(path.endswith("/blobs/missing") for _, path in requests_seen)
    out = catalog.download("data:1", tmp_path / "out")
    assert (out / "part-2").read_bytes() == b"part 2"


def test_loading_a_version_twice_downloads_it_once(make_remote: MakeRemote,
                                                   requests_seen: list[tuple[str, str]]) -> None:
    writer, reader = make_remote(), make_remote()
    writer.register("blob", data=b"x" * 5000)
    assert reader.load("blob") == b"x" * 5000
    assert reader.load("blob") == b"x" * 5000
    with reader.open("blob") as handle:
        assert handle.read() == b"x" * 5000
    assert len(blob_gets(requests_seen)) == 1


def test_a_blob_over_the_cache_budget_streams_every_time(
        make_remote: MakeRemote, requests_seen: list[tuple[str, str]], tmp_path: Path) -> None:
    catalog = make_remote(budget=1000)
    catalog.register("big", data=b"y" * 5000)
    assert catalog.load("big") == b"y" * 5000
    assert catalog.load("big") == b"y" * 5000
    assert len(blob_gets(requests_seen)) == 2
    assert catalog.backend.cache.usage() == 0  # type: ignore[attr-defined]


def test_bytes_that_do_not_match_their_digest_are_refused_and_not_cached(tmp_path: Path) -> None:
    digest = hash_bytes(b"the real bytes")

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"tampered bytes")

    cache = BlobCache(tmp_path / "cache", budget=10_000)
    blobs = RemoteBlobs(Transport("http://catalog.test",
                                  client=httpx.Client(transport=httpx.MockTransport(handle))),
                        "p", cache)
    with pytest.raises(IntegrityError):
        blobs.open(digest).read()
    assert cache.usage() == 0
    uncached = RemoteBlobs(blobs.transport, "p", None)
    with pytest.raises(IntegrityError), uncached.open(digest) as stream:
        stream.read()
    assert not (tmp_path / "dest").exists()
    with pytest.raises(IntegrityError):
        uncached.fetch_to(digest, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_the_server_rehashes_what_it_is_sent(make_remote: MakeRemote) -> None:
    catalog = make_remote()
    blobs = catalog.blobs
    assert isinstance(blobs, RemoteBlobs)
    wrong = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ValueError, match=wrong[:20]):
        blobs.transport.request("PUT", f"/api/v1/projects/default/blobs/{wrong}",
                                content=b"these bytes")
    assert not blobs.exists(wrong)


def test_blob_facts_come_from_the_server(make_remote: MakeRemote) -> None:
    catalog = make_remote()
    digest, size = catalog.blobs.put_bytes(b"12345")
    assert catalog.blobs.exists(digest) and catalog.blobs.size(digest) == size == 5
    catalog.register("five", data=b"12345")  # downloads need a version referring to it
    assert catalog.blobs.local_path(digest) is None and catalog.blobs.local_root() is None
    assert catalog.blobs.path(digest).startswith(f"{BASE_URL}/api/v1/projects/default/")
    assert catalog.blobs.check(digest) == "ok"
    assert abs(catalog.blobs.mtime(digest) - time.time()) < 600  # Last-Modified
    missing = hash_bytes(b"never uploaded")
    assert not catalog.blobs.exists(missing) and catalog.blobs.check(missing) == "missing"
    with pytest.raises(IntegrityError):
        catalog.blobs.size(missing)


def test_with_a_store_per_project_bytes_follow_the_version_to_its_project(
        tmp_path: Path) -> None:
    from archivist.server.settings import ServerSettings
    from tests.remote.harness import in_process_server, remote_catalog

    settings = ServerSettings(database=f"sqlite:///{tmp_path / 'catalog.db'}",
                              blobs=str(tmp_path / "blobs" / "{{project}}"),
                              insecure_single_user=True)
    with (in_process_server(settings) as server,
          remote_catalog(server, tmp_path / "c1", project="team") as team,
          remote_catalog(server, tmp_path / "c2", project="other") as other):
        version_id = team.register("model", data=b"weights", project="other")
        assert other.load(version_id) == b"weights"
        assert list((tmp_path / "blobs" / "other").rglob("*"))


def test_digest_hints_skip_reading_what_the_server_has(
        make_remote: MakeRemote, tmp_path: Path, requests_seen: list[tuple[str, str]]) -> None:
    blobs = make_remote().blobs
    known, size = blobs.put_bytes(b"known content")
    (tmp_path / "a").write_bytes(b"known content")
    (tmp_path / "b").write_bytes(b"new content")
    before = len(puts(requests_seen))
    assert blobs.put_file(tmp_path / "a", digest=known) == (known, size)
    done = blobs.put_many_files([tmp_path / "a", tmp_path / "b"], digests=[known, None])
    assert done == [(known, size), (hash_bytes(b"new content"), 11)]
    assert len(puts(requests_seen)) == before + 1  # only b was sent
    stale = hash_bytes(b"not on the server")
    assert blobs.put_file(tmp_path / "b", digest=stale) == (hash_bytes(b"new content"), 11)


class _BreaksOff(httpx.SyncByteStream):
    """A body that sends ``good`` bytes and then loses the connection."""

    def __init__(self, good: bytes) -> None:
        self._good = good

    def __iter__(self) -> Iterator[bytes]:
        yield self._good
        raise httpx.ReadError("connection reset by peer")


def test_a_download_that_breaks_off_resumes_where_it_stopped(tmp_path: Path) -> None:
    data = bytes(range(256)) * 400
    digest = hash_bytes(data)
    ranges: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        ranges.append(request.headers.get("Range"))
        if len(ranges) == 1:
            return httpx.Response(200, headers={"Content-Length": str(len(data))},
                                  stream=_BreaksOff(data[:30_000]))
        start = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
        return httpx.Response(206, content=data[start:])

    transport = Transport("http://catalog.test", sleep=lambda _: None,
                          client=httpx.Client(transport=httpx.MockTransport(handle)))
    for cache in (None, BlobCache(tmp_path / "cache", budget=10**6)):
        ranges.clear()
        with RemoteBlobs(transport, "p", cache).open(digest) as stream:
            assert stream.read() == data
        assert ranges == [None, "bytes=30000-"]


def test_a_server_that_cannot_resume_fails_the_download_cleanly(tmp_path: Path) -> None:
    data = b"z" * 50_000

    def handle(request: httpx.Request) -> httpx.Response:
        if "Range" not in request.headers:
            return httpx.Response(200, headers={"Content-Length": str(len(data))},
                                  stream=_BreaksOff(data[:10_000]))
        return httpx.Response(200, content=data)  # ignores the Range header

    transport = Transport("http://catalog.test", sleep=lambda _: None,
                          client=httpx.Client(transport=httpx.MockTransport(handle)))
    blobs = RemoteBlobs(transport, "p", None)
    with pytest.raises(StorageError, match="cannot resume"):
        blobs.fetch_to(hash_bytes(data), tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_re_registering_a_tree_hashes_only_the_files_that_changed(
        make_remote: MakeRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import archivist.backends.remote.blobs as remote_blobs

    hashed: list[str] = []
    real = remote_blobs._hash_source

    def counting(path: Path, *, follow: bool) -> tuple[str, int]:
        hashed.append(Path(path).name)
        return real(path, follow=follow)

    monkeypatch.setattr(remote_blobs, "_hash_source", counting)
    folder = tmp_path / "tree"
    folder.mkdir()
    for n in range(4):
        (folder / f"f{n}").write_bytes(f"file {n}".encode())
    time.sleep(0.25)  # past the hash cache's racy window (a same-tick write could hide)
    catalog = make_remote()
    catalog.register("tree", path=folder)
    assert sorted(hashed) == ["f0", "f1", "f2", "f3"]
    hashed.clear()
    (folder / "f2").write_bytes(b"changed")
    catalog.register("tree", path=folder)
    assert hashed == ["f2"]
    assert (catalog.download("tree:2", tmp_path / "out") / "f2").read_bytes() == b"changed"
