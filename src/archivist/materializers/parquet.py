"""pandas DataFrames and pyarrow Tables as Parquet, described in metadata.

Saving records ``library`` (``"pandas"`` or ``"pyarrow"``, also written into the file's
key-value metadata so the bytes alone say what to load them as) and the keys of
:func:`~archivist.materializers.column_stats.profile`: ``schema``, ``rows``, ``columns``,
``preview`` and ``stats``. A DataFrame comes back with its index and dtypes (pyarrow's
``pandas`` schema metadata), a Table comes back as a Table.

Reading never unpickles: pyarrow before 14.0.1 deserialized ``arrow.py_extension_type``
columns with pickle on read (CVE-2023-47248), so loading refuses older pyarrow, and every
file's footer is checked for that extension type before the data is read, whatever the
pyarrow version.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from archivist._extras import is_instance, require
from archivist.errors import IntegrityError, InvalidInputError, MissingDependencyError
from archivist.materializers.column_stats import profile

MAGIC = b"PAR1"
LIBRARY_KEY = b"archivist.library"
MIN_PYARROW = (14, 0, 1)
MAX_METADATA_COLUMNS = 500  # keeps schema + stats + preview well inside the 1 MiB metadata cap
BATCH_ROWS = 64 * 1024
_PICKLED_EXTENSION = b"arrow.py_extension_type"


class ParquetMaterializer:
    """``pandas.DataFrame`` and ``pyarrow.Table`` as Parquet."""

    name = "parquet"
    artifact_type = "Dataset"
    needs_consent = False

    def handles(self, obj: object) -> bool:
        return _is_dataframe(obj) or _is_table(obj)

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        if _is_dataframe(obj):
            library = "pandas"
            pa, pq = _arrow("writing a pandas DataFrame as Parquet", extra="pandas")
            try:
                table = pa.Table.from_pandas(obj)
            except (pa.ArrowException, ValueError, TypeError) as e:
                raise InvalidInputError(
                    f"cannot write this DataFrame as Parquet: {e}. Give every column one type "
                    "(e.g. df.astype({'col': str})) and unique string column names") from e
        elif _is_table(obj):
            library = "pyarrow"
            pa, pq = _arrow("writing a pyarrow Table as Parquet", extra="arrow")
            table = obj
        else:
            raise InvalidInputError(
                f"parquet format takes a pandas DataFrame or a pyarrow Table, got "
                f"{type(obj).__name__}")
        meta = dict(table.schema.metadata or {})
        meta[LIBRARY_KEY] = library.encode()
        table = table.replace_schema_metadata(meta)
        try:
            pq.write_table(table, str(dest))
        except (pa.ArrowException, ValueError, TypeError) as e:
            raise InvalidInputError(f"cannot write this {library} table as Parquet: {e}") from e
        batches = table.to_batches(max_chunksize=BATCH_ROWS)
        return {"library": library,
                **profile(table.schema, table.num_rows, batches, max_columns=MAX_METADATA_COLUMNS)}

    def load(self, path: Path) -> object:
        pa, pq = _arrow("loading a Parquet dataset", extra="arrow")
        library = _check_file(pa, pq, path)
        try:
            table = pq.read_table(str(path))
        except (pa.ArrowException, ValueError, OSError) as e:
            raise IntegrityError(f"stored Parquet file does not load: {e}") from None
        meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != LIBRARY_KEY}
        table = table.replace_schema_metadata(meta or None)
        if library != "pandas":
            return table
        require("pandas", "pandas", purpose="loading a DataFrame")  # to_pandas needs it
        return table.to_pandas()

    def sniff(self, head: bytes) -> bool:
        return head.startswith(MAGIC)


def dataset_stats(path: Path, *, max_columns: int | None = None) -> dict[str, Any]:
    """Describe a stored Parquet file, streaming it one row group batch at a time.

    Used by ``catalog.diff``: the result has the keys the Parquet materializer records at
    save time (``library``, ``schema``, ``rows``, ``columns``, ``preview``, ``stats``)
    computed the same way, but by default over every column. The numeric columns are read
    twice: their histograms need ``min`` and ``max`` before the bins are counted.

    Raises:
        IntegrityError: the file is not Parquet, is damaged, or carries a pickled
            extension type.
        MissingDependencyError: pyarrow is missing or older than 14.0.1.
    """
    pa, pq = _arrow("reading Parquet statistics", extra="arrow")
    path = Path(path)
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise IntegrityError(f"{path.name} is not a Parquet file")
    library = _check_file(pa, pq, path)
    try:
        with pq.ParquetFile(str(path)) as pf:
            schema = pf.schema_arrow
            meta = {k: v for k, v in (schema.metadata or {}).items() if k != LIBRARY_KEY}
            batches = pf.iter_batches(batch_size=BATCH_ROWS)
            described = profile(schema.with_metadata(meta), pf.metadata.num_rows, batches,
                                max_columns=max_columns, rescan=_rescan(pf, schema))
    except (pa.ArrowException, ValueError, OSError) as e:
        raise IntegrityError(f"stored Parquet file does not read: {e}") from None
    return {"library": library, **described}


def _rescan(pf: Any, schema: Any) -> Callable[[Sequence[int]], Iterator[Any]]:
    """Read the file again, just the given top-level columns (histograms' second pass)."""
    names = schema.names
    # pyarrow selects columns by dotted-path prefix ("a" also selects "a.b"): select by
    # name only when no name is another's, or another's prefix
    unique = set(names)
    by_name = len(unique) == len(names) and not any(
        ".".join(name.split(".")[:k]) in unique
        for name in names for k in range(1, name.count(".") + 1))

    def again(indices: Sequence[int]) -> Iterator[Any]:
        if by_name:
            yield from pf.iter_batches(batch_size=BATCH_ROWS,
                                       columns=[names[i] for i in indices])
        else:
            for batch in pf.iter_batches(batch_size=BATCH_ROWS):
                yield batch.select(list(indices))

    return again


def _check_file(pa: Any, pq: Any, path: Path) -> str:
    """Refuse pickled extension types; return the recorded library ("pyarrow" if none)."""
    try:
        kv: dict[bytes, bytes] = pq.read_metadata(str(path)).metadata or {}
    except (pa.ArrowException, ValueError, OSError) as e:
        raise IntegrityError(f"stored Parquet footer does not read: {e}") from None
    for key, value in kv.items():
        blobs = [key, value]
        if key == b"ARROW:schema":
            try:
                blobs.append(base64.b64decode(value))
            except (binascii.Error, ValueError):
                raise IntegrityError("stored Parquet file has a damaged ARROW:schema") from None
        if any(_PICKLED_EXTENSION in blob for blob in blobs):
            raise IntegrityError(
                "stored Parquet file declares an 'arrow.py_extension_type' column, whose "
                "metadata is a pickle (CVE-2023-47248); archivist never writes these, "
                "refusing to read it")
    library = kv.get(LIBRARY_KEY, b"pyarrow")
    return "pandas" if library == b"pandas" else "pyarrow"


def _arrow(purpose: str, *, extra: str) -> tuple[Any, Any]:
    pyarrow = require("pyarrow", extra, purpose=purpose)
    parquet = require("pyarrow.parquet", extra, purpose=purpose)
    version = _version(pyarrow.__version__)
    if version < MIN_PYARROW:
        raise MissingDependencyError(
            f"{purpose} needs pyarrow >= 14.0.1 (older versions run pickled code found in "
            f"Parquet files, CVE-2023-47248); found {pyarrow.__version__}. Upgrade with: "
            "pip install -U 'pyarrow>=14.0.1'", package="pyarrow", extra=extra)
    return pyarrow, parquet


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        match = re.match(r"\d+", piece)
        parts.append(int(match.group()) if match else 0)
    return tuple(parts)


def _is_dataframe(obj: object) -> bool:
    return is_instance(obj, "pandas", "DataFrame")


def _is_table(obj: object) -> bool:
    return is_instance(obj, "pyarrow", "Table")
