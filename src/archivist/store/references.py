"""External references (``uri=``): recorded, never copied (SPEC §4).

A reference URI is an SSRF and local-file-read primitive if taken as given (MLflow
CVE-2023-1177, -6974, -6018; reliability.md b.5), and fsspec widens it with chained URLs
(``zip://…::file://…``) and ``memory://``. :func:`check_uri` therefore accepts only:

* a scheme from :data:`ALLOWED_SCHEMES` followed by ``//`` (``s3:/b/k`` is refused). The
  scheme is **lowercased** — RFC 3986 §3.1 makes schemes case-insensitive, and the stored
  form must be the one a later check sees (``S3://b/k`` → ``s3://b/k``); nothing else is
  rewritten;
* ``file:`` only as ``file:///absolute/path`` (no host: ``file://./etc`` is refused);
* no userinfo (``https://user:secret@host`` is refused and the secret never echoed), no
  ``#``, ``;``, ``::``, backslash, whitespace or control characters, no ``.``/``..``
  segments in the path or query — all checked again after percent-decoding to a fixed
  point — and at most 2 KiB;
* for ``http(s)``, no host that is ``localhost`` or a loopback, link-local or unspecified
  IP literal in any spelling (``127.1``, ``0x7f000001``, ``[::ffff:169.254.169.254]``);
  with ``public_only`` also no private ranges. Names are not resolved here.

:func:`describe_reference` reads the target only with ``fetch=True`` (the server passes
``False``: it records references but never reads them with its own credentials), and
never follows an HTTP redirect.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import socket
import stat
import unicodedata
from typing import Any
from urllib.parse import unquote

from archivist._extras import missing_driver
from archivist.errors import (
    ArchivistError,
    InvalidInputError,
    StorageError,
)
from archivist.store.fscalls import open_regular
from archivist.store.hashing import READ_SIZE, format_digest
from archivist.store.paths import MAX_DECODE_ROUNDS, decode_fixed_point

ALLOWED_SCHEMES = frozenset({"s3", "gs", "az", "abfs", "https", "http", "file"})
MAX_URI_BYTES = 2048
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_SEGMENT_SPLIT = re.compile(r"[/?&=]")
_USERINFO = re.compile(r"//[^/?#]*@")
_IPV6_HOST = re.compile(r"(?<=//)\[[0-9A-Fa-f:.]*\](?=[:/?]|$)")


def check_uri(uri: object, *, allow_file: bool = True, public_only: bool | None = None) -> str:
    """Validate a reference URI and return it with its scheme lowercased.

    Args:
        uri: the URI as the user gave it.
        allow_file: accept ``file:///…`` (the local Python API); servers pass ``False``.
        public_only: also refuse private IP literals (10/8, 192.168/16, fc00::/7…);
            defaults to ``not allow_file``.

    Raises:
        InvalidInputError: naming the rule broken (the message never repeats userinfo).
    """
    if not isinstance(uri, str):
        raise InvalidInputError(f"uri must be a string, got {type(uri).__name__}")
    shown = _redact(uri)
    if len(uri.encode("utf-8", "surrogatepass")) > MAX_URI_BYTES:
        raise InvalidInputError(f"uri is longer than {MAX_URI_BYTES} bytes")
    decoded = _decode(uri, shown)
    for form in (uri, decoded):
        _check_characters(form, shown)
    match = _SCHEME.match(uri)
    if match is None:
        raise InvalidInputError(f"uri {shown} has no scheme; give e.g. s3://bucket/key or "
                                "file:///absolute/path")
    scheme = match.group(1).lower()
    allowed = ALLOWED_SCHEMES if allow_file else ALLOWED_SCHEMES - {"file"}
    if scheme not in allowed:
        raise InvalidInputError(f"uri scheme {scheme!r} is not allowed; use one of "
                                f"{', '.join(sorted(allowed))}")
    rest = uri[match.end():]
    if not rest.startswith("//"):
        raise InvalidInputError(f"uri {shown} must have the form {scheme}://…")
    authority, path = _split_authority(rest[2:])
    if scheme == "file":
        if authority or not path.startswith("/") or path == "/":
            raise InvalidInputError(f"uri {shown}: file references must be "
                                    "file:///absolute/path (no host, no relative path)")
    else:
        if not authority:
            raise InvalidInputError(f"uri {shown} names no bucket or host")
        if "@" in _decode(authority, shown):
            raise InvalidInputError(f"uri {shown} carries credentials; configure them in "
                                    "the storage client instead")
        if scheme in ("http", "https"):
            _check_host(authority, shown, public_only=not allow_file
                        if public_only is None else public_only)
    for segment in _SEGMENT_SPLIT.split(_decode(path, shown)):
        if segment in (".", ".."):
            raise InvalidInputError(f"uri {shown} has a {segment!r} segment")
    return scheme + ":" + rest


def _check_characters(form: str, shown: str) -> None:
    for ch in form:
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            raise InvalidInputError(f"uri {shown} contains whitespace or the control "
                                    f"character {ch!r}")
    form = _IPV6_HOST.sub("[]", form, count=1)  # "::" inside an IPv6 literal is no chain
    for token, why in (("::", "chained URLs ('::') are not allowed"),
                       ("#", "fragments ('#') are not allowed"),
                       (";", "parameters (';') are not allowed"),
                       ("\\", "backslashes are not allowed")):
        if token in form:
            raise InvalidInputError(f"uri {shown}: {why}")


def _split_authority(rest: str) -> tuple[str, str]:
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    return rest[:cut], rest[cut:]


def _check_host(authority: str, shown: str, *, public_only: bool) -> None:
    host = _decode(authority, shown).lower()
    if host.startswith("["):
        host = host[1:host.find("]")] if "]" in host else host
    else:
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise InvalidInputError(f"uri {shown} points at this machine")
    address = _as_ip(host)
    if address is None:
        return
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if (address.is_loopback or address.is_link_local or address.is_unspecified
            or address.is_multicast or address.is_reserved):
        raise InvalidInputError(f"uri {shown} points at a loopback, link-local or reserved "
                                "address")
    if public_only and not address.is_global:
        raise InvalidInputError(f"uri {shown} points at a private address")


def _as_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # inet_aton reads the legacy spellings that HTTP clients also accept:
    # "127.1", "2852039166", "0xA9FEA9FE", "0177.0.0.1".
    if re.fullmatch(r"[0-9a-fx.]+", host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _decode(value: str, shown: str) -> str:
    try:
        return decode_fixed_point(value, "uri")
    except InvalidInputError:  # its message would quote the raw value, secrets included
        raise InvalidInputError(f"uri {shown} is percent-encoded more than "
                                f"{MAX_DECODE_ROUNDS} times") from None


def _redact(uri: str) -> str:
    """The URI for messages: any authority holding an ``@``, even encoded, is masked."""
    text = _USERINFO.sub("//***@", uri)
    head, sep, rest = text.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if sep and "%" in authority:  # "user:secret%40host": mask the whole authority
        text = f"{head}://***{rest[len(authority):]}"
    return repr(text if len(text) <= 100 else text[:100] + "…")


def describe_reference(uri: str, *, fetch: bool) -> dict[str, Any]:
    """What can be known about a reference: ``uri``, ``size``, ``etag``, ``digest``.

    With ``fetch=False`` nothing is read (every value but ``uri`` is ``None``). With
    ``fetch=True`` a ``file://`` target is hashed (``digest``); other targets are asked
    for their metadata through fsspec (``size``, ``etag``), redirects not followed.

    Raises:
        InvalidInputError: the URI is refused (see :func:`check_uri`), or the target does
            not exist or is not a regular file.
        PermissionDeniedError: a ``file://`` target cannot be read.
        MissingDependencyError: the fsspec driver for the scheme is not installed.
        StorageError: reading the target failed.
    """
    uri = check_uri(uri)
    out: dict[str, Any] = {"uri": uri, "size": None, "etag": None, "digest": None}
    if not fetch:
        return out
    if uri.startswith("file:"):
        out["digest"], out["size"] = _hash_local(unquote(uri[len("file://"):]))
        return out
    info = _remote_info(uri)
    size = info.get("size")
    out["size"] = int(size) if isinstance(size, int | float) else None
    for key in ("ETag", "etag", "md5Hash", "content_md5", "generation"):
        if info.get(key) is not None:
            out["etag"] = str(info[key]).strip('"')
            break
    return out


def reference_changed(uri: str | None, digest: str | None, size: int | None,
                      etag: str | None) -> bool:
    """:func:`check_reference` for ``verify``: a target that cannot be checked (refused,
    unreadable, its driver missing) counts as changed."""
    try:
        return not check_reference(uri or "", digest, size, etag)
    except ArchivistError:
        return True


def check_reference(uri: str, digest: str | None = None, size: int | None = None,
                    etag: str | None = None) -> bool:
    """Whether a recorded reference still matches its target (``verify()``).

    Compares the strongest thing recorded: the digest, else the ETag, else the size. A
    target that no longer exists has changed.

    Raises:
        InvalidInputError: the recorded URI is no longer accepted by :func:`check_uri`.
        PermissionDeniedError, MissingDependencyError, StorageError: as for
            :func:`describe_reference`.
    """
    uri = check_uri(uri)
    if uri.startswith("file:"):
        path = unquote(uri[len("file://"):])
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"cannot stat {path}: {exc.strerror}", path=path) from exc
        if not stat.S_ISREG(st.st_mode) or (size is not None and st.st_size != size):
            return False  # cheap answer before hashing
    try:
        now = describe_reference(uri, fetch=True)
    except InvalidInputError:
        return False  # gone, or no longer a regular file
    if digest is not None:
        return bool(now["digest"] == digest) if now["digest"] is not None else (
            size is None or now["size"] == size)
    if etag is not None:
        return bool(now["etag"] == etag)
    return size is None or now["size"] == size


def _hash_local(path: str) -> tuple[str, int]:
    fd = open_regular(path, follow=True)  # a FIFO is refused, never opened blocking
    hasher = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "rb") as f:
            while chunk := f.read(READ_SIZE):
                hasher.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}", path=path) from exc
    return format_digest(hasher.hexdigest()), size


def _remote_info(uri: str) -> dict[str, Any]:
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(uri)
    except ImportError:
        raise missing_driver(uri, purpose=f"reading {uri.split(':', 1)[0]}:// references"
                             ) from None
    kwargs = {"allow_redirects": False} if uri.startswith("http") else {}
    try:
        return dict(fs.info(path, **kwargs))
    except FileNotFoundError:
        raise InvalidInputError(f"reference {_redact(uri)} does not exist") from None
    except OSError as exc:
        raise StorageError(f"cannot read reference {_redact(uri)}: {exc}") from exc
