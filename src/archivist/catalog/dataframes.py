"""A dataset version as a pandas DataFrame (MLRun's ``as_df``), however it was stored.

A DataFrame or Arrow table registered from Python is stored as Parquet and loads back as
what it was (an Arrow table is converted); a data file — registered by path, added with
``archivist add``, or logged with ``log_dataset(format="csv")`` — keeps its bytes and its
``filename``, whose suffix picks the reader: CSV, TSV, Parquet, Arrow/Feather. The bytes
are read through the catalog, so they are checked against the version's digest.
"""

from __future__ import annotations

import io
from pathlib import PurePath
from typing import IO, Any, Protocol

from archivist._extras import require
from archivist.errors import InvalidInputError
from archivist.model import Artifact


class Reading(Protocol):
    """What is read through: the catalog's ``load`` and ``open``."""

    def load(self, ref: Artifact, allow_pickle: bool = False) -> Any: ...

    def open(self, ref: Artifact) -> IO[bytes]: ...

#: A data file's suffix -> how it is read.
READERS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
           ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow"}


def as_dataframe(catalog: Reading, art: Artifact) -> Any:
    """``art`` read into a pandas DataFrame.

    Raises:
        InvalidInputError: the version holds no table.
        MissingDependencyError: pandas (or pyarrow, for Parquet and Arrow) is missing.
    """
    pd = require("pandas", "pandas", purpose="reading a dataset as a DataFrame")
    if art.format == "parquet":
        value = catalog.load(art)
        return value if isinstance(value, pd.DataFrame) else value.to_pandas()
    filename = art.metadata.get("filename")
    reader = READERS.get(PurePath(filename).suffix.lower()) \
        if art.kind == "file" and isinstance(filename, str) else None
    if reader is None:
        raise InvalidInputError(
            f"{art.ref} holds no table (kind {art.kind}, format {art.format}); as_df reads "
            "a stored DataFrame or Arrow table, or a CSV, TSV, Parquet or Arrow file")
    with catalog.open(art) as stream:
        if reader in ("csv", "tsv"):
            return pd.read_csv(stream, sep="\t" if reader == "tsv" else ",")
        require("pyarrow", "pandas", purpose=f"reading a {reader} file")
        whole = io.BytesIO(stream.read())  # both formats seek; a server's stream does not
    if reader == "parquet":
        return pd.read_parquet(whole)
    import pyarrow.feather

    return pyarrow.feather.read_table(whole).to_pandas()
