"""The archivist error tree.

Every error the library raises on purpose is one of these; each carries a stable ``code``
(used in JSON error bodies and CLI output) and the HTTP ``status`` a server answers with,
so the same table serves both directions over HTTP::

    ArchivistError
    ├── ArtifactNotFoundError   (also KeyError)      404
    ├── InvalidNameError        (also ValueError)    422
    ├── InvalidQueryError       (also ValueError)    422
    ├── InvalidInputError       (also ValueError)    422
    │   ├── InvalidFlowError                         422
    │   └── SameCatalogError                         422
    ├── IntegrityError                               409
    ├── UnauthenticatedError                         401
    ├── PermissionDeniedError                        403
    ├── ConflictError                                409
    │   └── MergeConflictError                       409
    ├── PickleNotAllowedError                        422
    ├── PayloadTooLargeError                         413
    ├── StorageError                                 503
    │   └── StorageUnavailableError                  503
    ├── StepFailedError                              500
    └── MissingDependencyError                       501
"""

from __future__ import annotations

from typing import Any, ClassVar


class ArchivistError(Exception):
    """Base class of every error archivist raises on purpose."""

    code: ClassVar[str] = "archivist_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ArtifactNotFoundError(ArchivistError, KeyError):
    """No live version answers the reference; the message lists what does exist."""

    code = "not_found"
    status = 404


class InvalidNameError(ArchivistError, ValueError):
    """A name, alias, tag key, id or reference breaks the rules of SPEC §9."""

    code = "invalid_name"
    status = 422


class InvalidQueryError(ArchivistError, ValueError):
    """A search query does not parse; ``position`` points at the offending token."""

    code = "invalid_query"
    status = 422

    def __init__(self, message: str, *, position: int = 0, token: str = "") -> None:
        super().__init__(f"{message} (at position {position}: {token!r})", position=position,
                         token=token)
        self.position = position
        self.token = token


class InvalidInputError(ArchivistError, ValueError):
    """Metadata, tags, partitions, paths or URIs that are malformed or over a size limit."""

    code = "invalid_input"
    status = 422


class IntegrityError(ArchivistError):
    """A version's bytes are missing or do not hash to its digest."""

    code = "integrity_error"
    status = 409


class PermissionDeniedError(ArchivistError):
    """The caller may not do this (scope, project, or a path outside the store)."""

    code = "permission_denied"
    status = 403


class UnauthenticatedError(ArchivistError):
    """No API key, or one the server does not know (or that was revoked)."""

    code = "unauthenticated"
    status = 401


class PayloadTooLargeError(ArchivistError):
    """A request body (JSON or blob) is over the server's size limit."""

    code = "too_large"
    status = 413


class ConflictError(ArchivistError):
    """The request conflicts with the catalog's state (deleted version, busy catalog, …)."""

    code = "conflict"
    status = 409


class MergeConflictError(ConflictError):
    """A flow join's ``merge_artifacts`` found different values of one attribute in
    several branches; ``attribute`` and ``branches`` name them."""

    code = "merge_conflict"
    status = 409


class InvalidFlowError(InvalidInputError):
    """A flow's step graph is malformed (unknown target, unreachable step, a join
    without its fan-out, no ``start``/``end``); ``step`` names the offending step."""

    code = "invalid_flow"
    status = 422


class SameCatalogError(InvalidInputError):
    """A push whose source and target are one catalog (and one project): nothing could
    ever be copied, so it is refused; the message says how to name another source."""

    code = "same_catalog"
    status = 422


class PickleNotAllowedError(ArchivistError):
    """Loading this object would unpickle it; pass ``allow_pickle=True`` if you trust it."""

    code = "pickle_not_allowed"
    status = 422


class StorageError(ArchivistError):
    """The blob store or the metadata database failed (disk full, I/O error, …)."""

    code = "storage_error"
    status = 503


class StorageUnavailableError(StorageError):
    """The blob store cannot be reached (connection refused or timed out): nothing was
    done; retry later (a server answers 503 with ``Retry-After``)."""

    code = "storage_unavailable"
    status = 503


class StepFailedError(ArchivistError):
    """A flow step failed in a way its own exception cannot tell: the exception could not
    be re-created in this process (``details``: ``exception_type``, ``traceback``), the
    worker process running it died, or it ran past its ``@timeout``."""

    code = "step_failed"
    status = 500


class MissingDependencyError(ArchivistError, ImportError):
    """An optional library is not installed; the message ends with the exact install
    line (``pip install 'archivist[server]'``), and ``details`` name the ``package``, the
    ``extra`` that installs it and that ``install`` line."""

    code = "missing_dependency"
    status = 501


class PickleWarning(UserWarning):
    """A registered object had no materializer but pickle: it is stored, and loading it
    will need ``allow_pickle=True`` (unpickling runs code from the file)."""


class DuplicateArtifactWarning(UserWarning):
    """The registered content already exists in the catalog under other version(s)."""


ERRORS_BY_CODE: dict[str, type[ArchivistError]] = {
    cls.code: cls
    for cls in (
        ArchivistError, ArtifactNotFoundError, InvalidNameError, InvalidQueryError,
        InvalidInputError, IntegrityError, PermissionDeniedError, ConflictError,
        PickleNotAllowedError, StorageError, MissingDependencyError, UnauthenticatedError,
        PayloadTooLargeError, MergeConflictError, InvalidFlowError, SameCatalogError,
        StorageUnavailableError,
    )
}
