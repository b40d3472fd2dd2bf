"""numpy arrays as ``.npy``, never pickled.

Arrays whose dtype holds Python objects cannot be written without pickle, so
:meth:`NpyMaterializer.handles` declines them (the default registry then pickles them,
and loading needs consent). On load the header is read and checked first: an object
dtype, or a declared shape the file is too short to hold, is an
:class:`~archivist.errors.IntegrityError` before any data is read, and ``np.load`` always
runs with ``allow_pickle=False`` (CVE-2019-6446).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, cast

from archivist._extras import loaded, require
from archivist.errors import IntegrityError, InvalidInputError

MAGIC = b"\x93NUMPY"


class NpyMaterializer:
    """``numpy.ndarray`` (exact type, no object fields) as ``.npy``."""

    name = "npy"
    artifact_type = "Object"
    needs_consent = False

    def handles(self, obj: object) -> bool:
        np = loaded("numpy")
        return (np is not None and type(obj) is getattr(np, "ndarray", None)
                and not cast(Any, obj).dtype.hasobject)

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        np = _numpy("writing a numpy array")
        if not self.handles(obj):
            dtype = getattr(obj, "dtype", None)
            raise InvalidInputError(
                "npy format takes a numpy.ndarray without Python objects, got "
                f"{type(obj).__name__}" + (f" of dtype {dtype}" if dtype is not None else ""))
        array = cast(Any, obj)
        with open(dest, "wb") as f:
            np.save(f, array, allow_pickle=False)
        return {"dtype": str(array.dtype), "shape": list(array.shape)}

    def load(self, path: Path) -> object:
        np = _numpy("loading a numpy array")
        with open(path, "rb") as f:
            _check_header(np, f, os.fstat(f.fileno()).st_size)
            f.seek(0)
            try:
                return np.load(f, allow_pickle=False)
            except ValueError as e:
                raise IntegrityError(f"stored .npy file does not load: {e}") from None

    def sniff(self, head: bytes) -> bool:
        return head.startswith(MAGIC)


def read_header(np: Any, f: Any) -> tuple[tuple[int, ...], Any]:
    """The shape and dtype an open ``.npy`` file declares; ``f`` is left at the data.

    Reads the header only (never the data, never a pickle).

    Raises:
        IntegrityError: the header is damaged.
    """
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(f)
        else:  # (3, 0): utf-8 field names; numpy has no public reader for it
            shape, _, dtype = fmt._read_array_header(f, version)
    except Exception as e:  # numpy parses with ast.literal_eval and tokenize: many error types
        raise IntegrityError(f"stored .npy header is damaged: {e}") from None
    return shape, dtype


def data_size(shape: tuple[int, ...], dtype: Any) -> int:
    """How many bytes of data a ``.npy`` of this shape and (non-object) dtype holds."""
    return math.prod(shape) * int(dtype.itemsize)


def _check_header(np: Any, f: Any, size: int) -> None:
    shape, dtype = read_header(np, f)
    if dtype.hasobject:
        raise IntegrityError(
            f"stored .npy holds Python objects (dtype {dtype}); loading it would unpickle. "
            "archivist never writes such files as 'npy', so these bytes were not written by "
            "it; refusing to load them")
    expected = data_size(shape, dtype)
    if expected != size - f.tell():
        raise IntegrityError(
            f"stored .npy declares {expected} bytes of data (shape {shape}, dtype {dtype}) "
            f"but holds {size - f.tell()}; refusing to load it")


def _numpy(purpose: str) -> Any:
    return require("numpy", "numpy", purpose=purpose)
