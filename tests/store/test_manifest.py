"""Manifest records: canonical form and validation of untrusted manifests (b.6 F14-F18)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archivist.errors import InvalidInputError
from archivist.store.manifest import MAX_ENTRIES, Manifest, ManifestEntry

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def doc(*entries: dict[str, Any], fmt: Any = 1) -> bytes:
    return json.dumps({"format": fmt, "entries": sorted(entries, key=lambda e: e["path"])},
                      sort_keys=True, separators=(",", ":")).encode()


def entry(path: Any, digest: Any = D1, size: Any = 1, mode: Any = 0o644) -> dict[str, Any]:
    return {"path": path, "digest": digest, "size": size, "mode": mode}


def test_canonical_bytes_are_pinned() -> None:
    m = Manifest((ManifestEntry("b/c.txt", D2, 2, 0o755), ManifestEntry("a.txt", D1, 1)))
    assert m.to_bytes() == (
        b'{"entries":[{"digest":"' + D1.encode() + b'","mode":420,"path":"a.txt","size":1},'
        b'{"digest":"' + D2.encode() + b'","mode":493,"path":"b/c.txt","size":2}],"format":1}')
    assert [e.path for e in m.entries] == ["a.txt", "b/c.txt"]
    assert Manifest.from_bytes(m.to_bytes()) == m
    assert m.digest.startswith("sha256:") and m.size == 3


def test_non_ascii_names_round_trip() -> None:
    m = Manifest((ManifestEntry("données/é.csv", D1, 1),))
    assert m.to_bytes().isascii()
    assert Manifest.from_bytes(m.to_bytes()).entries[0].path == "données/é.csv"


def test_empty_manifest() -> None:
    assert Manifest.from_bytes(b'{"entries":[],"format":1}') == Manifest()


BAD_PATHS = ["../x", "/etc/x", "a/../../x", "a\\..\\x", "C:x", "c:/x", "a//b", "./a", "a/",
             "", "a/./b", ".", "..", "a/..", "a\x00b", "a\nb", "x#y", "%2e%2e/x",
             "a/%252e%252e/b", ".git/config", ".GIT/hooks/pre-commit", "git~1/config",
             ".g\u200cit/config", "sub/.git", ".git./x", "a" * 256, "\udcff.txt"]


@pytest.mark.parametrize("path", BAD_PATHS, ids=repr)
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidInputError):
        Manifest((ManifestEntry(path, D1, 1),))
    try:
        data = doc(entry(path))
    except UnicodeEncodeError:
        return
    with pytest.raises(InvalidInputError):
        Manifest.from_bytes(data)


@pytest.mark.parametrize("data", [
    doc(entry("a"), entry("a")),
    doc(entry("\u00e9"), entry("e\u0301")),  # NFC and NFD spellings of one name
    doc(entry("a"), entry("a/b")),  # a file that is also a directory
    doc(entry("a/b"), entry("a/b/c/d")),
    doc(entry("a", digest="sha256:" + "A" * 64)),
    doc(entry("a", digest="sha256:" + "a" * 63)),
    doc(entry("a", digest="sha256:../x")),
    doc(entry("a", digest="md5:" + "a" * 32)),
    doc(entry("a", size=-1)),
    doc(entry("a", size=1.5)),
    doc(entry("a", size=True)),
    doc(entry("a", size="1")),
    doc(entry("a", mode=0o4755)),  # setuid
    doc(entry("a", mode=0o2755)),  # setgid
    doc(entry("a", mode=0o1777)),  # sticky
    doc(entry("a", mode=-1)),
    doc(entry(7)),
    doc(entry("a"), fmt=2),
    doc(entry("a"), fmt=True),
    b'{"entries":[],"format":1,"extra":0}',
    b'{"entries":[{"digest":"' + D1.encode() + b'","mode":420,"path":"a","size":1,"x":1}],'
    b'"format":1}',
    b'{"entries":[],"format":1,"format":1}',
    b'{"entries":{},"format":1}',
    b"[]",
    b"not json",
    b"\xff\xfe",
], ids=lambda d: d[:60].decode("utf-8", "replace"))
def test_bad_manifests_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInputError):
        Manifest.from_bytes(data)


def test_non_canonical_spellings_are_refused() -> None:
    good = doc(entry("a"), entry("b"))
    assert Manifest.from_bytes(good)
    unsorted = good.replace(b'"a"', b'"TMP"').replace(b'"b"', b'"a"').replace(b'"TMP"', b'"b"')
    for variant in (json.dumps(json.loads(good)).encode(), unsorted, good + b"\n"):
        with pytest.raises(InvalidInputError, match="canonical"):
            Manifest.from_bytes(variant)


def test_modes_up_to_0o777_are_accepted() -> None:
    assert Manifest.from_bytes(doc(entry("a", mode=0o777))).entries[0].mode == 0o777


def test_entry_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("archivist.store.manifest.MAX_ENTRIES", 3)
    assert MAX_ENTRIES == 1_000_000
    Manifest.from_bytes(doc(*(entry(f"f{i}") for i in range(3))))
    with pytest.raises(InvalidInputError, match="limit"):
        Manifest.from_bytes(doc(*(entry(f"f{i}") for i in range(4))))


def test_depth_cap() -> None:
    Manifest((ManifestEntry("/".join(["d"] * 256), D1, 1),))
    with pytest.raises(InvalidInputError, match="deeper"):
        Manifest((ManifestEntry("/".join(["d"] * 257), D1, 1),))


def test_diff() -> None:
    old = Manifest((ManifestEntry("same", D1, 1), ManifestEntry("gone", D1, 1),
                    ManifestEntry("edited", D1, 1), ManifestEntry("chmod", D1, 1)))
    new = Manifest((ManifestEntry("same", D1, 1), ManifestEntry("new", D2, 1),
                    ManifestEntry("edited", D2, 1), ManifestEntry("chmod", D1, 1, 0o755)))
    assert old.diff(new) == {"added": ["new"], "removed": ["gone"],
                             "changed": ["chmod", "edited"]}
    assert old.diff(old) == {"added": [], "removed": [], "changed": []}
