"""Query parameters: list filters, tag values, page positions (cursors) — see ``wire``."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from archivist.errors import InvalidInputError
from archivist.limits import MAX_PAGE
from archivist.model import ListFilter

#: Bounds of one page of a list (``limit`` query parameter).
DEFAULT_PAGE = 100
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})

# -- ListFilter <-> query parameters ---------------------------------------------------------
#: query parameter -> ListFilter field, for the plain string filters
_STRING_PARAMS = {"name": "name", "step": "source_step", "run": "source_run_id",
                  "pipeline": "source_pipeline", "digest": "digest", "kind": "kind"}
_FILTER_PARAMS = frozenset({*_STRING_PARAMS, "type", "tag", "partition", "partition_in",
                            "since", "until", "latest_only", "include_deleted", "order",
                            "limit", "cursor"})


def filter_to_params(filters: ListFilter) -> list[tuple[str, str]]:
    """The query parameters of ``GET …/versions`` for ``filters`` (project excluded: it is
    in the path). Defaults are left out; ``offset`` becomes a ``cursor``.

    ``limit`` is sent as it is; a caller asking for more than :data:`MAX_PAGE` pages
    through the results itself.
    """
    params: list[tuple[str, str]] = [("type", t) for t in filters.artifact_type]
    for param, attr in _STRING_PARAMS.items():
        value = getattr(filters, attr)
        if value is not None:
            params.append((param, value))
    params += [("tag", f"{key}:{encode_tag_value(value)}") for key, value in filters.tags.items()]
    params += [("partition", f"{key}:{value}") for key, value in filters.partitions.items()]
    params += [("partition_in", f"{key}:{granularity or ''}:{value}")
               for key, accepted in filters.partition_spellings.items()
               for value, granularity in accepted]
    for param in ("since", "until"):
        moment = getattr(filters, param)
        if moment is not None:
            params.append((param, repr(float(moment))))
    if filters.latest_only:
        params.append(("latest_only", "true"))
    if filters.include_deleted:
        params.append(("include_deleted", "true"))
    if filters.oldest_first:
        params.append(("order", "oldest"))
    return params + page_to_params(filters.limit, filters.offset)


def filter_from_params(project: str, params: Iterable[tuple[str, str]]) -> ListFilter:
    """The :class:`ListFilter` that query parameters (``request.query_params.multi_items()``)
    describe, in ``project``.

    Raises:
        InvalidInputError: an unknown parameter, a repeated single-valued one, a
            ``tag``/``partition`` without ``key:value`` (``partition_in`` without
            ``key:granularity:value``), a bad number, boolean, ``order``,
            ``limit`` or ``cursor``.
    """
    items = list(params)
    _check_known(items, _FILTER_PARAMS)
    single = _singles(items, _FILTER_PARAMS - {"type", "tag", "partition", "partition_in"})
    values: dict[str, Any] = {"project": project,
                              "artifact_type": [v for k, v in items if k == "type"]}
    for param, attr in _STRING_PARAMS.items():
        if param in single:
            values[attr] = single[param]
    tags: dict[str, Any] = {}
    for key, raw in _pairs(items, "tag"):
        tags[key] = decode_tag_value(raw)
    values["tags"] = tags
    values["partitions"] = dict(_pairs(items, "partition"))
    accepted: dict[str, list[tuple[str, str | None]]] = {}
    for key, rest in _pairs(items, "partition_in"):
        granularity, sep, value = rest.partition(":")
        if not sep:
            raise InvalidInputError(f"partition_in={key[:40]}:{rest[:40]!r}: expected "
                                    "partition_in=key:granularity:value (granularity may "
                                    "be empty)")
        accepted.setdefault(key, []).append((value, granularity or None))
    values["partition_spellings"] = {key: tuple(v) for key, v in accepted.items()}
    for param in ("since", "until"):
        if param in single:
            values[param] = _float_param(param, single[param])
    values["latest_only"] = _bool_param("latest_only", single.get("latest_only"))
    values["include_deleted"] = _bool_param("include_deleted", single.get("include_deleted"))
    order = single.get("order", "newest")
    if order not in ("newest", "oldest"):
        raise InvalidInputError(f"order must be 'newest' or 'oldest', got {order[:40]!r}")
    values["oldest_first"] = order == "oldest"
    values["limit"], values["offset"] = _page(single)
    return ListFilter(**values)


def encode_tag_value(value: Any) -> str:
    """A tag value as the ``v`` of ``tag=k:v``: a string that would not read back as
    itself is JSON-quoted, every other value is JSON."""
    if isinstance(value, str) and decode_tag_value(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def decode_tag_value(raw: str) -> Any:
    """The ``v`` of ``tag=k:v``: a JSON scalar if it parses as one, else the string."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except ValueError:
        return raw
    if isinstance(value, dict | list) or (isinstance(value, float) and not math.isfinite(value)):
        return raw
    return value


# -- pages ----------------------------------------------------------------------------------
def encode_cursor(offset: int) -> str:
    """The opaque cursor of the page starting at ``offset``."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The offset a cursor of :func:`encode_cursor` stands for.

    Raises:
        InvalidInputError: a cursor this API did not hand out.
    """
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    prefix, _, number = text.partition(":")
    if prefix != "o" or not number.isdigit() or len(number) > 18:
        raise InvalidInputError(f"invalid cursor {cursor[:40]!r}: pass the next_cursor of "
                                "the previous page, or none for the first page")
    return int(number)


def next_cursor(offset: int, limit: int, count: int) -> str | None:
    """The ``next_cursor`` of a page of ``count`` records: ``None`` once a page is short."""
    return encode_cursor(offset + count) if count >= limit else None


def page_to_params(limit: int, offset: int) -> list[tuple[str, str]]:
    """``limit`` and, past the first page, ``cursor``."""
    params = [("limit", str(limit))]
    if offset:
        params.append(("cursor", encode_cursor(offset)))
    return params


def page_from_params(params: Iterable[tuple[str, str]],
                     known: Iterable[str] = ()) -> tuple[int, int]:
    """``(limit, offset)`` from ``limit``/``cursor`` query parameters; ``known`` names the
    route's other parameters (anything else is refused).

    Raises:
        InvalidInputError: an unknown or repeated parameter, a limit outside 1..1000, or a
            bad cursor.
    """
    items = list(params)
    allowed = frozenset({"limit", "cursor", *known})
    _check_known(items, allowed)
    return _page(_singles(items, frozenset({"limit", "cursor"})))


def _no_constant(name: str) -> Any:
    raise ValueError(name)

def _check_known(items: list[tuple[str, str]], allowed: frozenset[str]) -> None:
    unknown = sorted({key for key, _ in items} - allowed)
    if unknown:
        raise InvalidInputError(f"unknown query parameter(s): {', '.join(unknown)[:200]} "
                                f"(known: {', '.join(sorted(allowed))})")


def _singles(items: list[tuple[str, str]], names: frozenset[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in items:
        if key in names:
            if key in out:
                raise InvalidInputError(f"query parameter {key!r} given more than once")
            out[key] = value
    return out


def _pairs(items: list[tuple[str, str]], param: str) -> list[tuple[str, str]]:
    out = []
    for key, value in items:
        if key == param:
            name, sep, rest = value.partition(":")
            if not sep or not name:
                raise InvalidInputError(f"{param}={value[:40]!r}: expected {param}=key:value")
            out.append((name, rest))
    return out


def _float_param(param: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInputError(f"{param} must be a time in epoch seconds, got {raw[:40]!r}")
    return value


def _bool_param(param: str, raw: str | None) -> bool:
    if raw is None or raw.lower() in _FALSE:
        return False
    if raw.lower() in _TRUE:
        return True
    raise InvalidInputError(f"{param} must be true or false, got {raw[:40]!r}")


def _page(single: Mapping[str, str]) -> tuple[int, int]:
    raw = single.get("limit")
    limit = DEFAULT_PAGE
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
            raise InvalidInputError(f"limit must be an integer from 1 to {MAX_PAGE}, "
                                    f"got {raw[:40]!r}")
        limit = int(raw)
    cursor = single.get("cursor")
    return limit, decode_cursor(cursor) if cursor else 0
