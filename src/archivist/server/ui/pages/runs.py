"""The runs of a project (filtered by pipeline and status, 50 a page) and the page of
one run: its parameters, code and timing, each task with what it read and wrote, and
for a flow its step graph.

A run records its tasks, not its flow's graph, so the step graph is read back from what
the tasks recorded (:func:`step_edges`): a step follows another when one of its tasks
read or inherited a value a task of the other stored; a step linked to none follows the
step started just before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from archivist.errors import InvalidInputError
from archivist.limits import MAX_BATCH
from archivist.model import RUN_STATUSES, Artifact, RunRecord, TaskRecord
from archivist.server.ui import graph
from archivist.server.ui.render import page
from archivist.server.ui.routing import UiRoute
from archivist.server.ui.session import open_session

router = APIRouter(route_class=UiRoute, include_in_schema=False)
PAGE = 50
#: versions listed per task (inputs, outputs); the rest are counted
PER_TASK = 25
#: versions the run produced, listed under its tasks
PRODUCED = 500
#: tasks of a step compared when reading the graph back
SAMPLES = 3
#: most steps drawn as a graph
MAX_STEPS = 200
STEP_BOX = graph.Geometry(box_width=170, box_height=40, gap_x=56)


@router.get("/runs")
def runs(request: Request, pipeline: str | None = None, status: str | None = None,
         page_number: Annotated[str, Query(alias="page")] = "1") -> Response:
    ui = open_session(request)
    number = _page(page_number)
    chosen = (pipeline or "").strip() or None
    wanted = status or None
    found = ui.service.list_runs(ui.project, chosen, wanted, PAGE + 1, (number - 1) * PAGE)

    def link(to: int) -> str:
        items = [(k, v) for k, v in (("pipeline", chosen), ("status", wanted)) if v]
        return "/runs?" + urlencode([*items, ("page", str(to))])

    return page(request, "runs.html", {
        "title": "Runs", "runs": found[:PAGE], "pipeline": chosen or "", "status": wanted,
        "statuses": RUN_STATUSES, "page": number, "offset": (number - 1) * PAGE,
        "previous": link(number - 1) if number > 1 else None,
        "next": link(number + 1) if len(found) > PAGE else None})


@router.get("/runs/{run_ref:path}")
def run(request: Request, run_ref: str) -> Response:
    ui = open_session(request)
    record = ui.service.get_run(ui.project, run_ref)
    ids = list(dict.fromkeys([*record.consumed, *record.produced,
                              *(v for t in record.tasks for v in (*t.consumed, *t.produced))]))
    versions = {a.id: a for chunk in range(0, len(ids), MAX_BATCH)
                for a in ui.service.lookup(ids[chunk:chunk + MAX_BATCH])}
    steps = list(dict.fromkeys(t.step for t in record.tasks))
    edges = recorded_edges(record, steps)
    recorded = edges is not None
    if edges is None:  # runs of flows before the graph was recorded, and pipelines
        edges = step_edges(record.tasks, flow=record.kind == "flow")
    drawn = None
    if 1 < len(steps) <= MAX_STEPS and (edges or record.kind == "flow"):
        drawn = _drawing(record, steps, edges)
    produced = [versions[i] for i in record.produced if i in versions]
    return page(request, "run.html", {
        "title": f"Run {record.pathspec}", "run": record, "graph": drawn,
        "graph_recorded": recorded,
        "steps": steps, "tasks": [_task(t, versions) for t in _grouped(record.tasks)],
        "produced": produced[:PRODUCED], "more_produced": max(len(produced) - PRODUCED, 0),
        "consumed_outside": _outside(record, versions), "resumed": _resumed(record),
        "details": {k: v for k, v in record.details.items()
                    if k not in ("resumed_from", "resumed_from_id")}})


def _page(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 1_000_000:
        raise InvalidInputError(f"page must be a number from 1, got {value!r:.20}")
    return int(value)


def _grouped(tasks: Sequence[TaskRecord]) -> list[TaskRecord]:
    """Tasks step by step (steps in start order), each step's in foreach and index
    order."""
    first: dict[str, int] = {}
    for position, task in enumerate(tasks):
        first.setdefault(task.step, position)

    def key(task: TaskRecord) -> tuple[int, list[int], int]:
        stack = task.details.get("foreach")
        at = [i for i in stack if isinstance(i, int)] if isinstance(stack, list) else []
        return first[task.step], at, task.index

    return sorted(tasks, key=key)


def _task(task: TaskRecord, versions: dict[str, Artifact]) -> dict[str, Any]:
    """A task as the table shows it: its inputs and outputs as (id, label, deleted)."""

    def named(ids: Sequence[str]) -> list[tuple[str, str, bool]]:
        out = []
        for version_id in ids[:PER_TASK]:
            a = versions.get(version_id)
            out.append((version_id, f"{a.name}:{a.version}" if a else version_id[:13] + "…",
                        bool(a and a.deleted)))
        return out

    foreach = task.details.get("foreach")
    reused = task.details.get("reused_from_run")
    return {"task": task, "inputs": named(task.consumed), "outputs": named(task.produced),
            "more_inputs": max(len(task.consumed) - PER_TASK, 0),
            "more_outputs": max(len(task.produced) - PER_TASK, 0),
            "foreach": foreach if isinstance(foreach, list) and foreach else None,
            "reused_from": reused if isinstance(reused, str) else None}


def _resumed(record: RunRecord) -> tuple[str, str] | None:
    """``(pathspec, id or pathspec)`` of the run this one resumed, if any."""
    label, ref = record.details.get("resumed_from"), record.details.get("resumed_from_id")
    if not isinstance(label, str):
        return None
    return label, ref if isinstance(ref, str) else label


def _outside(record: RunRecord, versions: dict[str, Artifact]) -> list[Artifact]:
    """Versions the run read that none of its tasks produced (its inputs from outside)."""
    made = set(record.produced)
    return [versions[i] for i in record.consumed if i not in made and i in versions]


def recorded_edges(record: RunRecord, steps: list[str]) -> list[tuple[str, str]] | None:
    """The edges of the flow graph the run recorded (``details["graph"]``) among the
    steps that ran, or ``None`` when it recorded none."""
    graph = record.details.get("graph")
    if not isinstance(graph, dict) or not isinstance(graph.get("edges"), list):
        return None
    ran = set(steps)
    return [(str(e[0]), str(e[1])) for e in graph["edges"]
            if isinstance(e, list) and len(e) == 2 and e[0] in ran and e[1] in ran]


def step_edges(tasks: Sequence[TaskRecord], *, flow: bool) -> list[tuple[str, str]]:
    """The step graph read back from a run's tasks (``tasks`` in start order).

    An edge ``A -> B`` when a task of B read (``consumed``) a version a task of A
    produced; for a flow also when a task of B inherited A's state (every attribute a
    task of A held is held by the task of B with the same version, or one it stored
    itself — B came after A, possibly through steps that stored nothing). Edges only
    go from a step started earlier to one started later. For a flow the edges implied by
    a longer path are then dropped (a flow's graph has none), and a step still without
    a predecessor follows the step started just before it.
    """
    first: dict[str, int] = {}
    by_step: dict[str, list[TaskRecord]] = {}
    producer: dict[str, str] = {}
    for position, task in enumerate(tasks):
        first.setdefault(task.step, position)
        by_step.setdefault(task.step, []).append(task)
        for version_id in task.produced:
            producer.setdefault(version_id, task.step)
    found: dict[tuple[str, str], None] = {}
    for task in tasks:
        for version_id in task.consumed:
            source = producer.get(version_id)
            if source is not None and first[source] < first[task.step]:
                found[(source, task.step)] = None
    if not flow:
        return list(found)
    for step, own in by_step.items():
        for task in own[:SAMPLES]:
            for other in _inherited_from(task, by_step, first):
                found[(other, step)] = None
    edges = _reduced(list(first), list(found))
    has_parent = {c for _, c in edges}
    steps = sorted(first, key=first.__getitem__)
    for before, step in pairwise(steps):
        if step not in has_parent:
            edges.append((before, step))
    return edges


def _inherited_from(task: TaskRecord, by_step: dict[str, list[TaskRecord]],
                    first: dict[str, int]) -> list[str]:
    """Earlier steps whose state ``task`` holds (an ancestor at the same or an outer
    foreach position)."""
    if not task.data:
        return []
    stack = task.details.get("foreach")
    position = list(stack) if isinstance(stack, list) else []
    prefixes = [position[:n] for n in range(len(position) + 1)]
    own = set(task.produced)
    found = []
    for step, candidates in by_step.items():
        if first[step] >= first[task.step]:
            continue
        for candidate in candidates:
            at = candidate.details.get("foreach")
            if (list(at) if isinstance(at, list) else []) not in prefixes:
                continue
            if candidate.data and all(task.data.get(k) == v or task.data.get(k) in own
                                      for k, v in candidate.data.items()
                                      if k in task.data) and \
                    candidate.data.keys() <= task.data.keys():
                found.append(step)
                break
    return found


def _reduced(nodes: list[str], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``edges`` without those another path already implies (transitive reduction)."""
    children: dict[str, list[str]] = {n: [] for n in nodes}
    for parent, child in edges:
        children[parent].append(child)

    def reaches(start: str, goal: str, skip: tuple[str, str]) -> bool:
        stack, seen = [start], {start}
        while stack:
            node = stack.pop()
            for nxt in children[node]:
                if (node, nxt) == skip or nxt in seen:
                    continue
                if nxt == goal:
                    return True
                seen.add(nxt)
                stack.append(nxt)
        return False

    return [e for e in edges if not reaches(e[0], e[1], e)]


def _drawing(record: RunRecord, steps: list[str],
             edges: list[tuple[str, str]]) -> dict[str, Any]:
    """The step graph as ``_graph.html`` draws it: one box per step, coloured by how its
    tasks ended, linking to the step's rows of the task table."""
    drawing = graph.layout(steps, edges, graph.longest_path_layers(steps, edges, [steps[0]]),
                           STEP_BOX)
    boxes = []
    for placed in drawing.nodes:
        own = [t for t in record.tasks if t.step == placed.id]
        statuses = {t.status for t in own}
        status = ("failed" if "failed" in statuses else
                  "running" if "running" in statuses else "succeeded")
        cached = all(t.cached for t in own)
        count = f"{len(own)} tasks" if len(own) > 1 else "1 task"
        boxes.append({
            "x": placed.x, "y": placed.y, "href": f"#step-{placed.id}",
            "cls": f"step {status}" + (" cached" if cached else ""), "label": placed.id,
            "sub": f"{count} · {'cached' if cached else status}", "anchor": None,
            "title": f"step {placed.id}: {count}, {status}" + (", cached" if cached else "")})
    return {"width": drawing.width, "height": drawing.height,
            "w": STEP_BOX.box_width, "h": STEP_BOX.box_height, "nodes": boxes,
            "edges": [e.path for e in drawing.edges], "dense": False,
            "label": f"step graph of run {record.pathspec}"}
