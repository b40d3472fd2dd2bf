"""Flow parameters: ``alpha = Parameter("alpha", default=0.5)`` on a ``Flow`` class."""

from __future__ import annotations

import codecs
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archivist.errors import DuplicateArtifactWarning, InvalidInputError
from archivist.pipelines.flows.base import FlowBase
from archivist.pipelines.flows.state import IncludedFile
from archivist.pipelines.flows.task import CONTEXT_ATTRIBUTE, TaskContext

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog

#: The default of a parameter that has none (a required parameter).
MISSING: Any = object()
#: Annotations whose ``--param`` text is converted (others are read as JSON).
SIMPLE_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


class Parameter:
    """A flow parameter: ``alpha = Parameter("alpha", default=0.5)``.

    Given to ``MyFlow().run(alpha=0.7)`` or ``archivist flow run flow.py --param
    alpha=0.7`` (converted to the default's type, or ``type``; JSON otherwise).

    Args:
        name: the name ``run()`` and ``--param`` use (default: the attribute's name).
        default: the value when none is given; without one the parameter is required.
        type: ``int``, ``float``, ``bool`` or ``str`` for ``--param`` text.
        help: shown by ``archivist flow show``.
        separator: a text value (given, ``--param`` or the default) is split on it into a
            list, each piece converted to ``type`` (as Metaflow's ``separator``).
    """

    def __init__(self, name: str | None = None, *, default: Any = MISSING,
                 type: type | None = None, help: str | None = None,
                 separator: str | None = None) -> None:
        if separator == "":
            raise InvalidInputError("Parameter(separator=...) must not be empty")
        self.name: str = name or ""
        self.default = default
        self.type = type
        self.help = help
        self.separator = separator
        self.attribute = name or ""

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute
        self.name = self.name or attribute

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        context: TaskContext | None = obj.__dict__.get(CONTEXT_ATTRIBUTE)
        if context is None:
            return None if self.required else self.default
        return context.parameter(self.attribute)

    def __set__(self, obj: object, value: Any) -> None:
        raise InvalidInputError(f"parameter {self.name!r} is read-only in steps; give it to "
                                f"run({self.name}=...) or store the new value under another "
                                "attribute")

    def convert(self, text: str) -> Any:
        """The value of ``--param name=text``.

        Raises:
            InvalidInputError: ``text`` does not parse as the parameter's type.
        """
        if self.separator is not None:
            return self.split(text)
        kind = self.type or (type(self.default) if not self.required else None)
        try:
            if kind in (bool, int, float, str):
                return _from_text(kind, text)
        except ValueError:
            raise InvalidInputError(f"parameter {self.name!r} expects a "
                                    f"{getattr(kind, '__name__', kind)}, got {text!r}") from None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def split(self, value: Any) -> Any:
        """With a ``separator``: a text ``value`` as the list of its pieces (each
        converted to ``type``); anything else unchanged.

        Raises:
            InvalidInputError: a piece does not parse as ``type``.
        """
        if self.separator is None or not isinstance(value, str):
            return value
        kind = self.type or str
        pieces = [p.strip() for p in value.split(self.separator)]
        try:
            return [_from_text(kind, p) for p in pieces]
        except ValueError:
            raise InvalidInputError(f"parameter {self.name!r} expects {kind.__name__}s "
                                    f"separated by {self.separator!r}, got {value!r}") from None

    def __repr__(self) -> str:
        default = "required" if self.required else f"default={self.default!r}"
        return f"Parameter({self.name!r}, {default})"


def _from_text(kind: type, text: str) -> Any:
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    return kind(text)


class IncludeFile(Parameter):
    """A parameter whose value is a local file's content (Metaflow's ``IncludeFile``):
    ``data = IncludeFile("data", is_text=True, default="data.csv")``.

    Given a path (``run(data="x.csv")``, ``archivist flow run flow.py --data x.csv``, or
    the default), the file is read once when the run starts and stored in the catalog as
    the version ``<Flow>.<attribute>`` (a file: its bytes are stored once, by content),
    which the run produces and every step that reads ``self.data`` consumes. Steps read the
    content as text (``is_text``, decoded with ``encoding``) or as bytes. A resumed run
    reuses the stored version; it does not read the file again.

    Args:
        name: the name ``run()`` and the command line use (default: the attribute's name).
        required: no default: the run needs a path.
        is_text: read as ``str`` (default) or, with ``False``, as ``bytes``.
        encoding: the text's encoding (default ``utf-8``).
        help: shown by ``archivist flow show``.
        default: the path used when none is given.

    Raises:
        InvalidInputError: an unknown encoding.
    """

    def __init__(self, name: str | None = None, *, required: bool | None = None,
                 is_text: bool | None = None, encoding: str | None = None,
                 help: str | None = None, default: str | os.PathLike[str] | None = None) -> None:
        encoding = encoding or "utf-8"
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InvalidInputError(f"IncludeFile(encoding={encoding!r}) is not a known "
                                    "encoding") from None
        missing = required or default is None
        super().__init__(name, default=MISSING if missing else os.fspath(default or ""),
                         help=help)
        self.is_text = True if is_text is None else bool(is_text)
        self.encoding = encoding

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        context: TaskContext | None = obj.__dict__.get(CONTEXT_ATTRIBUTE)
        if context is None:
            return None
        return context.parameter(self.attribute)

    def convert(self, text: str) -> Any:
        """The value of ``--data PATH``: the path (read when the run starts)."""
        return text

    def split(self, value: Any) -> Any:
        return value

    def include(self, value: Any, flow: str, catalog: ArtifactCatalog) -> IncludedFile:
        """Store the file ``value`` names (a path) in ``catalog``, or take the version a
        run recorded (``{"path", "version"}``, when resuming).

        Raises:
            InvalidInputError: not a path, or not a readable file (nothing is stored).
            ArtifactNotFoundError: a recorded version that is not in the catalog.
        """
        if isinstance(value, Mapping) and isinstance(value.get("version"), str):
            catalog.get(value["version"])  # still there
            return IncludedFile(value["version"], str(value.get("path", "")), self.is_text,
                                self.encoding)
        if not isinstance(value, str | os.PathLike) or not os.fspath(value):
            raise InvalidInputError(f"parameter {self.name!r} (IncludeFile) takes the path of a "
                                    f"local file, got {value!r:.80}")
        path = Path(value)
        if not path.is_file():
            raise InvalidInputError(f"parameter {self.name!r} (IncludeFile): {path} is not a "
                                    "readable file")
        if self.is_text:
            try:
                path.read_bytes().decode(self.encoding)
            except UnicodeDecodeError as exc:
                raise InvalidInputError(f"parameter {self.name!r} (IncludeFile): {path} is "
                                        f"not {self.encoding} text ({exc.reason} at byte "
                                        f"{exc.start}); pass is_text=False to read bytes"
                                        ) from None
        with warnings.catch_warnings():  # a run's file: the same bytes, stored once
            warnings.simplefilter("ignore", DuplicateArtifactWarning)
            version = catalog.register(
                f"{flow}.{self.attribute}", path=path, source_pipeline=flow,
                metadata={"include_file": {"path": os.fspath(value), "is_text": self.is_text,
                                           "encoding": self.encoding}})
        return IncludedFile(version, os.fspath(value), self.is_text, self.encoding)

    def __repr__(self) -> str:
        default = "required" if self.required else f"default={self.default!r}"
        return f"IncludeFile({self.name!r}, {default}, is_text={self.is_text})"


def include_files(flow_cls: type, values: dict[str, Any], flow: str,
                  catalog: ArtifactCatalog) -> dict[str, Any]:
    """``values`` (attribute -> value) with every :class:`IncludeFile` parameter's path
    replaced by its stored file (see :meth:`IncludeFile.include`)."""
    out = dict(values)
    for attribute, value in values.items():
        declared = inspect_parameter(flow_cls, attribute)
        if isinstance(declared, IncludeFile) and not isinstance(value, IncludedFile):
            out[attribute] = declared.include(value, flow, catalog)
    return out


def inspect_parameter(flow_cls: type, attribute: str) -> Parameter | None:
    """The :class:`Parameter` declared as ``attribute`` on ``flow_cls`` (or a base)."""
    for klass in flow_cls.__mro__:
        found = vars(klass).get(attribute)
        if isinstance(found, Parameter):
            return found
    return None


def recorded(value: Any) -> Any:
    """A parameter's value as the run records it (an included file: its path and version)."""
    return value.recorded() if isinstance(value, IncludedFile) else value


def resolve_parameters(flow_cls: type[FlowBase], given: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute name -> value: the given ones (by parameter name), else the defaults.

    Raises:
        InvalidInputError: an unknown parameter, or a required one missing.
    """
    declared = flow_cls.spec().parameters
    by_name = {p.name: attr for attr, p in declared.items()}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise InvalidInputError(f"{flow_cls.__name__} has no parameter {unknown[0]!r}; "
                                f"parameters: {', '.join(sorted(by_name)) or 'none'}")
    values: dict[str, Any] = {}
    for attr, parameter in declared.items():
        if parameter.name in given:
            values[attr] = parameter.split(given[parameter.name])
        elif parameter.required:
            raise InvalidInputError(f"{flow_cls.__name__} needs the parameter "
                                    f"{parameter.name!r} (run(..., {parameter.name}=...) or "
                                    f"--param {parameter.name}=...)")
        else:
            values[attr] = parameter.split(parameter.default)
    return values


def recorded_parameters(flow_cls: type[FlowBase], values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter name -> value as the run records it (see :func:`recorded`)."""
    declared = flow_cls.spec().parameters
    return {declared[attr].name: recorded(value) for attr, value in values.items()}
