"""Bytes, text and JSON: the materializers that need nothing but the standard library.

==========  ===========================================  =================================
format      saves                                        loads back
==========  ===========================================  =================================
``bytes``   ``bytes``, ``bytearray``, ``memoryview``     ``bytes``
``text``    ``str``                                      ``str`` (UTF-8, newlines kept)
``json``    ``dict``/``list``/``int``/``float``/         the same value
            ``bool``/``None``, nested, ``str`` keys,
            finite floats
==========  ===========================================  =================================

JSON is written canonically (sorted keys, no spaces, UTF-8) so equal values hash to the
same digest and are stored once. Only exact built-in types count as JSON-able: a tuple,
an ``OrderedDict``, a ``numpy.float64`` or a NaN would not come back as the same object, so
they fall through to another materializer (in the default registry, pickle).

All three are :class:`~archivist.materializers.registry.InMemoryMaterializer`: ``encode``
gives the exact bytes ``save`` writes and ``decode`` reads them back, so small values are
stored and loaded without a scratch file.
"""

from __future__ import annotations

import codecs
import json
import math
from pathlib import Path
from typing import Any, cast

from archivist.errors import IntegrityError, InvalidInputError

MAX_JSON_DEPTH = 500  # json's C encoder and decoder recurse; stay well below the stack limit
_MAX_INT_BITS = 14_000  # ≈ 4,214 digits: int() refuses more than 4,300 (CVE-2020-10735)
_JSON_START = frozenset(b'{["-0123456789tfn')


class BytesMaterializer:
    """Raw bytes, stored as they are."""

    name = "bytes"
    artifact_type = "Object"
    needs_consent = False

    def handles(self, obj: object) -> bool:
        return isinstance(obj, bytes | bytearray | memoryview)

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        data = _as_bytes_like(obj)  # written as it is: no copy of a large buffer
        with open(dest, "wb") as f:
            f.write(data)
        return {}

    def load(self, path: Path) -> object:
        return self.decode(path.read_bytes())

    def encode(self, obj: object) -> tuple[bytes, dict[str, Any]]:
        data = _as_bytes_like(obj)
        return (data if isinstance(data, bytes) else bytes(data)), {}

    def decode(self, data: bytes) -> object:
        return data

    def sniff(self, head: bytes) -> bool:
        return True


class TextMaterializer:
    """A ``str``, stored as UTF-8 (lone surrogates are kept with ``surrogatepass``)."""

    name = "text"
    artifact_type = "Object"
    needs_consent = False

    def handles(self, obj: object) -> bool:
        return isinstance(obj, str)

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        return _write(dest, *self.encode(obj))

    def load(self, path: Path) -> object:
        return self.decode(path.read_bytes())

    def encode(self, obj: object) -> tuple[bytes, dict[str, Any]]:
        if not isinstance(obj, str):
            raise InvalidInputError(f"text format takes a str, got {type(obj).__name__}")
        return obj.encode("utf-8", "surrogatepass"), {"encoding": "utf-8"}

    def decode(self, data: bytes) -> object:
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as e:
            raise IntegrityError(f"stored text is not UTF-8: {e}") from None

    def sniff(self, head: bytes) -> bool:
        return _utf8_prefix(head, "surrogatepass")


class JsonMaterializer:
    """JSON-able values, stored as canonical JSON (NaN and infinities are not JSON)."""

    name = "json"
    artifact_type = "Object"
    needs_consent = False

    def handles(self, obj: object) -> bool:
        return is_json_value(obj)

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        return _write(dest, *self.encode(obj))

    def load(self, path: Path) -> object:
        return self.decode(path.read_bytes())

    def encode(self, obj: object) -> tuple[bytes, dict[str, Any]]:
        if not is_json_value(obj):
            raise InvalidInputError(
                f"{type(obj).__name__} value is not JSON: use dict (str keys), list, str, int, "
                "finite float, bool or None, nested at most "
                f"{MAX_JSON_DEPTH} deep (NaN and infinity are not JSON)")
        return canonical_json(obj), {}

    def decode(self, data: bytes) -> object:
        try:
            return json.loads(data, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as e:
            raise IntegrityError(f"stored JSON does not parse: {e}") from None

    def sniff(self, head: bytes) -> bool:
        stripped = head.lstrip(b" \t\r\n")
        return bool(stripped) and stripped[0] in _JSON_START and _utf8_prefix(head)


def _as_bytes_like(obj: object) -> bytes | bytearray | memoryview:
    if not isinstance(obj, bytes | bytearray | memoryview):
        raise InvalidInputError(f"bytes format takes bytes, got {type(obj).__name__}")
    return obj.tobytes() if isinstance(obj, memoryview) and not obj.contiguous else obj


def _write(dest: Path, data: bytes, metadata: dict[str, Any]) -> dict[str, Any]:
    with open(dest, "wb") as f:
        f.write(data)
    return metadata


def canonical_json(value: object) -> bytes:
    """The canonical UTF-8 JSON encoding: sorted keys, no spaces, NaN refused."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def is_json_value(obj: object) -> bool:
    """Whether ``obj`` round-trips through JSON unchanged (exact built-in types only)."""
    stack: list[tuple[object, int]] = [(obj, 0)]
    while stack:
        value, depth = stack.pop()
        kind = type(value)
        if value is None or kind is bool:
            continue
        if kind is str:
            if not _encodable(cast(str, value)):
                return False
        elif kind is int:
            if cast(int, value).bit_length() > _MAX_INT_BITS:
                return False
        elif kind is float:
            if not math.isfinite(cast(float, value)):
                return False
        elif depth >= MAX_JSON_DEPTH:
            return False
        elif kind is dict:
            for key, item in cast(dict[object, object], value).items():
                if type(key) is not str or not _encodable(key):
                    return False
                stack.append((item, depth + 1))
        elif kind is list:
            stack.extend((item, depth + 1) for item in cast(list[object], value))
        else:
            return False
    return True


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogate
        return False
    return True


def _utf8_prefix(head: bytes, errors: str = "strict") -> bool:
    """Whether ``head`` is valid UTF-8, allowing a character cut at its end."""
    try:
        codecs.getincrementaldecoder("utf-8")(errors).decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")
