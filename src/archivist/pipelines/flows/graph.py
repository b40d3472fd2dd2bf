"""The step graph of a class flow, read from the code and checked before anything runs.

Each step's ``self.next(...)`` call is read from its source with :mod:`ast` (or, when the
source is not available — a class defined by ``exec`` — from its bytecode), so a flow with
an unknown target, an unreachable step, a join without its fan-out or without ``start`` /
``end`` fails with :class:`~archivist.errors.InvalidFlowError` naming the step, before
the first task starts. The rules are Metaflow's:

* ``start`` is the only entry, ``end`` the only exit (it calls no ``self.next``);
* every other step calls ``self.next`` exactly once, with steps written as ``self.<name>``:
  one target (a linear step), several (a split into branches), one with
  ``foreach="<attribute>"`` (one task per item), or a switch
  ``self.next({"a": self.a, "b": self.b}, condition="<attribute>")`` (one of the steps,
  chosen at run time by the attribute's value; the keys are literals);
* a join is a step taking ``inputs`` (``def join(self, inputs)``); it closes the innermost
  open split or foreach, and every branch of that fan-out must end in it;
* a switch opens nothing to join: its paths meet again at an ordinary step (only one of
  them runs), or each reaches the join of a fan-out around it; a switch case may not go
  directly to a join, and a switch may go back to its own step (a loop) but no other
  step may close a cycle;
* several predecessors are allowed for a join, and for a step reached only through the
  exclusive paths of switches.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archivist.errors import InvalidFlowError
from archivist.pipelines.flows.nextcalls import Transition, transitions

__all__ = ["KINDS", "FlowGraph", "StepNode", "Transition", "transitions"]

#: Node kinds, as ``archivist flow show`` prints them.
KINDS = ("start", "linear", "split", "foreach", "join", "end")


@dataclass(frozen=True)
class StepNode:
    """One step of the graph: its kind, targets and (for a foreach) the attribute."""

    name: str
    kind: str
    targets: tuple[str, ...] = ()
    foreach: str | None = None
    is_join: bool = False
    doc: str | None = None
    #: A switch: the attribute whose value picks the case, and ``(value, step)`` pairs.
    condition: str | None = None
    cases: tuple[tuple[Any, str], ...] = ()


@dataclass(frozen=True)
class FlowGraph:
    """The validated step graph of a flow class.

    Build it with :meth:`FlowGraph.build` (``Flow`` subclasses do it for you:
    ``MyFlow.spec().graph``); ``fan_out_of[join]`` is the split or foreach a join closes,
    ``branch_of[(join, step)]`` the position, among the split's branches, of the branch
    that a task of ``step`` (a predecessor of the split's join) comes from.
    """

    flow: str
    nodes: dict[str, StepNode]
    fan_out_of: dict[str, str] = field(default_factory=dict)
    branch_of: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def build(cls, flow: str, steps: Mapping[str, Callable[..., Any]]) -> FlowGraph:
        """Read every step's transition and validate the graph.

        Args:
            flow: the flow's name (for messages).
            steps: step name -> the plain function the user wrote.

        Raises:
            InvalidFlowError: the graph breaks a rule of this module's docstring; the
                message and ``details["step"]`` name the step.
        """
        for required in ("start", "end"):
            if required not in steps:
                raise InvalidFlowError(f"flow {flow} has no {required!r} step: every flow "
                                       f"needs `@step def {required}(self)`", step=required)
        nodes = {name: _node(flow, name, func) for name, func in steps.items()}
        for node in nodes.values():
            for target in node.targets:
                if target not in nodes:
                    raise InvalidFlowError(
                        f"step {node.name!r} of {flow} goes to {target!r}, which is not a "
                        f"step; steps: {', '.join(sorted(nodes))}", step=node.name)
        graph = cls(flow=flow, nodes=nodes)
        graph._check_reachable()
        graph._check_switches()
        graph._check_predecessors()
        graph._match_joins()
        return graph

    # -- queries -----------------------------------------------------------------------
    def predecessors(self, name: str) -> list[str]:
        """Steps whose ``self.next`` goes to ``name``, in definition order (a switch that
        loops back to its own step is not its own predecessor)."""
        return [n.name for n in self.nodes.values() if name in n.targets and n.name != name]

    def branches(self, join: str) -> int:
        """How many inputs a task of a split's join receives (one per branch)."""
        return len(self.nodes[self.fan_out_of[join]].targets)

    def order(self) -> list[str]:
        """Steps in a topological order starting at ``start`` (for display)."""
        seen: list[str] = []

        def visit(name: str) -> None:
            if name in seen:
                return
            if any(p not in seen for p in self.predecessors(name)):
                return  # a join: visited once its last predecessor is
            seen.append(name)
            for target in self.nodes[name].targets:
                visit(target)

        visit("start")
        return seen

    def record(self) -> dict[str, Any]:
        """The graph as a run records it in its details (what a UI draws):
        ``{"steps": [...], "edges": [[from, to], ...]}``, steps in :meth:`order`, and
        ``"switches": {step: {"condition": attr, "cases": [[value, step], ...]}}`` when the
        flow has any (a task of a switch records the case it took in
        ``details["switch"]``)."""
        switches = {n.name: {"condition": n.condition,
                             "cases": [[key, target] for key, target in n.cases]}
                    for n in self.nodes.values() if n.condition is not None}
        return {"steps": self.order(),
                "edges": [[n.name, t] for n in self.nodes.values() for t in n.targets],
                **({"switches": switches} if switches else {})}

    def describe(self) -> list[str]:
        """One line per step: ``name (kind) -> targets``, in :meth:`order`."""
        lines = []
        for name in self.order():
            node = self.nodes[name]
            arrow = f" -> {', '.join(node.targets)}" if node.targets else ""
            if node.condition is not None:
                arrow = " -> " + ", ".join(f"{key!r}: {target}" for key, target in node.cases)
            each = f" over {node.foreach!r}" if node.foreach else ""
            each += f" on {node.condition!r}" if node.condition else ""
            join = ", join" if node.is_join and node.kind != "join" else ""
            lines.append(f"{name} ({node.kind}{each}{join}){arrow}")
        return lines

    # -- validation --------------------------------------------------------------------
    def _check_reachable(self) -> None:
        reached: set[str] = set()
        todo = ["start"]
        while todo:
            name = todo.pop()
            if name not in reached:
                reached.add(name)
                todo.extend(self.nodes[name].targets)
        missing = [n for n in self.nodes if n not in reached]
        if missing:
            raise InvalidFlowError(
                f"step {missing[0]!r} of {self.flow} is unreachable: no path from 'start' "
                f"leads to it (unreachable: {', '.join(missing)})", step=missing[0])
        if "start" in {t for n in self.nodes.values() for t in n.targets if n.name != "start"}:
            raise InvalidFlowError(f"a step of {self.flow} goes back to 'start'; 'start' "
                                   "must be the only entry", step="start")

    def _check_switches(self) -> None:
        """Metaflow's rules: a switch case may not lead straight to a join (which input
        would it be?); a loop is a switch going back to its own step."""
        for node in self.nodes.values():
            if node.kind != "switch":
                continue
            for _, target in node.cases:
                if self.nodes[target].is_join:
                    raise InvalidFlowError(
                        f"switch {node.name!r} of {self.flow} goes directly to the join "
                        f"{target!r}; a conditional path cannot lead directly to a join: "
                        "put an ordinary step between them", step=node.name)

    def _after_stacks(self) -> dict[str, set[tuple[tuple[str, str], ...]]]:
        """Step -> the open fan-outs after it, as ``(fan-out, branch)`` pairs, on every
        path from ``start`` (a join's closes one). Malformed joins and cycles are left for
        :meth:`_match_joins` to report."""
        found: dict[str, set[tuple[tuple[str, str], ...]]] = {}
        path: set[str] = set()

        def walk(name: str, stack: tuple[tuple[str, str], ...]) -> None:
            node = self.nodes[name]
            if node.is_join and stack:
                stack = stack[:-1]
            if name in path or stack in found.setdefault(name, set()):
                return
            found[name].add(stack)
            path.add(name)
            for target in node.targets:
                if target == name:
                    continue
                if node.kind in ("split", "foreach"):
                    walk(target, (*stack, (name, target)))
                else:
                    walk(target, stack)
            path.discard(name)

        walk("start", ())
        return found

    def _check_predecessors(self) -> None:
        stacks = self._after_stacks()
        for node in self.nodes.values():
            preds = self.predecessors(node.name)
            if node.is_join and node.name in ("start",):
                raise InvalidFlowError("'start' cannot be a join", step="start")
            # several predecessors of a step that is no join: only the exclusive paths of
            # a switch may meet there, so every path reaches it with the same fan-outs open
            arriving = {s for p in preds for s in stacks.get(p, set())}
            if len(preds) > 1 and not node.is_join and len(arriving) > 1:
                raise InvalidFlowError(
                    f"step {node.name!r} of {self.flow} is the target of "
                    f"{', '.join(map(repr, preds))} but is not a join; declare it "
                    f"`def {node.name}(self, inputs)` to join the branches", step=node.name)

    def _match_joins(self) -> None:
        """Walk every path with the stack of open fan-outs; each join closes the top one."""
        seen: set[tuple[str, tuple[str, ...]]] = set()
        path: list[str] = []

        def walk(name: str, open_fanouts: tuple[str, ...]) -> None:
            if name in path:
                raise InvalidFlowError(f"steps of {self.flow} form a cycle through {name!r}: "
                                       f"{' -> '.join([*path[path.index(name):], name])}",
                                       step=name)
            if (name, open_fanouts) in seen:
                return
            seen.add((name, open_fanouts))
            node = self.nodes[name]
            if node.is_join:
                if not open_fanouts:
                    raise InvalidFlowError(
                        f"join {name!r} of {self.flow} has no fan-out to close: no split "
                        "(self.next(self.a, self.b)) or foreach leads to it", step=name)
                fan_out = open_fanouts[-1]
                known = self.fan_out_of.setdefault(name, fan_out)
                if known != fan_out:
                    raise InvalidFlowError(
                        f"join {name!r} of {self.flow} closes both {known!r} and {fan_out!r}; "
                        "each join closes exactly one split or foreach", step=name)
                open_fanouts = open_fanouts[:-1]
            if node.kind == "end" and open_fanouts:
                raise InvalidFlowError(
                    f"the {open_fanouts[-1]!r} fan-out of {self.flow} reaches 'end' without a "
                    "join; add a step `def join(self, inputs)` before 'end'",
                    step=open_fanouts[-1])
            path.append(name)
            inner = (*open_fanouts, name) if node.kind in ("split", "foreach") else open_fanouts
            for target in node.targets:
                if target != name or node.kind != "switch":  # a switch may loop on itself
                    walk(target, inner)
            path.pop()

        walk("start", ())
        stacks = self._after_stacks()
        for join, fan_out in self.fan_out_of.items():
            # the branch of the fan-out each predecessor's tasks come from
            arriving: dict[str, str] = {}
            for pred in self.predecessors(join):
                for stack in stacks.get(pred, set()):
                    if stack and stack[-1][0] == fan_out:
                        arriving[pred] = stack[-1][1]
            node = self.nodes[fan_out]
            if node.kind == "split":
                expected = len(node.targets)
                reached = set(arriving.values())
                if reached != set(node.targets):
                    raise InvalidFlowError(
                        f"join {join!r} of {self.flow} has {len(reached)} incoming branches "
                        f"but {fan_out!r} splits into {expected}", step=join)
                for pred, branch in arriving.items():
                    self.branch_of[(join, pred)] = node.targets.index(branch)


def _node(flow: str, name: str, func: Callable[..., Any]) -> StepNode:
    params = list(inspect.signature(func).parameters)
    is_join = len(params) == 2
    if len(params) not in (1, 2):
        raise InvalidFlowError(f"step {name!r} of {flow} must take (self) or, for a join, "
                               f"(self, inputs); it takes {params}", step=name)
    doc = inspect.getdoc(func)
    calls = transitions(func)
    if name == "end":
        if calls:
            raise InvalidFlowError(f"'end' of {flow} must not call self.next", step=name)
        if is_join:
            raise InvalidFlowError(f"'end' of {flow} cannot be a join; add a join step "
                                   "before it", step=name)
        return StepNode(name, "end", doc=doc)
    if len(calls) != 1:
        raise InvalidFlowError(
            f"step {name!r} of {flow} must call self.next(...) exactly once (it does "
            f"{len(calls)} times); branches are written self.next(self.a, self.b)", step=name)
    call = calls[0]
    if call.foreach is not None and len(call.targets) != 1:
        raise InvalidFlowError(f"step {name!r} of {flow}: a foreach goes to exactly one "
                               "step", step=name)
    if not call.targets:
        raise InvalidFlowError(f"step {name!r} of {flow} calls self.next() without a "
                               "target", step=name)
    if name == "start":
        kind = "start"
    elif is_join:
        kind = "join"
    else:
        kind = "linear"
    if call.condition is not None:
        if len(call.cases) < 2:
            raise InvalidFlowError(f"step {name!r} of {flow} is a switch with "
                                   f"{len(call.cases)} case; a switch needs at least 2",
                                   step=name)
        return StepNode(name, "switch", call.targets, None, is_join, doc, call.condition,
                        call.cases)
    if call.foreach is not None:
        kind = "foreach"
    elif len(call.targets) > 1:
        kind = "split"
    return StepNode(name, kind, call.targets, call.foreach, is_join, doc)
