"""numpy arrays as .npy: round trips, no pickle, header checked before data is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archivist.errors import IntegrityError
from archivist.materializers import MaterializerRegistry

np = pytest.importorskip("numpy")


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=np.int32).reshape(3, 4),
    np.asfortranarray(np.ones((2, 3))),
    np.array(3.5),
    np.zeros((0, 4)),
    np.array([(1, 2.5, b"ab")], dtype=[("a", "i4"), ("b", "f8"), ("c", "S2")]),
    np.array(["x", "yz"]),
    np.array([True, False]),
    np.array(["2024-01-01"], dtype="datetime64[D]"),
    np.arange(10)[::3],
], ids=["int", "fortran", "0d", "empty", "structured", "unicode", "bool", "datetime",
        "strided"])
def test_round_trip(registry: MaterializerRegistry, tmp_path: Path, array: Any) -> None:
    m, meta = registry.save(array, tmp_path / "a")
    assert m.name == "npy"
    assert meta == {"dtype": str(array.dtype), "shape": list(array.shape)}
    back = registry.load("npy", tmp_path / "a", allow_pickle=False)
    np.testing.assert_array_equal(back, array)
    assert back.dtype == array.dtype


@pytest.mark.parametrize("obj", [np.array([1, "a"], dtype=object),
                                 np.array([(1, None)], dtype=[("a", "i4"), ("b", "O")]),
                                 np.ma.masked_array([1, 2], mask=[0, 1])],
                         ids=["object", "object-field", "masked"])
def test_objects_and_subclasses_go_to_pickle(registry: MaterializerRegistry, obj: Any) -> None:
    assert registry.for_object(obj).name == "pickle"


def test_truncated_npy_is_refused(registry: MaterializerRegistry, tmp_path: Path) -> None:
    registry.save(np.arange(100), tmp_path / "a")
    data = (tmp_path / "a").read_bytes()
    (tmp_path / "a").write_bytes(data[:-8])
    with pytest.raises(IntegrityError, match="declares 800 bytes"):
        registry.load("npy", tmp_path / "a", allow_pickle=False)


def test_huge_declared_shape_is_refused_without_allocating(registry: MaterializerRegistry,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "a"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 10**6)})
    with pytest.raises(IntegrityError, match="declares"):
        registry.load("npy", path, allow_pickle=False)


@pytest.mark.parametrize("header", [
    b"{'descr': __import__('os'",
    b"{'descr': __import__('os').getcwd(), 'fortran_order': False, 'shape': (1,)}",
], ids=["unbalanced", "code"])
def test_damaged_header_is_refused(registry: MaterializerRegistry, tmp_path: Path,
                                   header: bytes) -> None:
    header = header.ljust(118) + b"\n"
    (tmp_path / "a").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                 + header)
    with pytest.raises(IntegrityError, match="header"):
        registry.load("npy", tmp_path / "a", allow_pickle=False)
