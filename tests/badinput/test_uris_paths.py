"""b.5 URIs and paths: ``register(uri=...)`` references and ``download(dest=...)``
targets (U1-U3, U8-U18).

Decisions found in ``store/references.py``: schemes from an allow-list (s3, gs, az, abfs,
https, http, file), lower-cased when stored (``S3://b/k`` is kept as ``s3://b/k``);
``file:`` only as ``file:///absolute/path`` and only from the local Python API (a server
passes ``allow_file=False``); no userinfo, ``#``, ``;``, ``::``, backslash, whitespace,
control characters or dot segments (also after percent-decoding to a fixed point); at
most 2 KiB. The local API reads the target to record its digest/size (``fetch=True``);
nothing is ever copied into the store.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from archivist import (
    ArtifactCatalog,
    InvalidInputError,
    PermissionDeniedError,
)
from archivist.store.references import MAX_URI_BYTES, check_uri
from tests.badinput.conftest import Guard

REJECTED_URIS = [
    ("U2-file-dot-host", "file://./etc"),
    ("U2-file-no-slashes", "file:etc/passwd"),
    ("U2-file-one-slash", "file:/etc/passwd"),
    ("U2-file-localhost-host", "file://localhost/etc/passwd"),
    ("U2-file-upper-dir", "FILE:///etc"),
    ("U2-file-root", "file:///"),
    ("U2-file-dotdot", "file:///etc/../etc/passwd"),
    ("U2-file-encoded-dotdot", "file:///tmp/%2e%2e/etc/passwd"),
    ("U2-file-dev-zero", "file:///dev/zero"),
    ("U2-file-dev-stdin", "file:///dev/stdin"),
    ("U2-file-missing", "file:///nonexistent/archivist-badinput"),
    ("U3-double-slash", "//proc/self/root"),
    ("U3-absolute", "/etc/passwd"),
    ("U3-relative", "etc/passwd"),
    ("U3-empty", ""),
    ("U3-scheme-only", "s3:"),
    ("U3-no-bucket", "s3://"),
    ("U3-no-bucket-path", "s3:///k"),
    ("U8-http-fragment", "http:///#/../../../../etc/"),
    ("U8-s3-fragment", "s3://b/k#/../../x"),
    ("U8-encoded-fragment", "s3://b/k%23/../x"),
    ("U9-query-dotdot", "s3://b/prefix?x=../../"),
    ("U9-query-dotdot-amp", "s3://b/p?a=1&../x"),
    ("U10-params", "s3://b/a;/../../x"),
    ("U10-encoded-params", "s3://b/a%3B/x"),
    ("U11-encoded-dots", "s3://b/%2e%2e/private"),
    ("U11-double-encoded", "s3://b/%252e%252e%252fprivate"),
    ("U11-mixed-case-encoding", "s3://b/%2E%2e/private"),
    ("U11-encoded-slash-dots", "s3://b/a%2f..%2fprivate"),
    ("U11-over-encoded", "s3://b/" + "%" + "25" * 12 + "41"),
    ("U11-dot-segment", "s3://b/./k"),
    ("U11-trailing-dotdot", "s3://b/k/.."),
    ("U12-zip-chain", "zip://etc/passwd::file:///"),
    ("U12-simplecache", "simplecache::s3://b/k"),
    ("U12-blockcache", "blockcache::file:///etc/passwd"),
    ("U12-memory", "memory://x"),
    ("U12-github", "github://org:repo@sha/path"),
    ("U12-ssh", "ssh://host/x"),
    ("U12-dbfs", "dbfs:/x"),
    ("U12-runs", "runs:/abc/model"),
    ("U12-models", "models:/x/1"),
    ("U12-data", "data:text/plain,x"),
    ("U12-gopher", "gopher://host/x"),
    ("U12-ftp", "ftp://host/x"),
    ("U12-hdfs", "hdfs://host/x"),
    ("U12-local", "local:///etc/passwd"),
    ("U12-javascript", "javascript:alert(1)"),
    ("U12-archivist", "archivist://default/x:1"),
    ("U13-leading-space", " s3://b/k"),
    ("U13-one-slash", "s3:/b/k"),
    ("U13-crlf", "s3://b/k\r\nX-Injected: 1"),
    ("U13-tab", "s3://b/k\t"),
    ("U13-nul", "s3://b/k\x00"),
    ("U13-encoded-crlf", "s3://b/k%0d%0aX-Injected:%201"),
    ("U13-encoded-nul", "s3://b/k%00"),
    ("U13-zero-width", "s3://b/k\u200b"),
    ("U13-rtl", "s3://b/\u202ek"),
    ("U13-backslash", "s3://b\\k"),
    ("U13-non-string", 3),
    ("U14-userinfo", "https://user:secret@host.example/k"),
    ("U14-token-userinfo", "https://secret@host.example/k"),
    ("U14-encoded-at", "https://user:secret%40host.example/k"),
    ("U14-s3-userinfo", "s3://key:secret@bucket/k"),
    ("U16-100KiB", "s3://b/" + "k" * (100 * 1024)),
    ("U16-2049-bytes", "s3://b/" + "k" * (MAX_URI_BYTES + 1 - len("s3://b/"))),
    ("U5-loopback", "http://127.0.0.1/x"),
    ("U5-localhost", "http://localhost:5432/"),
    ("U5-short-loopback", "http://127.1/"),
    ("U5-octal-loopback", "http://0177.0.0.1/"),
    ("U4-metadata", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
    ("U5-mapped-metadata", "http://[::ffff:169.254.169.254]/"),
    ("U5-hex-metadata", "http://0xA9FEA9FE/"),
    ("U5-decimal-metadata", "http://2852039166/"),
    ("U5-ipv6-loopback", "http://[::1]/"),
    ("U5-unspecified", "http://0.0.0.0/"),
]


@pytest.mark.parametrize("uri", [u for _, u in REJECTED_URIS], ids=[i for i, _ in REJECTED_URIS])
def test_bad_uri_is_rejected(guard: Guard, cat: ArtifactCatalog, uri: str) -> None:
    err = guard.rejected(InvalidInputError, cat.register, "ref", uri=uri)
    assert "secret" not in str(err) and "secret" not in repr(err.details)


@pytest.mark.parametrize("uri", ["https://user:secret@host.example/" + "%" + "25" * 12 + "41",
                                 "https://user:secret@host.example/k\n",
                                 "https://user:secret@host.example/k#frag",
                                 "https://user:secret@host.example/" + "k" * 3000,
                                 "gopher://user:secret@host.example/k"],
                         ids=["U14-over-encoded", "U14-control", "U14-fragment", "U14-long",
                              "U14-bad-scheme"])
def test_U14_secret_never_echoed(guard: Guard, cat: ArtifactCatalog, uri: str) -> None:
    err = guard.rejected(InvalidInputError, cat.register, "ref", uri=uri)
    assert "secret" not in str(err), f"the credential is echoed: {err}"
    assert "secret" not in repr(err.details)


@pytest.mark.needs("in_process")  # file:// references: only the local Python API reads them
def test_U1_local_file_reference_is_recorded_not_copied(guard: Guard, cat: ArtifactCatalog,
                                                        canary: Path) -> None:
    """Decision: from the local Python API a ``file:///`` reference is accepted (the user
    can read the file anyway); it is hashed to record its digest, never copied."""
    target = canary / "data" / "ref.bin"
    target.parent.mkdir()
    target.write_bytes(b"referenced bytes")
    uri = f"file://{target}"
    blobs_before = guard.state()[0].blobs
    version_id = guard.no_files_outside(cat.register, "ref", uri=uri)
    art = cat.get(version_id)
    assert art.reference_uri == uri and art.kind == "reference"
    assert art.digest == "sha256:" + hashlib.sha256(b"referenced bytes").hexdigest()
    assert guard.state()[0].blobs == blobs_before, "a reference was copied into the store"
    for call in (cat.load, cat.open):
        guard.rejected(InvalidInputError, call, version_id)
    guard.rejected(InvalidInputError, cat.download, version_id, canary / "out.bin")


@pytest.mark.needs("in_process")  # file:// references: only the local Python API reads them
def test_U1_etc_passwd_is_only_referenced(guard: Guard, cat: ArtifactCatalog) -> None:
    if not Path("/etc/passwd").is_file():
        pytest.skip("no /etc/passwd here")
    blobs_before = guard.state()[0].blobs
    version_id = guard.no_files_outside(cat.register, "ref", uri="file:///etc/passwd")
    assert cat.get(version_id).reference_uri == "file:///etc/passwd"
    assert guard.state()[0].blobs == blobs_before


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "file:///tmp/x"],
                         ids=["U1-server-passwd", "U1-server-tmp"])
def test_U1_server_mode_refuses_file_references(uri: str) -> None:
    """A server validates with ``allow_file=False``: it never reads local files."""
    with pytest.raises(InvalidInputError):
        check_uri(uri, allow_file=False)


@pytest.mark.parametrize("uri", ["http://10.0.0.1/x", "http://192.168.1.1/x",
                                 "http://[fc00::1]/x"],
                         ids=["U5-server-private-10", "U5-server-private-192",
                              "U5-server-private-v6"])
def test_U5_server_mode_refuses_private_addresses(uri: str) -> None:
    with pytest.raises(InvalidInputError):
        check_uri(uri, allow_file=False)


@pytest.mark.needs("in_process")  # file:// references: only the local Python API reads them
def test_U2_upper_case_file_scheme_is_stored_lower_case(guard: Guard, cat: ArtifactCatalog,
                                                        canary: Path) -> None:
    """Decision: the scheme is lower-cased (RFC 3986 §3.1); nothing else is rewritten."""
    target = canary / "Data.BIN"
    target.write_bytes(b"x")
    version_id = guard.no_files_outside(cat.register, "ref", uri=f"FILE://{target}")
    assert cat.get(version_id).reference_uri == f"file://{target}"


def test_U2_fifo_reference_never_blocks(guard: Guard, cat: ArtifactCatalog,
                                        canary: Path) -> None:
    fifo = canary / "pipe"
    os.mkfifo(fifo)
    guard.rejected(InvalidInputError, cat.register, "ref", uri=f"file://{fifo}")


@pytest.mark.needs("in_process")  # file:// references: only the local Python API reads them
def test_U2_symlinked_file_reference_records_its_target(guard: Guard, cat: ArtifactCatalog,
                                                        canary: Path) -> None:
    """Decision: a local reference follows a symlink (the user named it) and is still only
    referenced, never copied."""
    target = canary / "real.bin"
    target.write_bytes(b"through a link")
    link = canary / "link.bin"
    link.symlink_to(target)
    blobs_before = guard.state()[0].blobs
    version_id = guard.no_files_outside(cat.register, "ref", uri=f"file://{link}")
    assert cat.get(version_id).digest == "sha256:" + hashlib.sha256(b"through a link").hexdigest()
    assert guard.state()[0].blobs == blobs_before


def test_U16_uri_at_cap_passes_the_check() -> None:
    uri = "s3://b/" + "k" * (MAX_URI_BYTES - len("s3://b/"))
    assert check_uri(uri) == uri
    with pytest.raises(InvalidInputError):
        check_uri(uri + "k")


REMOTE_ACCEPTED = [
    ("U13-upper-scheme", "S3://B/K", "s3://B/K"),
    ("U15-other-bucket", "s3://other-bucket/secrets", "s3://other-bucket/secrets"),
    ("U12-gs", "gs://bucket/key", "gs://bucket/key"),
    ("U12-https", "https://data.example.com/x.csv?v=2", "https://data.example.com/x.csv?v=2"),
]


@pytest.mark.parametrize(("uri", "stored"), [(u, s) for _, u, s in REMOTE_ACCEPTED],
                         ids=[i for i, _, _ in REMOTE_ACCEPTED])
@pytest.mark.allow_network_attempts
def test_remote_reference_is_recorded_not_copied(guard: Guard, cat: ArtifactCatalog, uri: str,
                                                 stored: str) -> None:
    """SPEC §4: a reference "records the URI, size and, where it can be read, its digest
    or ETag, and copies nothing" — so a reference that cannot be read (no fsspec driver
    installed, no network) is still recorded."""
    blobs_before = guard.state()[0].blobs
    version_id = guard.no_files_outside(cat.register, "ref", uri=uri)
    art = cat.get(version_id)
    assert art.reference_uri == stored and art.kind == "reference"
    assert guard.state()[0].blobs == blobs_before


# -- U17/U18 download targets ----------------------------------------------------------------

@pytest.fixture
def file_version(cat: ArtifactCatalog) -> str:
    return cat.register("payload", data=b"downloaded bytes")


@pytest.fixture
def dir_version(cat: ArtifactCatalog, canary: Path) -> str:
    tree = canary / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"a")
    (tree / "sub" / "b.txt").write_bytes(b"b")
    return cat.register("tree", path=tree)


@pytest.fixture
def victim(canary: Path) -> Path:
    """Stands in for /etc: a folder the download must never write into."""
    folder = canary / "victim"
    folder.mkdir()
    (folder / "passwd").write_bytes(b"root:x:0:0")
    return folder


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_U17_dest_is_a_symlink_to_a_file(guard: Guard, cat: ArtifactCatalog, canary: Path,
                                         victim: Path, file_version: str, dir_version: str,
                                         kind: str) -> None:
    link = canary / "out"
    link.symlink_to(victim / "passwd")
    ref = file_version if kind == "file" else dir_version
    guard.rejected(PermissionDeniedError, cat.download, ref, link)
    assert (victim / "passwd").read_bytes() == b"root:x:0:0"


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_U17_dest_is_a_symlink_to_a_directory(guard: Guard, cat: ArtifactCatalog, canary: Path,
                                              victim: Path, file_version: str,
                                              dir_version: str, kind: str) -> None:
    link = canary / "out"
    link.symlink_to(victim)
    ref = file_version if kind == "file" else dir_version
    guard.rejected(PermissionDeniedError, cat.download, ref, link)


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_U17_parent_of_dest_is_a_symlink(guard: Guard, cat: ArtifactCatalog, canary: Path,
                                         victim: Path, file_version: str, dir_version: str,
                                         kind: str) -> None:
    link = canary / "checkout"
    link.symlink_to(victim)
    ref = file_version if kind == "file" else dir_version
    guard.rejected(PermissionDeniedError, cat.download, ref, link / "new")


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_U17_dangling_symlink_dest(guard: Guard, cat: ArtifactCatalog, canary: Path,
                                   victim: Path, file_version: str, dir_version: str,
                                   kind: str) -> None:
    link = canary / "out"
    link.symlink_to(victim / "created-by-download")
    ref = file_version if kind == "file" else dir_version
    guard.rejected(PermissionDeniedError, cat.download, ref, link)
    assert not (victim / "created-by-download").exists()


@pytest.mark.parametrize("kind", ["file", "dir"])
@pytest.mark.xfail(strict=True, reason=(
    "decision in reading.py Reader._check_destination: only dest and dest.parent are "
    "checked, so a planted symlink higher up (checkout/ -> /etc, dest checkout/new/x) is "
    "followed and the missing folders are created inside its target; research U17 asks to "
    "refuse any pre-existing symlink the call did not create"))
def test_U17_symlinked_ancestor_of_new_folders(guard: Guard, cat: ArtifactCatalog,
                                               canary: Path, victim: Path, file_version: str,
                                               dir_version: str, kind: str) -> None:
    link = canary / "checkout"
    link.symlink_to(victim)
    ref = file_version if kind == "file" else dir_version
    try:
        guard.rejected(PermissionDeniedError, cat.download, ref, link / "new" / "deeper")
    finally:
        assert not (victim / "new").exists(), "the download wrote inside the symlink target"


@pytest.mark.needs("local_files")  # the store is a folder on this machine
@pytest.mark.parametrize("where", ["blobs", "blobs/sha256", "blobs/sha256/00/x", "blobs/tmp/x",
                                   "catalog.db", "hashcache.db"],
                         ids=["U18-blob-root", "U18-blob-dir", "U18-blob-fanout",
                              "U18-blob-temp", "U18-catalog-db", "U18-hashcache"])
@pytest.mark.parametrize("kind", ["file", "dir"])
def test_U18_dest_inside_the_store(guard: Guard, cat: ArtifactCatalog, home: Path,
                                   file_version: str, dir_version: str, where: str,
                                   kind: str) -> None:
    ref = file_version if kind == "file" else dir_version
    guard.rejected((PermissionDeniedError, InvalidInputError), cat.download, ref, home / where)
    assert cat.get(ref).id == ref, "the catalog no longer answers"


@pytest.mark.needs("local_files")  # the store is a folder on this machine
def test_U18_dest_through_a_symlink_into_the_store(guard: Guard, cat: ArtifactCatalog,
                                                   canary: Path, home: Path,
                                                   file_version: str) -> None:
    link = canary / "sneaky"
    link.symlink_to(home / "blobs")
    guard.rejected(PermissionDeniedError, cat.download, file_version, link / "x")


@pytest.mark.needs("local_files")  # the store is a folder on this machine
def test_U18_relative_dest_into_the_store(guard: Guard, cat: ArtifactCatalog, home: Path,
                                          canary: Path, file_version: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (canary / "work").mkdir()
    monkeypatch.chdir(canary / "work")
    guard.rejected(PermissionDeniedError, cat.download, file_version,
                   Path("..") / "home" / "blobs" / "x")


def test_download_to_a_plain_path_works(guard: Guard, cat: ArtifactCatalog, canary: Path,
                                        file_version: str, dir_version: str) -> None:
    guard.no_files_outside(cat.download, file_version, canary / "dl" / "f.bin", allowed=("dl",))
    assert (canary / "dl" / "f.bin").read_bytes() == b"downloaded bytes"
    guard.no_files_outside(cat.download, dir_version, canary / "dl" / "tree", allowed=("dl",))
    assert (canary / "dl" / "tree" / "sub" / "b.txt").read_bytes() == b"b"
    assert sorted(os.listdir(canary / "dl")) == ["f.bin", "tree"], "temp files left behind"


@pytest.mark.parametrize("dest", [3, None, b"/tmp/x"], ids=["dest-int", "dest-none",
                                                            "dest-bytes"])
def test_download_dest_must_be_a_path(guard: Guard, cat: ArtifactCatalog, file_version: str,
                                      dest: object) -> None:
    guard.rejected(InvalidInputError, cat.download, file_version, dest)  # type: ignore[arg-type]
