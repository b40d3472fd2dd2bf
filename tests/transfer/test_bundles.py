"""export -> import_bundle: lossless, idempotent, and refusing damaged or hostile bundles."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, ConflictError, IntegrityError, InvalidInputError
from archivist.store.hashing import hash_bytes
from archivist.transfer.bundles.format import blob_member, canonical
from tests.helpers import assert_store_consistent, snapshot
from tests.transfer.conftest import Populated, live_records, populate, runs_of

MakeCatalog = Callable[..., ArtifactCatalog]


@pytest.mark.parametrize("dest", ["bundle", "bundle.tar"])
def test_round_trip_is_equal_record_by_record(source: Populated, make_catalog: MakeCatalog,
                                              tmp_path: Path, dest: str) -> None:
    exported = source.catalog.export(None, tmp_path / dest)
    target = make_catalog()
    report = target.import_bundle(tmp_path / dest)

    assert live_records(target) == live_records(source.catalog)
    assert sorted(report.copied) == sorted(exported.versions)
    assert source.ids["gone"] not in exported.versions  # tombstones stay home
    assert report.missing_parents == [] and report.skipped == []
    assert runs_of(target) == runs_of(source.catalog)
    assert report.runs_copied == [source.run_id]
    assert target.get("model@production").id == source.ids["model"]
    assert target.get("raw@current").id == source.ids["raw2"]
    assert target.get_lineage("model")["parents"] == source.catalog.get_lineage(
        "model")["parents"]
    assert target.load("model") == {"weights": [1, 2, 3]}
    target.download("tree", tmp_path / "tree-copy")
    assert (tmp_path / "tree-copy" / "sub" / "b.txt").read_text() == "beta"
    assert target.get("external").reference_uri == source.catalog.get("external").reference_uri
    assert target.verify().ok
    assert_store_consistent_except_gap(target)


def assert_store_consistent_except_gap(catalog: ArtifactCatalog) -> None:
    """The oracle, minus gap-freedom: raw:3 was deleted at the source and stays behind,
    so the copy holds raw:1 and raw:2 and its counter stands at 2."""
    report = catalog.verify()
    assert report.ok, report.to_dict()
    assert not list(catalog.blobs.temp_files())


def test_numbering_continues_after_the_kept_numbers(source: Populated,
                                                    make_catalog: MakeCatalog,
                                                    tmp_path: Path) -> None:
    source.catalog.export("name:model", tmp_path / "b")
    target = make_catalog()
    target.import_bundle(tmp_path / "b")
    assert target.get("model").version == 1
    new = target.get(target.register("model", data=b"next"))
    assert new.version == 2
    assert_store_consistent(target)


def test_reimport_is_a_no_op(source: Populated, make_catalog: MakeCatalog,
                             tmp_path: Path) -> None:
    source.catalog.export(None, tmp_path / "b.tar")
    target = make_catalog()
    target.import_bundle(tmp_path / "b.tar")
    before = snapshot(target)
    again = target.import_bundle(tmp_path / "b.tar")
    assert not again.changed
    assert sorted(again.skipped) == sorted(a.id for a in live_records(source.catalog))
    assert again.runs_skipped == [source.run_id] and again.blobs_copied == 0
    assert snapshot(target) == before


def test_reimport_brings_tags_and_aliases_in_line(source: Populated,
                                                  make_catalog: MakeCatalog,
                                                  tmp_path: Path) -> None:
    source.catalog.export(None, tmp_path / "first")
    target = make_catalog()
    target.import_bundle(tmp_path / "first")
    target.tag("raw:1", local="kept")
    source.catalog.tag("raw:1", stage="prod")
    source.catalog.set_alias("raw:1", "current")
    source.catalog.export(None, tmp_path / "second")
    report = target.import_bundle(tmp_path / "second")
    assert report.updated == [source.ids["raw1"]] and report.copied == []
    moved = target.get("raw:1")
    assert moved.tags == {"stage": "prod", "n": 1, "local": "kept"}
    assert target.get("raw@current").id == source.ids["raw1"]


def test_a_corrupt_blob_is_refused_and_nothing_is_written(
        source: Populated, make_catalog: MakeCatalog, tmp_path: Path) -> None:
    source.catalog.export(None, tmp_path / "b")
    digest = source.catalog.get("model").digest
    assert digest is not None
    blob = tmp_path / "b" / blob_member(digest)
    blob.write_bytes(blob.read_bytes()[:-1] + b"X")
    target = make_catalog()
    before = snapshot(target)
    with pytest.raises(IntegrityError, match="corrupt"):
        target.import_bundle(tmp_path / "b")
    assert snapshot(target) == before


def test_a_missing_blob_is_refused(source: Populated, make_catalog: MakeCatalog,
                                   tmp_path: Path) -> None:
    source.catalog.export(None, tmp_path / "b")
    digest = source.catalog.get("raw:1").digest
    assert digest is not None
    (tmp_path / "b" / blob_member(digest)).unlink()
    target = make_catalog()
    before = snapshot(target)
    with pytest.raises(IntegrityError, match="lacks"):
        target.import_bundle(tmp_path / "b")
    assert snapshot(target) == before


def test_a_tampered_record_file_is_refused(source: Populated, make_catalog: MakeCatalog,
                                           tmp_path: Path) -> None:
    source.catalog.export(None, tmp_path / "b")
    versions = tmp_path / "b" / "versions.jsonl"
    versions.write_text(versions.read_text().replace('"dev"', '"hacked"'))
    target = make_catalog()
    before = snapshot(target)
    with pytest.raises(IntegrityError):
        target.import_bundle(tmp_path / "b")
    assert snapshot(target) == before


def _rewrite(bundle: Path, edit: Callable[[list[dict[str, object]]], None]) -> None:
    """Edit the version records and re-seal the manifest (a well-formed hostile bundle)."""
    path = bundle / "versions.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    edit(records)
    data = b"".join(canonical(r) + b"\n" for r in records)
    path.write_bytes(data)
    manifest = json.loads((bundle / "bundle.json").read_text())
    manifest["files"]["versions"].update(digest=hash_bytes(data), size=len(data),
                                         records=len(records))
    (bundle / "bundle.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("path", ["../versions.jsonl", "/etc/passwd", "a/../../x",
                                  "%2e%2e/versions.jsonl", ".git/config", "runs.jsonl"])
def test_traversal_paths_in_the_bundle_manifest_are_refused(
        source: Populated, make_catalog: MakeCatalog, tmp_path: Path, path: str) -> None:
    source.catalog.export(None, tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "bundle.json").read_text())
    manifest["files"]["versions"]["path"] = path
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(manifest))
    target = make_catalog()
    with pytest.raises(InvalidInputError):
        target.import_bundle(tmp_path / "b")
    assert live_records(target) == []


def test_traversal_in_a_directory_manifest_is_refused(
        source: Populated, make_catalog: MakeCatalog, tmp_path: Path) -> None:
    source.catalog.export("name:tree", tmp_path / "b")
    tree = source.catalog.get("tree")
    payload = b"echo pwned"
    file_digest = hash_bytes(payload)
    hostile = canonical({"entries": [{"digest": file_digest, "mode": 493,
                                      "path": "../../evil.sh", "size": len(payload)}],
                         "format": 1})
    evil = hash_bytes(hostile)
    manifest = json.loads((tmp_path / "b" / "bundle.json").read_text())
    for digest, data in ((evil, hostile), (file_digest, payload)):
        (tmp_path / "b" / blob_member(digest)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "b" / blob_member(digest)).write_bytes(data)
        manifest["blobs"].append({"digest": digest, "size": len(data)})
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(manifest))

    def point_at_evil(records: list[dict[str, object]]) -> None:
        for r in records:
            if r["id"] == tree.id:
                r["digest"] = evil
                r["blob_digests"] = [evil, file_digest]
    _rewrite(tmp_path / "b", point_at_evil)
    target = make_catalog()
    before = snapshot(target)
    with pytest.raises(InvalidInputError, match=r"'\.\.' segment"):
        target.import_bundle(tmp_path / "b")
    assert snapshot(target) == before


def test_a_symlink_in_a_folder_bundle_is_refused(source: Populated, make_catalog: MakeCatalog,
                                                 tmp_path: Path) -> None:
    source.catalog.export(None, tmp_path / "b")
    secret = tmp_path / "secret"
    secret.write_text("do not read")
    versions = tmp_path / "b" / "versions.jsonl"
    versions.unlink()
    os.symlink(secret, versions)
    with pytest.raises(InvalidInputError, match="symlink"):
        make_catalog().import_bundle(tmp_path / "b")


def test_links_in_a_tar_bundle_are_refused(source: Populated, make_catalog: MakeCatalog,
                                           tmp_path: Path) -> None:
    source.catalog.export(None, tmp_path / "b.tar")
    with tarfile.open(tmp_path / "b.tar", "a") as tar:
        link = tarfile.TarInfo("blobs/escape")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(InvalidInputError, match="link"):
        make_catalog().import_bundle(tmp_path / "b.tar")


def test_absolute_member_names_in_a_tar_bundle_are_refused(
        make_catalog: MakeCatalog, tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "b.tar", "w") as tar:
        evil = tarfile.TarInfo("/tmp/evil")  # tar.add() would strip the slash
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
    with pytest.raises(InvalidInputError, match="absolute"):
        make_catalog().import_bundle(tmp_path / "b.tar")


@pytest.mark.parametrize(("field", "value", "match"), [
    ("name", "../etc", "invalid name"),
    ("kind", "symlink", "kind"),
    ("version", 0, "version"),
    ("aliases", ["latest"], "latest"),
    ("surprise", 1, "unknown keys"),
])
def test_malformed_records_are_refused(source: Populated, make_catalog: MakeCatalog,
                                       tmp_path: Path, field: str, value: object,
                                       match: str) -> None:
    source.catalog.export(None, tmp_path / "b")

    def spoil(records: list[dict[str, object]]) -> None:
        records[0][field] = value
    _rewrite(tmp_path / "b", spoil)
    target = make_catalog()
    with pytest.raises(ValueError, match=match):  # InvalidInputError / InvalidNameError
        target.import_bundle(tmp_path / "b")
    assert live_records(target) == []


def test_an_unknown_format_asks_for_an_upgrade(source: Populated, make_catalog: MakeCatalog,
                                               tmp_path: Path) -> None:
    source.catalog.export(None, tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "bundle.json").read_text())
    manifest["format"] = 2
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidInputError, match="upgrade archivist"):
        make_catalog().import_bundle(tmp_path / "b")


def test_a_taken_version_number_is_a_conflict(source: Populated, make_catalog: MakeCatalog,
                                              tmp_path: Path) -> None:
    source.catalog.export(None, tmp_path / "b")
    target = make_catalog()
    target.register("raw", data=b"someone else's raw:1")
    before = snapshot(target)
    with pytest.raises(ConflictError, match="raw:1"):
        target.import_bundle(tmp_path / "b")
    assert snapshot(target) == before


def test_a_case_clash_is_a_conflict_before_any_byte(source: Populated,
                                                    make_catalog: MakeCatalog,
                                                    tmp_path: Path) -> None:
    source.catalog.export("name:model", tmp_path / "b")
    target = make_catalog()
    target.register("MODEL")
    before = snapshot(target)
    with pytest.raises(ConflictError, match="regardless of case"):
        target.import_bundle(tmp_path / "b")
    assert snapshot(target) == before


def test_parents_outside_the_bundle(source: Populated, make_catalog: MakeCatalog,
                                    tmp_path: Path) -> None:
    exported = source.catalog.export("name:model", tmp_path / "only-model")
    ids = source.ids
    assert sorted(exported.external_parents) == sorted([(ids["model"], ids["raw2"]),
                                                        (ids["model"], ids["tree"])])
    source.catalog.export("name:raw", tmp_path / "raws")
    target = make_catalog()
    target.import_bundle(tmp_path / "raws")  # raw:2 is there, tree is not
    report = target.import_bundle(tmp_path / "only-model")
    assert report.missing_parents == [(ids["model"], ids["tree"])]
    assert target.get_lineage("model")["parents"] == [ids["raw2"]]


def test_ancestors_travel_when_asked(source: Populated, make_catalog: MakeCatalog,
                                     tmp_path: Path) -> None:
    exported = source.catalog.export(["model@production"], tmp_path / "b", ancestors=True)
    ids = source.ids
    assert sorted(exported.versions) == sorted([ids["model"], ids["raw2"], ids["tree"],
                                                ids["raw1"]])
    assert exported.external_parents == []


def test_a_deleted_ref_is_not_exported(source: Populated, tmp_path: Path) -> None:
    with pytest.raises(ConflictError, match="deleted"):
        source.catalog.export([source.ids["gone"]], tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_export_never_writes_over_anything(source: Populated, tmp_path: Path) -> None:
    (tmp_path / "taken.tar").write_bytes(b"precious")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("precious")
    with pytest.raises(InvalidInputError, match="already exists"):
        source.catalog.export(None, tmp_path / "taken.tar")
    with pytest.raises(InvalidInputError, match="already exists"):
        source.catalog.export(None, tmp_path / "full")
    assert (tmp_path / "taken.tar").read_bytes() == b"precious"
    (tmp_path / "empty").mkdir()
    source.catalog.export(None, tmp_path / "empty")
    assert (tmp_path / "empty" / "bundle.json").is_file()


def test_a_corrupt_source_blob_leaves_no_bundle(source: Populated, tmp_path: Path) -> None:
    art = source.catalog.get("model")
    path = Path(art.storage_path or "")
    os.chmod(path, 0o644)
    path.write_bytes(b"rotten")
    with pytest.raises(IntegrityError):
        source.catalog.export(None, tmp_path / "b.tar")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("b", ".b"))) == []


def test_import_into_another_project(source: Populated, make_catalog: MakeCatalog,
                                     tmp_path: Path) -> None:
    source.catalog.export(None, tmp_path / "b")
    target = make_catalog()
    target.import_bundle(tmp_path / "b", project="team")
    assert [a.id for a in live_records(target, "team")] == [
        a.id for a in live_records(source.catalog)]
    assert live_records(target) == []


@pytest.mark.parametrize("member", ["blob", "versions.jsonl"])
def test_trailing_bytes_are_refused(source: Populated, make_catalog: MakeCatalog,
                                    tmp_path: Path, member: str) -> None:
    source.catalog.export(None, tmp_path / "b")
    digest = source.catalog.get("raw:1").digest
    assert digest is not None
    path = tmp_path / "b" / (blob_member(digest) if member == "blob" else member)
    path.write_bytes(path.read_bytes() + b"\n{}\n")
    target = make_catalog()
    before = snapshot(target)
    with pytest.raises(IntegrityError, match="bytes"):
        target.import_bundle(tmp_path / "b")
    assert snapshot(target) == before


def test_a_bundle_from_postgres_and_s3(postgres_url: str, s3_blobs_url: str,
                                       make_catalog: MakeCatalog, tmp_path: Path) -> None:
    with ArtifactCatalog(postgres_url, blobs=s3_blobs_url) as shared:
        populated = populate(shared, tmp_path)
        shared.export(None, tmp_path / "from-s3.tar")
        laptop = make_catalog()
        report = laptop.import_bundle(tmp_path / "from-s3.tar")
        assert len(report.copied) == 6 and report.runs_copied == [populated.run_id]
        assert live_records(laptop) == live_records(shared)
        assert runs_of(laptop) == runs_of(shared)
        assert laptop.verify().ok
