"""Schema, preview and per-column statistics of an Arrow table, one record batch at a time.

:func:`profile` consumes record batches (an in-memory table's, or a Parquet file's row
groups streamed from disk) and never holds more than one batch plus bounded counters, so
a dataset larger than memory, or a Parquet decompression bomb, is profiled with bounded
memory. The same function serves the Parquet materializer at save time and
``dataset_stats`` for ``catalog.diff``, so both report identical numbers.

Statistics per column (``stats[name]``):

- every column: ``count`` (non-null values) and ``nulls`` (nulls, plus NaN in float
  columns, so ``count + nulls == rows``);
- numbers (integers, floats, decimals): ``min``, ``max``, ``mean``, ``std`` (sample
  standard deviation, ``ddof=1`` as in pandas; ``None`` below two values) and
  ``histogram`` (below);
- everything else with hashable values (strings, binary, booleans, dates and times,
  categoricals): ``distinct``, ``top`` (most frequent value, first seen on ties) and
  ``top_count``; dates and times also ``min`` and ``max``. Past
  :data:`MAX_DISTINCT` distinct values counting stops: ``distinct``/``top``/``top_count``
  are ``None`` and ``distinct_capped`` is ``True``;
- nested columns (lists, structs, maps): ``count`` and ``nulls`` only.

``histogram`` is ``{"edges": [e0, …, e10], "counts": [c0, …, c9]}``: :data:`HISTOGRAM_BINS`
equal-width bins from ``min`` to ``max``, bin ``k`` holding the values ``ek <= v < ek+1``
and the last bin also ``max``; nulls and NaN are left out, the ``counts`` are ints that add
up to ``count``. The edges are floats (integers and decimals are binned as float64); the
inner ones are rounded to a few more digits than the bin width needs, and values are
counted against the rounded edges, so every count matches its recorded bin. A column whose
``min == max`` has one bin: ``{"edges": [v, v], "counts": [count]}``. There is *no*
``histogram`` key when there are no values (an empty or all-null column), when ``min`` or
``max`` is infinite, when a kernel fails on the column's type, or when the histogram cannot
be counted because the batches can be read only once (see :func:`profile`).

Values are recorded through :func:`json_safe` (timestamps as ISO 8601 strings, decimals as
strings, bytes as text or ``base64:…``, strings cut at 256 characters). The preview holds
the first :data:`PREVIEW_ROWS` rows but at most :data:`PREVIEW_BYTES` of JSON; in wide
tables its strings are cut shorter (down to 16 characters) so that some rows still fit.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from archivist.materializers._jsonsafe import json_safe

PREVIEW_ROWS = 20
PREVIEW_BYTES = 64 * 1024
MAX_DISTINCT = 100_000
_LONG_KEY = 256  # longer str/bytes values are counted by their hash, not kept whole
HISTOGRAM_BINS = 10
_EDGE_DIGITS = 6  # inner edges keep this many digits beyond the bin width's magnitude


def profile(schema: Any, rows: int, batches: Iterable[Any], *,
            max_columns: int | None = None,
            rescan: Callable[[Sequence[int]], Iterable[Any]] | None = None,
            preview_rows: int = PREVIEW_ROWS,
            preview_bytes: int = PREVIEW_BYTES) -> dict[str, Any]:
    """Describe a table from its schema and record batches.

    Histogram bins need ``min`` and ``max`` first, so numeric columns are read a second
    time, one batch at a time: through ``rescan`` when given, else by iterating
    ``batches`` again when it is re-iterable (a list, ``Table.to_batches()``). A one-shot
    iterator without ``rescan`` gives no histograms (except for constant columns).

    Args:
        schema: the ``pyarrow.Schema``.
        rows: the row count (from the table or the Parquet footer).
        batches: ``pyarrow.RecordBatch`` objects with that schema, in order.
        max_columns: describe only the first N columns in ``schema``/``stats``/``preview``
            (``columns`` still counts all); ``None`` for all.
        rescan: called (at most once) with the ascending indices in ``schema`` of the
            numeric columns to bin; returns batches holding just those columns, in that
            order, over the same rows.
        preview_rows, preview_bytes: the most rows, and bytes of JSON, of the preview.

    Returns:
        ``{"schema": [{"name", "type", "nullable"}], "rows", "columns", "preview",
        "stats"}``.
    """
    import pyarrow as pa

    n_columns = len(schema)
    keep = n_columns if max_columns is None else min(n_columns, max_columns)
    fields = [schema.field(i) for i in range(keep)]
    accumulators = [_accumulator(pa, field.type) for field in fields]
    # wide tables get shorter strings in the preview, so it still shows some rows
    cell = max(16, min(256, preview_bytes // (max(1, preview_rows) * max(1, keep))))
    preview: list[dict[str, Any]] = []
    preview_size = 0
    preview_open = preview_rows > 0
    for batch in batches:
        for i, acc in enumerate(accumulators):
            try:
                acc.add(batch.column(i))
            except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
                # a kernel pyarrow lacks for this type (float16 variance, …): keep counting
                accumulators[i] = _Counts(pa, acc.count, acc.nulls)
                accumulators[i].add(batch.column(i))
        if preview_open:
            head = batch.slice(0, preview_rows - len(preview)).select(list(range(keep)))
            for row in head.to_pylist():
                record = {_key(f.name): json_safe(row.get(f.name), max_str=cell)
                          for f in fields}
                preview_size += len(json.dumps(record, ensure_ascii=False))
                if preview_size > preview_bytes:
                    preview_open = False
                    break
                preview.append(record)
            preview_open = preview_open and len(preview) < preview_rows
    _histograms(accumulators, batches, rescan)
    return {
        "schema": [{"name": _key(f.name), "type": str(f.type), "nullable": bool(f.nullable)}
                   for f in fields],
        "rows": int(rows),
        "columns": n_columns,
        "preview": preview,
        "stats": {_key(f.name): acc.result() for f, acc in zip(fields, accumulators,
                                                                   strict=True)},
    }


def _histograms(accumulators: list[_Counts], batches: Iterable[Any],
                rescan: Callable[[Sequence[int]], Iterable[Any]] | None) -> None:
    """The second pass: count the histogram bins of the numeric columns that need it."""
    binned = [(i, acc) for i, acc in enumerate(accumulators)
              if isinstance(acc, _Numbers) and acc.start_histogram()]
    if not binned:
        return
    indices = [i for i, _ in binned]
    if rescan is not None:
        again = rescan(indices)
    elif iter(batches) is not batches:  # re-iterable: a list, a table's batches
        again = (batch.select(indices) for batch in batches)
    else:
        return
    for batch in again:
        for j, (_, acc) in enumerate(binned):
            acc.count_bins(batch.column(j))


def _key(name: str) -> str:
    return str(json_safe(str(name), max_str=1024))


class _Counts:
    """count and nulls, for every column."""

    def __init__(self, pa: Any, count: int = 0, nulls: int = 0) -> None:
        self.pa = pa
        self.count = count
        self.nulls = nulls

    def add(self, array: Any) -> None:
        self.count += len(array) - array.null_count
        self.nulls += array.null_count

    def result(self) -> dict[str, Any]:
        return {"count": self.count, "nulls": self.nulls}


class _Numbers(_Counts):
    """min, max, mean, std, merged across batches (Chan et al. parallel variance)."""

    def __init__(self, pa: Any, floating: bool) -> None:
        super().__init__(pa)
        self.floating = floating
        self.min: Any = None
        self.max: Any = None
        self.mean = 0.0
        self.m2 = 0.0
        self.edges: list[float] | None = None  # while the bins are being counted
        self.at_least: list[int] = []  # at_least[k]: values >= edges[k + 1]
        self.rows_binned = 0
        self.histogram: dict[str, list[Any]] | None = None

    def add(self, array: Any) -> None:
        import pyarrow.compute as pc

        if self.pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        # filtering on is_nan drops nulls (null mask) and NaN
        valid = (array.filter(pc.invert(pc.is_nan(array))) if self.floating
                 else array.drop_null())
        n = len(valid)
        if n:
            mm = pc.min_max(valid)
            floats = pc.cast(valid, self.pa.float64(), safe=False)
            mean = pc.mean(floats).as_py()
            m2 = pc.variance(floats, ddof=0).as_py() * n
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
            # every kernel ran: only now change state (see the fallback in profile())
            self.min = lo if self.min is None or lo < self.min else self.min
            self.max = hi if self.max is None or hi > self.max else self.max
            total = self.count + n
            delta = mean - self.mean
            self.m2 += m2 + delta * delta * self.count * n / total
            self.mean += delta * n / total
            self.count = total
        self.nulls += len(array) - n

    def result(self) -> dict[str, Any]:
        out = super().result()
        std = math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 and self.m2 >= 0 else None
        out.update(min=json_safe(self.min), max=json_safe(self.max),
                   mean=json_safe(self.mean) if self.count else None, std=json_safe(std))
        if self.edges is not None:
            self._finish_histogram()
        if self.histogram is not None:
            out["histogram"] = self.histogram
        return out

    def start_histogram(self) -> bool:
        """Fix the bin edges from min and max; True when the bins must be counted."""
        if not self.count:
            return False
        try:
            lo, hi = float(self.min), float(self.max)
        except (TypeError, ValueError, OverflowError):
            return False
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return False
        if lo >= hi:  # one value (or ints that are equal as float64)
            self.histogram = {"edges": [json_safe(lo), json_safe(lo)], "counts": [self.count]}
            return False
        self.edges = _edges(lo, hi, HISTOGRAM_BINS)
        self.at_least = [0] * (HISTOGRAM_BINS - 1)
        return True

    def count_bins(self, array: Any) -> None:
        """Count one batch of the second pass: the values at or above each inner edge.

        Nulls and NaN compare false (or null), so they are never counted; the first bin
        is what remains of ``count``.
        """
        import pyarrow.compute as pc

        if self.edges is None:
            return
        try:
            if self.pa.types.is_dictionary(array.type):
                array = array.dictionary_decode()
            floats = pc.cast(array, self.pa.float64(), safe=False)
            inner = self.edges[1:-1]
            np = _numpy()
            if np is not None:  # the same comparisons, several times faster
                values = floats.to_numpy(zero_copy_only=False)  # nulls become NaN
                found = [int(np.count_nonzero(values >= edge)) for edge in inner]
            else:
                found = [pc.greater_equal(floats, edge).true_count for edge in inner]
        except (self.pa.ArrowNotImplementedError, self.pa.ArrowTypeError,
                self.pa.ArrowInvalid):
            self.edges = None  # no histogram rather than a failed save
            return
        self.at_least = [a + b for a, b in zip(self.at_least, found, strict=True)]
        self.rows_binned += len(array)

    def _finish_histogram(self) -> None:
        assert self.edges is not None
        # values below edges[1] fall in the first bin, values from edges[-2] on in the
        # last one, so float64 rounding of ints/decimals at min and max loses nothing
        at_least = [self.count, *self.at_least, 0]
        counts = [at_least[k] - at_least[k + 1] for k in range(HISTOGRAM_BINS)]
        # both passes saw the same rows (a rescan that stopped early gives no histogram)
        if self.rows_binned == self.count + self.nulls and min(counts) >= 0:
            self.histogram = {"edges": [json_safe(e) for e in self.edges], "counts": counts}
        self.edges = None


class _Values(_Counts):
    """distinct and top by counting values, up to MAX_DISTINCT; min/max when ordered."""

    def __init__(self, pa: Any, ordered: bool) -> None:
        super().__init__(pa)
        self.ordered = ordered
        self.counter: Counter[Any] = Counter()
        self.examples: dict[Any, Any] = {}
        self.capped = False
        self.min: Any = None
        self.max: Any = None

    def add(self, array: Any) -> None:
        import pyarrow.compute as pc

        if self.pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        valid = array.drop_null()
        if len(valid) and self.ordered:
            mm = pc.min_max(valid)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
            self.min = lo if self.min is None or lo < self.min else self.min
            self.max = hi if self.max is None or hi > self.max else self.max
        if len(valid) and not self.capped:
            self._count_values(pc.value_counts(valid))
        super().add(array)

    def _count_values(self, counts: Any) -> None:
        for value, n in zip(counts.field("values").to_pylist(),
                            counts.field("counts").to_pylist(), strict=True):
            key = _count_key(value)
            if key not in self.counter:
                if len(self.counter) >= MAX_DISTINCT:
                    self.capped = True
                    self.counter.clear()
                    self.examples.clear()
                    return
                self.examples[key] = value
            self.counter[key] += n

    def result(self) -> dict[str, Any]:
        out = super().result()
        if self.capped:
            out.update(distinct=None, top=None, top_count=None, distinct_capped=True)
        elif self.counter:
            key, n = self.counter.most_common(1)[0]
            out.update(distinct=len(self.counter), top=json_safe(self.examples[key]), top_count=n)
        else:
            out.update(distinct=0, top=None, top_count=0)
        if self.ordered:
            out.update(min=json_safe(self.min), max=json_safe(self.max))
        return out


def _edges(lo: float, hi: float, bins: int) -> list[float]:
    """``bins + 1`` equal-width edges from ``lo`` to ``hi`` (finite, ``lo < hi``).

    Inner edges are rounded to :data:`_EDGE_DIGITS` decimal digits below the bin width
    (``29.700000000000003`` becomes ``29.7``, ``5.5e-17`` becomes ``0.0``): shorter
    metadata, an error of at most a millionth of a bin; the values are counted against
    these rounded edges.
    """
    step = (hi - lo) / bins
    if not math.isfinite(step):  # hi - lo overflows
        step = hi / bins - lo / bins
    ndigits = _EDGE_DIGITS - math.floor(math.log10(step)) if step > 0 else None
    edges = [lo]
    for k in range(1, bins):
        edge = lo + k * step
        if not math.isfinite(edge):  # near the float64 limits
            edge = lo * ((bins - k) / bins) + hi * (k / bins)
        if ndigits is not None:
            with contextlib.suppress(OverflowError):  # rounding up past the float64 max
                edge = round(edge, ndigits) + 0.0  # + 0.0: no -0.0
        edges.append(min(max(edge, edges[-1]), hi))  # never decreasing, never past hi
    edges.append(hi)
    return edges


@functools.cache
def _numpy() -> Any:
    """numpy, or ``None`` (pyarrow does not need it): histograms then count in Arrow."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def _count_key(value: Any) -> Any:
    if isinstance(value, str | bytes) and len(value) > _LONG_KEY:
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
        return (type(value).__name__, hashlib.sha256(data).digest())
    return value


def _accumulator(pa: Any, type_: Any) -> _Counts:
    t = pa.types
    value_type = type_.value_type if t.is_dictionary(type_) else type_
    if t.is_integer(value_type) or t.is_decimal(value_type):
        return _Numbers(pa, floating=False)
    if t.is_floating(value_type):
        return _Numbers(pa, floating=True)
    if t.is_temporal(value_type):
        return _Values(pa, ordered=True)
    if (t.is_string(value_type) or t.is_large_string(value_type) or t.is_binary(value_type)
            or t.is_large_binary(value_type) or t.is_fixed_size_binary(value_type)
            or t.is_boolean(value_type) or t.is_null(value_type)
            or _is_view(t, value_type)):
        return _Values(pa, ordered=False)
    return _Counts(pa)


def _is_view(t: Any, type_: Any) -> bool:
    checks = [getattr(t, n, None) for n in ("is_string_view", "is_binary_view")]
    return any(check is not None and check(type_) for check in checks)
