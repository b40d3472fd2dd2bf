"""The JSON form of the records the HTTP API carries, both directions, written once.

The server decodes requests and encodes responses with these functions, and the remote
backend does the reverse, so the two can never disagree on a shape (STYLE P17):

======================  =====================================================================
``Artifact``            :meth:`Artifact.to_dict` (``created_at`` ISO 8601) /
                        :func:`artifact_from_dict`
``NewVersion``          ``dataclasses.asdict`` with tuples as lists: :func:`new_version_to_dict`
                        / :func:`new_version_from_dict`
``HistoryEntry``        :meth:`HistoryEntry.to_dict` / :func:`history_entry_from_dict`
``LineageRows``         ``{"parents","children","upstream","downstream","edges":[[p, c]]}``:
                        :func:`lineage_to_dict` / :func:`lineage_from_dict`
``ListFilter``          query parameters: :func:`filter_to_params` / :func:`filter_from_params`
a page position         ``limit`` + opaque ``cursor``: :func:`page_to_params` /
                        :func:`page_from_params`, :func:`encode_cursor`, :func:`next_cursor`
an error                ``{"error": {"type","code","message","details"}}``:
                        :func:`error_to_dict` / :func:`error_from_dict`
======================  =====================================================================

Decoders check the *shape* (field names and JSON types) and raise ``InvalidInputError``
naming the field; the meaning (name rules, limits) is checked by :mod:`archivist.names`
where the records are used. Unknown fields of a ``NewVersion`` are refused (a request
that says more than the server understands writes nothing); unknown fields of an
``Artifact`` are ignored, so an older client can read a newer server.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from archivist.backends.base import LineageRows, ListFilter, NewVersion
from archivist.errors import ERRORS_BY_CODE, ArchivistError, InvalidInputError, InvalidQueryError
from archivist.model import Artifact, HistoryEntry

#: Bounds of one page of a list (``limit`` query parameter).
MAX_PAGE = 1000
DEFAULT_PAGE = 100

_T = TypeVar("_T")
_ARTIFACT_FIELDS = {f.name: f for f in dataclasses.fields(Artifact)}
_NEW_VERSION_FIELDS = {f.name: f for f in dataclasses.fields(NewVersion)}
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


# -- Artifact -------------------------------------------------------------------------------
def artifact_to_dict(artifact: Artifact) -> dict[str, Any]:
    """The JSON form of a version (same as :meth:`Artifact.to_dict`)."""
    return artifact.to_dict()


def artifact_from_dict(data: object) -> Artifact:
    """Rebuild an :class:`Artifact` from :meth:`Artifact.to_dict` output.

    The derived keys (``artifact_id``, ``uri``) and unknown keys are ignored.

    Raises:
        InvalidInputError: a missing required field or a field of the wrong JSON type.
    """
    record = _object(data, "artifact")
    _require(record, ("id", "name", "version", "artifact_type", "project", "created_at"),
             "artifact")
    values: dict[str, Any] = {
        "id": _str(record, "id"), "name": _str(record, "name"),
        "version": _int(record, "version"), "artifact_type": _str(record, "artifact_type"),
        "project": _str(record, "project"),
        "created_at": parse_timestamp(record["created_at"], "artifact.created_at"),
        "kind": _str(record, "kind") if "kind" in record else "none",
        "metadata": _dict(record, "metadata"), "tags": _dict(record, "tags"),
        "aliases": _str_list(record, "aliases"),
        "partitions": _str_dict(record, "partitions"),
        "parent_ids": _str_list(record, "parent_ids"),
        "deleted": _bool(record, "deleted"),
        "size": _opt_int(record, "size"),
    }
    for key in ("digest", "format", "reference_uri", "storage_path", "description",
                "source_step", "source_run_id", "source_pipeline", "user", "code_version"):
        values[key] = _opt_str(record, key)
    return Artifact(**values)


def artifacts_from_list(data: object, what: str = "data") -> list[Artifact]:
    """Decode a JSON list of artifacts (the ``data`` of a list response).

    Raises:
        InvalidInputError: not a list, or an element that is not an artifact.
    """
    return [artifact_from_dict(item) for item in _list(data, what)]


def parse_timestamp(value: object, what: str = "timestamp") -> datetime:
    """An ISO 8601 string as an aware datetime (naive values are read as UTC).

    Raises:
        InvalidInputError: not a string in ISO 8601 form.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be an ISO 8601 string, got {_type(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"{what} {value[:40]!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# -- NewVersion -----------------------------------------------------------------------------
def new_version_to_dict(record: NewVersion) -> dict[str, Any]:
    """``dataclasses.asdict(record)`` with tuples as lists (JSON has no tuples)."""
    out = dataclasses.asdict(record)
    for key in ("aliases", "parent_ids", "blob_digests"):
        out[key] = list(out[key])
    return out


def new_version_from_dict(data: object) -> NewVersion:
    """Rebuild a :class:`NewVersion` from :func:`new_version_to_dict` output.

    Raises:
        InvalidInputError: an unknown field, a missing required field, or a field of the
            wrong JSON type (the message names it).
    """
    record = _object(data, "version")
    unknown = sorted(set(record) - set(_NEW_VERSION_FIELDS))
    if unknown:
        raise InvalidInputError(f"unknown field(s) in a new version: {', '.join(unknown)[:200]}")
    _require(record, ("id", "project", "name", "artifact_type", "created_at"), "version")
    values: dict[str, Any] = {
        "id": _str(record, "id"), "project": _str(record, "project"),
        "name": _str(record, "name"), "artifact_type": _str(record, "artifact_type"),
        "created_at": _number(record, "created_at"),
        "kind": _str(record, "kind") if "kind" in record else "none",
        "size": _opt_int(record, "size"), "version": _opt_int(record, "version"),
        "metadata": _dict(record, "metadata"), "tags": _dict(record, "tags"),
        "partitions": _str_dict(record, "partitions"),
        "aliases": tuple(_str_list(record, "aliases")),
        "parent_ids": tuple(_str_list(record, "parent_ids")),
        "blob_digests": tuple(_str_list(record, "blob_digests")),
    }
    for key in ("format", "digest", "reference_uri", "description", "source_step",
                "source_run_id", "source_pipeline", "user", "code_version"):
        values[key] = _opt_str(record, key)
    return NewVersion(**values)


# -- HistoryEntry ---------------------------------------------------------------------------
def history_entry_to_dict(entry: HistoryEntry) -> dict[str, Any]:
    """The JSON form of a history entry (same as :meth:`HistoryEntry.to_dict`)."""
    return entry.to_dict()


def history_entry_from_dict(data: object) -> HistoryEntry:
    """Rebuild a :class:`HistoryEntry` from :meth:`HistoryEntry.to_dict` output.

    Raises:
        InvalidInputError: a missing field or one of the wrong JSON type.
    """
    record = _object(data, "history entry")
    _require(record, ("at", "kind", "key"), "history entry")
    return HistoryEntry(at=parse_timestamp(record["at"], "history entry.at"),
                        kind=_str(record, "kind"), key=_str(record, "key"),
                        old=record.get("old"), new=record.get("new"),
                        version_id=_opt_str(record, "version_id"),
                        user=_opt_str(record, "user"))


# -- LineageRows ----------------------------------------------------------------------------
def lineage_to_dict(rows: LineageRows) -> dict[str, Any]:
    """``{"parents","children","upstream","downstream","edges": [[parent, child], …]}``."""
    return {"parents": list(rows.parents), "children": list(rows.children),
            "upstream": list(rows.upstream), "downstream": list(rows.downstream),
            "edges": [[parent, child] for parent, child in rows.edges]}


def lineage_from_dict(data: object) -> LineageRows:
    """Rebuild :class:`LineageRows` from :func:`lineage_to_dict` output.

    Raises:
        InvalidInputError: a missing list, or an edge that is not a pair of strings.
    """
    record = _object(data, "lineage")
    edges: list[tuple[str, str]] = []
    for edge in _list(record.get("edges", []), "lineage.edges"):
        if (not isinstance(edge, list) or len(edge) != 2
                or not all(isinstance(end, str) for end in edge)):
            raise InvalidInputError("lineage.edges must be a list of [parent, child] id pairs")
        edges.append((edge[0], edge[1]))
    return LineageRows(parents=_str_list(record, "parents"),
                       children=_str_list(record, "children"),
                       upstream=_str_list(record, "upstream"),
                       downstream=_str_list(record, "downstream"), edges=edges)


# -- ListFilter <-> query parameters ---------------------------------------------------------
#: query parameter -> ListFilter field, for the plain string filters
_STRING_PARAMS = {"name": "name", "step": "source_step", "run": "source_run_id",
                  "pipeline": "source_pipeline", "digest": "digest", "kind": "kind"}
_FILTER_PARAMS = frozenset({*_STRING_PARAMS, "type", "tag", "partition", "since", "until",
                            "latest_only", "include_deleted", "order", "limit", "cursor"})


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
            ``tag``/``partition`` without ``key:value``, a bad number, boolean, ``order``,
            ``limit`` or ``cursor``.
    """
    items = list(params)
    _check_known(items, _FILTER_PARAMS)
    single = _singles(items, _FILTER_PARAMS - {"type", "tag", "partition"})
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


# -- errors ---------------------------------------------------------------------------------
def error_to_dict(error: ArchivistError) -> dict[str, Any]:
    """The error envelope ``{"error": {"type", "code", "message", "details"}}``."""
    details = json.loads(json.dumps(error.details, default=str))
    return {"error": {"type": error.code, "code": error.code, "message": error.message,
                      "details": details}}


def error_from_dict(status: int, body: object) -> ArchivistError:
    """The typed error an envelope describes: the class of its ``type`` (or, for an
    unknown type, the class that answers ``status``), carrying message and details.

    A body that is not an envelope (a proxy's HTML page) still gives the class of the
    status, with the start of the body as the message.
    """
    envelope = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(envelope, Mapping):
        text = body if isinstance(body, str) else json.dumps(body, default=str)
        return _build(_class_for_status(status),
                      f"the server answered HTTP {status}: {text[:300]}", {})
    code = envelope.get("type", envelope.get("code"))
    message = envelope.get("message")
    details = envelope.get("details")
    cls = ERRORS_BY_CODE.get(code) if isinstance(code, str) else None
    return _build(cls or _class_for_status(status),
                  message if isinstance(message, str) else f"HTTP {status}",
                  dict(details) if isinstance(details, Mapping) else {})


def _build(cls: type[ArchivistError], message: str, details: dict[str, Any]) -> ArchivistError:
    # Not ``cls(message, **details)``: constructors differ (InvalidQueryError formats the
    # position into the message, which the envelope already carries).
    error = cls.__new__(cls)
    ArchivistError.__init__(error, message, **details)
    if isinstance(error, InvalidQueryError):
        position, token = details.get("position", 0), details.get("token", "")
        error.position = position if isinstance(position, int) else 0
        error.token = token if isinstance(token, str) else ""
    return error


def _class_for_status(status: int) -> type[ArchivistError]:
    if status >= 500:
        return ERRORS_BY_CODE.get("storage_error", ArchivistError)
    preferred = {401: "unauthenticated", 403: "permission_denied", 404: "not_found",
                 409: "conflict", 413: "too_large", 422: "invalid_input", 400: "invalid_input"}
    code = preferred.get(status)
    if code in ERRORS_BY_CODE:
        return ERRORS_BY_CODE[code]
    for cls in ERRORS_BY_CODE.values():
        if cls.status == status:
            return cls
    return ArchivistError


# -- shape checks ---------------------------------------------------------------------------
def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _object(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{what} must be a JSON object, got {_type(data)}")
    return data


def _list(data: object, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidInputError(f"{what} must be a list, got {_type(data)}")
    return data


def _require(record: Mapping[str, Any], keys: Iterable[str], what: str) -> None:
    missing = [key for key in keys if key not in record]
    if missing:
        raise InvalidInputError(f"{what} is missing the field(s) {', '.join(missing)}")


def _typed(record: Mapping[str, Any], key: str, kind: type[_T] | tuple[type, ...],
           label: str) -> _T:
    value = record[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int, float))):
        raise InvalidInputError(f"field {key!r} must be {label}, got {_type(value)}")
    return cast(_T, value)


def _str(record: Mapping[str, Any], key: str) -> str:
    return _typed(record, key, str, "a string")


def _int(record: Mapping[str, Any], key: str) -> int:
    return _typed(record, key, int, "an integer")


def _number(record: Mapping[str, Any], key: str) -> float:
    return float(_typed(record, key, (int, float), "a number"))


def _opt_str(record: Mapping[str, Any], key: str) -> str | None:
    return None if record.get(key) is None else _str(record, key)


def _opt_int(record: Mapping[str, Any], key: str) -> int | None:
    return None if record.get(key) is None else _int(record, key)


def _bool(record: Mapping[str, Any], key: str) -> bool:
    return False if key not in record else _typed(record, key, bool, "a boolean")


def _dict(record: Mapping[str, Any], key: str) -> dict[str, Any]:
    if record.get(key) is None:
        return {}
    return dict(_typed(record, key, dict, "an object"))


def _str_dict(record: Mapping[str, Any], key: str) -> dict[str, str]:
    out = _dict(record, key)
    if not all(isinstance(v, str) for v in out.values()):
        raise InvalidInputError(f"field {key!r} must map keys to strings")
    return out


def _str_list(record: Mapping[str, Any], key: str) -> list[str]:
    if record.get(key) is None:
        return []
    values = _typed(record, key, list, "a list")
    if not all(isinstance(v, str) for v in values):
        raise InvalidInputError(f"field {key!r} must be a list of strings")
    return list(values)


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
