"""bytes, text, JSON and the pickle fallback: round trips and what goes where."""

from __future__ import annotations

import math
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import pytest

from archivist.errors import IntegrityError, InvalidInputError
from archivist.materializers import JsonMaterializer, MaterializerRegistry, canonical_json


def roundtrip(registry: MaterializerRegistry, obj: object, tmp_path: Path,
              *, allow_pickle: bool = False) -> tuple[str, object, dict[str, object]]:
    m, meta = registry.save(obj, tmp_path / "obj")
    return m.name, registry.load(m.name, tmp_path / "obj", allow_pickle=allow_pickle), meta


@pytest.mark.parametrize("obj", [b"", b"\x00\x80\xff raw", bytearray(b"abc"),
                                 memoryview(b"abcdef")[::2]], ids=["empty", "raw",
                                                                   "bytearray", "strided"])
def test_bytes_round_trip(registry: MaterializerRegistry, tmp_path: Path, obj: object) -> None:
    name, back, _ = roundtrip(registry, obj, tmp_path)
    assert name == "bytes"
    assert back == bytes(obj)  # type: ignore[call-overload]
    assert type(back) is bytes


@pytest.mark.parametrize("text", ["", "hello", "héllo wörld ✓", "a\r\nb\rc\n", "lone \udc80"],
                         ids=["empty", "ascii", "unicode", "newlines", "surrogate"])
def test_text_round_trip(registry: MaterializerRegistry, tmp_path: Path, text: str) -> None:
    name, back, meta = roundtrip(registry, text, tmp_path)
    assert (name, back, meta) == ("text", text, {"encoding": "utf-8"})


@pytest.mark.parametrize("value", [
    {"a": 1, "b": [1.5, None, True, False, "x"], "c": {"d": {"e": []}}},
    [], {}, 0, -3.25, True, None, 10**300, {"ключ": "значение"},
], ids=lambda v: type(v).__name__)
def test_json_round_trip(registry: MaterializerRegistry, tmp_path: Path, value: object) -> None:
    name, back, _ = roundtrip(registry, value, tmp_path)
    assert name == "json"
    assert back == value
    assert type(back) is type(value)


def test_json_is_canonical(tmp_path: Path) -> None:
    m = JsonMaterializer()
    m.save({"b": 1, "a": [1, {"z": 0, "y": 1}]}, tmp_path / "one")
    m.save({"a": [1, {"y": 1, "z": 0}], "b": 1}, tmp_path / "two")
    assert (tmp_path / "one").read_bytes() == (tmp_path / "two").read_bytes()
    assert (tmp_path / "one").read_bytes() == b'{"a":[1,{"y":1,"z":0}],"b":1}'
    assert canonical_json({"é": 1}) == '{"é":1}'.encode()


@pytest.mark.parametrize("value", [float("nan"), {"loss": float("nan")}, [float("inf")],
                                   {"x": -math.inf}])
def test_json_rejects_nan(tmp_path: Path, value: object) -> None:
    m = JsonMaterializer()
    assert not m.handles(value)
    with pytest.raises(InvalidInputError, match="NaN"):
        m.save(value, tmp_path / "obj")


def test_nan_goes_to_pyjson_and_round_trips_without_consent(
        registry: MaterializerRegistry, tmp_path: Path) -> None:
    name, back, _ = roundtrip(registry, {"loss": float("nan")}, tmp_path, allow_pickle=False)
    assert name == "pyjson"
    assert isinstance(back, dict) and math.isnan(back["loss"])


def test_stored_json_with_nan_is_refused(registry: MaterializerRegistry, tmp_path: Path) -> None:
    (tmp_path / "obj").write_bytes(b'{"loss": NaN}')
    with pytest.raises(IntegrityError, match="NaN"):
        registry.load("json", tmp_path / "obj", allow_pickle=False)


@pytest.mark.parametrize("value", [
    (1, 2), {1: "a"}, {("a",): 1}, OrderedDict(a=1), {"a": {1, 2}}, 10**5000, {"k\udc80": 1},
], ids=["tuple", "int-key", "tuple-key", "ordereddict", "nested-set", "huge-int", "surrogate-key"])
def test_values_json_would_change_are_not_json(registry: MaterializerRegistry,
                                               value: object) -> None:
    """pyjson takes the common ones exactly; pickle what neither can say."""
    pyjson = isinstance(value, tuple) or (type(value) is dict and "k\udc80" not in value)
    assert registry.for_object(value).name == ("pyjson" if pyjson else "pickle")


def test_deep_nesting_is_not_json(registry: MaterializerRegistry) -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    assert registry.for_object(deep).name == "pickle"  # no RecursionError in handles()


def test_numpy_scalars_are_not_json(registry: MaterializerRegistry) -> None:
    np = pytest.importorskip("numpy")
    assert registry.for_object(np.float64(1.5)).name == "pickle"
    assert registry.for_object({"acc": float(np.float64(0.9))}).name == "json"


def test_damaged_text_and_json_are_integrity_errors(registry: MaterializerRegistry,
                                                    tmp_path: Path) -> None:
    (tmp_path / "j").write_bytes(b'{"a": 1')
    with pytest.raises(IntegrityError):
        registry.load("json", tmp_path / "j", allow_pickle=False)
    (tmp_path / "t").write_bytes(b"ok" + b"\xff" * 100)
    with pytest.raises(IntegrityError):
        registry.load("text", tmp_path / "t", allow_pickle=False)


def test_set_falls_back_to_pickle_and_needs_consent(registry: MaterializerRegistry,
                                                    tmp_path: Path) -> None:
    """S12: written freely, loaded only with allow_pickle=True."""
    from archivist.errors import PickleNotAllowedError

    value = {1, 2, Fraction(1, 3)}  # not a set of common values (pyjson): pickle
    m, meta = registry.save(value, tmp_path / "obj")
    assert (m.name, m.needs_consent, meta["python_type"]) == ("pickle", True, "builtins.set")
    with pytest.raises(PickleNotAllowedError, match="allow_pickle=True"):
        registry.load("pickle", tmp_path / "obj", allow_pickle=False)
    assert registry.load("pickle", tmp_path / "obj", allow_pickle=True) == value


def test_unpicklable_object_is_a_typed_error(registry: MaterializerRegistry,
                                             tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot be pickled"):
        registry.save(lambda: 1, tmp_path / "obj")
    assert not (tmp_path / "obj").exists()


@pytest.mark.parametrize("value", [b"\x00raw", bytearray(b"abc"), memoryview(b"abcdef")[::2],
                                   "héllo \udc80", {"b": [1, 2.5, None], "a": "x"}, [], 7],
                         ids=["bytes", "bytearray", "strided", "text", "json", "list", "int"])
def test_in_memory_encoding_is_exactly_what_save_writes(
        registry: MaterializerRegistry, tmp_path: Path, value: object) -> None:
    m, meta = registry.save(value, tmp_path / "obj")
    small = registry.in_memory(m.name)
    assert small is m
    assert small.encode(value) == ((tmp_path / "obj").read_bytes(), meta)
    data = (tmp_path / "obj").read_bytes()
    assert registry.decode(small, data) == registry.load(m.name, tmp_path / "obj",
                                                         allow_pickle=False)


def test_only_consent_free_builtin_formats_decode_in_memory(
        registry: MaterializerRegistry) -> None:
    assert registry.in_memory("pickle") is None
    assert registry.in_memory("no-such-format") is None
    with pytest.raises(IntegrityError, match="do not look like"):
        registry.decode(JsonMaterializer(), b"\xff\xfe not json")
