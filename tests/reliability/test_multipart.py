"""S3 multipart uploads a writer left open, against gc's grace period (issue 16).

An upload's age is its last activity on the store's clock: the newest of ``Initiated``
and its parts' upload times. moto dates every upload's ``Initiated`` 2010-11-10, so an
upload with no part is as old as that there; one with a part uploaded now is young, and
a part made older with :func:`~tests.fixtures.s3.backdate` is old. A young upload (a
writer between two parts) survives gc and completes; an old one is aborted; an upload
outside the catalog's store prefix (another catalog's, in the same bucket) is never
touched — by a catalog on the store, and by ``gc`` through a server whose store is
shared by its projects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archivist import ArtifactCatalog
from archivist.server.settings import ServerSettings
from tests.fixtures.s3 import backdate
from tests.remote.harness import in_process_server, remote_catalog

MIB = 1024 * 1024
PART = b"p" * (5 * MIB)  # S3's smallest part but the last


def _open(s3_client: Any, bucket: str, key: str, *, parts: int = 1) -> str:
    upload: str = s3_client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for number in range(1, parts + 1):
        s3_client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                              Body=PART)
    return upload


def _open_uploads(s3_client: Any, bucket: str) -> set[str]:
    answer = s3_client.list_multipart_uploads(Bucket=bucket)
    return {u["UploadId"] for u in answer.get("Uploads", [])}


class Uploads:
    """Four uploads in one bucket: young, old (an aged part), old (no part: Initiated
    only), and an old one of another catalog (outside the store prefix)."""

    def __init__(self, s3_client: Any, blobs_url: str) -> None:
        self.bucket, _, prefix = blobs_url.removeprefix("s3://").partition("/")
        self.young_key = f"{prefix}/sha256/aa/{'1' * 62}"
        self.young = _open(s3_client, self.bucket, self.young_key)
        self.aged = _open(s3_client, self.bucket, f"{prefix}/sha256/bb/{'2' * 62}", parts=2)
        backdate(self.bucket, 7200, upload_id=self.aged)
        self.partless = _open(s3_client, self.bucket, f"{prefix}/sha256/cc/{'3' * 62}",
                              parts=0)
        self.foreign = _open(s3_client, self.bucket, f"other/sha256/dd/{'4' * 62}", parts=0)

    def stale(self, paths: list[str]) -> set[str]:
        return {p.rsplit("?uploadId=", 1)[1] for p in paths if "?uploadId=" in p}


def test_gc_aborts_old_multipart_uploads_and_keeps_a_young_one_that_then_completes(
        s3_blobs_url: str, s3_client: Any, tmp_path: Path) -> None:
    uploads = Uploads(s3_client, s3_blobs_url)
    with ArtifactCatalog(f"sqlite:///{tmp_path / 'catalog.db'}", blobs=s3_blobs_url) as cat:
        assert uploads.stale(cat.verify().stale_temp) == {uploads.aged, uploads.partless}
        assert uploads.stale(cat.gc(dry_run=True, grace="1h").temp_removed) == {
            uploads.aged, uploads.partless}
        report = cat.gc(dry_run=False, grace="1h")
        assert uploads.stale(report.temp_removed) == {uploads.aged, uploads.partless}
        assert _open_uploads(s3_client, uploads.bucket) == {uploads.young, uploads.foreign}
        # a grace longer than the aged part's two hours keeps it too
        assert cat.verify().ok
    # the young upload was a writer between two parts: it goes on and completes
    second = s3_client.upload_part(Bucket=uploads.bucket, Key=uploads.young_key,
                                   UploadId=uploads.young, PartNumber=2, Body=b"end")
    first = s3_client.list_parts(Bucket=uploads.bucket, Key=uploads.young_key,
                                 UploadId=uploads.young)["Parts"][0]
    s3_client.complete_multipart_upload(
        Bucket=uploads.bucket, Key=uploads.young_key, UploadId=uploads.young,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first["ETag"]},
                                   {"PartNumber": 2, "ETag": second["ETag"]}]})
    head = s3_client.head_object(Bucket=uploads.bucket, Key=uploads.young_key)
    assert head["ContentLength"] == len(PART) + 3


def test_a_grace_longer_than_an_uploads_age_keeps_it(
        s3_blobs_url: str, s3_client: Any, tmp_path: Path) -> None:
    uploads = Uploads(s3_client, s3_blobs_url)
    with ArtifactCatalog(f"sqlite:///{tmp_path / 'catalog.db'}", blobs=s3_blobs_url) as cat:
        report = cat.gc(dry_run=False, grace="3h")  # the aged part is 2 h old
        assert uploads.stale(report.temp_removed) == {uploads.partless}
    assert _open_uploads(s3_client, uploads.bucket) == {
        uploads.young, uploads.aged, uploads.foreign}


def test_gc_through_a_server_on_a_shared_store_aborts_its_old_multipart_uploads(
        s3_blobs_url: str, s3_client: Any, tmp_path: Path) -> None:
    """The server's store is shared by its projects (no ``{project}`` in the URL): a
    project admin's gc aborts the store's old uploads, keeps the young one, and never
    touches another catalog's in the same bucket."""
    settings = ServerSettings(database=f"sqlite:///{tmp_path / 'server.db'}",
                              blobs=s3_blobs_url, insecure_single_user=True)
    assert not settings.blobs_per_project
    uploads = Uploads(s3_client, s3_blobs_url)
    with in_process_server(settings) as client, \
            remote_catalog(client, tmp_path / "cache", project="team-a") as catalog:
        catalog.register("kept", data=b"a live version")
        assert uploads.stale(catalog.verify().stale_temp) == {uploads.aged,
                                                                uploads.partless}
        report = catalog.gc(dry_run=False, grace="1h")
        assert uploads.stale(report.temp_removed) == {uploads.aged, uploads.partless}
        assert _open_uploads(s3_client, uploads.bucket) == {uploads.young,
                                                            uploads.foreign}
        assert catalog.load("kept") == b"a live version"
        assert catalog.verify().ok
