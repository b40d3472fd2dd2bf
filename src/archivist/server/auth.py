"""Who is asking, and may they: the :class:`Principal` of a request.

Visibility comes before scope: a key of project A asking anything about project B gets
the 404 a missing thing gets (one message whatever B holds, so names do not leak), never
a 403. Within its project, a key needs the scope of the route (``read`` < ``write`` <
``admin``), else 403.
"""

from __future__ import annotations

import functools
import getpass
from dataclasses import dataclass

from archivist import names
from archivist.errors import ArtifactNotFoundError
from archivist.model import ApiKey, Artifact
from archivist.server import keys


@dataclass(frozen=True)
class Principal:
    """The caller: an API key, or (``key is None``) the single user of an insecure server."""

    key: ApiKey | None

    @property
    def user(self) -> str:
        """The name recorded in history for changes made by this caller: the key's name
        (or ``key:<end of its id>``); without keys, the login running the server (the
        single user)."""
        if self.key is None:
            return _server_login()
        return self.key.name or f"key:{self.key.id[-8:]}"

    def sees(self, project: str) -> bool:
        return self.key is None or self.key.project == project

    def enter(self, project: str, needed: str) -> str:
        """Check access to ``project`` with scope ``needed``; return the project.

        Raises:
            InvalidNameError: a malformed project name (path traversal and the like).
            ArtifactNotFoundError: the project is not this key's.
            PermissionDeniedError: the key's scope is below ``needed``.
        """
        names.check_name(project, "project")
        if not self.sees(project):
            raise project_not_found(project)
        if self.key is not None:
            keys.require(self.key, needed)
        return project

    def version(self, found: list[Artifact], version_id: str, needed: str) -> Artifact:
        """The one version of ``found`` (a by-id lookup) if this caller may see it with
        scope ``needed``.

        Raises:
            ArtifactNotFoundError: nothing found, or a version of another project (the
                same message either way).
            PermissionDeniedError: the key's scope is below ``needed``.
        """
        if not found or not self.sees(found[0].project):
            raise version_not_found(version_id)
        if self.key is not None:
            keys.require(self.key, needed)
        return found[0]

    def require(self, needed: str) -> None:
        """Check the scope only (routes without a project in the path).

        Raises:
            PermissionDeniedError: the key's scope is below ``needed``.
        """
        if self.key is not None:
            keys.require(self.key, needed)


def project_not_found(project: str) -> ArtifactNotFoundError:
    # Not even the name comes back: the body is the same for every project not visible.
    del project
    return ArtifactNotFoundError("no such project is visible to this API key (keys see "
                                 "only their own project)")


def version_not_found(version_id: str) -> ArtifactNotFoundError:
    # The same text the metadata store uses for an unknown id.
    return ArtifactNotFoundError(f"no version with id {version_id!r}", ref=version_id)


@functools.cache
def _server_login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "single-user"
