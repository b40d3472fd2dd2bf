"""Common Python values without pickle: tuples, sets, datetimes, Decimals, dataclasses.

==========  =================================================  ===========================
format      saves                                              loads back
==========  =================================================  ===========================
``pyjson``  ``tuple``, ``set``, ``frozenset``, ``datetime``,   the same value, the same
            ``date``, ``time``, ``timedelta``, ``Decimal``,    types (exactly)
            ``UUID``, ``complex``, ``bytes`` inside a value,
            non-finite floats, dicts with non-text keys,
            dataclasses of such values; nested, with
            ``dict``/``list``/``str``/``int``/``float``/
            ``bool``/``None``
==========  =================================================  ===========================

Plain JSON values go to the ``json`` format first; this one takes what JSON cannot say,
so that a flow's ``self.shape = (3, 4)`` or ``self.when = datetime.now(UTC)`` is read
back (``Run(...).data``, ``catalog.load``) without ``allow_pickle=True``. The bytes are
canonical JSON where each non-JSON value is an object tagged ``"$t"``
(``{"$t":"tuple","v":[3,4]}``); sets are written sorted by their items' encoding, so
equal values have equal digests.

Datetimes and times keep their offset when it is a fixed one (``datetime.timezone``); a
zone such as ``ZoneInfo("Europe/Paris")`` would not come back as the same object, so a
value holding one goes to pickle, as does any other type. A dataclass (instances of a
class defined at module level, every field in ``__init__``) is stored with its module
and qualified name; loading it looks the class up in the modules already imported and
never imports one (a stored name is not trusted to run import code): import the module
first, or an :class:`~archivist.errors.InvalidInputError` says which.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import sys
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from archivist.errors import IntegrityError, InvalidInputError
from archivist.materializers.builtin import MAX_JSON_DEPTH, canonical_json, is_json_value

#: the first bytes of every value of this format (canonical JSON sorts ``$`` first)
MAGIC = b'{"$pyjson":1,'
TAG = "$t"
_MAX_INT_BITS = 14_000  # as the json format: int() refuses more than 4,300 digits


class _Unsupported(Exception):
    """A value this format cannot hold exactly."""


class PyValuesMaterializer:
    """Common Python values (see the module doc), as tagged canonical JSON."""

    name = "pyjson"
    artifact_type = "Object"
    needs_consent = False

    def handles(self, obj: object) -> bool:
        if is_json_value(obj):
            return False  # the json format's
        try:
            _encode(obj, 0)
        except (_Unsupported, RecursionError):
            return False
        return True

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        data, metadata = self.encode(obj)
        dest.write_bytes(data)
        return metadata

    def load(self, path: Path) -> object:
        return self.decode(path.read_bytes())

    def encode(self, obj: object) -> tuple[bytes, dict[str, Any]]:
        try:
            encoded = _encode(obj, 0)
        except (_Unsupported, RecursionError) as exc:
            raise InvalidInputError(f"{type(obj).__name__} value cannot be stored as "
                                    f"pyjson: {exc}") from None
        return canonical_json({"$pyjson": 1, "v": encoded}), {"python_type": _kind(obj)}

    def decode(self, data: bytes) -> object:
        try:
            document = json.loads(data)
        except (ValueError, RecursionError) as e:
            raise IntegrityError(f"stored pyjson does not parse: {e}") from None
        if not isinstance(document, dict) or document.get("$pyjson") != 1 or "v" not in document:
            raise IntegrityError("stored pyjson has no value")
        return _decode(document["v"])

    def sniff(self, head: bytes) -> bool:
        return head.startswith(MAGIC)


def _kind(obj: object) -> str:
    kind = type(obj)
    return kind.__qualname__ if kind.__module__ == "builtins" else \
        f"{kind.__module__}.{kind.__qualname__}"


def _encode(value: Any, depth: int) -> Any:
    """The JSON form of ``value``; raises :class:`_Unsupported` for what it cannot hold."""
    if depth > MAX_JSON_DEPTH:
        raise _Unsupported(f"nested deeper than {MAX_JSON_DEPTH}")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        if kind is str and not _encodable(value):
            raise _Unsupported("a string with a lone surrogate")
        if kind is int and value.bit_length() > _MAX_INT_BITS:
            raise _Unsupported("an int too long for JSON")
        return value
    if kind is float:
        return value if math.isfinite(value) else {TAG: "float", "v": repr(value)}
    if kind is list:
        return [_encode(v, depth + 1) for v in value]
    if kind is dict:
        if all(type(k) is str and _encodable(k) for k in value) and TAG not in value:
            return {k: _encode(v, depth + 1) for k, v in value.items()}
        return {TAG: "dict", "v": [[_encode(k, depth + 1), _encode(v, depth + 1)]
                                   for k, v in value.items()]}
    if kind is tuple:
        return {TAG: "tuple", "v": [_encode(v, depth + 1) for v in value]}
    if kind in (set, frozenset):
        items = sorted((_encode(v, depth + 1) for v in value),
                       key=lambda e: canonical_json(e))
        return {TAG: kind.__name__, "v": items}
    if kind is bytes:
        return {TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    if kind is datetime or kind is time:
        if value.tzinfo is not None and type(value.tzinfo) is not timezone:
            raise _Unsupported(f"{value!r} has a zone ({type(value.tzinfo).__name__}), not "
                               "a fixed offset")
        return {TAG: kind.__name__, "v": value.isoformat()}
    if kind is date:
        return {TAG: "date", "v": value.isoformat()}
    if kind is timedelta:
        return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if kind is Decimal:
        return {TAG: "decimal", "v": str(value)}
    if kind is uuid.UUID:
        return {TAG: "uuid", "v": str(value)}
    if kind is complex:
        return {TAG: "complex", "v": [_encode(value.real, depth + 1),
                                      _encode(value.imag, depth + 1)]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value, depth)
    raise _Unsupported(f"{_kind(value)} is not one of its types")


def _encode_dataclass(value: Any, depth: int) -> Any:
    kind = type(value)
    if "<locals>" in kind.__qualname__ or _find_class(kind.__module__,
                                                      kind.__qualname__) is not kind:
        raise _Unsupported(f"dataclass {kind.__qualname__} is not importable by name")
    fields = dataclasses.fields(value)
    if not all(f.init for f in fields):
        raise _Unsupported(f"dataclass {kind.__qualname__} has fields outside __init__")
    return {TAG: "dataclass", "class": f"{kind.__module__}:{kind.__qualname__}",
            "v": {f.name: _encode(getattr(value, f.name), depth + 1) for f in fields}}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {k: _decode(v) for k, v in value.items()}
    body = value.get("v")
    try:
        return _DECODERS[tag](body, value)
    except KeyError:
        raise IntegrityError(f"stored pyjson has an unknown tag {tag!r}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise IntegrityError(f"stored pyjson {tag} does not parse: {exc}") from None


def _decode_dataclass(body: Any, value: dict[str, Any]) -> Any:
    module, _, qualname = str(value.get("class", "")).partition(":")
    kind = _find_class(module, qualname)
    if kind is None:
        raise InvalidInputError(
            f"the value is a {module}.{qualname} dataclass, and module {module!r} is not "
            f"imported: import it before loading (archivist never imports a module a "
            "stored value names)")
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
        raise IntegrityError(f"stored pyjson names {module}.{qualname}, which is not a "
                             "dataclass")
    return kind(**{k: _decode(v) for k, v in dict(body).items()})


def _find_class(module: str, qualname: str) -> Any:
    """The class ``module.qualname`` among the modules already imported, else ``None``."""
    found: Any = sys.modules.get(module)
    for part in qualname.split(".") if found is not None else ():
        found = getattr(found, part, None)
    return found if isinstance(found, type) else None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_DECODERS: dict[str, Any] = {
    "float": lambda body, _: float(body),
    "dict": lambda body, _: {_decode(k): _decode(v) for k, v in body},
    "tuple": lambda body, _: tuple(_decode(v) for v in body),
    "set": lambda body, _: {_decode(v) for v in body},
    "frozenset": lambda body, _: frozenset(_decode(v) for v in body),
    "bytes": lambda body, _: base64.b64decode(body, validate=True),
    "datetime": lambda body, _: datetime.fromisoformat(body),
    "time": lambda body, _: time.fromisoformat(body),
    "date": lambda body, _: date.fromisoformat(body),
    "timedelta": lambda body, _: timedelta(days=body[0], seconds=body[1],
                                           microseconds=body[2]),
    "decimal": lambda body, _: Decimal(body),
    "uuid": lambda body, _: uuid.UUID(body),
    "complex": lambda body, _: complex(_decode(body[0]), _decode(body[1])),
    "dataclass": _decode_dataclass,
}
