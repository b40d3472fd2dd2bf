"""Flow parameters: ``alpha = Parameter("alpha", default=0.5)`` on a ``Flow`` class."""

from __future__ import annotations

import json
from typing import Any

from archivist.errors import InvalidInputError
from archivist.pipelines.flows.task import CONTEXT_ATTRIBUTE, TaskContext

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
