"""API keys of a catalog server: made once, shown once, stored as a SHA-256 hash.

A key belongs to one project and has one scope::

    read    list, search, get, lineage, download blobs
    write   read + register, tag, alias, delete, upload blobs, lease, runs
    admin   write + verify, gc and managing the project's keys

The secret is ``ak_<43 url-safe characters>`` (32 random bytes). Only ``sha256(secret)``
is written to the ``api_keys`` table, so a copy of the database does not hold usable
keys; a revoked key stays listed (with ``revoked_at``) and authenticates no more.

Bootstrap: ``archivist keys create --project P --scope admin`` on the server's database
makes the first admin key; that key then manages the others over HTTP (``/api/v1/keys``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from archivist import names
from archivist.errors import (
    ArtifactNotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from archivist.ids import new_id
from archivist.model import ApiKey, check_scope

if TYPE_CHECKING:
    from archivist.backends.base import ServerStore

PREFIX = "ak_"
_SECRET_CHARS = 43  # token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(store: ServerStore, project: str, scope: str,
               name: str | None = None) -> tuple[ApiKey, str]:
    """Make a key for ``project`` with ``scope``; return the record and the secret.

    The secret is not stored anywhere: show it to the user now.

    Raises:
        InvalidNameError: a malformed project or key name.
        InvalidInputError: an unknown scope.
        StorageError: the database failed.
    """
    names.check_name(project, "project")
    check_scope(scope)
    if name is not None:
        names.check_text(name, "key name", 128)
    secret = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(id=new_id(), project=project, scope=scope, name=name,
                 created_at=datetime.fromtimestamp(time.time(), UTC))
    store.create_key(key, hash_secret(secret))
    return key, secret


def authenticate(store: ServerStore, secret: str | None) -> ApiKey:
    """The live key whose secret this is.

    Raises:
        UnauthenticatedError: no secret, a malformed one, an unknown or a revoked key
            (one message for all of them, so a caller cannot probe which).
    """
    if not secret or not secret.startswith(PREFIX) or len(secret) != len(PREFIX) + _SECRET_CHARS:
        raise _unauthenticated(secret)
    digest = hash_secret(secret)
    try:
        key, stored = store.get_key_by_hash(digest)
    except ArtifactNotFoundError:
        raise _unauthenticated(secret) from None
    # The lookup is by an index on the hash; compare again in constant time anyway.
    if key.revoked or not hmac.compare_digest(stored, digest):
        raise _unauthenticated(secret)
    return key


def list_keys(store: ServerStore, project: str | None = None) -> list[ApiKey]:
    """Every key (of ``project`` when given), oldest first, revoked ones included."""
    if project is not None:
        names.check_name(project, "project")
    return store.list_keys(project)


def revoke_key(store: ServerStore, key_id: str, *, project: str | None = None) -> ApiKey:
    """Revoke a key (idempotent); with ``project``, only a key of that project.

    Raises:
        ArtifactNotFoundError: no such key (or it belongs to another project).
    """
    key = get_key(store, key_id, project=project)
    if not key.revoked:
        store.revoke_key(key_id, time.time())
    return store.get_key(key_id)


def get_key(store: ServerStore, key_id: str, *, project: str | None = None) -> ApiKey:
    """The key with this id; with ``project``, only a key of that project.

    Raises:
        ArtifactNotFoundError: no such key (or it belongs to another project: the same
            message, so ids of other projects do not leak).
    """
    if not isinstance(key_id, str) or not names.ID_PATTERN.fullmatch(key_id):
        raise ArtifactNotFoundError(f"no API key with id {key_id!r:.60}")
    try:
        key = store.get_key(key_id)
    except ArtifactNotFoundError:
        key = None
    if key is None or (project is not None and key.project != project):
        raise ArtifactNotFoundError(f"no API key with id {key_id!r}")
    return key


def require(key: ApiKey, needed: str) -> None:
    """Check that ``key`` may do what needs scope ``needed``.

    Raises:
        PermissionDeniedError: naming the scope needed and the key's scope.
    """
    if not key.allows(needed):
        raise PermissionDeniedError(
            f"this API key has scope {key.scope!r}; the request needs {needed!r} "
            f"(ask an admin of project {key.project!r} for a key with that scope)",
            needed=needed, scope=key.scope)


def _unauthenticated(secret: str | None) -> UnauthenticatedError:
    if not secret:
        return UnauthenticatedError(
            "this server needs an API key: send 'Authorization: Bearer <key>' "
            "(set ARCHIVIST_CATALOG_API_KEY for the Python client and the CLI)")
    return UnauthenticatedError("the API key is not valid (unknown, malformed or revoked); "
                                "ask an admin of your project for a new one")
