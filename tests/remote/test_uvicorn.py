"""Against a real ``archivist server`` (uvicorn) over loopback: streaming both ways."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from archivist import ArtifactCatalog, RemoteCatalogBackend
from archivist.backends.remote.cache import BlobCache
from archivist.store.hashing import hash_file
from tests.server.processes import server_process

MB = 1024 * 1024


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    with server_process(["--home", str(tmp_path / "home"), "--insecure-single-user"],
                        tmp_path / "server.log") as server:
        yield server.url


def big_file(path: Path, size: int) -> Path:
    block = os.urandom(MB)
    with path.open("wb") as out:
        for n in range(size // MB):
            out.write(block[n % 7:] + block[:n % 7])  # every MiB differs
    return path


def test_a_200_mb_blob_streams_up_and_down_in_flat_memory(server_url: str,
                                                           tmp_path: Path) -> None:
    source = big_file(tmp_path / "big.bin", 200 * MB)
    backend = RemoteCatalogBackend(server_url, cache=BlobCache(tmp_path / "cache", 64 * MB))
    with ArtifactCatalog(backend) as catalog:
        tracemalloc.start()
        try:
            version_id = catalog.register("big", path=source)
            _, up_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            out = catalog.download(version_id, tmp_path / "out.bin")
            _, down_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert hash_file(out) == hash_file(source)
        assert catalog.get(version_id).size == 200 * MB
        # 1 MiB chunks plus buffers: far below the 200 MB a whole-file read would take
        assert up_peak < 24 * MB and down_peak < 24 * MB, (up_peak, down_peak)
        assert catalog.verify().ok


def test_the_cli_works_against_the_server_named_by_the_environment(
        server_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "ARCHIVIST_CATALOG_ENDPOINT": server_url,
           "ARCHIVIST_CACHE_DIR": str(tmp_path / "cache")}
    (tmp_path / "f.txt").write_text("hello")

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "archivist.cli", *args], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "greeting:1" in cli("add", "f.txt", "--name", "greeting")
    cli("get", "greeting", "-o", "out.txt")
    assert (tmp_path / "out.txt").read_text() == "hello"
    assert not (tmp_path / ".archivist").exists()  # nothing local was created
    backend = RemoteCatalogBackend(server_url, cache=BlobCache(tmp_path / "c2", MB))
    with ArtifactCatalog(backend) as catalog:
        assert [a.name for a in catalog.list()] == ["greeting"]


def test_names_in_any_script_cross_real_http_decoded_once(server_url: str,
                                                         tmp_path: Path) -> None:
    name = "Ärger_名前"
    backend = RemoteCatalogBackend(server_url, cache=BlobCache(tmp_path / "cache", MB))
    with ArtifactCatalog(backend) as catalog:
        version_id = catalog.register(unicodedata.normalize("NFD", name), data=b"bytes",
                                      aliases=["本番"])
        assert catalog.get(f"{name}@本番").id == version_id
        assert catalog.load(f"{name}:1") == b"bytes"
        assert [e.key for e in catalog.history(name)] == ["本番"]
    # %25C3%2584 is the text %C3%84, never Ä: a segment is decoded once (CVE-2024-3099)
    twice = quote(quote(f"{name}:1", safe=""), safe="")
    r = httpx.get(f"{server_url}/api/v1/projects/default/refs/{twice}")
    assert r.status_code == 422, r.text
    assert "invalid name '%C3%84rger_" in r.json()["error"]["message"]
