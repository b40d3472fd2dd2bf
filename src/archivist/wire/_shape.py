"""Shape checks of decoded JSON: the field is there and has the right JSON type.

Each raises ``InvalidInputError`` naming the field, so a malformed request gets a 422 that
says what to fix, and a malformed response a typed error rather than a ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

from archivist.errors import InvalidInputError

_T = TypeVar("_T")


def json_type(value: object) -> str:
    """How a JSON value's type is named in messages (``an object``, ``null``, …)."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def as_object(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{what} must be a JSON object, got {json_type(data)}")
    return data


def as_list(data: object, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidInputError(f"{what} must be a list, got {json_type(data)}")
    return data


def require(record: Mapping[str, Any], keys: Iterable[str], what: str) -> None:
    missing = [key for key in keys if key not in record]
    if missing:
        raise InvalidInputError(f"{what} is missing the field(s) {', '.join(missing)}")


def refuse_unknown(record: Mapping[str, Any], known: Iterable[str], what: str) -> None:
    unknown = sorted(set(record) - set(known))
    if unknown:
        raise InvalidInputError(f"unknown field(s) in {what}: {', '.join(unknown)[:200]}")


def _typed(record: Mapping[str, Any], key: str, kind: type[_T] | tuple[type, ...],
           label: str) -> _T:
    value = record[key]
    # bool is an int in Python, never in JSON
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int, float))):
        raise InvalidInputError(f"field {key!r} must be {label}, got {json_type(value)}")
    return cast(_T, value)


def get_str(record: Mapping[str, Any], key: str) -> str:
    return _typed(record, key, str, "a string")


def get_int(record: Mapping[str, Any], key: str) -> int:
    return _typed(record, key, int, "an integer")


def get_number(record: Mapping[str, Any], key: str) -> float:
    return float(_typed(record, key, (int, float), "a number"))


def opt_str(record: Mapping[str, Any], key: str) -> str | None:
    return None if record.get(key) is None else get_str(record, key)


def opt_int(record: Mapping[str, Any], key: str) -> int | None:
    return None if record.get(key) is None else get_int(record, key)


def opt_number(record: Mapping[str, Any], key: str) -> float | None:
    return None if record.get(key) is None else get_number(record, key)


def opt_bool(record: Mapping[str, Any], key: str) -> bool | None:
    return None if record.get(key) is None else _typed(record, key, bool, "a boolean")


def get_bool(record: Mapping[str, Any], key: str) -> bool:
    return bool(opt_bool(record, key))


def get_dict(record: Mapping[str, Any], key: str) -> dict[str, Any]:
    if record.get(key) is None:
        return {}
    return dict(_typed(record, key, dict, "an object"))


def get_str_dict(record: Mapping[str, Any], key: str) -> dict[str, str]:
    out = get_dict(record, key)
    if not all(isinstance(v, str) for v in out.values()):
        raise InvalidInputError(f"field {key!r} must map keys to strings")
    return out


def get_str_list(record: Mapping[str, Any], key: str) -> list[str]:
    if record.get(key) is None:
        return []
    values = _typed(record, key, list, "a list")
    if not all(isinstance(v, str) for v in values):
        raise InvalidInputError(f"field {key!r} must be a list of strings")
    return list(values)
