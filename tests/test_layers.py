"""The import structure of ``src/archivist``: no circles, and no import from a lower layer
to a higher one. Read from the code with ``ast``: every ``import`` counts, including those
inside functions and under ``if TYPE_CHECKING:`` (a type a module names is a dependency
too). The layers, lowest first, are :data:`LAYERS`; a module may import its own layer and
the layers below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "archivist"
MAX_LINES = 400

#: Layer of each module, by the longest prefix that matches its dotted name.
LAYERS: list[tuple[str, ...]] = [
    # records and rules every layer shares
    ("archivist.errors", "archivist._types", "archivist.ids", "archivist.timeutil",
     "archivist.names", "archivist.timepartitions", "archivist.refs", "archivist.model",
     "archivist.version", "archivist.limits", "archivist.config", "archivist._extras"),
    # bytes, the query language, serializers, the wire format, what a run is told, the
    # rules of a record
    ("archivist.store", "archivist.query", "archivist.materializers", "archivist.wire",
     "archivist.tracking", "archivist.records"),
    # metadata rows, and checking them against the bytes (verify, gc)
    ("archivist.backends", "archivist.maintenance"),
    # what the catalog is made of, and what it moves between catalogs
    ("archivist.catalog.arguments", "archivist.catalog.registration",
     "archivist.catalog.content", "archivist.catalog.reading", "archivist.catalog.diffing",
     "archivist.catalog.graph", "archivist.catalog.logbook",
     "archivist.catalog.artifactpath", "archivist.transfer"),
    # the façade (archivist.catalog.facade, re-exported by archivist.catalog)
    ("archivist.catalog",),
    # pipelines that record themselves
    ("archivist.pipelines",),
    # the two ways in from outside Python (``archivist.keys`` is the old name of
    # ``archivist.server.keys``)
    ("archivist.server", "archivist.cli", "archivist.keys"),
    # the public names
    ("archivist",),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py") if "migrations" not in p.parts}


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS"
    return rank


def imports_of(path: Path) -> set[str]:
    """The archivist modules ``path`` imports (``from pkg import module`` resolved)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "archivist")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module.split(".")[0] == "archivist"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {m for m in found if m in MODULES}


GRAPH = {name: imports_of(path) - {name} for name, path in MODULES.items()}


def circles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return found


def test_the_graph_is_read() -> None:
    # the walk must see the imports it is about: a sanity check that it can fail
    assert "archivist.backends.base" in GRAPH["archivist.catalog.facade"]
    assert "archivist.catalog" in GRAPH["archivist.pipelines.pipeline"]
    assert len(MODULES) > 100


def test_no_import_circles() -> None:
    assert circles() == []


def test_no_module_imports_a_higher_layer() -> None:
    upward = sorted(f"{m} (layer {layer_of(m)}) imports {i} (layer {layer_of(i)})"
                    for m, targets in GRAPH.items() for i in targets
                    if layer_of(i) > layer_of(m))
    assert upward == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_long_modules_say_why(module: str) -> None:
    """A module over :data:`MAX_LINES` lines says at its top why it is one module."""
    text = MODULES[module].read_text()
    if text.count("\n") <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert "lines" in docstring.lower() and "one module" in docstring.lower(), (
        f"{module} has {text.count(chr(10))} lines: split it, or say at its top why it "
        f"is one module (the words 'lines' and 'one module')")
