"""Backup, restore, verify on PostgreSQL + S3 (issue 16; docs/reliability.md, "Backing up").

A backup is a ``pg_dump`` of the catalog database and a copy of the blob store's prefix
(``aws s3 sync s3://bucket/prefix s3://backup/prefix``; here the same listing and
server-side copies with boto3). Restored into a fresh database and a fresh bucket, the
catalog verifies clean and every version's bytes read back with their digest.

The order matters when writes go on during the backup. Dump first, then copy the bucket:
every row in the dump names a blob that landed before its row committed, so before the
dump, so before the copy began — a blob newer than the dump is only an orphan, which
``verify`` lists as unreferenced and ``gc`` frees. Copy the bucket first and a version
registered in between is in the dump with its blob missing.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archivist import ArtifactCatalog
from tests.fixtures.postgres import SERVER_USER, PostgresCluster
from tests.fixtures.s3 import clear_s3fs_instances, empty_bucket


class Site:
    """One catalog deployment: a database of the cluster and a bucket prefix."""

    def __init__(self, cluster: PostgresCluster, database: str, bucket: str) -> None:
        self.cluster, self.database, self.bucket = cluster, database, bucket

    @property
    def blobs(self) -> str:
        return f"s3://{self.bucket}/blobs"

    def open(self) -> ArtifactCatalog:
        clear_s3fs_instances()
        return ArtifactCatalog(self.cluster.url(self.database), blobs=self.blobs)

    def pg(self, tool: str, *args: str) -> None:
        """Run a PostgreSQL client tool against this site's database."""
        subprocess.run([str(self.cluster.bin_dir / tool), "--host", "127.0.0.1",
                        "--port", str(self.cluster.port), "--username", SERVER_USER,
                        *args], check=True, capture_output=True, timeout=120)


def sync(s3_client: Any, source: str, target: str, prefix: str = "blobs/") -> None:
    """``aws s3 sync s3://source/blobs s3://target/blobs``: copy every object under the
    prefix that the target lacks (server-side copies, page by page)."""
    have: set[str] = set()
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=target,
                                                                    Prefix=prefix):
        have.update(o["Key"] for o in page.get("Contents", []))
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=source,
                                                                    Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"] not in have:
                s3_client.copy_object(Bucket=target, Key=item["Key"],
                                      CopySource={"Bucket": source, "Key": item["Key"]})


@pytest.fixture
def buckets(s3_blobs_url: str, s3_client: Any) -> Iterator[list[str]]:
    """The fixture's bucket, and two more (the backup, the restored site's)."""
    made = [f"archivist-backup-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for bucket in made:
        s3_client.create_bucket(Bucket=bucket)
    yield [s3_blobs_url.removeprefix("s3://").partition("/")[0], *made]
    for bucket in made:
        empty_bucket(s3_client, bucket)


def _backup(site: Site, s3_client: Any, backup_bucket: str, dump: Path, *,
            dump_first: bool, between: Any = None) -> None:
    steps = [lambda: site.pg("pg_dump", "--format=custom", f"--file={dump}", site.database),
             lambda: sync(s3_client, site.bucket, backup_bucket)]
    if not dump_first:
        steps.reverse()
    steps[0]()
    if between is not None:
        between()
    steps[1]()


def _restore(cluster: PostgresCluster, s3_client: Any, backup_bucket: str, dump: Path,
             bucket: str) -> Site:
    site = Site(cluster, cluster.create_database(), bucket)
    site.pg("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={site.database}",
            str(dump))
    sync(s3_client, backup_bucket, bucket)
    return site


def _drop(site: Site, s3_client: Any) -> None:
    site.cluster.drop_database(site.database)
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=site.bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3_client.delete_objects(Bucket=site.bucket, Delete={"Objects": keys})


def _payload(i: int) -> bytes:
    return f"payload {i} ".encode() * (1 + i * 37)


def test_dump_then_bucket_copy_restores_into_a_fresh_database_and_bucket(
        postgres_cluster: PostgresCluster, postgres_url: str, buckets: list[str],
        s3_client: Any, tmp_path: Path) -> None:
    site = Site(postgres_cluster, postgres_url.rsplit("/", 1)[1], buckets[0])
    expected: dict[str, bytes] = {}
    with site.open() as catalog:
        for i in range(12):
            expected[catalog.register(f"item{i % 4}", data=_payload(i),
                                      tags={"i": i})] = _payload(i)
        folder = tmp_path / "folder"
        folder.mkdir()
        (folder / "a.txt").write_bytes(b"alpha")
        (folder / "b.bin").write_bytes(bytes(range(256)) * 40)
        tree = catalog.register("tree", path=folder)
    dump = tmp_path / "catalog.dump"
    _backup(site, s3_client, buckets[1], dump, dump_first=True)
    _drop(site, s3_client)

    restored = _restore(postgres_cluster, s3_client, buckets[1], dump, buckets[2])
    with restored.open() as catalog:
        report = catalog.verify()
        assert report.ok, report
        assert report.unreferenced == []
        for version_id, data in expected.items():
            art = catalog.get(version_id)
            assert catalog.load(art) == data
            assert art.digest == "sha256:" + hashlib.sha256(data).hexdigest()
        copy = tmp_path / "restored-tree"
        catalog.download(tree, copy)
        assert (copy / "a.txt").read_bytes() == b"alpha"
        assert (copy / "b.bin").read_bytes() == bytes(range(256)) * 40
        assert catalog.get(catalog.register("after-restore", data=b"new")).version == 1


def test_a_backup_taken_while_writes_go_on_dump_first_verifies_clean(
        postgres_cluster: PostgresCluster, postgres_url: str, buckets: list[str],
        s3_client: Any, tmp_path: Path) -> None:
    """Writers register all through the dump and the copy: restored, nothing is missing;
    the blobs that landed after the dump are orphans, freed by gc."""
    site = Site(postgres_cluster, postgres_url.rsplit("/", 1)[1], buckets[0])
    with site.open() as catalog:
        for i in range(5):
            catalog.register("before", data=_payload(i))
    stop = threading.Event()
    written: list[str] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with site.open() as writer:
                i = 100
                while not stop.is_set():
                    written.append(writer.register("during", data=_payload(i)))
                    i += 1
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        dump = tmp_path / "catalog.dump"
        _backup(site, s3_client, buckets[1], dump, dump_first=True,
                between=lambda: _wait_for_more(written, 3))
    finally:
        stop.set()
        thread.join(60)
    assert errors == []
    restored = _restore(postgres_cluster, s3_client, buckets[1], dump, buckets[2])
    with restored.open() as catalog:
        report = catalog.verify()
        assert report.missing == [] and report.corrupt == []
        assert report.ok
        kept = [a.id for a in catalog.list(name="during", limit=10_000)]
        assert set(kept) < set(written)  # some were registered after the dump...
        assert report.unreferenced  # ...and their blobs were copied: orphans here
        for art in catalog.list(limit=10_000):
            assert catalog.load(art)  # every version in the dump reads back, verified
        freed = catalog.gc(dry_run=False, grace=0).freed
        assert sorted(freed) == report.unreferenced
        assert catalog.verify().unreferenced == []


def _wait_for_more(written: list[str], count: int) -> None:
    """Block until the writer thread registers ``count`` more versions."""
    start = len(written)
    for _ in range(600):
        if len(written) >= start + count:
            return
        time.sleep(0.1)
    raise AssertionError("the writer registered nothing while the backup ran")


def test_copying_the_bucket_before_the_dump_can_lose_blobs(
        postgres_cluster: PostgresCluster, postgres_url: str, buckets: list[str],
        s3_client: Any, tmp_path: Path) -> None:
    """The unsafe order, for the documentation: a version registered between the copy
    and the dump is restored without its bytes (verify says which)."""
    site = Site(postgres_cluster, postgres_url.rsplit("/", 1)[1], buckets[0])
    with site.open() as catalog:
        catalog.register("before", data=b"copied and dumped")
        late: list[str] = []
        dump = tmp_path / "catalog.dump"
        _backup(site, s3_client, buckets[1], dump, dump_first=False,
                between=lambda: late.append(catalog.get(
                    catalog.register("between", data=b"dumped, not copied")).digest))
    restored = _restore(postgres_cluster, s3_client, buckets[1], dump, buckets[2])
    with restored.open() as catalog:
        assert catalog.verify().missing == late


def test_gc_between_the_dump_and_the_copy_can_lose_blobs(
        postgres_cluster: PostgresCluster, postgres_url: str, buckets: list[str],
        s3_client: Any, tmp_path: Path) -> None:
    """The other hazard, for the documentation: a version deleted after the dump, its
    blob freed by gc before the copy — the dump still has the version, the copy not its
    bytes. (The grace period is about a blob's age, not its version's deletion.)"""
    site = Site(postgres_cluster, postgres_url.rsplit("/", 1)[1], buckets[0])
    with site.open() as catalog:
        gone = catalog.get(catalog.register("deleted-during-backup", data=b"old bytes"))
        catalog.register("kept", data=b"other bytes")
        dump = tmp_path / "catalog.dump"

        def delete_and_gc() -> None:
            catalog.delete(gone.id)
            assert catalog.gc(dry_run=False, grace=0).freed == [gone.digest]

        _backup(site, s3_client, buckets[1], dump, dump_first=True, between=delete_and_gc)
    restored = _restore(postgres_cluster, s3_client, buckets[1], dump, buckets[2])
    with restored.open() as catalog:
        assert catalog.verify().missing == [gone.digest]
