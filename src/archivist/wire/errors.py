"""The error envelope, both directions: the same class comes out as went in (STYLE P17).

``{"error": {"type": <code>, "code": <code>, "message": str, "details": {...}}}``; the
class is found again by ``type`` in :data:`archivist.errors.ERRORS_BY_CODE`, so an
``ArtifactNotFoundError`` (a ``KeyError``) raised by the server is one in the client too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from archivist.errors import ERRORS_BY_CODE, ArchivistError, InvalidQueryError


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
