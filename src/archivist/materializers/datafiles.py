"""Dataset metadata for a data file registered by path: Parquet, CSV/TSV, Arrow, ``.npy``.

``register(name, path="t.parquet")`` (and ``archivist add t.parquet``) stores the file's
bytes unchanged — its format stays ``"file"`` and ``load`` returns those bytes — and
records, next to ``filename``, what registering the same data from Python records:
``schema``, ``rows``, ``columns``, ``preview`` and ``stats`` for a table (computed by the
same :func:`~archivist.materializers.column_stats.profile` as the Parquet materializer's),
``dtype`` and ``shape`` for a ``.npy`` array. The file's suffix picks the reader
(:data:`READERS`); other files, and the files inside a directory, get ``filename`` only.

The work is bounded whatever the file's size. A table is profiled over its first record
batches, up to :data:`SAMPLE_BYTES` of decoded data (a CSV over its first
:data:`SAMPLE_BYTES` of text); when that is not the whole file, ``sampled`` is ``true``
and ``sampled_rows`` says how many rows the ``preview`` and ``stats`` describe. ``rows``
is exact when it is known without reading everything: Parquet and Arrow files carry it in
their footer; a CSV larger than the sample has no ``rows``. A ``.npy`` file's header is
read, never its data.

Nothing here fails a registration, or warns: a file that does not parse as its suffix
says gets ``format_error`` (the reader's message, cut short) instead of the dataset keys,
and without the library a format needs (pyarrow for tables, numpy for ``.npy``) the file
gets ``filename`` only. Metadata the user passes to ``register`` wins over these keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath
from typing import Any

from archivist._extras import require
from archivist.errors import IntegrityError, MissingDependencyError
from archivist.materializers._jsonsafe import json_safe
from archivist.materializers.arrays import data_size, read_header
from archivist.materializers.column_stats import profile
from archivist.materializers.parquet import (
    BATCH_ROWS,
    MAGIC,
    MAX_METADATA_COLUMNS,
    _arrow,
    _check_file,
)

#: Decoded bytes of record batches (or bytes of CSV text) a table is profiled over.
SAMPLE_BYTES = 32 * 1024 * 1024
#: CSV text is parsed in blocks of this size (pyarrow's default; larger blocks parse
#: slower and take more memory: 32 one-MiB blocks in 0.7 s and 90 MB, one 32 MiB block
#: in 1.5 s and 340 MB).
CSV_BLOCK = 1024 * 1024
#: Most bytes of JSON the described keys may take; past it the ``preview``, then the
#: ``stats``, are left out, so the user's own metadata still fits the 1 MiB limit.
DESCRIBED_BYTES = 512 * 1024
#: How long a recorded ``format_error`` may be.
ERROR_CHARS = 200
#: Parquet pages are read through a buffer of this size, not whole column chunks at once.
READ_BUFFER = 1024 * 1024


def describe_file(path: Path, name: str) -> dict[str, Any]:
    """The dataset metadata of the file at ``path``, by the suffix of ``name``.

    ``path`` holds the bytes (the landed blob, or the user's file) and ``name`` is the
    file's name as the user gave it. Never raises for what the file holds: see the module.
    """
    reader = READERS.get(PurePath(name).suffix.lower())
    if reader is None:
        return {}
    try:
        described = reader(Path(path), PurePath(name).suffix.lower())
    except MissingDependencyError:
        return {}
    except Exception as exc:  # a parser on arbitrary bytes can raise anything; a file that
        # does not parse is still registered (see the module docstring)
        message = str(exc).strip() or type(exc).__name__
        return {"format_error": json_safe(message, max_str=ERROR_CHARS)}
    return _fit(described)


def _parquet(path: Path, _suffix: str) -> dict[str, Any]:
    pa, pq = _arrow("describing a Parquet file", extra="arrow")
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise IntegrityError("not a Parquet file (it does not start with PAR1)")
    _check_file(pa, pq, path)  # no pickled extension types (CVE-2023-47248)
    with pq.ParquetFile(str(path), buffer_size=READ_BUFFER) as pf:
        meta = pf.metadata
        per_row = 0.0
        if meta.num_row_groups and meta.row_group(0).num_rows:
            group = meta.row_group(0)
            per_row = group.total_byte_size / group.num_rows
        # small batches for wide rows: the first batch alone must not blow the budget
        batch_rows = max(1, min(BATCH_ROWS, int(SAMPLE_BYTES / 16 / max(per_row, 1.0))))
        batches = _take(pf.iter_batches(batch_size=batch_rows))
        return _table(pf.schema_arrow, meta.num_rows, batches)


def _csv(path: Path, suffix: str) -> dict[str, Any]:
    pa, _ = _arrow("describing a CSV file", extra="arrow")
    pcsv = require("pyarrow.csv", "arrow", purpose="describing a CSV file")
    parse = pcsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
    try:
        return _csv_sample(pa, pcsv, path, parse, min(CSV_BLOCK, SAMPLE_BYTES))
    except _LaterBlockDiffers:
        # a value past the first block contradicts the column types inferred from that
        # block: read the sample as one block, so the types are inferred from all of it
        return _csv_sample(pa, pcsv, path, parse, SAMPLE_BYTES)


class _LaterBlockDiffers(Exception):
    """A CSV block after the first holds values that do not fit the inferred types."""


def _csv_sample(pa: Any, pcsv: Any, path: Path, parse: Any, block: int) -> dict[str, Any]:
    """The first blocks of ``block`` bytes, up to :data:`SAMPLE_BYTES`, profiled."""
    size = path.stat().st_size
    with pa.OSFile(str(path), "r") as source:
        reader = pcsv.open_csv(  # parses the first block: a file that is not CSV fails here
            source, parse_options=parse,
            read_options=pcsv.ReadOptions(block_size=max(1, min(block, size + 1)),
                                          use_threads=False))
        batches: list[Any] = []
        while len(batches) * block < SAMPLE_BYTES:
            try:
                batches.append(reader.read_next_batch())
            except StopIteration:  # the whole file: its rows are known
                return _table(reader.schema, sum(b.num_rows for b in batches), batches)
            except pa.ArrowInvalid:
                if block >= SAMPLE_BYTES:
                    raise
                raise _LaterBlockDiffers from None
        # the sample is full: is there more? One small block tells; a sample read as one
        # block (block_size capped at size + 1) held the whole file when it was smaller
        more = size >= SAMPLE_BYTES if block >= SAMPLE_BYTES else _more(pa, reader)
        rows = None if more else sum(b.num_rows for b in batches)
        return _table(reader.schema, rows, batches)


def _more(pa: Any, reader: Any) -> bool:
    try:
        reader.read_next_batch()
    except StopIteration:
        return False
    except pa.ArrowInvalid:  # rows past the sample that do not fit its types
        return True
    return True


def _ipc(path: Path, _suffix: str) -> dict[str, Any]:
    pa, _ = _arrow("describing an Arrow file", extra="arrow")
    ipc = require("pyarrow.ipc", "arrow", purpose="describing an Arrow file")
    with pa.memory_map(str(path), "r") as source:
        reader = ipc.open_file(source)
        count = reader.num_record_batches
        batches = _take(reader.get_batch(i) for i in range(count))
        rows: int | None = sum(b.num_rows for b in batches)
        if len(batches) < count:  # count_rows reads the batch headers only (3 ms for 20)
            counter = getattr(reader, "count_rows", None)
            rows = int(counter()) if counter is not None else None
        return _table(reader.schema, rows, batches)


def _npy(path: Path, _suffix: str) -> dict[str, Any]:
    np = require("numpy", "numpy", purpose="describing a .npy file")
    with open(path, "rb") as f:
        shape, dtype = read_header(np, f)
        if not dtype.hasobject:  # an object array's data is a pickle: its size varies
            held = path.stat().st_size - f.tell()
            if held != data_size(shape, dtype):
                raise IntegrityError(
                    f"the header declares {data_size(shape, dtype)} bytes of data (shape "
                    f"{tuple(shape)}, dtype {dtype}) but the file holds {held}")
    return {"dtype": str(dtype), "shape": [int(n) for n in shape]}


def _table(schema: Any, rows: int | None, batches: list[Any]) -> dict[str, Any]:
    """``profile`` over the sampled batches; ``sampled`` when they are not every row."""
    seen = sum(b.num_rows for b in batches)
    described = profile(schema, seen if rows is None else rows, batches,
                        max_columns=MAX_METADATA_COLUMNS)
    if rows is None:
        del described["rows"]
    if rows is None or seen < rows:
        described.update(sampled=True, sampled_rows=seen)
    return described


def _take(batches: Iterable[Any]) -> list[Any]:
    """The first batches, until they hold :data:`SAMPLE_BYTES` (kept for the histograms'
    second pass, so memory stays about that size)."""
    taken: list[Any] = []
    size = 0
    for batch in batches:
        taken.append(batch)
        size += batch.nbytes
        if size >= SAMPLE_BYTES:
            break
    return taken


def _first(reader: Any) -> list[Any]:
    try:
        return [reader.read_next_batch()]
    except StopIteration:
        return []


def _fit(described: dict[str, Any]) -> dict[str, Any]:
    for key in ("preview", "stats"):
        size = len(json.dumps(described, separators=(",", ":"), ensure_ascii=False).encode())
        if size <= DESCRIBED_BYTES:
            break
        described.pop(key, None)
    return described


#: The file suffixes that get dataset metadata, and their readers.
READERS: dict[str, Callable[[Path, str], dict[str, Any]]] = {
    ".parquet": _parquet, ".pq": _parquet,
    ".csv": _csv, ".tsv": _csv,
    ".arrow": _ipc, ".feather": _ipc, ".ipc": _ipc,
    ".npy": _npy,
}
