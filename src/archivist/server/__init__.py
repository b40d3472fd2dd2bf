"""The catalog server: ``create_app(settings)`` and its settings (docs/server.md)."""

from archivist.server.app import create_app
from archivist.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
