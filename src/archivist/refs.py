"""Parse and format references to versions.

A reference (``ref``) names one version::

    0193f0c2-…            an id (UUIDv7)
    fraud                 the latest live version of ``fraud``
    fraud:3  fraud:latest a version number, or latest explicitly
    fraud@production      the version an alias points at
    archivist://team/fraud:3   the same, in project ``team`` (also ``…/fraud@prod``)
    store://datasets/team/fraud:prod   MLRun's form: ``store://<kind>/<project>/<key>[:tag]``;
                          the tag is ``latest``, a version number or an alias; the kind
                          (``datasets``, ``models``, ``artifacts``, …) is not checked
    naïve:2  名前@本番     names and aliases in any script, NFC-normalized on the way in

Version numbers are positive integers written without leading zeros; ``:0``, ``:01``,
``:-1`` and ``:1.0`` are invalid references, not missing versions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from archivist.errors import InvalidNameError
from archivist.names import ID_PATTERN, check_alias, check_name

URI_SCHEME = "archivist://"
STORE_SCHEME = "store://"
MAX_REF = 512
_VERSION = re.compile(r"[1-9][0-9]*")


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference: exactly one of ``id`` or ``name`` is set."""

    id: str | None = None
    name: str | None = None
    project: str | None = None
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.id is not None:
            return self.id
        text = f"{self.name}"
        if self.version is not None:
            text += f":{self.version}"
        elif self.alias is not None:
            text += f"@{self.alias}"
        if self.project is not None:
            return f"{URI_SCHEME}{self.project}/{text}"
        return text


def parse_ref(ref: str) -> Ref:
    """Parse a reference string.

    Raises:
        InvalidNameError: for anything that is not one of the forms above.
    """
    if not isinstance(ref, str):
        raise InvalidNameError(f"a reference must be a string, got {type(ref).__name__}")
    if len(ref) <= 4 * MAX_REF:  # NFC shrinks at most 4 times: longer is too long anyway
        ref = unicodedata.normalize("NFC", ref)  # the names in it, as the catalog keeps them
    if not ref or len(ref) > MAX_REF:
        raise InvalidNameError(f"a reference must be 1-{MAX_REF} characters long")
    if ID_PATTERN.fullmatch(ref):
        return Ref(id=ref)
    project: str | None = None
    body = ref
    if ref.lower().startswith(STORE_SCHEME):
        return _store_uri(ref)
    if ref.lower().startswith(URI_SCHEME):
        rest = ref[len(URI_SCHEME):]
        project_part, sep, body = rest.partition("/")
        if not sep:
            raise InvalidNameError(f"invalid reference {ref!r}: expected archivist://PROJECT/NAME")
        project = check_name(project_part, "project")
        if ID_PATTERN.fullmatch(body):
            return Ref(id=body, project=project)
    if "@" in body:
        name, _, alias = body.partition("@")
        return Ref(name=check_name(name), project=project, alias=check_alias(alias))
    if ":" in body:
        name, _, version = body.partition(":")
        name = check_name(name)
        if version == "latest":
            return Ref(name=name, project=project)
        if not _VERSION.fullmatch(version):
            raise InvalidNameError(
                f"invalid version {version!r} in {ref!r}: versions are 1, 2, 3, … or 'latest'"
            )
        return Ref(name=name, project=project, version=int(version))
    return Ref(name=check_name(body), project=project)


def _store_uri(ref: str) -> Ref:
    """MLRun's ``store://<kind>/<project>/<key>[:tag]`` (``#iter`` and ``@uid`` refused)."""
    parts = ref[len(STORE_SCHEME):].split("/")
    hint = (f"invalid reference {ref!r}: expected store://<kind>/<project>/<key>[:tag], "
            "e.g. store://datasets/my-project/iris:latest (archivist's own form is "
            "archivist://<project>/<name>[:version|@alias])")
    if len(parts) != 3 or not parts[0] or not parts[0].replace("-", "").isalpha():
        raise InvalidNameError(hint)
    project = check_name(parts[1], "project")
    key, _, tag = parts[2].partition(":")
    if "#" in key or "@" in key or "@" in tag:
        raise InvalidNameError(f"{hint}; iterations (#) and uids (@) are not supported")
    name = check_name(key)
    if not tag or tag == "latest":
        return Ref(name=name, project=project)
    if _VERSION.fullmatch(tag):
        return Ref(name=name, project=project, version=int(tag))
    return Ref(name=name, project=project, alias=check_alias(tag))


def version_uri(project: str, name: str, version: int) -> str:
    return f"{URI_SCHEME}{project}/{name}:{version}"


def check_run_ref(ref: object) -> str:
    """A run id (UUIDv7) or a pathspec ``"<pipeline>/<number>"``.

    Raises:
        InvalidNameError: anything else.
    """
    if isinstance(ref, str):
        if ID_PATTERN.fullmatch(ref):
            return ref
        pipeline, slash, number = ref.rpartition("/")
        if slash and number.isdigit() and number.isascii() and not number.startswith("0"):
            return f"{check_name(pipeline, 'pipeline')}/{number}"
    raise InvalidNameError(f"invalid run reference {ref!r:.80}: use a run id or "
                           "'<pipeline>/<number>' such as 'fraud_detection/3'")
