"""The registry: lookup order, user extension, names as an allow-list, the load choke point."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from archivist.errors import IntegrityError, InvalidInputError, PickleNotAllowedError
from archivist.materializers import (
    Materializer,
    MaterializerRegistry,
    PickleMaterializer,
    default_registry,
)

BUILTIN = ["safetensors", "parquet", "npy", "skops", "joblib", "png", "bytes", "text", "json",
           "pyjson", "pickle"]


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    __hash__ = None  # type: ignore[assignment]


class PointMaterializer:
    name = "point"
    artifact_type = "Geometry"
    needs_consent = False

    def handles(self, obj: object) -> bool:
        return isinstance(obj, Point)

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        assert isinstance(obj, Point)
        dest.write_text(f"POINT {obj.x} {obj.y}")
        return {"x": obj.x}

    def load(self, path: Path) -> object:
        _, x, y = path.read_text().split()
        return Point(int(x), int(y))

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"POINT ")


class EverythingAsText(PointMaterializer):
    name = "everything"

    def handles(self, obj: object) -> bool:
        return True


def test_default_registry_is_fresh_and_complete() -> None:
    a, b = default_registry(), default_registry()
    assert a.names() == BUILTIN
    assert len(a) == len(BUILTIN) and "pickle" in a and "os:system" not in a
    a.register(PointMaterializer())
    assert "point" not in b
    assert all(isinstance(m, Materializer) for m in a)


def test_user_materializer_wins_over_pickle(registry: MaterializerRegistry,
                                            tmp_path: Path) -> None:
    assert registry.for_object(Point(1, 2)).name == "pickle"
    registry.register(PointMaterializer())
    m, meta = registry.save(Point(1, 2), tmp_path / "p")
    assert (m.name, m.artifact_type, meta) == ("point", "Geometry", {"x": 1})
    assert registry.load("point", tmp_path / "p", allow_pickle=False) == Point(1, 2)


def test_first_registered_is_tried_before_builtins(registry: MaterializerRegistry) -> None:
    registry.register(EverythingAsText())
    assert registry.for_object(b"x").name == "everything"
    assert registry.names()[0] == "everything"


def test_register_last_comes_after_builtins_but_before_pickle(
        registry: MaterializerRegistry) -> None:
    registry.register(EverythingAsText(), first=False)
    assert registry.for_object(b"x").name == "bytes"
    assert registry.for_object({Fraction(1, 2)}).name == "everything"  # pyjson: no
    assert registry.names()[-2:] == ["everything", "pickle"]


def test_names_are_unique_unless_replaced(registry: MaterializerRegistry) -> None:
    class OtherJson(PointMaterializer):
        name = "json"

    with pytest.raises(InvalidInputError, match="already registered"):
        registry.register(OtherJson())
    registry.register(OtherJson(), replace=True)
    assert isinstance(registry.by_name("json"), OtherJson)
    assert registry.names().count("json") == 1


def test_replacing_the_fallback(registry: MaterializerRegistry) -> None:
    class StrictPickle(PickleMaterializer):
        pass

    registry.register(StrictPickle(), replace=True)
    assert isinstance(registry.for_object({Fraction(1, 2)}), StrictPickle)
    assert registry.names()[-1] == "pickle"


@pytest.mark.parametrize("name", ["os:system", "Evil", "", "a/b", "../x", "x" * 65, "json "])
def test_malformed_materializer_names_are_refused(registry: MaterializerRegistry,
                                                  name: str) -> None:
    class Bad(PointMaterializer):
        pass

    Bad.name = name
    with pytest.raises(InvalidInputError, match="not a valid format name"):
        registry.register(Bad())


def test_objects_without_the_contract_are_refused(registry: MaterializerRegistry) -> None:
    with pytest.raises(InvalidInputError, match="not a materializer"):
        registry.register(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["os:system", "evil", "loader_module", "../outside.pkl",
                                  "archivist.materializers.pickled:PickleMaterializer",
                                  "PICKLE", 3])
def test_lookup_is_by_registered_name_only(registry: MaterializerRegistry, name: Any,
                                           tmp_path: Path) -> None:
    """S3: metadata naming code is never imported or followed."""
    modules = set(sys.modules)
    with pytest.raises(InvalidInputError, match="unknown format"):
        registry.by_name(name)
    (tmp_path / "obj").write_bytes(b"\x80\x05N.")
    with pytest.raises(IntegrityError, match="unknown format"):
        registry.load(name, tmp_path / "obj", allow_pickle=True)
    assert set(sys.modules) == modules


def test_registry_without_fallback() -> None:
    registry = MaterializerRegistry([PointMaterializer()])
    assert registry.for_object(Point(0, 0)).name == "point"
    with pytest.raises(InvalidInputError, match="no materializer handles"):
        registry.for_object(1)


def test_save_by_format_and_cleanup_on_failure(registry: MaterializerRegistry,
                                               tmp_path: Path) -> None:
    m, _ = registry.save({"a": 1}, tmp_path / "p", format="pickle")
    assert m.name == "pickle"
    with pytest.raises(InvalidInputError):
        registry.save({1, 2}, tmp_path / "j", format="json")
    assert not (tmp_path / "j").exists()


def test_missing_bytes_are_an_integrity_error(registry: MaterializerRegistry,
                                              tmp_path: Path) -> None:
    with pytest.raises(IntegrityError, match="missing"):
        registry.load("json", tmp_path / "nope", allow_pickle=False)
    with pytest.raises(IntegrityError, match="directory"):
        registry.load("bytes", tmp_path, allow_pickle=False)


def test_sniff_mismatch_on_a_user_format(registry: MaterializerRegistry, tmp_path: Path) -> None:
    registry.register(PointMaterializer())
    (tmp_path / "p").write_bytes(b"LINE 1 2")
    with pytest.raises(IntegrityError, match="do not look like the recorded format 'point'"):
        registry.load("point", tmp_path / "p", allow_pickle=False)


HEAVY = ["pandas", "pyarrow", "numpy", "sklearn", "sklearn.base", "skops", "joblib", "torch",
         "safetensors", "matplotlib", "matplotlib.figure"]


@pytest.mark.parametrize("obj", [b"x", "x", {"a": [1]}, {1, 2}, Point(1, 2), None, 1.5,
                                 {"w": object()}],
                         ids=["bytes", "str", "dict", "set", "point", "none", "float", "object"])
def test_handles_never_imports_a_library(registry: MaterializerRegistry,
                                         monkeypatch: pytest.MonkeyPatch, obj: object) -> None:
    """With every heavy library made unimportable, choosing a materializer still works."""
    for name in HEAVY:
        monkeypatch.setitem(sys.modules, name, None)
    assert registry.for_object(obj).name in {"bytes", "text", "json", "pyjson", "pickle"}


def test_consent_error_says_what_to_do(registry: MaterializerRegistry, tmp_path: Path) -> None:
    with pytest.raises(PickleNotAllowedError) as info:
        registry.load("pickle", tmp_path / "never-read", allow_pickle=False)
    assert "allow_pickle=True" in str(info.value)
    assert info.value.to_dict()["details"] == {"format": "pickle"}


def test_importing_and_choosing_imports_no_library() -> None:
    """Importing the materializers and choosing one for plain objects loads no heavy library."""
    import subprocess

    code = (
        "import sys, archivist\n"
        "before = set(sys.modules)\n"
        "from archivist.materializers import default_registry\n"
        "r = default_registry()\n"
        "for o in (b'x', 's', {'a': [1]}, {1, 2}, None):\n"
        "    r.for_object(o)\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"
