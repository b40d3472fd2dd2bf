"""The rules for every name, key and value a user hands the catalog (SPEC §9).

This module is the only place these rules live: the catalog calls it before any backend
sees the input, so every backend (and the CLI and the server) rejects the same input with
the same message.

Limits (each tested at the cap and at cap + 1):

=====================  =====================================
name, project, alias   ``[A-Za-z0-9][A-Za-z0-9._-]{0,127}``, no ``..``
artifact_type          1-64 printable ASCII characters
tag key                same rule as names; at most 256 tags per version
tag value              JSON scalar; strings ≤ 4 KiB
partition              key as names, value a string ≤ 1 KiB, no control characters
metadata               JSON object ≤ 1 MiB encoded, depth ≤ 64
description            ≤ 1 MiB
producer fields        ≤ 256 printable characters
parents                ≤ 1,000 per version
=====================  =====================================
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from archivist.errors import ConflictError, InvalidInputError, InvalidNameError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
RESERVED_ALIASES = frozenset({"latest"})

MAX_TYPE = 64
MAX_TAGS = 256
MAX_TAG_VALUE = 4096
MAX_PARTITION_VALUE = 1024
MAX_METADATA_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_DESCRIPTION = 1024 * 1024
MAX_PRODUCER = 256
MAX_PARENTS = 1000
MAX_INT_BITS = 63  # integers must fit a signed 64-bit column on every database


def check_name(value: object, what: str = "name") -> str:
    """Return ``value`` if it is a valid name, project, alias or tag key.

    Raises:
        InvalidNameError: naming the rule that was broken.
    """
    if not isinstance(value, str):
        raise InvalidNameError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > 128:
        raise InvalidNameError(f"{what} is {len(value)} characters long; the limit is 128")
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidNameError(
            f"invalid {what} {_show(value)}: use 1-128 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if ".." in value:
        raise InvalidNameError(f"invalid {what} {_show(value)}: '..' is not allowed")
    if what == "name" and ID_PATTERN.fullmatch(value):
        raise InvalidNameError(f"invalid name {_show(value)}: it has the form of a version id")
    return value


def check_alias(value: object) -> str:
    """Validate an alias name: a name that is neither ``latest`` nor all digits.

    Raises:
        InvalidNameError: for a reserved, numeric or malformed alias.
    """
    alias = check_name(value, "alias")
    if alias in RESERVED_ALIASES:
        raise InvalidNameError("'latest' is implicit (the highest live version) and cannot be set")
    if alias.isdigit():
        raise InvalidNameError(f"alias {alias!r} is all digits; it would read as a version number")
    return alias


def check_artifact_type(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidNameError("artifact_type must be a non-empty string")
    if len(value) > MAX_TYPE or not value.isascii() or not value.isprintable():
        raise InvalidNameError(
            f"artifact_type {_show(value)} must be 1-{MAX_TYPE} printable ASCII characters"
        )
    return value


def check_text(value: object, what: str, limit: int = MAX_PRODUCER) -> str | None:
    """Validate a free text field (description, producer fields); ``None`` passes."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    if len(value.encode("utf-8", "surrogatepass")) > limit:
        raise InvalidInputError(f"{what} is longer than the limit of {limit} bytes")
    allowed = "\n\t" if what == "description" else ""
    for ch in value:
        if (not ch.isprintable() and ch not in allowed) or 0xD800 <= ord(ch) <= 0xDFFF:
            raise InvalidInputError(f"{what} contains the control character {ch!r}")
    return value


def check_tag_value(key: str, value: object) -> str | int | float | bool | None:
    """Tags are JSON scalars: str, int, float, bool or None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise InvalidInputError(f"tag {key!r}: integer outside the signed 64-bit range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"tag {key!r}: {value} is not a JSON number")
        return value
    if isinstance(value, str):
        _check_string(value, f"tag {key!r}")
        if len(value.encode()) > MAX_TAG_VALUE:
            raise InvalidInputError(f"tag {key!r}: value longer than {MAX_TAG_VALUE} bytes")
        return value
    raise InvalidInputError(
        f"tag {key!r}: value must be a string, number, boolean or null, "
        f"got {type(value).__name__}"
    )


def check_tags(tags: Mapping[str, object] | None) -> dict[str, Any]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInputError("tags must be a mapping of key -> value")
    if len(tags) > MAX_TAGS:
        raise InvalidInputError(f"{len(tags)} tags; the limit is {MAX_TAGS}")
    return {check_name(k, "tag key"): check_tag_value(k, v) for k, v in tags.items()}


def check_partitions(partitions: Mapping[str, object] | None) -> dict[str, str]:
    if partitions is None:
        return {}
    if not isinstance(partitions, Mapping):
        raise InvalidInputError("partitions must be a mapping of key -> string")
    if len(partitions) > MAX_TAGS:
        raise InvalidInputError(f"{len(partitions)} partitions; the limit is {MAX_TAGS}")
    out: dict[str, str] = {}
    for key, value in partitions.items():
        check_name(key, "partition key")
        if not isinstance(value, str) or not value:
            raise InvalidInputError(f"partition {key!r} must be a non-empty string")
        if len(value) > MAX_PARTITION_VALUE or not value.isprintable():
            raise InvalidInputError(
                f"partition {key!r} must be printable and at most {MAX_PARTITION_VALUE} chars"
            )
        _check_string(value, f"partition {key!r}")
        out[key] = value
    return out


def check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate a metadata object and return it as plain JSON types.

    Raises:
        InvalidInputError: naming the offending path (``metadata.a.b``) for values that are
            not JSON (NaN, sets, bytes, NUL characters, lone surrogates, keys that collide
            once coerced to strings), for nesting deeper than 64, or over 1 MiB.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError("metadata must be a mapping")
    clean = _clean_json(metadata, "metadata", 0)
    size = len(json.dumps(clean, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata is {size} bytes; the limit is {MAX_METADATA_BYTES}")
    assert isinstance(clean, dict)
    return clean


def _clean_json(value: Any, path: str, depth: int) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise InvalidInputError(f"{path}: nested deeper than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise InvalidInputError(f"{path}: integer outside the signed 64-bit range")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{path}: {value} is not a JSON number")
        return float(value)
    if isinstance(value, str):
        _check_string(value, path)
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{path}: key {key!r} is not a string")
            _check_string(key, f"{path} key")
            out[key] = _clean_json(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_clean_json(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise InvalidInputError(f"{path}: {type(value).__name__} is not JSON (use str, number, "
                            "bool, None, list or dict)")


def _check_string(value: str, where: str) -> None:
    if "\x00" in value:
        raise InvalidInputError(f"{where}: NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{where}: not valid Unicode (lone surrogate)") from None


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def case_conflict(project: str, existing: str, wanted: str) -> ConflictError:
    """The error of registering ``wanted`` where ``existing`` is the same name in another
    case: names are unique per project regardless of case."""
    return ConflictError(
        f"an artifact named {existing!r} already exists in project {project!r}; names are "
        f"unique regardless of case (register under {existing!r} or pick another name than "
        f"{wanted!r})", existing=existing)
