from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from archivist.errors import IntegrityError, InvalidInputError, StorageError
from archivist.store.hashing import (
    HashingReader,
    check_digest,
    hash_bytes,
    hash_file,
    hash_landed,
    verifying_reader,
)

GOOD = "sha256:" + "ab" * 32


def test_check_digest_accepts_the_canonical_form() -> None:
    assert check_digest(GOOD) == GOOD


@pytest.mark.parametrize("bad", [
    "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65, "sha256:../x",
    "md5:" + "a" * 32, "SHA256:" + "a" * 64, "a" * 64, "", " sha256:" + "a" * 64,
    "sha256:" + "a" * 64 + "\n", "sha256:" + "g" * 64, None, 42, b"sha256:" + b"a" * 64,
], ids=repr)
def test_check_digest_rejects(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        check_digest(bad)


def test_hash_file_streams_and_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000  # 2.5 MB: several 1 MiB reads
    path = tmp_path / "f"
    path.write_bytes(data)
    assert hash_file(path) == ("sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    assert hash_bytes(data) == hash_file(path)[0]


def test_hash_file_missing_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="nope"):
        hash_file(tmp_path / "nope")


def test_hashing_reader_hashes_what_was_read() -> None:
    reader = HashingReader(io.BytesIO(b"hello world"))
    assert reader.read(5) + reader.read() == b"hello world"
    assert reader.digest == hash_bytes(b"hello world")
    assert reader.size == 11


def test_verifying_reader_passes_good_bytes() -> None:
    data = b"x" * 3_000_000
    with verifying_reader(io.BytesIO(data), hash_bytes(data), "mem", len(data)) as r:
        assert r.read() == data


def test_verifying_reader_raises_before_returning_the_last_bytes() -> None:
    data = b"y" * 100
    reader = verifying_reader(io.BytesIO(data), hash_bytes(b"z" * 100), "mem", len(data))
    with pytest.raises(IntegrityError, match="corrupt") as info:
        reader.read(100)  # exactly the size, never reaching a 0-byte read
    assert "mem" in str(info.value)
    with pytest.raises(IntegrityError):  # and it stays failed
        reader.read()


def test_verifying_reader_without_size_checks_at_eof() -> None:
    reader = verifying_reader(io.BytesIO(b"abc"), hash_bytes(b"abd"), "mem")
    with pytest.raises(IntegrityError):
        reader.read()


def test_verifying_reader_is_not_seekable() -> None:
    reader = verifying_reader(io.BytesIO(b"abc"), hash_bytes(b"abc"), "mem", 3)
    assert not reader.seekable()


def test_hash_landed_hashes_what_the_destination_holds() -> None:
    dest = bytearray()
    pieces = [b"a" * 10, b"b" * 7, b"c" * 10]  # a short copy in the middle

    def copy() -> int:
        if not pieces:
            return 0
        piece = pieces.pop(0)
        dest.extend(piece)
        return len(piece)

    def read_at(view: memoryview, offset: int) -> int:
        data = dest[offset:offset + min(len(view), 3)]  # short reads too
        view[:len(data)] = data
        return len(data)

    assert hash_landed(copy, read_at, 10) == (hash_bytes(b"a" * 10 + b"b" * 7 + b"c" * 10), 27)


def test_hash_landed_refuses_a_destination_shorter_than_the_copy() -> None:
    calls = iter([10, 0])

    def read_at(view: memoryview, offset: int) -> int:
        return 0 if offset >= 4 else min(len(view), 4 - offset)

    with pytest.raises(StorageError, match="only 4 landed"):
        hash_landed(lambda: next(calls), read_at, 10)
