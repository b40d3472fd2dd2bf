"""The remote backend: a catalog server's REST API behind the local interfaces.

``backend.py`` (rows), ``blobs.py`` (bytes), ``cache.py`` (downloads kept locally),
``transport.py`` (HTTP: pooling, retries, typed errors).
"""

from __future__ import annotations

from archivist.backends.remote.backend import RemoteCatalogBackend, RemoteMaintenance
from archivist.backends.remote.blobs import RemoteBlobs
from archivist.backends.remote.cache import BlobCache, cache_from_env
from archivist.backends.remote.transport import Transport

__all__ = ["BlobCache", "RemoteBlobs", "RemoteCatalogBackend", "RemoteMaintenance",
           "Transport", "cache_from_env"]
