"""torch tensors and state dicts as safetensors: weights only, no pickle, no ``torch.load``.

A safetensors file is an 8-byte little-endian header length, a JSON header (dtype, shape
and byte range of every tensor, plus string ``__metadata__``), then raw tensor bytes.
The header is checked here before safetensors sees the file: a declared length over
:data:`MAX_HEADER` (safetensors' own limit, 100 MB) or past the end of the file is an
:class:`~archivist.errors.IntegrityError` with bounded memory (a length of ``2**63`` is
not an allocation).

A single tensor is stored under the key ``"tensor"`` and recorded as
``archivist.kind = "tensor"`` in the header metadata, so it loads back as a tensor; a
state dict loads back as a ``dict`` (``load_state_dict`` takes any mapping).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

from archivist._extras import installed, is_instance, loaded, missing, require
from archivist.errors import IntegrityError, InvalidInputError

MAX_HEADER = 100_000_000
KIND_KEY = "archivist.kind"
_TENSOR_KEY = "tensor"


class SafetensorsMaterializer:
    """``torch.Tensor`` or ``{str: torch.Tensor}`` as safetensors."""

    name = "safetensors"
    artifact_type = "Model"
    needs_consent = False

    def handles(self, obj: object) -> bool:
        if loaded("torch") is None:
            return False
        if is_instance(obj, "torch", "Tensor"):
            return True
        return (isinstance(obj, dict) and bool(obj)
                and all(isinstance(k, str) and is_instance(v, "torch", "Tensor")
                        for k, v in obj.items()))

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        save_file = _safetensors_torch("writing torch tensors as safetensors").save_file
        if is_instance(obj, "torch", "Tensor"):
            kind, tensors = "tensor", {_TENSOR_KEY: obj}
        elif self.handles(obj):
            kind, tensors = "state_dict", dict(cast(dict[str, Any], obj))
        else:
            raise InvalidInputError(
                "safetensors format takes a torch.Tensor or a dict of str to torch.Tensor, got "
                f"{type(obj).__name__}")
        prepared = _prepare(tensors)
        try:
            save_file(prepared, str(dest), metadata={KIND_KEY: kind})
        except (ValueError, TypeError, RuntimeError) as e:
            raise InvalidInputError(f"cannot write these tensors as safetensors: {e}") from e
        return {
            "kind": kind,
            "tensors": len(prepared),
            "parameters": sum(int(t.numel()) for t in prepared.values()),
            "dtypes": sorted({str(t.dtype).removeprefix("torch.") for t in prepared.values()}),
        }

    def load(self, path: Path) -> object:
        header = read_header(path)
        load_file = _safetensors_torch("loading safetensors").load_file
        try:
            tensors = load_file(str(path))
        except Exception as e:  # safetensors_rust.SafetensorError has no importable base
            raise IntegrityError(f"stored safetensors file does not load: {e}") from None
        meta = header.get("__metadata__") or {}
        if meta.get(KIND_KEY) == "tensor" and set(tensors) == {_TENSOR_KEY}:
            return tensors[_TENSOR_KEY]
        return tensors

    def sniff(self, head: bytes) -> bool:
        if len(head) < 9:
            return False
        size = int.from_bytes(head[:8], "little")
        return 2 <= size <= MAX_HEADER and head[8:9] == b"{"


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, read with bounded memory.

    Raises:
        IntegrityError: the declared header length is over the limit or past the end of
            the file, or the header is not a JSON object.
    """
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        size = int.from_bytes(f.read(8), "little")
        if size > MAX_HEADER or size + 8 > file_size:
            raise IntegrityError(
                f"stored safetensors header declares {size} bytes (file: {file_size}, limit: "
                f"{MAX_HEADER}); refusing to read it")
        raw = f.read(size)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise IntegrityError(f"stored safetensors header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise IntegrityError("stored safetensors header is not a JSON object")
    meta = header.get("__metadata__")
    if meta is not None and not isinstance(meta, dict):
        raise IntegrityError("stored safetensors __metadata__ is not a JSON object")
    return header


def _prepare(tensors: dict[str, Any]) -> dict[str, Any]:
    """Detached, contiguous CPU tensors; a copy only for tensors sharing storage.

    safetensors refuses tensors that share memory (tied weights); cloning the second
    and later ones stores each once per name, as ``torch.save`` would not.
    """
    out: dict[str, Any] = {}
    seen: set[int] = set()
    for key, tensor in tensors.items():
        t = tensor.detach().to("cpu").contiguous()
        ptr = int(t.untyped_storage().data_ptr()) if t.numel() else 0
        if ptr and ptr in seen:
            t = t.clone()
        elif ptr:
            seen.add(ptr)
        out[key] = t
    return out


def _safetensors_torch(purpose: str) -> Any:
    if not installed("torch"):
        raise missing("torch", "torch", purpose=purpose)
    return require("safetensors.torch", "torch", purpose=purpose)
