"""check_uri against reliability.md part b.5 (U1-U16), and reference descriptions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archivist.errors import InvalidInputError
from archivist.store.references import check_reference, check_uri, describe_reference

from .conftest import sha

REFUSED = [
    # U2: relative and host forms of file:
    "file://./etc", "file:etc/passwd", "file:/etc/passwd", "file://localhost/etc/passwd",
    "file://", "file:///",
    # U3: no scheme
    "//proc/self/root", "/etc/passwd", "etc/passwd", "C:\\Windows\\win.ini",
    # U4/U5: metadata endpoint, loopback in every spelling
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[::ffff:169.254.169.254]/", "http://0xA9FEA9FE/", "http://2852039166/",
    "http://0177.0.0.1/", "http://localhost:5432/", "http://127.1/", "https://[::1]/x",
    "http://0.0.0.0/", "http://LOCALHOST/", "http://a.localhost/", "http://127.0.0.1./",
    # U8-U11: fragments, queries with .., params, encoded traversal
    "http:///#/../../../../etc/", "s3://b/k#/../../x", "s3://b/prefix?x=../../",
    "s3://b/a;/../../x", "s3://b/%2e%2e/secret", "s3://b/%252e%252e%252fsecret",
    "s3://b/a/../x", "s3://b/./x", "gs://b/k%23frag",
    # U12: other schemes and chaining
    "zip://etc/passwd::file:///", "simplecache::s3://b/k", "blockcache::file:///etc/passwd",
    "memory://x", "github://o/r", "ssh://h/x", "dbfs:/x", "runs:/abc/model",
    "models:/x/1", "data:text/plain,x", "gopher://h/x", "ftp://h/x", "s3://b/k::gs://c/d",
    # U13: whitespace, control characters, malformed scheme use
    " s3://b/k", "s3:/b/k", "s3://b/k\r\nX-Injected: 1", "s3://b/k\t", "s3://b/k ",
    "s3://b/k%0d%0aX: 1", "s3://b/k\x00", "s3://b/\u200bk", "s3://", "s3:b/k", "https://",
    # U14: credentials in userinfo
    "https://user:secret@host/k", "https://user@host/k", "s3://key:secret@b/k",
    "https://user%3Asecret%40host/k",
    # U16: over 2 KiB
    "s3://b/" + "k" * 2048, "s3://b/" + "k" * 100 * 1024,
    # other
    "s3://b/k\\..\\x", "", "://x",
]


@pytest.mark.parametrize("uri", REFUSED, ids=lambda u: repr(u[:50]))
def test_refused(uri: str) -> None:
    with pytest.raises(InvalidInputError):
        check_uri(uri, public_only=True)


ACCEPTED = [
    ("s3://bucket/path/to/model.pkl", "s3://bucket/path/to/model.pkl"),
    ("S3://bucket/K", "s3://bucket/K"),  # scheme lowercased, nothing else
    ("FILE:///etc/hosts", "file:///etc/hosts"),
    ("gs://b/k", "gs://b/k"), ("az://c/k", "az://c/k"), ("abfs://c/k", "abfs://c/k"),
    ("https://example.com/data.csv?version=2", "https://example.com/data.csv?version=2"),
    ("http://8.8.8.8/x", "http://8.8.8.8/x"),
    ("s3://b/" + "k" * (2048 - 7), "s3://b/" + "k" * (2048 - 7)),
    ("s3://b/..a/b..", "s3://b/..a/b.."),
    ("s3://b/caf%C3%A9", "s3://b/caf%C3%A9"),
]


@pytest.mark.parametrize("uri,expected", ACCEPTED, ids=lambda u: repr(u[:50]))
def test_accepted(uri: str, expected: str) -> None:
    assert check_uri(uri) == expected


def test_file_and_private_hosts_follow_the_policy() -> None:
    # U1: the server passes allow_file=False; the local API may reference local files.
    assert check_uri("file:///etc/passwd") == "file:///etc/passwd"
    with pytest.raises(InvalidInputError, match="not allowed"):
        check_uri("file:///etc/passwd", allow_file=False)
    assert check_uri("http://10.0.0.5/data") == "http://10.0.0.5/data"
    for private in ("http://10.0.0.5/data", "http://192.168.1.1/", "http://[fd00::1]/"):
        with pytest.raises(InvalidInputError, match="private"):
            check_uri(private, allow_file=False)


def test_secrets_are_not_echoed() -> None:
    with pytest.raises(InvalidInputError) as info:
        check_uri("https://user:hunter2@host/k")
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value.details)
    for uri in ("gopher://user:hunter2@host/k", "https://user:hunter2%40host/k",
                "https://user:hunter2@host/" + "%25" * 12 + "41"):
        with pytest.raises(InvalidInputError) as info:
            check_uri(uri)
        assert "hunter2" not in str(info.value), uri


def test_non_string() -> None:
    with pytest.raises(InvalidInputError):
        check_uri(b"s3://b/k")


def test_describe_without_fetch_reads_nothing(tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/does-not-exist"
    assert describe_reference(uri, fetch=False) == {"uri": uri, "size": None, "etag": None,
                                                    "digest": None}


def test_describe_file_hashes_it(tmp_path: Path) -> None:
    f = tmp_path / "data.bin"
    f.write_bytes(b"reference me")
    got = describe_reference(f"file://{f}", fetch=True)
    assert got["digest"] == sha(b"reference me") and got["size"] == 12


def test_describe_refuses_fifo_and_missing(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InvalidInputError, match="regular"):
        describe_reference(f"file://{tmp_path}/fifo", fetch=True)
    with pytest.raises(InvalidInputError, match="no such file"):
        describe_reference(f"file://{tmp_path}/missing", fetch=True)


def test_check_reference_detects_changes(tmp_path: Path) -> None:
    f = tmp_path / "data.bin"
    f.write_bytes(b"v1")
    uri = f"file://{f}"
    rec = describe_reference(uri, fetch=True)
    assert check_reference(uri, rec["digest"], rec["size"], rec["etag"])
    f.write_bytes(b"v2")  # same size, new content
    assert not check_reference(uri, rec["digest"], rec["size"])
    f.write_bytes(b"longer")
    assert not check_reference(uri, rec["digest"], rec["size"])
    f.unlink()
    assert not check_reference(uri, rec["digest"], rec["size"])
    assert check_reference("file:///etc/hostname", None, None) is os.path.exists(
        "/etc/hostname")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200),
                 st.builds(lambda s, r: f"{s}://{r}", st.sampled_from(["s3", "https", "file"]),
                           st.text(max_size=100))))
def test_any_text_is_either_accepted_or_a_typed_error(uri: str) -> None:
    try:
        out = check_uri(uri)
    except InvalidInputError:
        return
    assert check_uri(out) == out  # idempotent
    assert "::" not in out.replace("[", "").split("]")[-1] and "#" not in out
