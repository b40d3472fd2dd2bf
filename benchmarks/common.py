"""Small helpers shared by the benchmark scripts (archivist side, peers and machine baselines).

Standard library only: this module is also imported by the peer workloads, which run in the
peers' own virtual environments (benchmarks/.peers/<peer>) where archivist and psutil are absent.

Conventions used by every script under benchmarks/:

* latencies are in milliseconds (``*_ms``), durations in seconds (``*_s``);
* rates are decimal: ``mb_per_s`` = 10**6 bytes/s, ``gb_per_s`` = 10**9 bytes/s;
* file sizes are given in MiB (a "256 MB file" is 256 * 2**20 bytes);
* a summary of repeated figures is ``{"median", "min", "max", "n"}``.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

MIB = 1 << 20
CHUNK = 4 * MIB

__all__ = [
    "CHUNK",
    "MIB",
    "gb_per_s",
    "make_file",
    "make_tree",
    "mb_per_s",
    "median_of_runs",
    "peak_rss_mb_of",
    "percentile",
    "print_json",
    "ratio",
    "run_in_child",
    "settle",
    "summarize",
    "summarize_ms",
    "timeit_many",
]


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation (numpy's default method)."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    frac = pos - lo
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * frac)


def summarize_ms(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50/p95/p99/mean/min/max in milliseconds of per-call samples in nanoseconds."""
    ms = [s / 1e6 for s in samples_ns]
    return {
        "p50_ms": round(percentile(ms, 50), 4),
        "p95_ms": round(percentile(ms, 95), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "mean_ms": round(statistics.fmean(ms), 4),
        "min_ms": round(min(ms), 4),
        "max_ms": round(max(ms), 4),
        "n": len(ms),
    }


def summarize(values: Iterable[float], digits: int = 4) -> dict[str, float]:
    """Median, min and max (and count) of repeated figures, e.g. one rate per repetition."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("summarize of an empty sequence")
    return {
        "median": round(statistics.median(vals), digits),
        "min": round(min(vals), digits),
        "max": round(max(vals), digits),
        "n": len(vals),
    }


def timeit_many(
    fn: Callable[[], object],
    n: int,
    warmup: int = 3,
    budget_s: float | None = None,
) -> dict[str, float]:
    """Call ``fn()`` ``warmup`` times untimed, then ``n`` times timed one by one.

    Returns ``{"p50_ms", "p95_ms", "p99_ms", "mean_ms", "min_ms", "max_ms", "n"}`` from
    ``time.perf_counter_ns`` around each call. With ``budget_s``, stops early once the timed
    calls have used that much wall time (at least one call is always timed); ``n`` in the
    result says how many calls were actually timed.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    for _ in range(warmup):
        fn()
    samples: list[int] = []
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
        if deadline is not None and time.perf_counter() > deadline:
            break
    return summarize_ms(samples)


def mb_per_s(nbytes: int, seconds: float) -> float:
    """Decimal megabytes per second."""
    return round(nbytes / seconds / 1e6, 2) if seconds > 0 else math.inf


def gb_per_s(nbytes: int, seconds: float) -> float:
    """Decimal gigabytes per second."""
    return round(nbytes / seconds / 1e9, 4) if seconds > 0 else math.inf


def ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
    """``a / b`` rounded ("a is N times b"); None when either is missing or b is zero.

    For rates pass ``ratio(archivist, peer)``; for latencies ``ratio(peer, archivist)``, so that
    a figure above 1 always means archivist is faster.
    """
    if a is None or b is None:
        return None
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return None
    if fb == 0 or math.isnan(fa) or math.isnan(fb):
        return None
    return round(fa / fb, digits)


def median_of_runs(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge several JSON results of the same workload (e.g. interleaved rounds).

    Numeric leaves that differ between runs become the median over the runs, with ``x__min``
    and ``x__max`` beside them; equal or non-numeric leaves are taken from the first run.
    Runs that have an ``"error"`` key are skipped; if all of them failed, the first is returned.
    """
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return dict(runs[0]) if runs else {"error": "no runs"}
    if len(ok) == 1:
        return dict(ok[0])

    def merge(items: list[Any]) -> Any:
        first = items[0]
        if isinstance(first, Mapping):
            out: dict[str, Any] = {}
            for key in first:
                vals = [it[key] for it in items if isinstance(it, Mapping) and key in it]
                out[key] = merge(vals)
                nums = [v for v in vals if _is_number(v)]
                if len(nums) == len(vals) and len(set(nums)) > 1:
                    out[f"{key}__min"] = min(nums)
                    out[f"{key}__max"] = max(nums)
            return out
        nums = [v for v in items if _is_number(v)]
        if nums and len(nums) == len(items) and len(set(nums)) > 1:
            return statistics.median(nums)
        return first

    merged: dict[str, Any] = merge(list(ok))
    merged["rounds"] = len(ok)
    return merged


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def print_json(obj: object, stream: Any = None) -> None:
    """Print one JSON object on one line (the contract of every benchmark script's stdout)."""
    out = stream if stream is not None else sys.stdout
    out.write(json.dumps(obj, sort_keys=False, default=str) + "\n")
    out.flush()


# --------------------------------------------------------------------------- test data


def settle() -> None:
    """Write back all dirty pages (``os.sync()``), untimed, before a timed byte operation.

    Without it the kernel's writeback of the previous repetition's output (or of the test data
    just created) overlaps the next timing and makes it noisy. Page-cache contents stay: the
    source data remain "page cache warm".
    """
    if hasattr(os, "sync"):
        os.sync()


def make_file(path: str | os.PathLike[str], size: int, chunk: int = CHUNK) -> Path:
    """Write ``size`` random bytes to ``path`` in ``chunk``-sized pieces (never all in memory).

    The content comes from ``os.urandom``, so it is incompressible and unique per file.
    The file is not fsynced: it stays in the page cache ("page cache warm").
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    remaining = size
    with open(p, "wb") as f:
        while remaining > 0:
            n = min(chunk, remaining)
            f.write(os.urandom(n))
            remaining -= n
    return p


def make_tree(
    root: str | os.PathLike[str],
    n_files: int,
    size: int,
    files_per_dir: int = 0,
) -> Path:
    """Create ``n_files`` files of ``size`` random bytes each under ``root``.

    With ``files_per_dir == 0`` the tree is flat (``root/f000000.bin`` ...); otherwise files are
    spread over sub-folders ``d0000/``, ``d0001/`` ... of at most ``files_per_dir`` files each.
    Every file has distinct content (no deduplication can collapse them).
    """
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    # One urandom call for the whole tree in blocks, so 10k small files stay cheap.
    block_files = max(1, (4 * MIB) // max(size, 1))
    buf = b""
    for i in range(n_files):
        j = i % block_files
        if j == 0:
            buf = os.urandom(size * min(block_files, n_files - i))
        if files_per_dir > 0:
            folder = base / f"d{i // files_per_dir:04d}"
            if i % files_per_dir == 0:
                folder.mkdir(exist_ok=True)
        else:
            folder = base
        with open(folder / f"f{i:06d}.bin", "wb") as f:
            f.write(buf[j * size : (j + 1) * size])
    return base


# --------------------------------------------------------------------------- child processes


def _read_status_kb(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (Linux), e.g. VmHWM or VmRSS."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0, clear_refs "5")."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_kb() -> int:
    hwm = _read_status_kb("VmHWM")
    if hwm is not None:
        return hwm
    # ru_maxrss is KiB on Linux, bytes on macOS.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss // 1024 if sys.platform == "darwin" else maxrss


def _child_main(
    conn: Any, fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
) -> None:
    try:
        baseline_kb = _read_status_kb("VmRSS") or 0
        hwm_reset = _reset_hwm()
        t0 = time.perf_counter()
        result = fn(*args, **kw)
        seconds = time.perf_counter() - t0
        peak_kb = _peak_rss_kb()
        conn.send(
            {
                "ok": True,
                "result": result,
                "seconds": seconds,
                "peak_rss_mb": round(peak_kb / 1024, 2),
                "baseline_rss_mb": round(baseline_kb / 1024, 2),
                "peak_growth_mb": round(max(0, peak_kb - baseline_kb) / 1024, 2),
                "peak_is_during_call": hwm_reset,
            }
        )
    except BaseException:
        conn.send({"ok": False, "error": traceback.format_exc()})
    finally:
        conn.close()


def run_in_child(
    fn: Callable[..., Any],
    *args: Any,
    start_method: str = "spawn",
    timeout: float | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run ``fn(*args, **kwargs)`` in a fresh child process and measure its memory.

    Returns ``{"result", "seconds", "peak_rss_mb", "baseline_rss_mb", "peak_growth_mb",
    "peak_is_during_call"}``:
    ``peak_rss_mb`` is the child's high-water RSS (``VmHWM``), reset just before the call where
    the kernel allows it, so it is the peak *while fn ran* (interpreter + imports included, as
    they stay resident); ``baseline_rss_mb`` is the RSS just before the call and
    ``peak_growth_mb`` the difference (what fn itself added at its peak). With
    ``start_method="fork"`` the child starts with the parent's resident pages, so use
    ``peak_growth_mb`` there.

    Why not ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: it is the maximum over *all* children
    ever waited for, and on Linux a child started by fork/vfork + exec inherits the RSS
    high-water mark of its parent's address space, so it over-reports when the parent is big.
    ``VmHWM`` of the child itself has neither problem (falls back to ``ru_maxrss`` off Linux).

    With the default ``spawn`` start method ``fn`` must be importable (a module-level function);
    the result must be picklable. Raises ``RuntimeError`` with the child's traceback on failure.
    """
    ctx: Any = multiprocessing.get_context(start_method)  # typeshed: BaseContext lacks Process
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(child_conn, fn, args, kwargs))
    proc.start()
    child_conn.close()
    try:
        if not parent_conn.poll(timeout):
            proc.kill()
            raise RuntimeError(f"child timed out after {timeout} s")
        msg: dict[str, Any] = parent_conn.recv()
    except EOFError as exc:
        raise RuntimeError(f"child died without a result (exit code {proc.exitcode})") from exc
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
        parent_conn.close()
    if not msg.get("ok"):
        raise RuntimeError(f"child failed:\n{msg.get('error')}")
    msg.pop("ok")
    return msg


def peak_rss_mb_of(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    """Peak RSS in MiB of a child process while it ran ``fn(*args, **kwargs)``.

    See :func:`run_in_child` (same arguments) for the method and what the figure includes.
    """
    return float(run_in_child(fn, *args, **kwargs)["peak_rss_mb"])
