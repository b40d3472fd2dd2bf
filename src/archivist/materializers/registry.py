"""The materializer contract and the registry: the one place objects become bytes and back.

A :class:`Materializer` turns one kind of object into ONE file and back. Its ``name`` is
the *format* the catalog records with the version; at load time the catalog hands that
recorded name to :meth:`MaterializerRegistry.load`, the single loader choke point, which

1. looks the name up in the registry's allow-list (names never import anything: a recorded
   ``"os:system"`` or ``"evil.module"`` is just an unknown name),
2. refuses a format that unpickles (``needs_consent``) unless ``allow_pickle=True``,
   *before* the file is opened,
3. checks the first bytes against the format (``sniff``): a pickle recorded as ``"npy"`` is
   an :class:`~archivist.errors.IntegrityError`, never a load,
4. and only then loads.

Hashing the bytes against the version's digest happens before all of this, in the catalog.

Obtain one with :func:`archivist.materializers.default_registry`; extend it with
:meth:`MaterializerRegistry.register`::

    registry = default_registry()
    registry.register(MyCsvMaterializer())       # tried before the built-ins
    m = registry.for_object(df)                    # -> MyCsvMaterializer if it handles df
    meta = m.save(df, tmp_path)
    obj = registry.load(m.name, tmp_path, allow_pickle=False)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

from archivist.errors import (
    IntegrityError,
    InvalidInputError,
    PickleNotAllowedError,
)
from archivist.store.hashing import hash_file

HEAD_SIZE = 64
"""How many leading bytes :meth:`Materializer.sniff` is shown."""

FORMAT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
"""What a materializer's ``name`` (the recorded format) may look like."""

FALLBACK = "pickle"

IN_MEMORY_LIMIT = 8 * 1024 * 1024
"""Values of an :class:`InMemoryMaterializer` up to this size are stored and loaded as
bytes in memory; larger ones go through a file (bounded memory, chunked transfers)."""


@runtime_checkable
class Materializer(Protocol):
    """Turns one kind of object into one file and back.

    Attributes:
        name: the stable format id recorded with the version (``"parquet"``, ``"npy"``…);
            must match :data:`FORMAT_NAME`.
        artifact_type: the ``artifact_type`` to use when the user gives none.
        needs_consent: ``True`` when loading runs code from the file (pickle, joblib); the
            registry then refuses to load without ``allow_pickle=True``.
    """

    name: str
    artifact_type: str
    needs_consent: bool

    def handles(self, obj: object) -> bool:
        """Whether this materializer can save ``obj``.

        Must be cheap and must not import a library the process has not imported yet.
        """
        ...

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        """Write ``obj`` as one file at ``dest``; return JSON-able metadata to record."""
        ...

    def load(self, path: Path) -> object:
        """Read the object back from ``path``."""
        ...

    def sniff(self, head: bytes) -> bool:
        """Whether the first :data:`HEAD_SIZE` bytes of a file look like this format."""
        ...


@runtime_checkable
class InMemoryMaterializer(Materializer, Protocol):
    """A materializer that can also work on bytes in memory (bytes, text, JSON).

    ``encode`` must return exactly the bytes ``save`` writes, with the same metadata, and
    ``decode`` must return what ``load`` returns for those bytes: the catalog then stores
    and loads small values without a scratch file (:data:`IN_MEMORY_LIMIT`).
    """

    def encode(self, obj: object) -> tuple[bytes, dict[str, Any]]:
        """The bytes ``save`` would write for ``obj``, and the metadata it would return."""
        ...

    def decode(self, data: bytes) -> object:
        """The object ``load`` would return for a file holding ``data``."""
        ...


class ConsentAwareMaterializer(Materializer, Protocol):
    """A materializer that decides about consent itself, after looking inside the file.

    skops, for instance, loads a file whose types are all on a trusted list without
    consent and refuses the rest unless ``allow_pickle=True``. It sets
    ``consent_aware = True`` and :meth:`MaterializerRegistry.load` passes ``allow_pickle``.
    """

    consent_aware: bool

    def load(self, path: Path, *, allow_pickle: bool = False) -> object:
        """Read the object back; raise PickleNotAllowedError if it needs consent."""
        ...


@dataclass(frozen=True)
class Written:
    """A value already written to one file by its materializer, and that file's digest.

    ``catalog.register(name, data=written)`` stores the file as that value (its format,
    metadata and default type), without serializing the value again: a flow writes a value
    once to see whether its content changed, and stores that same file if it did.
    """

    path: Path
    digest: str
    format: str
    metadata: dict[str, Any]
    artifact_type: str


class MaterializerRegistry:
    """An ordered allow-list of materializers, looked up by object or by recorded name.

    Args:
        materializers: tried in this order by :meth:`for_object`.
        fallback: the materializer used when none handles an object (pickle in
            :func:`default_registry`); it is also reachable by name.
    """

    def __init__(self, materializers: Iterable[Materializer] = (),
                 fallback: Materializer | None = None) -> None:
        self._order: list[Materializer] = []
        self._by_name: dict[str, Materializer] = {}
        self._fallback: Materializer | None = None
        for m in materializers:
            self.register(m, first=False)
        if fallback is not None:
            _check_materializer(fallback)
            if fallback.name in self._by_name:
                raise InvalidInputError(f"format {fallback.name!r} is already registered")
            self._by_name[fallback.name] = fallback
            self._fallback = fallback

    def register(self, m: Materializer, *, first: bool = True, replace: bool = False) -> None:
        """Add a materializer.

        Args:
            m: the materializer; its ``name`` becomes a format the registry can load.
            first: try it before every materializer already registered (the default, so
                user materializers win over the built-ins); ``False`` tries it last
                (still before the fallback).
            replace: allow taking over the name of a registered materializer.

        Raises:
            InvalidInputError: ``m`` lacks part of the contract, its name is malformed, or
                the name is taken and ``replace`` is false.
        """
        _check_materializer(m)
        old = self._by_name.get(m.name)
        if old is not None:
            if not replace:
                raise InvalidInputError(
                    f"format {m.name!r} is already registered ({type(old).__name__}); "
                    "pass replace=True to take it over")
            if old is self._fallback:
                self._fallback = m
                self._by_name[m.name] = m
                return
            self._order.remove(old)
        self._by_name[m.name] = m
        if first:
            self._order.insert(0, m)
        else:
            self._order.append(m)

    def for_object(self, obj: object) -> Materializer:
        """The first materializer that handles ``obj``, else the fallback (pickle).

        Raises:
            InvalidInputError: nothing handles ``obj`` and the registry has no fallback.
        """
        for m in self._order:
            if m.handles(obj):
                return m
        if self._fallback is None:
            raise InvalidInputError(
                f"no materializer handles {_type_name(obj)}; register one with "
                "registry.register(...)")
        return self._fallback

    def by_name(self, name: str) -> Materializer:
        """The materializer registered under ``name``; never imports anything.

        Raises:
            InvalidInputError: no materializer has this name.
        """
        m = self._by_name.get(name) if isinstance(name, str) else None
        if m is None:
            raise InvalidInputError(
                f"unknown format {name!r}; known formats: {', '.join(sorted(self._by_name))}. "
                "A format written by a custom materializer loads only once that materializer "
                "is registered.", format=name)
        return m

    def save(self, obj: object, dest: Path, *,
             format: str | None = None) -> tuple[Materializer, dict[str, Any]]:
        """Choose a materializer (or take ``format``), write ``obj`` to ``dest``.

        Removes a partly written ``dest`` when saving fails.

        Returns:
            The materializer used (its ``name`` is the format to record) and its metadata.

        Raises:
            InvalidInputError: the object cannot be written in the chosen format.
            MissingDependencyError: the format needs a library that is not installed.
        """
        m = self.for_object(obj) if format is None else self.by_name(format)
        try:
            return m, m.save(obj, dest)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    def write(self, obj: object, dest: Path) -> Written:
        """:meth:`save` ``obj`` to ``dest`` and hash the file: what registering it would
        record (:class:`Written`).

        Raises:
            As :meth:`save`.
        """
        m, extra = self.save(obj, dest)
        return Written(path=dest, digest=hash_file(dest)[0], format=m.name, metadata=extra,
                       artifact_type=m.artifact_type)

    def load(self, name: str, path: Path, *, allow_pickle: bool) -> object:
        """Load the file at ``path``, recorded with format ``name``: the one choke point.

        Raises:
            IntegrityError: the format is unknown, the file is missing, its first bytes do
                not look like the recorded format, or it does not parse.
            PickleNotAllowedError: the format unpickles and ``allow_pickle`` is false
                (checked before the file is opened).
            MissingDependencyError: the format needs a library that is not installed.
        """
        try:
            m = self.by_name(name)
        except InvalidInputError as e:
            raise IntegrityError(f"cannot load: {e}", format=name) from None
        if m.needs_consent and not allow_pickle:
            raise PickleNotAllowedError(
                f"this object was stored as {m.name!r}, and loading it unpickles it, which "
                "runs code from the file; load it with allow_pickle=True only if you trust "
                "whoever wrote it", format=m.name)
        head = _read_head(path)
        if not m.sniff(head):
            raise IntegrityError(
                f"the stored bytes do not look like the recorded format {m.name!r} (they "
                f"start with {head[:16]!r}); refusing to load them", format=m.name)
        if getattr(m, "consent_aware", False):
            return cast(ConsentAwareMaterializer, m).load(path, allow_pickle=allow_pickle)
        return m.load(path)

    def in_memory(self, name: str) -> InMemoryMaterializer | None:
        """The materializer of format ``name`` when it can decode bytes in memory (no
        consent needed), else ``None`` (load through a file)."""
        m = self._by_name.get(name) if isinstance(name, str) else None
        if m is None or m.needs_consent or not isinstance(m, InMemoryMaterializer):
            return None
        return m

    def decode(self, m: InMemoryMaterializer, data: bytes) -> object:
        """:meth:`load` for bytes already in memory (and verified against their digest),
        with the same format check: ``m`` comes from :meth:`in_memory`.

        Raises:
            IntegrityError: the bytes do not look like the format, or do not parse.
        """
        head = data[:HEAD_SIZE]
        if not m.sniff(head):
            raise IntegrityError(
                f"the stored bytes do not look like the recorded format {m.name!r} (they "
                f"start with {head[:16]!r}); refusing to load them", format=m.name)
        return m.decode(data)

    def names(self) -> list[str]:
        """Every registered format name, in lookup order, the fallback last."""
        out = [m.name for m in self._order]
        return out + ([self._fallback.name] if self._fallback is not None else [])

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Materializer]:
        yield from self._order
        if self._fallback is not None:
            yield self._fallback

    def __len__(self) -> int:
        return len(self._by_name)


def default_registry() -> MaterializerRegistry:
    """A fresh registry holding every built-in materializer, pickle as the fallback.

    Lookup order: safetensors, parquet, npy, skops, joblib, png, bytes, text, json,
    pyjson (tuples, sets, datetimes, Decimals, dataclasses…); then pickle for anything
    none of them handles. None of them imports its library until it
    is asked to save or load.
    """
    from archivist.materializers.arrays import NpyMaterializer
    from archivist.materializers.builtin import (
        BytesMaterializer,
        JsonMaterializer,
        TextMaterializer,
    )
    from archivist.materializers.estimators import JoblibMaterializer, SkopsMaterializer
    from archivist.materializers.figures import PngMaterializer
    from archivist.materializers.parquet import ParquetMaterializer
    from archivist.materializers.pickled import PickleMaterializer
    from archivist.materializers.pyvalues import PyValuesMaterializer
    from archivist.materializers.tensors import SafetensorsMaterializer

    return MaterializerRegistry(
        [SafetensorsMaterializer(), ParquetMaterializer(), NpyMaterializer(),
         SkopsMaterializer(), JoblibMaterializer(), PngMaterializer(), BytesMaterializer(),
         TextMaterializer(), JsonMaterializer(), PyValuesMaterializer()],
        fallback=PickleMaterializer(),
    )


def _check_materializer(m: object) -> None:
    for attr in ("name", "artifact_type", "needs_consent", "handles", "save", "load", "sniff"):
        if not hasattr(m, attr):
            raise InvalidInputError(f"{type(m).__name__} is not a materializer: it has no "
                                    f"{attr!r} (see archivist.materializers.Materializer)")
    name = getattr(m, "name", None)
    if not isinstance(name, str) or not FORMAT_NAME.fullmatch(name):
        raise InvalidInputError(
            f"materializer name {name!r} is not a valid format name: use 1-64 lower-case "
            "letters, digits, '.', '_' or '-', starting with a letter or digit")
    if not isinstance(getattr(m, "needs_consent", None), bool):
        raise InvalidInputError(f"{type(m).__name__}.needs_consent must be a bool")


def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_SIZE)
    except FileNotFoundError:
        raise IntegrityError(f"the stored bytes are missing: {path}") from None
    except IsADirectoryError:
        raise IntegrityError(f"expected a file, found a directory: {path}") from None


def _type_name(obj: object) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


__all__ = [
    "FORMAT_NAME",
    "HEAD_SIZE",
    "ConsentAwareMaterializer",
    "Materializer",
    "MaterializerRegistry",
    "Written",
    "default_registry",
]
