"""The one canonicalizer for path-like input (reliability.md, part e.1).

MLflow's artifact paths were "fixed" more than fifteen times because each fix was a new
string check at one sink and each bypass used a new representation (``%252e%252e``,
``\\..\\``, ``#``, ``;``). So every rule lives here, is applied to the *decoded* form
(percent-decoding repeated until nothing changes, at most 10 rounds), and writes are
still checked by :func:`contained` at the place bytes land.

Two entry points, for two kinds of input:

* :func:`safe_relative_path` — a path typed by a user or sent over HTTP (a download
  target, a path inside a directory version): percent-encoding is decoded and the
  decoded form returned.
* :func:`check_relative_path` — a path that *is* a file name (a manifest entry):
  returned literally, since ``a%20b.txt`` is a legal name, but rejected if either the
  literal or the decoded form breaks a rule.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from archivist._types import PathLike
from archivist.errors import InvalidInputError, PermissionDeniedError

MAX_DECODE_ROUNDS = 10
MAX_PATH_BYTES = 4096  # Linux PATH_MAX
MAX_SEGMENT_BYTES = 255  # NAME_MAX on every common filesystem

_DRIVE = re.compile(r"[A-Za-z]:")
# Unicode category Cc, plus the lone surrogates undecodable bytes turn into.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Characters HFS+ ignores when comparing names, so ".g\u200cit" *is* ".git" there
# (git's is_hfs_dot_git list, CVE-2014-9390), plus U+200B and the soft hyphen.
_IGNORABLE = dict.fromkeys(
    [0x00AD, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F),
     *range(0x206A, 0x2070), 0xFEFF]
)
_GIT_SHORT = re.compile(r"git~\d+")
# A path every rule below accepts without looking further: ASCII segments of at most
# MAX_SEGMENT_BYTES that do not start with "." (so no ".", ".." or ".git" alias) and hold
# no "%", "#", "\\", ":", "~", space or control character (so decoding changes nothing, no
# drive letter, no 8.3 "GIT~1" name). A 10,000-file tree's names are checked in
# microseconds this way; anything else takes the full path below.
_PLAIN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._+-]{0,254}(?:/[A-Za-z0-9_-][A-Za-z0-9._+-]{0,254})*")


def decode_fixed_point(value: str, what: str = "path") -> str:
    """Percent-decode ``value`` until it stops changing.

    Raises:
        InvalidInputError: still changing after 10 rounds (nobody encodes a path ten
            times except to slip past a check).
    """
    current = value
    for _ in range(MAX_DECODE_ROUNDS + 1):
        if "%" not in current:  # fast path: nothing (left) to decode
            return current
        decoded = unquote(current, errors="surrogateescape")
        if decoded == current:
            return current
        current = decoded
    raise InvalidInputError(f"{what} {_show(value)} is percent-encoded more than "
                            f"{MAX_DECODE_ROUNDS} times")


def is_git_alias(segment: str) -> bool:
    """True if a filesystem could take ``segment`` for ``.git`` (any case, HFS+
    ignorable characters, NTFS trailing dots/spaces and streams, 8.3 name ``GIT~1``)."""
    if "g" not in segment and "G" not in segment:  # fast path: only g/G casefold to "g"
        return False
    name = unicodedata.normalize("NFC", segment).translate(_IGNORABLE).casefold()
    name = name.split(":", 1)[0].rstrip(". ")
    return name == ".git" or bool(_GIT_SHORT.fullmatch(name))


def _check_form(path: str, original: str, what: str) -> None:
    """Reject every non-canonical or escaping form of a relative POSIX path."""
    if not path:
        raise InvalidInputError(f"{what} is empty")
    bad = _CONTROL.search(path)
    if bad:
        raise InvalidInputError(f"{what} {_show(original)} contains the character "
                                f"{bad.group()!r}; control characters and undecodable "
                                "bytes are not allowed")
    if "\\" in path:
        raise InvalidInputError(f"{what} {_show(original)} contains a backslash; use '/'")
    if "#" in path:
        raise InvalidInputError(f"{what} {_show(original)} contains '#'")
    if path.startswith("/"):
        raise InvalidInputError(f"{what} {_show(original)} is absolute; give a relative path")
    if _DRIVE.match(path):
        raise InvalidInputError(f"{what} {_show(original)} starts with a drive letter")
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        raise InvalidInputError(f"{what} {_show(original)} is longer than "
                                f"{MAX_PATH_BYTES} bytes")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            problem = "an empty segment ('//' or a trailing '/')" if not segment else (
                f"a {segment!r} segment")
            raise InvalidInputError(f"{what} {_show(original)} has {problem}; paths must "
                                    "be normalized and stay inside their directory")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidInputError(f"{what} {_show(original)} has a name longer than "
                                    f"{MAX_SEGMENT_BYTES} bytes")
        if is_git_alias(segment):
            raise InvalidInputError(f"{what} {_show(original)} contains {segment!r}, which "
                                    "a filesystem may treat as '.git'; it is never stored")


def safe_relative_path(value: object, what: str = "path") -> str:
    """Canonicalize a user-supplied relative path; return the decoded POSIX form.

    Raises:
        InvalidInputError: not a string; or, after percent-decoding to a fixed point,
            empty, absolute, a drive letter (``C:``), a backslash, ``#``, a control
            character, an empty / ``.`` / ``..`` segment, a ``.git`` alias, or too long.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    decoded = decode_fixed_point(value, what)
    _check_form(decoded, value, what)
    return decoded


def check_relative_path(value: object, what: str = "path") -> str:
    """Validate a literal file path (a manifest entry) and return it unchanged.

    Both the literal form and its percent-decoded form must pass the rules of
    :func:`safe_relative_path`, so ``%2e%2e/x`` is refused even though no filesystem
    would read it as ``..``: a downstream tool that decodes it would.

    Raises:
        InvalidInputError: as for :func:`safe_relative_path`.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) <= MAX_PATH_BYTES and _PLAIN.fullmatch(value):
        return value
    _check_form(value, value, what)
    decoded = decode_fixed_point(value, what)
    if decoded != value:
        _check_form(decoded, value, what)
    return value


def contained(root: PathLike, candidate: PathLike) -> Path:
    """Resolve ``candidate`` (relative paths are taken from ``root``) and check it stays
    inside ``root`` once symlinks are resolved; return the resolved path.

    Raises:
        PermissionDeniedError: the resolved path is outside ``root``.
    """
    base = Path(root).resolve()
    target = (base / candidate).resolve()
    if not target.is_relative_to(base):
        raise PermissionDeniedError(f"{str(candidate)!r} resolves to {str(target)!r}, outside "
                                    f"{str(base)!r}", root=str(base), path=str(target))
    return target


def _show(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:80] + "…")
