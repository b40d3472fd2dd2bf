"""Authenticated API keys, remembered for a few seconds by one server process.

Looking a key up costs a database transaction (~1 ms, four round trips on PostgreSQL)
on every request; most requests come from a few keys. :class:`KeyCache` keeps each key
that authenticated, by the SHA-256 of its secret (never the secret), for ``ttl`` seconds:

* a key revoked through this process (``DELETE /api/v1/keys/{id}``) is forgotten at
  once: the next request with it gets 401;
* a key revoked elsewhere (another server process, ``archivist keys revoke`` on the
  database) keeps working here for at most ``ttl`` seconds: that is the revocation delay
  docs/server.md states;
* a failed authentication is never remembered, so a key made a moment ago works at once
  and a wrong key always costs a lookup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from archivist.backends.base import ServerStore
from archivist.model import ApiKey
from archivist.server import keys

#: Entries kept at most; past it the cache starts again empty (keys are few in practice).
MAX_ENTRIES = 10_000


class KeyCache:
    """The keys that authenticated in the last ``ttl`` seconds (``ttl`` 0: no caching).

    Args:
        store: where keys are looked up on a miss.
        ttl: seconds an authenticated key is trusted without a lookup.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, store: ServerStore, ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[ApiKey, float]] = {}

    def cached(self, secret: str | None) -> ApiKey | None:
        """The key of ``secret`` if it authenticated less than ``ttl`` seconds ago (no I/O)."""
        if not secret or self.ttl <= 0:
            return None
        entry = self._entries.get(keys.hash_secret(secret))
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def authenticate(self, secret: str | None) -> ApiKey:
        """The live key of ``secret``: from the cache, else from the store (then cached).

        Raises:
            UnauthenticatedError: as :func:`archivist.keys.authenticate`.
        """
        found = self.cached(secret)
        if found is not None:
            return found
        key = keys.authenticate(self.store, secret)
        if self.ttl > 0 and secret:
            with self._lock:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[keys.hash_secret(secret)] = (key, self._clock() + self.ttl)
        return key

    def forget(self, key_id: str) -> None:
        """Drop ``key_id`` (revoked by this process): its next request is looked up."""
        with self._lock:
            for digest in [d for d, (k, _) in self._entries.items() if k.id == key_id]:
                del self._entries[digest]
