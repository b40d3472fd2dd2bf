"""The catalog server: ``create_app(settings)`` and its settings (docs/server.md).

The names are loaded on first use, so ``archivist.server.keys`` (which the CLI uses on a
database) does not import FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archivist.server.app import create_app
    from archivist.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from archivist._extras import require_extra

        require_extra("server", purpose=f"archivist.server.{name}")
    if name == "create_app":
        from archivist.server.app import create_app
        return create_app
    if name == "ServerSettings":
        from archivist.server.settings import ServerSettings
        return ServerSettings
    raise AttributeError(f"module 'archivist.server' has no attribute {name!r}")
