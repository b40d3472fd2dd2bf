"""``FsspecBlobs`` on S3 (s3fs against the moto server of tests/fixtures/s3.py).

Streaming is measured in a child process (``spawn``): the moto server lives in this one
and holds every object in memory, so only a process that is purely the client shows
what the client keeps in memory.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archivist import StorageError
from archivist.store.blobs import FsspecBlobs

SIZE = 64 * 1024 * 1024
#: Well under the file's size: an upload or download that held the file whole would
#: grow the client's peak memory by at least 64 MB.
MAX_GROWTH = 40 * 1024 * 1024


def _write_random(path: Path, size: int) -> str:
    """Write ``size`` pseudo-random bytes in 1 MiB pieces; return their sha256 hex."""
    sha = hashlib.sha256()
    with path.open("wb") as out:
        block = os.urandom(1024 * 1024)
        for i in range(size // len(block)):
            piece = hashlib.sha256(i.to_bytes(8, "big")).digest() + block[32:]
            sha.update(piece)
            out.write(piece)
    return sha.hexdigest()


def _sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            sha.update(chunk)
    return sha.hexdigest()


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def transfer_child(url: str, action: str, path: str, digest: str, queue: Any) -> None:
    """In a fresh process: ``put`` the file ``path``, or ``get`` ``digest`` into it;
    report the result and how much the process's peak memory grew doing it."""
    try:
        blobs = FsspecBlobs(url)
        warm, _ = blobs.put_bytes(b"warm-up: imports, connection pool, event loop")
        blobs.fetch_to(warm, path + ".warm")
        before = _peak_rss()
        if action == "put":
            digest, size = blobs.put_file(path)
        else:
            size = blobs.fetch_to(digest, path)
        queue.put({"digest": digest, "size": size, "growth": _peak_rss() - before})
    except BaseException as exc:
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def _in_child(*args: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=transfer_child, args=(*args, queue))
    child.start()
    try:
        result: dict[str, Any] = queue.get(timeout=300)
    finally:
        child.join(timeout=60)
    assert "error" not in result, result["error"]
    return result


def test_a_large_file_streams_both_ways(s3_blobs_url: str, s3_client: Any,
                                        tmp_path: Path) -> None:
    source, dest = tmp_path / "source.bin", tmp_path / "dest.bin"
    expected = _write_random(source, SIZE)
    put = _in_child(s3_blobs_url, "put", str(source), "")
    got = _in_child(s3_blobs_url, "get", str(dest), put["digest"])
    print(f"\n64 MB through S3: client peak memory grew {put['growth'] >> 20} MB uploading, "
          f"{got['growth'] >> 20} MB downloading")
    assert put["digest"] == f"sha256:{expected}"
    assert put["size"] == got["size"] == SIZE
    assert _sha256_file(dest) == expected
    assert put["growth"] < MAX_GROWTH, put
    assert got["growth"] < MAX_GROWTH, got
    # Sent as a multipart upload (ETag "<md5>-<parts>"), so never in one piece.
    bucket, _, prefix = s3_blobs_url.removeprefix("s3://").partition("/")
    key = f"{prefix}/sha256/{expected[:2]}/{expected[2:]}"
    etag = s3_client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    assert "-" in etag and int(etag.rsplit("-", 1)[1]) >= 4, etag


def _objects(s3_client: Any, url: str) -> tuple[list[str], list[str]]:
    """Keys under the store's bucket, and its unfinished multipart uploads."""
    bucket = url.removeprefix("s3://").partition("/")[0]
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    uploads = [u["Key"] for u in s3_client.list_multipart_uploads(Bucket=bucket)
               .get("Uploads", [])]
    return keys, uploads


def _fail_on(blobs: FsspecBlobs, call: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the store's S3 client fail ``call`` as a server error would (s3fs turns those
    into ``OSError``); return the log of calls made. The S3 client has no fault seam of
    its own, so the test patches its one door, ``_call_s3``."""
    fs = blobs._fs  # the s3fs filesystem behind the store
    original: Callable[..., Any] = fs._call_s3
    made: list[str] = []

    async def failing(method: str, *args: Any, **kwargs: Any) -> Any:
        made.append(method)
        if method == call:
            raise OSError(5, f"injected failure of {method}")
        return await original(method, *args, **kwargs)

    monkeypatch.setattr(fs, "_call_s3", failing)
    return made


@pytest.mark.parametrize("call", ["put_object", "upload_part", "complete_multipart_upload"])
def test_a_failed_upload_leaves_nothing_visible(s3_blobs_url: str, s3_client: Any,
                                                tmp_path: Path, call: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    source = tmp_path / "source.bin"
    if call == "put_object":  # small: one PUT
        source.write_bytes(b"x" * 1024)
        digest = f"sha256:{hashlib.sha256(b'x' * 1024).hexdigest()}"
    else:  # 20 MB: a multipart upload
        digest = f"sha256:{_write_random(source, 20 * 1024 * 1024)}"
    blobs = FsspecBlobs(s3_blobs_url)
    made = _fail_on(blobs, call, monkeypatch)
    with pytest.raises(StorageError, match="injected failure"):
        blobs.put_file(source)
    assert call in made
    assert not blobs.exists(digest)
    assert list(blobs.iter_digests()) == []
    assert _objects(s3_client, s3_blobs_url) == ([], [])  # no object, no upload left open
    assert [p for p in spool.rglob("*") if not p.is_dir()] == []  # the spool is gone too
    monkeypatch.undo()
    assert FsspecBlobs(s3_blobs_url).put_file(source)[0] == digest  # and a retry works


def test_a_source_that_fails_midway_uploads_nothing(s3_blobs_url: str,
                                                    s3_client: Any) -> None:
    class Failing:
        def __init__(self) -> None:
            self.sent = 0

        def read(self, n: int = -1) -> bytes:
            if self.sent >= 3 * 1024 * 1024:
                raise OSError(5, "disk went away")
            self.sent += 1024 * 1024
            return b"y" * (1024 * 1024)

    with pytest.raises(StorageError):
        FsspecBlobs(s3_blobs_url).put_stream(Failing())
    assert _objects(s3_client, s3_blobs_url) == ([], [])


def test_a_blob_another_writer_landed_is_seen_at_once(s3_blobs_url: str) -> None:
    """Two stores on one bucket (two processes or servers) see each other's changes at
    once. (fsspec would hand this process one shared instance; the second store asks for
    its own, as another process has. C12 in tests/reliability runs this across processes.)"""
    first = FsspecBlobs(s3_blobs_url)
    second = FsspecBlobs(s3_blobs_url, storage_options={"skip_instance_cache": True})
    assert first._fs is not second._fs
    assert list(second.iter_digests()) == []  # a listing that a cache could keep
    digest, _ = first.put_bytes(b"landed by the first writer")
    assert second.exists(digest)
    assert list(second.iter_digests()) == [digest]
    second.delete(digest)
    assert not first.exists(digest)
    assert list(first.iter_digests()) == []
