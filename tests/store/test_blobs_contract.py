"""The blob-store contract (``archivist.store.blobs.Blobs``), one suite for every store: a
local folder (``LocalBlobs``), fsspec's ``memory://`` and S3 on a moto server
(``FsspecBlobs``), and a catalog server (``RemoteBlobs``).

What a store cannot do is declared once, in its fixture (:class:`Store`): a catalog
server frees its blobs itself, so a client's ``delete`` is refused. How bytes are spoiled
behind a store's back is the fixture's too. What only one store does (symlinks and
read-only files of a local folder, multipart uploads to S3, a remote download cache) is
tested beside it: ``test_blobs_local.py``, ``test_blobs_s3.py``, ``tests/remote``.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from archivist.backends.remote import RemoteCatalogBackend
from archivist.backends.remote.cache import BlobCache
from archivist.errors import IntegrityError, InvalidInputError, PermissionDeniedError
from archivist.server import ServerSettings
from archivist.store import FsspecBlobs, open_blobs
from archivist.store.blobs import Blobs
from tests.remote.harness import BASE_URL, in_process_server

SIZES = [0, 1, 4096, 1024 * 1024 + 7]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Store:
    blobs: Blobs
    #: overwrite a stored blob's bytes without the store knowing
    spoil: Callable[[str, bytes], None]
    #: whether ``delete`` frees bytes (else it is refused with PermissionDeniedError)
    deletes: bool = True


def _local(tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    blobs = open_blobs(tmp_path / "blobs")

    def spoil(digest: str, data: bytes) -> None:
        path = Path(blobs.path(digest))
        path.chmod(0o644)
        path.write_bytes(data)

    return Store(blobs, spoil)


def _memory(tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    blobs = FsspecBlobs(f"memory://archivist-contract-{uuid.uuid4().hex}")
    request.addfinalizer(lambda: blobs._fs.rm(blobs._root, recursive=True)
                         if blobs._fs.exists(blobs._root) else None)
    return Store(blobs, lambda digest, data: blobs._fs.pipe_file(blobs._key(digest), data))


def _s3(tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    blobs = FsspecBlobs(request.getfixturevalue("s3_blobs_url"))
    return Store(blobs, lambda digest, data: blobs._fs.pipe_file(blobs._key(digest), data))


def _remote(tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    stack = ExitStack()
    request.addfinalizer(stack.close)
    settings = ServerSettings(home=str(tmp_path / "server"), insecure_single_user=True)
    client = stack.enter_context(in_process_server(settings))
    backend = RemoteCatalogBackend(BASE_URL, None, client=client,
                                   cache=BlobCache(tmp_path / "cache", 64 * 1024 * 1024))
    stack.callback(backend.close)
    served = client.app.state.archivist.blobs("default")  # type: ignore[attr-defined]

    def spoil(digest: str, data: bytes) -> None:
        path = Path(served.path(digest))
        path.chmod(0o644)
        path.write_bytes(data)

    return Store(backend.blobs_for("default"), spoil, deletes=False)


MAKERS: dict[str, Callable[[Path, pytest.FixtureRequest], Store]] = {
    "local": _local, "memory": _memory, "s3": _s3, "remote": _remote}


@pytest.fixture(params=sorted(MAKERS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield MAKERS[str(request.param)](tmp_path, request)


@pytest.mark.parametrize("size", SIZES)
def test_every_put_stores_the_same_blob(store: Store, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    source = tmp_path / "source"
    source.write_bytes(data)
    blobs = store.blobs
    assert blobs.put_file(source) == (sha(data), size)
    assert blobs.put_bytes(data) == blobs.put_stream(io.BytesIO(data)) == (sha(data), size)
    with blobs.open(sha(data)) as reader:
        assert reader.read() == data
    assert blobs.exists(sha(data)) and blobs.size(sha(data)) == size
    assert blobs.check(sha(data)) == "ok" and blobs.mtime(sha(data)) > 0
    assert sha(data)[9:] in blobs.path(sha(data))  # after the fan-out folder, if any
    assert list(blobs.iter_digests()) == [sha(data)]  # stored once, however often put
    assert blobs.temp_files() == []


def test_put_many_files_with_and_without_hints(store: Store, tmp_path: Path) -> None:
    paths = []
    for i in range(6):
        path = tmp_path / f"f{i}"
        path.write_bytes(str(i % 3).encode())
        paths.append(path)
    found = store.blobs.put_many_files(paths)
    assert found == [(sha(str(i % 3).encode()), 1) for i in range(6)]
    assert store.blobs.put_many_files(paths[:2], digests=[found[0][0], None]) == found[:2]
    with pytest.raises(InvalidInputError):
        store.blobs.put_many_files(paths[:2], digests=[None])
    assert sorted(store.blobs.iter_digests()) == sorted({d for d, _ in found})


def test_put_many_files_refuses_a_symlink(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"pointed at")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(InvalidInputError, match="symlink"):
        store.blobs.put_many_files([link])
    assert list(store.blobs.iter_digests()) == []


def test_a_stream_of_short_reads_is_stored_whole(store: Store) -> None:
    data = os.urandom(300_000)

    class ShortReads:  # read() only, never more than 1000 bytes at a time
        def __init__(self) -> None:
            self._buffer = io.BytesIO(data)

        def read(self, n: int = -1, /) -> bytes:
            return self._buffer.read(min(n, 1000) if n > 0 else n)

    assert store.blobs.put_stream(ShortReads()) == (sha(data), len(data))
    with store.blobs.open(sha(data)) as reader:
        assert reader.read() == data


def test_fetch_to_writes_verified_bytes(store: Store, tmp_path: Path) -> None:
    digest, size = store.blobs.put_bytes(b"fetched bytes")
    assert store.blobs.fetch_to(digest, tmp_path / "out") == size
    assert (tmp_path / "out").read_bytes() == b"fetched bytes"


def test_missing_bytes_are_an_integrity_error(store: Store, tmp_path: Path) -> None:
    absent = sha(b"never stored")
    assert not store.blobs.exists(absent)
    assert store.blobs.check(absent) == "missing"
    with pytest.raises(IntegrityError, match="missing"):
        store.blobs.open(absent).read()
    with pytest.raises(IntegrityError):
        store.blobs.fetch_to(absent, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_spoiled_bytes_never_pass_as_good(store: Store, tmp_path: Path) -> None:
    digest, _ = store.blobs.put_bytes(b"the good bytes " * 100)
    store.spoil(digest, b"the evil bytes " * 100)  # same size, other content
    assert store.blobs.check(digest) == "corrupt"
    with pytest.raises(IntegrityError, match=digest[7:15]), store.blobs.open(digest) as reader:
        reader.read()
    with pytest.raises(IntegrityError):
        store.blobs.fetch_to(digest, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written is left where asked


@pytest.mark.parametrize("method", ["open", "exists", "size", "mtime", "check", "path",
                                    "delete"])
@pytest.mark.parametrize("digest", ["sha256:../../etc/passwd", "sha256:" + "A" * 64,
                                    "md5:" + "0" * 32, ""])
def test_malformed_digests_are_refused(store: Store, method: str, digest: str) -> None:
    with pytest.raises(InvalidInputError):
        getattr(store.blobs, method)(digest)


def test_delete_frees_or_is_refused(store: Store) -> None:
    kept, _ = store.blobs.put_bytes(b"kept")
    gone, _ = store.blobs.put_bytes(b"gone")
    if not store.deletes:
        with pytest.raises(PermissionDeniedError, match="gc"):
            store.blobs.delete(gone)
        assert store.blobs.exists(gone)
        return
    store.blobs.delete(gone)
    store.blobs.delete(gone)  # deleting what is not there is fine
    assert not store.blobs.exists(gone) and list(store.blobs.iter_digests()) == [kept]


def test_only_its_own_temp_files_can_be_removed(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "precious"
    outside.write_bytes(b"x")
    with pytest.raises(PermissionDeniedError):
        store.blobs.remove_temp(str(outside))
    assert outside.exists()


def test_a_source_that_cannot_be_read_is_a_typed_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        store.blobs.put_file(tmp_path / "no such file")
    assert list(store.blobs.iter_digests()) == []

