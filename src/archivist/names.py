"""The rules for every name, key and value a user hands the catalog (SPEC §9).

This module is the only place these rules live: the catalog calls it before any backend
sees the input, so every backend (and the CLI and the server) rejects the same input with
the same message. That is why it is one module of some 400 lines, not split by kind of
value: one file to read for every rule.

Limits (each tested at the cap and at cap + 1):

=====================  ==========================================================
name, alias, tag and   1-128 letters and digits of any script, ``.``, ``_``, ``-``
partition key,         (:func:`check_name`), NFC-normalized on the way in; names
pipeline, step         are unique per project by :func:`fold_name`
project                ``[A-Za-z0-9][A-Za-z0-9._-]{0,127}``, no ``..`` (ASCII: a
                       project is the host part of ``archivist://`` URIs and may
                       name a folder of a server's blob store)
artifact_type          1-64 printable ASCII characters
tags                   at most 256 per version
tag value              JSON scalar; strings ≤ 4 KiB
partition              value a string ≤ 1 KiB, no control characters; datetimes,
                       dates and date-and-time text stored in one ISO form
                       (:mod:`archivist.timepartitions`)
metadata               JSON object ≤ 1 MiB encoded, depth ≤ 64
description            ≤ 1 MiB
producer fields        ≤ 256 printable characters
parents                ≤ 1,000 per version
=====================  ==========================================================
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from archivist import timepartitions
from archivist.errors import ConflictError, InvalidInputError, InvalidNameError

MAX_NAME = 128  # characters (code points) after NFC normalization
PROJECT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
RESERVED_ALIASES = frozenset({"latest"})
#: the rules in words, as error messages state them
NAME_RULE = ("1-128 letters and digits (any script), '.', '_' or '-', starting with a letter "
             "or digit, without '..'")
PROJECT_RULE = ("1-128 ASCII letters, digits, '.', '_' or '-', starting with a letter or "
                "digit, without '..'")

MAX_TYPE = 64
MAX_TAGS = 256
MAX_TAG_VALUE = 4096
MAX_PARTITION_VALUE = 1024
MAX_METADATA_BYTES = 1024 * 1024
MAX_METADATA_KEY = 128  # a key changed after registration: the history's key column
MAX_JSON_DEPTH = 64
MAX_DESCRIPTION = 1024 * 1024
MAX_PRODUCER = 256
MAX_PARENTS = 1000
MAX_INT_BITS = 63  # integers must fit a signed 64-bit column on every database

# NFC composes at most 4 code points into one (U+1F82 is 4 in NFD), so longer input
# cannot be a name: it is refused without normalizing it (a 10 MB name in < 1 ms).
_MAX_RAW = 4 * MAX_NAME
# Letters and marks that render as nothing (Unicode's Default_Ignorable_Code_Point minus
# the format characters, which are refused anyway): fillers, variation selectors, the
# combining grapheme joiner. "a" and "a" + U+FE00 would look like one name.
_INVISIBLE = frozenset([0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810),
                        0x3164, *range(0xFE00, 0xFE10), 0xFFA0, *range(0xE0100, 0xE01F0)])
# Scripts with letters that look alike (Latin "o", Greek U+03BF, Cyrillic U+043E): one word
# of a name keeps to one of them, so "fraud" spelled with a Cyrillic "a" (U+0430) cannot
# pass for "fraud".
_LOOKALIKE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")


def check_name(value: object, what: str = "name") -> str:
    """Return ``value``, NFC-normalized, if it is a valid name of kind ``what``: an
    artifact name, alias, tag or partition key, pipeline or step name (``what`` names the
    kind in the message). ``what="project"`` applies the ASCII rule of projects.

    A name is 1-128 characters after NFC normalization: letters and digits of any script
    (Unicode categories L and N), combining marks (M) after a letter, and ``.``, ``_``,
    ``-``; it starts with a letter or digit and holds no ``..``. Refused besides:
    compatibility forms that NFKC would change (fullwidth ``U+FF41``, ligature ``ﬁ``,
    superscript ``²``, micro sign ``µ``), invisible letters and marks (fillers,
    variation selectors), and a word (a run between ``.``, ``_``, ``-``) mixing Latin,
    Greek or Cyrillic letters. Spaces, controls, format characters (zero-width, bidi
    overrides), ``/ \\ : @ ~ *`` and all other punctuation are not letters, so are refused.

    Raises:
        InvalidNameError: naming the character or rule that was broken.
    """
    if not isinstance(value, str):
        raise InvalidNameError(f"{what} must be a string, got {type(value).__name__}")
    if value.isascii() and PROJECT_PATTERN.fullmatch(value) and ".." not in value:
        name = value  # the common case: ASCII names are NFC and need no further check
    elif what == "project":
        _check(value, what, PROJECT_RULE, ascii_only=True)
        name = value
    else:
        # longer raw input cannot be a name: refused before normalizing, however long
        name = value if len(value) > _MAX_RAW else unicodedata.normalize("NFC", value)
        _check(name, what, NAME_RULE, ascii_only=False)
    if what == "name" and ID_PATTERN.fullmatch(name):
        raise InvalidNameError(f"invalid name {_show(name)}: it has the form of a version id")
    return name


def is_name(value: str) -> bool:
    """Whether ``value`` is a valid name, alias or key (:func:`check_name`)."""
    try:
        check_name(value, "key")
    except InvalidNameError:
        return False
    return True


def fold_name(name: str) -> str:
    """The key names are unique by, whatever their case: Unicode full case folding of the
    NFC name (``Ärger`` and ``ärger``, ``STRASSE`` and ``straße`` are one name), in NFC.
    ASCII names fold to their lower case. Computed here, stored in ``name_folded``: SQL
    ``lower()`` folds only ASCII on SQLite and depends on the collation on PostgreSQL."""
    if name.isascii():
        return name.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).casefold())


def _check(name: str, what: str, rule: str, *, ascii_only: bool) -> None:
    """Raise the error of a name (NFC) that breaks ``rule``, saying how, if it does."""
    if len(name) > MAX_NAME:
        raise InvalidNameError(f"{what} is {len(name)} characters long; the limit is "
                               f"{MAX_NAME}")
    if not name:
        raise InvalidNameError(f"{what} is empty: a {what} is {rule}")
    problem = _problem(name, ascii_only=ascii_only)
    if problem is not None:
        raise InvalidNameError(f"invalid {what} {_show(name)}: {problem}; a {what} is {rule}")


def _problem(name: str, *, ascii_only: bool) -> str | None:
    """What breaks the name rule in ``name`` (NFC, 1-128 characters), or ``None``."""
    after_letter = False
    for index, ch in enumerate(name):
        kind = unicodedata.category(ch)[0]
        if ascii_only and not ch.isascii():
            return f"{_char(ch)} is not ASCII"
        if ord(ch) in _INVISIBLE:
            return f"{_char(ch)} is invisible"
        if index == 0 and kind not in "LN":
            return f"it starts with {_char(ch)}"
        if kind == "M" and not after_letter:
            return f"the combining mark {_char(ch)} does not follow a letter"
        if kind not in "LNM" and ch not in "._-":
            return f"{_char(ch)} is not allowed"
        after_letter = kind in "LM"
    if ".." in name:
        return "'..' is not allowed"
    compatible = unicodedata.normalize("NFKC", name)
    if compatible != name:
        ch = next(c for c in name if unicodedata.normalize("NFKC", c) != c)
        return (f"{_char(ch)} is a compatibility form of "
                f"{unicodedata.normalize('NFKC', ch)!r} (fullwidth, ligature, superscript "
                "or the like): write the plain character")
    return _mixed_scripts(name)


def _mixed_scripts(name: str) -> str | None:
    for word in re.split(r"[._-]", name):
        scripts = {s for s in map(_script, word) if s is not None}
        if len(scripts) > 1:
            shown = " and ".join(sorted(s.title() for s in scripts))
            return (f"{word!r} mixes {shown} letters, which can look alike; keep each "
                    "word ('.', '_' and '-' separate words) to one of these scripts")
    return None


def _script(ch: str) -> str | None:
    if ch.isascii():
        return "LATIN" if ch.isalpha() else None
    if not unicodedata.category(ch).startswith("L"):
        return None
    script = unicodedata.name(ch, "").split(" ", 1)[0]
    return script if script in _LOOKALIKE_SCRIPTS else None


def _char(ch: str) -> str:
    """A character as a message shows it: ``' ' (U+0020 SPACE)``."""
    return f"{ch!r} (U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')})"


def check_alias(value: object) -> str:
    """Validate an alias name: a name that is neither ``latest`` nor all digits.

    Raises:
        InvalidNameError: for a reserved, numeric or malformed alias.
    """
    alias = check_name(value, "alias")
    if alias in RESERVED_ALIASES:
        raise InvalidNameError("'latest' is implicit (the highest live version) and cannot be set")
    if alias.isdigit():
        raise InvalidNameError(f"alias {alias!r} is all digits; it would read as a version number")
    return alias


def check_artifact_type(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidNameError("artifact_type must be a non-empty string")
    if len(value) > MAX_TYPE or not value.isascii() or not value.isprintable():
        raise InvalidNameError(
            f"artifact_type {_show(value)} must be 1-{MAX_TYPE} printable ASCII characters"
        )
    return value


def check_text(value: object, what: str, limit: int = MAX_PRODUCER) -> str | None:
    """Validate a free text field (description, producer fields); ``None`` passes."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    if len(value.encode("utf-8", "surrogatepass")) > limit:
        raise InvalidInputError(f"{what} is longer than the limit of {limit} bytes")
    allowed = "\n\t" if what == "description" else ""
    for ch in value:
        if (not ch.isprintable() and ch not in allowed) or 0xD800 <= ord(ch) <= 0xDFFF:
            raise InvalidInputError(f"{what} contains the control character {ch!r}")
    return value


def check_metadata_keys(keys: object) -> list[str]:
    """Top-level metadata keys a change after registration names (to set or remove):
    strings of 1-:data:`MAX_METADATA_KEY` characters without control characters.

    Raises:
        InvalidInputError: anything else.
    """
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise InvalidInputError("metadata keys must be a list of strings")
    out = []
    for key in keys:
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"a metadata key must be a non-empty string, got {key!r:.40}")
        if len(key) > MAX_METADATA_KEY:
            raise InvalidInputError(f"metadata key {key[:40]!r}… is {len(key)} characters; a "
                                    f"key changed after registration has at most "
                                    f"{MAX_METADATA_KEY}")
        check_text(key, "metadata key", 4 * MAX_METADATA_KEY)
        out.append(key)
    return out


def check_tag_value(key: str, value: object) -> str | int | float | bool | None:
    """Tags are JSON scalars: str, int, float, bool or None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise InvalidInputError(f"tag {key!r}: integer outside the signed 64-bit range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"tag {key!r}: {value} is not a JSON number")
        return value
    if isinstance(value, str):
        _check_string(value, f"tag {key!r}")
        if len(value.encode()) > MAX_TAG_VALUE:
            raise InvalidInputError(f"tag {key!r}: value longer than {MAX_TAG_VALUE} bytes")
        return value
    raise InvalidInputError(
        f"tag {key!r}: value must be a string, number, boolean or null, "
        f"got {type(value).__name__}"
    )


def check_tags(tags: Mapping[str, object] | None) -> dict[str, Any]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInputError("tags must be a mapping of key -> value")
    if len(tags) > MAX_TAGS:
        raise InvalidInputError(f"{len(tags)} tags; the limit is {MAX_TAGS}")
    out: dict[str, Any] = {}
    for key, value in tags.items():
        out[_unique_key(check_name(key, "tag key"), out, "tag")] = check_tag_value(key, value)
    return out


def check_partitions(partitions: Mapping[str, object] | None) -> dict[str, str]:
    if partitions is None:
        return {}
    if not isinstance(partitions, Mapping):
        raise InvalidInputError("partitions must be a mapping of key -> string")
    if len(partitions) > MAX_TAGS:
        raise InvalidInputError(f"{len(partitions)} partitions; the limit is {MAX_TAGS}")
    out: dict[str, str] = {}
    for key, given in partitions.items():
        clean = _unique_key(check_name(key, "partition key"), out, "partition")
        value = timepartitions.canonical(given)
        if not isinstance(value, str) or not value:
            raise InvalidInputError(f"partition {key!r} must be a non-empty string "
                                    "(or a datetime or date)")
        if len(value) > MAX_PARTITION_VALUE or not value.isprintable():
            raise InvalidInputError(
                f"partition {key!r} must be printable and at most {MAX_PARTITION_VALUE} chars"
            )
        _check_string(value, f"partition {key!r}")
        out[clean] = value
    return out


def check_partition_spellings(accepted: Mapping[str, Sequence[tuple[str, str | None]]]
                              ) -> dict[str, tuple[tuple[str, str | None], ...]]:
    """``ListFilter.partition_spellings`` checked as :func:`check_partitions` checks
    partitions: keys and values (in their stored form), at most one spelling per
    granularity and one without, granularities among
    :data:`~archivist.timepartitions.GRANULARITIES`.

    Raises:
        InvalidNameError, InvalidInputError: a bad key, value or granularity, or too many.
    """
    if len(accepted) > MAX_TAGS:
        raise InvalidInputError(f"{len(accepted)} partition keys; the limit is {MAX_TAGS}")
    out: dict[str, tuple[tuple[str, str | None], ...]] = {}
    for key, options in accepted.items():
        if not 1 <= len(options) <= 1 + len(timepartitions.GRANULARITIES):
            raise InvalidInputError(
                f"partition {key!r} has {len(options)} accepted values; from 1 to "
                f"{1 + len(timepartitions.GRANULARITIES)} (a time and its buckets)")
        clean: list[tuple[str, str | None]] = []
        for value, granularity in options:
            ((name, text),) = check_partitions({key: value}).items()
            clean.append((text, None if granularity is None
                          else timepartitions.check_granularity(granularity)))
        out[name] = tuple(clean)
    return out


def _unique_key(key: str, seen: Mapping[str, object], what: str) -> str:
    """``key`` (normalized), unless another spelling of it is already in ``seen``."""
    if key in seen:
        raise InvalidInputError(f"two {what} keys are {key!r} once NFC-normalized (one is "
                                "spelled with combining marks); give it once")
    return key


def check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate a metadata object and return it as plain JSON types.

    Raises:
        InvalidInputError: naming the offending path (``metadata.a.b``) for values that are
            not JSON (NaN, sets, bytes, NUL characters, lone surrogates, keys that collide
            once coerced to strings), for nesting deeper than 64, or over 1 MiB.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError("metadata must be a mapping")
    clean = _clean_json(metadata, "metadata", 0)
    size = len(json.dumps(clean, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata is {size} bytes; the limit is {MAX_METADATA_BYTES}")
    assert isinstance(clean, dict)
    return clean


def _clean_json(value: Any, path: str, depth: int) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise InvalidInputError(f"{path}: nested deeper than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise InvalidInputError(f"{path}: integer outside the signed 64-bit range")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{path}: {value} is not a JSON number")
        return float(value)
    if isinstance(value, str):
        _check_string(value, path)
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{path}: key {key!r} is not a string")
            _check_string(key, f"{path} key")
            out[key] = _clean_json(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_clean_json(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise InvalidInputError(f"{path}: {type(value).__name__} is not JSON (use str, number, "
                            "bool, None, list or dict)")


def _check_string(value: str, where: str) -> None:
    if "\x00" in value:
        raise InvalidInputError(f"{where}: NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{where}: not valid Unicode (lone surrogate)") from None


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def case_conflict(project: str, existing: str, wanted: str) -> ConflictError:
    """The error of registering ``wanted`` where ``existing`` is the same name in another
    case: names are unique per project regardless of case."""
    return ConflictError(
        f"an artifact named {existing!r} already exists in project {project!r}; names are "
        f"unique regardless of case (register under {existing!r} or pick another name than "
        f"{wanted!r})", existing=existing)
