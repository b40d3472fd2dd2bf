"""A large blob through a real uvicorn server: memory stays flat both ways.

The upload is streamed from a generator (never in memory on the client either), spooled
and hashed by the server, and downloaded again in chunks; the server's resident memory
is sampled all along and may grow by less than 100 MB.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from archivist import keys
from archivist.backends.sql.backend import SqlBackend
from archivist.ids import new_id
from tests.server.processes import server_process

SIZE = 1024**3  # 1 GiB
CHUNK = 1024**2
LIMIT = 100 * 1024**2


def _body() -> Iterator[bytes]:
    block = bytes(range(256)) * (CHUNK // 256)
    for i in range(SIZE // CHUNK):
        yield block[i % 256:] + block[:i % 256]  # every chunk differs a little


def _digest() -> str:
    hasher = hashlib.sha256()
    for chunk in _body():
        hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


class Peak(threading.Thread):
    """Samples a process's RSS every 50 ms; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, self.process.memory_info().rss)


@pytest.mark.slow
def test_one_gib_up_and_down_in_flat_memory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = SqlBackend(f"sqlite:///{home / 'catalog.db'}")
    _, secret = keys.create_key(store, "p", "write")
    store.close()
    digest = _digest()
    headers = {"Authorization": f"Bearer {secret}"}
    with server_process(["--home", str(home), "--max-blob-size", "2GiB"],
                        tmp_path / "server.log") as server, httpx.Client(
            base_url=server.url, headers=headers, timeout=600) as client:
        client.get("/api/v1/projects", headers=headers)  # warm up imports and the pool
        peak = Peak(server.pid)
        baseline = peak.peak
        peak.start()
        started = time.monotonic()
        r = client.put(f"/api/v1/projects/p/blobs/{digest}", content=_body(),
                       headers={"content-type": "application/octet-stream"})
        up = time.monotonic() - started
        assert r.status_code == 201, r.text
        record = {"id": new_id(), "project": "p", "name": "big", "artifact_type": "file",
                  "created_at": time.time(), "kind": "file", "digest": digest, "size": SIZE,
                  "blob_digests": [digest]}
        assert client.post("/api/v1/projects/p/versions",
                           json={"versions": [record]}).status_code == 201
        hasher, got = hashlib.sha256(), 0
        started = time.monotonic()
        with client.stream("GET", f"/api/v1/projects/p/blobs/{digest}") as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes(CHUNK):
                hasher.update(chunk)
                got += len(chunk)
        down = time.monotonic() - started
        peak.done.set()
        peak.join()
    assert got == SIZE and "sha256:" + hasher.hexdigest() == digest
    growth = peak.peak - baseline
    assert growth < LIMIT, f"server RSS grew by {growth / 1e6:.0f} MB"
    print(f"\n1 GiB: up {SIZE / up / 1e6:.0f} MB/s, down {SIZE / down / 1e6:.0f} MB/s, "
          f"server RSS growth {growth / 1e6:.1f} MB")
