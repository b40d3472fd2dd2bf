"""matplotlib figures as PNG; loading returns the PNG bytes (no matplotlib needed).

A rendered image is what a plot artifact is for (the UI shows it, ``diff`` compares its
digest); a figure object cannot be rebuilt from pixels, so :meth:`PngMaterializer.load`
returns ``bytes`` that start with the PNG signature.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from archivist._extras import installed, is_instance, missing
from archivist.errors import IntegrityError, InvalidInputError

SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PngMaterializer:
    """``matplotlib.figure.Figure`` as PNG."""

    name = "png"
    artifact_type = "Plot"
    needs_consent = False

    def handles(self, obj: object) -> bool:
        return is_instance(obj, "matplotlib.figure", "Figure")

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        if not installed("matplotlib"):
            raise missing("matplotlib", "matplotlib", purpose="saving a figure as PNG")
        if not is_instance(obj, "matplotlib.figure", "Figure"):
            raise InvalidInputError(
                f"png format takes a matplotlib Figure, got {type(obj).__name__}")
        with open(dest, "wb") as f:
            cast(Any, obj).savefig(f, format="png")
        with open(dest, "rb") as f:
            width, height = png_size(f.read(24))
        return {"width": width, "height": height, "dpi": float(getattr(obj, "dpi", 0.0))}

    def load(self, path: Path) -> object:
        data = path.read_bytes()
        png_size(data[:24])
        return data

    def sniff(self, head: bytes) -> bool:
        return head.startswith(SIGNATURE)


def png_size(head: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (its first 24 bytes).

    Raises:
        IntegrityError: the bytes are not a PNG.
    """
    if len(head) < 24 or not head.startswith(SIGNATURE) or head[12:16] != b"IHDR":
        raise IntegrityError("stored bytes are not a PNG image")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
