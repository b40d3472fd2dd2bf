"""Type aliases shared across modules."""

from __future__ import annotations

import os
from typing import Any, TypeAlias

JSON: TypeAlias = Any
Digest: TypeAlias = str  # "sha256:<64 hex>"
PathLike: TypeAlias = str | os.PathLike[str]
