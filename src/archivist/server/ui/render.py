"""Turning a template and its values into an HTML answer: the Jinja2 environment (every
value escaped), the filters the templates share, and the headers every page carries.

The Content-Security-Policy allows scripts, styles and images from this server only: no
inline script, no inline style, nothing from another host (the UI works offline).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from archivist.server.rootpath import prefix_links
from archivist.version import __version__

TEMPLATES = Path(__file__).parent / "templates"
STATIC_PREFIX = "/ui/static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
#: colour classes of artifact types (t0 … t7), the same type always the same colour
PALETTE = 8


def human_size(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover - the loop always returns


def when(value: datetime | float | None) -> str:
    if value is None:
        return "—"
    moment = (value if isinstance(value, datetime)
              else datetime.fromtimestamp(value, UTC))
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    seconds = max((end - start).total_seconds(), 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def scalar(value: Any) -> str:
    """A JSON scalar as a user reads it (strings bare, numbers short)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return json.dumps(value, ensure_ascii=False, default=str)


def type_class(artifact_type: str) -> str:
    """A stable colour class for an artifact type (``t0`` … ``t7``)."""
    return f"t{sum(artifact_type.lower().encode()) % PALETTE}"


def short(value: str | None, length: int = 19) -> str:
    if not value:
        return "—"
    return value if len(value) <= length else value[:length] + "…"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(size=human_size, when=when, pretty=pretty, scalar=scalar,
                       type_class=type_class, short=short)
    env.globals.update(static=STATIC_PREFIX, version=__version__, duration=duration)
    return env


ENV = _environment()


def page(request: Request, template: str, values: Mapping[str, Any], *,
         status: int = 200, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """The page ``template`` rendered with ``values`` and what every page shows (the
    caller, the project, the CSRF token of forms)."""
    session = getattr(request.state, "ui", None)
    html = ENV.get_template(template).render(request=request, ui=session, **values)
    html = prefix_links(html, request.scope.get("root_path", ""))
    response = HTMLResponse(html, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    if headers:
        response.headers.update(headers)
    return response
