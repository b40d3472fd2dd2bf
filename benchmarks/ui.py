"""Web UI benchmarks: page HTML latency at 100,000 versions, and the
lineage page of a version with 500 ancestors in a real browser, on loopback.

    python benchmarks/ui.py [--quick [--full-catalog]] [--n 200] [--runs 5] [--skip-browser]
                            [--no-profile] [--screenshots] [--rebuild-cache] [--out FILE.json]

Targets: the HTML of every page in <= 100 ms p95, the search page with facets in <= 150 ms
p95 (both at 100,000 versions); the lineage page of a version with 500 ancestors drawn and
interactive in Chromium in <= 2 s.

* ``html``: ``archivist server --home <cached 100k search catalog> --insecure-single-user
  --port 0`` as a subprocess (one uvicorn process, access log off, as ``archivist server``
  runs by default), the port read from its log. One ``httpx.Client`` (keep-alive) warms
  each page up, then times ``--n`` sequential GETs of it (body read included): p50/p95/max
  in ms, and the server process's CPU time per request (``psutil``, over the whole block:
  less sensitive to the other processes of this machine than wall time). The catalog is
  ``archivist_workloads.build_search_catalog`` (100 names, 1,000 versions each, no edges,
  no runs), cached under ``benchmarks/.work/cache/`` as ``run.py`` does.
* ``lineage``: a small catalog of its own (cached the same way, kind ``ui-lineage``) with
  two versions of 500 ancestors each: ``fan_in`` (one merged Dataset with 500 parents: a
  column of 500 boxes) and ``layered`` (a Model whose ancestors are 5 layers of 100
  versions, each with 2 parents in the layer above: 500 ancestors, ~900 edges, depth 5),
  plus 200 pipeline runs for the runs pages. Its HTML is timed like the pages above (50
  GETs of each 500-ancestor page, not 200: they take ~1 s each); then Debian's Chromium
  (Playwright, sync API, a fresh context per run: cold HTTP cache) opens
  ``/versions/<id>/lineage?direction=up&depth=all``: wall time from ``page.goto`` to the
  ``load`` event, to ``svg .node`` present, and to the frame after ``load`` (two
  ``requestAnimationFrame`` callbacks: the graph has been painted and the main thread is
  free, i.e. interactive), the same as seen by the page (``performance.now()`` since
  navigation start), then one click on a node until the next page's ``load``. ``--runs``
  runs after one untimed warm-up; p50/max.
* ``profile`` (unless ``--no-profile``): the pages that missed their target (else the
  slowest one) and the 500-ancestor lineage pages, served in this process (``create_app``
  + ``TestClient``) with every ``Service`` method, Jinja2's ``Template.render`` and the
  graph layout wrapped in timers: where the time of a request goes (data calls, template,
  layout, the rest: routing, session, headers, the in-process client; ``/health`` gives
  the cost of an empty request), and a cProfile of the three biggest parts, replayed here.

Prints the figures as a table on stderr and one JSON document on stdout (``--out`` also
writes it); the machine and the load average (other processes share this machine) are in it.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import json
import os
import pstats
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import archivist_workloads as work  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402
from common import summarize_ms  # noqa: E402
from machine import machine_info  # noqa: E402

import archivist  # noqa: E402
from archivist import ArtifactCatalog, pipeline, step  # noqa: E402

ARCHIVIST = Path(sys.executable).with_name("archivist")
WORKDIR = HERE / ".work"
TARGETS = {"page_p95_ms": 100.0, "facets_p95_ms": 150.0, "lineage_drawn_s": 2.0}
#: the facet search of the issue: text, a type, a tag, a date and a sort, all from the form
FACETS = {"q": "fraud", "type": "Model", "tag": "stage:production", "since": "2020-01-01",
          "sort": "-created"}
PLAIN_QUERY = "type:Model stage:production"
#: uvicorn's line once it listens (tests/server/processes.py reads the same)
LISTENING = re.compile(rb"Uvicorn running on (http://127\.0\.0\.1:\d+)")
#: in every page before its own scripts: the frame after ``load`` (two animation frames)
INIT_SCRIPT = """
window.__bench = {};
addEventListener("load", () => requestAnimationFrame(() => requestAnimationFrame(() => {
  window.__bench.drawn = performance.now();
  window.__bench.nodes = document.querySelectorAll("svg .node").length;
})));
"""
NAV_TIMING = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  return {response_start: n.responseStart, response_end: n.responseEnd,
          dom_content_loaded: n.domContentLoadedEventEnd, load: n.loadEventEnd,
          first_contentful_paint: fcp ? fcp.startTime : null,
          html_bytes: n.decodedBodySize, drawn: window.__bench.drawn,
          nodes: window.__bench.nodes};
}"""

_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[ui-bench {time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- the server


@contextlib.contextmanager
def served(home: Path, logfile: Path, timeout: float = 120.0) -> Iterator[tuple[str, int]]:
    """``archivist server --home HOME --insecure-single-user --port 0`` for the block:
    ``(base URL, pid)``; the port is read from uvicorn's log line."""
    cmd = [str(ARCHIVIST), "server", "--home", str(home), "--insecure-single-user",
           "--host", "127.0.0.1", "--port", "0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVIST_")}
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=logfile.parent, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        url = None
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {logfile.read_text()[-2000:]}")
            if url is None:
                found = LISTENING.search(logfile.read_bytes())
                url = found.group(1).decode() if found else None
            if url is not None:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {logfile.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far."""
    root = psutil.Process(pid)
    total = 0.0
    for p in (root, *root.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


# --------------------------------------------------------------------------- HTML pages


def time_pages(base: str, pid: int, pages: Mapping[str, str], n: int,
               warmup: int) -> dict[str, Any]:
    """``n`` sequential GETs of each page after ``warmup`` untimed ones, one page at a time,
    on one keep-alive connection; latency summary (ms) and server CPU ms per request."""
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=60.0) as client:
        for key, path in pages.items():
            first = client.get(path)
            if first.status_code != 200:
                out[key] = {"path": path, "error": f"HTTP {first.status_code}",
                            "body": first.text[:500]}
                log(f"{key}: HTTP {first.status_code} for {path}")
                continue
            for _ in range(warmup):
                client.get(path)
            samples: list[int] = []
            cpu0 = cpu_s(pid)
            for _ in range(n):
                t0 = time.perf_counter_ns()
                r = client.get(path)
                _ = r.content
                samples.append(time.perf_counter_ns() - t0)
            cpu = cpu_s(pid) - cpu0
            stats: dict[str, Any] = summarize_ms(samples)
            stats.update(path=path, html_bytes=len(first.content),
                         server_cpu_ms_per_request=round(cpu * 1000 / n, 2),
                         loadavg_after=loadavg())
            out[key] = stats
            log(f"{key:22} p50 {stats['p50_ms']:7.1f}  p95 {stats['p95_ms']:7.1f}  "
                f"max {stats['max_ms']:7.1f} ms  cpu {stats['server_cpu_ms_per_request']} ms  "
                f"{len(first.content):,} B  {path}")
    return out


def search_pages(home: Path, manifest: Mapping[str, Any]) -> dict[str, str]:
    """The paths timed on the 100k catalog (ids looked up before the server starts)."""
    with ArtifactCatalog(home) as catalog:
        ref = str(manifest["alias_ref"])
        focus = catalog.get(ref)
        other = catalog.get(f"{focus.name}:1")
        deep_rows = len(catalog.search(PLAIN_QUERY, limit=10_000))
    q = urlencode({"q": PLAIN_QUERY})
    return {
        "home": "/",
        "search": f"/search?{q}",
        "search_facets": "/search?" + urlencode(FACETS),
        "search_deep_page": f"/search?{q}&page=100",
        "artifact": f"/artifacts/{focus.name}",
        "version": f"/versions/{focus.id}",
        "version_lineage": f"/versions/{focus.id}/lineage",
        "compare": f"/compare?v={focus.id}&v={other.id}",
        "runs": "/runs",
    } | ({} if deep_rows >= 100 * 50 else {"_note": f"only {deep_rows} rows for page 100"})


# --------------------------------------------------------------------------- lineage catalog


def build_ui_lineage_catalog(catalog: ArtifactCatalog, versions: int) -> dict[str, Any]:
    """Two versions with ``versions`` ancestors each, in one ``batch()``, and 200 runs.

    ``fan_in``: ``versions`` Datasets (50 names x 10 versions) and one ``merged`` Dataset
    with all of them as parents. ``layered``: 5 layers of ``versions // 5`` versions
    (Dataset, Dataset, Features, Features, Model from the top), each version with 2 parents
    in the layer above (its own index and a random one: every version is an ancestor), and
    one ``ensemble`` Model with the whole first layer as parents."""
    rng = random.Random(20261124)
    per_layer = versions // 5
    kinds = ("Model", "Features", "Features", "Dataset", "Dataset")  # layer 1 .. 5
    t0 = time.perf_counter()
    with catalog.batch():
        shards = [catalog.register(f"shard{i % 50:02d}", artifact_type="Dataset",
                                   tags={"source": "bench"}, description=f"shard {i}")
                  for i in range(versions)]
        merged = catalog.register("merged", artifact_type="Dataset", parent_ids=shards,
                                  description="500 shards merged")
        above: list[str] = []
        for layer in range(5, 0, -1):
            current = []
            for j in range(per_layer):
                parents = [] if not above else sorted({above[j], above[rng.randrange(per_layer)]})
                current.append(catalog.register(
                    f"l{layer}_{kinds[layer - 1].lower()}{j % 10}",
                    artifact_type=kinds[layer - 1], parent_ids=parents,
                    tags={"layer": str(layer)}, metadata={"score": round(rng.random(), 4)}))
            above = current
        ensemble = catalog.register("ensemble", artifact_type="Model", parent_ids=above,
                                    description=f"{versions} ancestors in 5 layers")
    edges_layered = per_layer * 2 * 4 + per_layer  # at most (duplicates removed)
    batch_s = time.perf_counter() - t0
    steps = [_make_step(k) for k in range(5)]
    t1 = time.perf_counter()
    for r in range(200):
        with pipeline("train", catalog=catalog):
            value = f"run {r}"
            for s in steps:
                value = s(value)
    runs_s = time.perf_counter() - t1
    return {"fan_in_id": merged, "layered_id": ensemble, "ancestors": versions,
            "layered_edges_at_most": edges_layered, "batch_s": round(batch_s, 2),
            "runs": 200, "runs_s": round(runs_s, 2)}


def _make_step(k: int) -> Callable[[str], str]:
    def body(value: str) -> str:
        return f"{value}|{k}"
    return step(name=f"s{k}")(body)


def lineage_url(version_id: str) -> str:
    return f"/versions/{version_id}/lineage?direction=up&depth=all"


# --------------------------------------------------------------------------- the browser


def browser_lineage(base: str, targets: Mapping[str, str], runs: int,
                    shots: Path | None) -> dict[str, Any]:
    """Open each lineage page ``runs`` times (after one warm-up) in a fresh context; wall and
    in-page times (ms), boxes drawn, and one click on a box until the next page's load."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    out: dict[str, Any] = {"chromium": None}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=args)
        out["chromium"] = browser.version
        try:
            for key, version_id in targets.items():
                url = base + lineage_url(version_id)
                samples = [_open_once(browser, url, None) for _ in range(1)]  # warm-up
                samples = [_open_once(browser, url, shots / f"{key}.png" if shots and i == 0
                                      else None) for i in range(runs)]
                out[key] = _browser_summary(samples, url)
                s = out[key]
                log(f"browser {key}: {s['nodes']} boxes; goto->drawn p50 "
                    f"{s['wall_drawn_ms']['p50']:.0f} max {s['wall_drawn_ms']['max']:.0f} ms; "
                    f"click->load p50 {s['click_to_load_ms']['p50']:.0f} ms")
        finally:
            browser.close()
    return out


def _open_once(browser: Any, url: str, shot: Path | None) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    try:
        t0 = time.perf_counter()
        response = page.goto(url, wait_until="load")
        t_load = time.perf_counter()
        page.wait_for_selector("svg .node", state="attached")
        t_nodes = time.perf_counter()
        page.wait_for_function("() => window.__bench.drawn !== undefined")
        t_drawn = time.perf_counter()
        timing = page.evaluate(NAV_TIMING)
        if shot is not None:
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
        box = page.locator("svg a.node:not(.focus)").first
        box.scroll_into_view_if_needed()
        t_click = time.perf_counter()
        with page.expect_navigation(wait_until="load"):
            box.click()
        t_next = time.perf_counter()
        return {"status": response.status if response else None,
                "wall_load_ms": (t_load - t0) * 1000, "wall_nodes_ms": (t_nodes - t0) * 1000,
                "wall_drawn_ms": (t_drawn - t0) * 1000,
                "click_to_load_ms": (t_next - t_click) * 1000,
                "next_url": page.url, **{f"page_{k}": v for k, v in timing.items()}}
    finally:
        context.close()


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1), "n": len(values)}


def _browser_summary(samples: Sequence[Mapping[str, Any]], url: str) -> dict[str, Any]:
    keys = ("wall_load_ms", "wall_nodes_ms", "wall_drawn_ms", "click_to_load_ms",
            "page_response_start", "page_response_end", "page_dom_content_loaded",
            "page_first_contentful_paint", "page_load", "page_drawn")
    out: dict[str, Any] = {"url": url, "nodes": samples[0]["page_nodes"],
                           "html_bytes": samples[0]["page_html_bytes"],
                           "status": samples[0]["status"], "next_url": samples[0]["next_url"]}
    for k in keys:
        vals = [float(s[k]) for s in samples if s.get(k) is not None]
        if vals:
            out[k] = _spread(vals)
    return out


# --------------------------------------------------------------------------- where the time goes


class Timers:
    """Wall time spent in wrapped callables, by label, while :attr:`on` (this process).

    Each label has a category (``service``, ``template``, ``page code``); a call made inside
    another wrapped call of the same category is not counted again."""

    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.category: dict[str, str] = {}
        self.originals: dict[str, Callable[..., Any]] = {}
        self.last_args: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self.on = False
        self._inside = threading.local()

    def wrap(self, owner: Any, attr: str, label: str, category: str) -> None:
        original = getattr(owner, attr)
        self.originals[label] = original
        self.category[label] = category

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            inside: set[str] = self._inside.__dict__.setdefault("categories", set())
            if not self.on or category in inside:
                return original(*args, **kwargs)
            inside.add(category)
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                inside.discard(category)
                self.total[label] = self.total.get(label, 0.0) + time.perf_counter() - t0
                self.calls[label] = self.calls.get(label, 0) + 1
                self.last_args[label] = (args, kwargs)

        setattr(owner, attr, timed)

    def reset(self) -> None:
        self.total.clear()
        self.calls.clear()


def instrument() -> Timers:
    """Timers around every ``Service`` method, Jinja2's ``Template.render``, the graph
    layout functions and the lineage page's drawing helper."""
    import jinja2

    from archivist.server.service import Service
    from archivist.server.ui import graph
    from archivist.server.ui.pages import lineage

    timers = Timers()
    for attr, value in list(vars(Service).items()):
        if not attr.startswith("_") and callable(value):
            timers.wrap(Service, attr, f"Service.{attr}", "service")
    timers.wrap(jinja2.Template, "render", "template render", "template")
    for attr in ("hop_distances", "focus_layers", "layout"):
        timers.wrap(graph, attr, f"graph.{attr}", "page code")
    timers.wrap(lineage, "_drawing", "lineage._drawing", "page code")
    return timers


def profile_pages(home: Path, paths: Mapping[str, str], n: int,
                  timers: Timers) -> dict[str, Any]:
    """Each path served in this process ``n`` times (``create_app`` + ``TestClient``,
    after 3 warm-ups): the mean request time split into the ``Service`` calls, the Jinja2
    rendering, the page's own code that is timed, and the rest (routing, session, headers,
    the in-process client), plus a cProfile of the three most expensive parts replayed here.
    ``/health`` is timed the same way: the cost of a request that does nothing."""
    from fastapi.testclient import TestClient

    from archivist.server import ServerSettings, create_app

    out: dict[str, Any] = {}
    app = create_app(ServerSettings(home=str(home), insecure_single_user=True))
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        for key, path in {"health": "/health", **paths}.items():
            for _ in range(3):
                client.get(path)
            timers.reset()
            timers.on = True
            t0 = time.perf_counter()
            for _ in range(n):
                client.get(path)
            wall = time.perf_counter() - t0
            timers.on = False
            parts = {label: round(s * 1000 / n, 2) for label, s in
                     sorted(timers.total.items(), key=lambda kv: -kv[1])}
            request_ms = wall * 1000 / n
            by_cat: dict[str, float] = {}
            for label, ms in parts.items():
                cat = timers.category[label]
                by_cat[cat] = by_cat.get(cat, 0.0) + ms
            entry: dict[str, Any] = {
                "path": path, "request_ms": round(request_ms, 2),
                **{f"{cat.replace(' ', '_')}_ms": round(ms, 2) for cat, ms in by_cat.items()},
                "rest_ms": round(request_ms - sum(by_cat.values()), 2),
                "parts_ms": parts,
                "calls_per_request": {k: v / n for k, v in timers.calls.items()}}
            if key != "health":
                entry["profiles"] = {label: _replay_profile(timers, label)
                                     for label in list(parts)[:3]}
            out[key] = entry
            log(f"profile {key}: {request_ms:.1f} ms = {by_cat} + rest {entry['rest_ms']} "
                f"({parts})")
    return out


def _replay_profile(timers: Timers, label: str, repeat: int = 10, top: int = 16) -> list[str]:
    """cProfile of the last call of ``label`` replayed ``repeat`` times in this thread:
    the top functions by cumulative time, as pstats prints them (per-call = / ``repeat``)."""
    args, kwargs = timers.last_args[label]
    original = timers.originals[label]
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(repeat):
        original(*args, **kwargs)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    lines = [ln.rstrip() for ln in buf.getvalue().splitlines() if ln.strip()]
    root = str(HERE.parent)
    return [ln.replace(root + "/", "").replace(str(Path(sys.prefix)) + "/", "")
            for ln in lines[-top - 1:]]



# --------------------------------------------------------------------------- figures


def figures(r: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One line per page/figure: value, target, met."""
    rows: list[dict[str, Any]] = []
    for key, stats in r.get("html", {}).items():
        if not isinstance(stats, Mapping):
            continue
        target = TARGETS["facets_p95_ms"] if key == "search_facets" else TARGETS["page_p95_ms"]
        p95 = stats.get("p95_ms")
        rows.append({"figure": f"HTML {key}", "p50_ms": stats.get("p50_ms"), "p95_ms": p95,
                     "max_ms": stats.get("max_ms"),
                     "server_cpu_ms": stats.get("server_cpu_ms_per_request"),
                     "target": f"p95 <= {target:g} ms",
                     "met": None if p95 is None else p95 <= target})
    for key, stats in r.get("lineage_html", {}).items():
        if not isinstance(stats, Mapping) or "p95_ms" not in stats:
            continue
        rows.append({"figure": f"HTML {key} (ui-lineage)", "p50_ms": stats["p50_ms"],
                     "p95_ms": stats["p95_ms"], "max_ms": stats["max_ms"],
                     "server_cpu_ms": stats.get("server_cpu_ms_per_request"),
                     "target": f"p95 <= {TARGETS['page_p95_ms']:g} ms",
                     "met": stats["p95_ms"] <= TARGETS["page_p95_ms"]})
    limit_ms = TARGETS["lineage_drawn_s"] * 1000
    for key, s in r.get("browser", {}).items():
        if not isinstance(s, Mapping) or "wall_drawn_ms" not in s:
            continue
        drawn = s["wall_drawn_ms"]
        rows.append({"figure": f"Chromium lineage {key}: goto -> drawn ({s['nodes']} boxes)",
                     "p50_ms": drawn["p50"], "max_ms": drawn["max"],
                     "target": f"<= {limit_ms:g} ms", "met": drawn["max"] <= limit_ms})
        click = s["click_to_load_ms"]
        rows.append({"figure": f"Chromium lineage {key}: click a box -> next page load",
                     "p50_ms": click["p50"], "max_ms": click["max"],
                     "target": "(interactive; reported)", "met": None})
    return rows


def print_table(rows: Sequence[Mapping[str, Any]]) -> None:
    def show(v: Any) -> str:
        return "-" if v is None else f"{v:,.1f}" if isinstance(v, float) else str(v)

    print(f"\n{'figure':58} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9} {'cpu ms':>7}  "
          f"{'target':24} met", file=sys.stderr)
    for row in rows:
        met = {True: "yes", False: "NO", None: "n/a"}[row["met"]]
        print(f"{row['figure']:58} {show(row.get('p50_ms')):>9} {show(row.get('p95_ms')):>9} "
              f"{show(row.get('max_ms')):>9} {show(row.get('server_cpu_ms')):>7}  "
              f"{row['target']:24} {met}", file=sys.stderr)


# --------------------------------------------------------------------------- driver


def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.n or (30 if args.quick else 200)
    n_heavy = min(n, 10 if args.quick else 50)  # the 500-ancestor pages take ~1 s each
    warmup = 5 if args.quick else 10
    versions = 5_000 if args.quick and not args.full_catalog else 100_000
    started = time.time()
    WORKDIR.mkdir(parents=True, exist_ok=True)
    rundir = Path(tempfile.mkdtemp(prefix="ui-bench-", dir=WORKDIR))
    loads = {"start": loadavg()}
    result: dict[str, Any] = {
        "benchmark": "archivist web UI",
        "command": "python benchmarks/ui.py " + " ".join(sys.argv[1:]),
        "mode": "quick" if args.quick else "full",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "sizes": {"search_versions": versions, "n": n, "n_lineage_500": n_heavy,
                  "warmup": warmup,
                  "browser_runs": args.runs, "lineage_ancestors": 500},
        "archivist": {"version": archivist.__version__},
    }
    if versions < 100_000:
        result["note"] = ("--quick: 5,000 versions and fewer requests; the met flags do not "
                          "say whether the targets (100,000 versions) are met")
    try:
        result["machine"] = machine_info(WORKDIR)
        home, manifest = work.cached_catalog("search", versions, work.build_search_catalog,
                                             rebuild=args.rebuild_cache, log=log)
        lineage_home, lineage_man = work.cached_catalog(
            "ui-lineage", 500, build_ui_lineage_catalog, rebuild=args.rebuild_cache, log=log)
        result["catalogs"] = {"search": manifest, "ui_lineage": lineage_man}
        pages = search_pages(home, manifest)
        note = pages.pop("_note", None)
        if note:
            result["html_note"] = note

        log(f"HTML pages at {versions:,} versions: {n} GETs each (load {loadavg()})")
        loads["html"] = loadavg()
        with served(home, rundir / "server-search.log") as (base, pid):
            result["html"] = time_pages(base, pid, pages, n, warmup)

        with ArtifactCatalog(lineage_home) as catalog:
            run_id = catalog.runs(limit=1)[0].id
        lineage_pages = {
            "lineage_fan_in_500": lineage_url(lineage_man["fan_in_id"]),
            "lineage_layered_500": lineage_url(lineage_man["layered_id"]),
            "runs_200": "/runs",
            "run": f"/runs/{run_id}",
        }
        loads["lineage"] = loadavg()
        with served(lineage_home, rundir / "server-lineage.log") as (base, pid):
            heavy = {k: v for k, v in lineage_pages.items() if k.startswith("lineage_")}
            log(f"HTML of the 500-ancestor lineage pages ({n_heavy} GETs each) and the runs "
                f"pages ({n} GETs each)")
            result["lineage_html"] = time_pages(base, pid, heavy, n_heavy, warmup)
            result["lineage_html"] |= time_pages(
                base, pid, {k: v for k, v in lineage_pages.items() if k not in heavy}, n, warmup)
            if not args.skip_browser:
                log(f"Chromium: the lineage pages, {args.runs} runs each (load {loadavg()})")
                loads["browser"] = loadavg()
                shots = WORKDIR / "ui-shots" if args.screenshots else None
                try:
                    result["browser"] = browser_lineage(
                        base, {"fan_in": lineage_man["fan_in_id"],
                               "layered": lineage_man["layered_id"]}, args.runs, shots)
                except Exception as exc:  # no Playwright/Chromium: report, keep the rest
                    result["browser"] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
                    log(f"browser failed: {exc}")

        if not args.no_profile:
            timed = {k: v for k, v in result["html"].items() if "p95_ms" in v}
            limit = {k: TARGETS["facets_p95_ms" if k == "search_facets" else "page_p95_ms"]
                     for k in timed}
            slowest = [k for k in sorted(timed, key=lambda k: -timed[k]["p95_ms"])
                       if timed[k]["p95_ms"] > limit[k]] or sorted(
                           timed, key=lambda k: -timed[k]["p95_ms"])[:1]
            log(f"profile (in process): {slowest} and the lineage pages")
            m = 10 if args.quick else 30
            timers = instrument()
            result["profile"] = {
                "search_catalog": profile_pages(home, {k: pages[k] for k in slowest}, m,
                                                timers),
                "ui_lineage_catalog": profile_pages(lineage_home, {k: lineage_pages[k] for k in (
                    "lineage_fan_in_500", "lineage_layered_500")}, m, timers)}
        loads["end"] = loadavg()
        result["machine"]["loadavg_1_5_15"] = loads
        result["figures"] = figures(result)
        rows = result["figures"]
        result["summary"] = {
            "met": sum(1 for f in rows if f["met"] is True),
            "not_met": [f["figure"] for f in rows if f["met"] is False],
        }
        result["wall_s"] = round(time.time() - started, 1)
        return result
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="5,000 versions, 30 requests a page (smoke test)")
    parser.add_argument("--full-catalog", action="store_true",
                        help="with --quick: still the 100,000-version catalog")
    parser.add_argument("--n", type=int, default=0, help="timed requests a page (200)")
    parser.add_argument("--runs", type=int, default=5, help="browser runs a lineage page")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--screenshots", action="store_true",
                        help="save the first run's viewport to benchmarks/.work/ui-shots/")
    parser.add_argument("--rebuild-cache", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=2, default=str)
    print(text, flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print_table(result["figures"])
    log(f"done: {result['summary']['met']} met, not met: {result['summary']['not_met']}; "
        f"load average {result['machine']['loadavg_1_5_15']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
