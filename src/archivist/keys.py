"""Where ``from archivist import keys`` still finds the API keys of a catalog server,
which live in :mod:`archivist.server.keys` (this name predates the ``server`` package)."""

from archivist.server.keys import (
    PREFIX,
    authenticate,
    create_key,
    get_key,
    hash_secret,
    list_keys,
    require,
    revoke_key,
)

__all__ = ["PREFIX", "authenticate", "create_key", "get_key", "hash_secret", "list_keys", "require",
           "revoke_key"]
