"""The UI's downloads go out like the API's: streamed through the verifying reader and
counted in the server's blob-bytes-out metric, a folder as one .tar of all its files."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

from fastapi.testclient import TestClient

from archivist import ArtifactCatalog
from archivist.server import ServerSettings, create_app


def _bytes_out(client: TestClient) -> float:
    found = re.search(r"^archivist_blob_bytes_out_total (\S+)$", client.get("/metrics").text,
                      re.M)
    assert found is not None
    return float(found[1])


def test_file_and_folder_downloads_are_counted(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"alpha")
    (folder / "sub" / "b.bin").write_bytes(b"\x00" * 700)
    with ArtifactCatalog(home) as catalog:
        file_id = catalog.register("labels", path=folder / "a.txt")
        dir_id = catalog.register("images", path=folder)
    app = create_app(ServerSettings(home=str(home), insecure_single_user=True))
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        before = _bytes_out(client)
        assert client.get(f"/versions/{file_id}/content").content == b"alpha"
        archive = client.get(f"/versions/{dir_id}/content")
        assert archive.headers["content-length"] == str(len(archive.content))
        with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
            assert sorted(m.name for m in tar.getmembers()) == [
                "images-v1/a.txt", "images-v1/sub/b.bin"]
            member = tar.extractfile("images-v1/sub/b.bin")
            assert member is not None and member.read() == b"\x00" * 700
        assert _bytes_out(client) - before == 5 + 5 + 700
