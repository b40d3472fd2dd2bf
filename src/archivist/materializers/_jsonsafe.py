"""Turn arbitrary Python values into JSON that passes ``names.check_metadata``.

Used for what materializers *record* (Parquet previews and statistics, estimator
parameters), never for the objects themselves: the conversion is lossy on purpose
(timestamps become ISO strings, NaN becomes ``None``, long strings are cut).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
from collections.abc import Mapping
from typing import Any

MAX_STR = 256
MAX_DEPTH = 16
_BIG_INT = 2**63  # names.MAX_INT_BITS: larger ints are recorded as strings


def json_safe(value: Any, *, max_str: int = MAX_STR, _depth: int = 0) -> Any:
    """Return a JSON-able, NaN-free, NUL-free rendering of ``value`` for metadata.

    ``None``/bool/finite numbers pass through; NaN and infinities become ``None``;
    dates and times become ISO 8601 strings, timedeltas seconds, decimals strings; bytes
    become text when they are UTF-8, else ``"base64:…"``; strings over ``max_str``
    characters are cut and end in ``…``; anything else becomes its ``str()``.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value) if -_BIG_INT < value < _BIG_INT else str(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return _text(value, max_str)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value[: max_str * 4])
        try:
            return _text(raw.decode("utf-8"), max_str)
        except UnicodeDecodeError:
            return _text("base64:" + base64.b64encode(raw[:max_str]).decode("ascii"), max_str)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        try:
            return value.isoformat()
        except ValueError:  # pandas NaT
            return None
    if isinstance(value, dt.timedelta):
        return json_safe(value.total_seconds())
    if isinstance(value, decimal.Decimal):
        return str(value) if value.is_finite() else None
    if _depth >= MAX_DEPTH:
        return _text(repr(value), max_str)
    if isinstance(value, Mapping):
        return {_text(str(k), max_str): json_safe(v, max_str=max_str, _depth=_depth + 1)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, max_str=max_str, _depth=_depth + 1) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "shape", None) == ():
        try:
            return json_safe(item(), max_str=max_str, _depth=_depth + 1)
        except Exception:  # a failing .item() just falls back to str()
            pass
    try:
        text = str(value)
    except Exception:  # a broken __str__ must not break a registration
        text = f"<{type(value).__name__}>"
    return _text(text, max_str)


def _text(value: str, max_str: int) -> str:
    if len(value) > max_str:
        value = value[: max_str - 1] + "…"
    value = value.replace("\x00", "\ufffd")
    if not value.isascii():
        # lone surrogates cannot be stored; replace them
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value
