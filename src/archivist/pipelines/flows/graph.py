"""The step graph of a class flow, read from the code and checked before anything runs.

Each step's ``self.next(...)`` call is read from its source with :mod:`ast` (or, when the
source is not available — a class defined by ``exec`` — from its bytecode), so a flow with
an unknown target, an unreachable step, a join without its fan-out or without ``start`` /
``end`` fails with :class:`~archivist.errors.InvalidFlowError` naming the step, before
the first task starts. The rules are Metaflow's:

* ``start`` is the only entry, ``end`` the only exit (it calls no ``self.next``);
* every other step calls ``self.next`` exactly once, with steps written as ``self.<name>``:
  one target (a linear step), several (a split into branches), or one with
  ``foreach="<attribute>"`` (one task per item);
* a join is a step taking ``inputs`` (``def join(self, inputs)``); it closes the innermost
  open split or foreach, and every branch of that fan-out must end in it;
* only a join has several predecessors; there are no cycles.
"""

from __future__ import annotations

import ast
import dis
import inspect
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archivist.errors import InvalidFlowError

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


@dataclass(frozen=True)
class Transition:
    """One ``self.next(...)`` call as written in a step."""

    targets: tuple[str, ...]
    foreach: str | None = None


@dataclass(frozen=True)
class FlowGraph:
    """The validated step graph of a flow class.

    Build it with :meth:`FlowGraph.build` (``Flow`` subclasses do it for you:
    ``MyFlow.spec().graph``); ``fan_out_of[join]`` is the split or foreach a join closes.
    """

    flow: str
    nodes: dict[str, StepNode]
    fan_out_of: dict[str, str] = field(default_factory=dict)

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
        graph._check_predecessors()
        graph._match_joins()
        return graph

    # -- queries -----------------------------------------------------------------------
    def predecessors(self, name: str) -> list[str]:
        """Steps whose ``self.next`` goes to ``name``, in definition order."""
        return [n.name for n in self.nodes.values() if name in n.targets]

    def join_inputs(self, join: str) -> list[str]:
        """The steps whose tasks a join receives, in :meth:`order` (so a split's branches
        come in the order ``self.next`` names them)."""
        order = self.order()
        return sorted(self.predecessors(join), key=order.index)

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

    def describe(self) -> list[str]:
        """One line per step: ``name (kind) -> targets``, in :meth:`order`."""
        lines = []
        for name in self.order():
            node = self.nodes[name]
            arrow = f" -> {', '.join(node.targets)}" if node.targets else ""
            each = f" over {node.foreach!r}" if node.foreach else ""
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
        if "start" in {t for n in self.nodes.values() for t in n.targets}:
            raise InvalidFlowError(f"a step of {self.flow} goes back to 'start'; 'start' "
                                   "must be the only entry", step="start")

    def _check_predecessors(self) -> None:
        for node in self.nodes.values():
            preds = self.predecessors(node.name)
            if node.is_join and node.name in ("start",):
                raise InvalidFlowError("'start' cannot be a join", step="start")
            if len(preds) > 1 and not node.is_join:
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
                walk(target, inner)
            path.pop()

        walk("start", ())
        for join, fan_out in self.fan_out_of.items():
            if self.nodes[fan_out].kind == "split":
                expected = len(self.nodes[fan_out].targets)
                if len(self.predecessors(join)) != expected:
                    raise InvalidFlowError(
                        f"join {join!r} of {self.flow} has {len(self.predecessors(join))} "
                        f"incoming branches but {fan_out!r} splits into {expected}",
                        step=join)
            elif len(self.predecessors(join)) != 1:
                raise InvalidFlowError(f"join {join!r} of {self.flow} closes the foreach "
                                       f"{fan_out!r} and must have one incoming step",
                                       step=join)


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
    if call.foreach is not None:
        kind = "foreach"
    elif len(call.targets) > 1:
        kind = "split"
    return StepNode(name, kind, call.targets, call.foreach, is_join, doc)


def transitions(func: Callable[..., Any]) -> list[Transition]:
    """Every ``self.next(...)`` call in a step function, from source or bytecode.

    Raises:
        InvalidFlowError: a call whose targets are not written ``self.<step>`` or whose
            ``foreach`` is not a string literal.
    """
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return _from_bytecode(func)
    tree = ast.parse(source)
    fn = tree.body[0]
    if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) or not fn.args.args:
        return _from_bytecode(func)
    me = fn.args.args[0].arg
    found = []
    for node in ast.walk(fn):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "next" and isinstance(node.func.value, ast.Name)
                and node.func.value.id == me):
            found.append(_from_call(func.__name__, me, node))
    return found


def _from_call(step: str, me: str, call: ast.Call) -> Transition:
    targets = []
    for arg in call.args:
        if not (isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name)
                and arg.value.id == me):
            raise InvalidFlowError(f"step {step!r}: self.next() takes steps written "
                                   f"{me}.<step>, got {ast.unparse(arg)!r}", step=step)
        targets.append(arg.attr)
    foreach = None
    for keyword in call.keywords:
        value = keyword.value
        if keyword.arg != "foreach" or not (isinstance(value, ast.Constant)
                                            and isinstance(value.value, str)):
            raise InvalidFlowError(f"step {step!r}: self.next() accepts only "
                                   "foreach='<attribute name>' as a keyword", step=step)
        foreach = value.value
    return Transition(tuple(targets), foreach)


#: How ``self`` is loaded: a plain local, or a cell when a comprehension closes over it.
_LOAD_LOCAL = frozenset({"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_DEREF"})


def _from_bytecode(func: Callable[..., Any]) -> list[Transition]:
    """Read ``self.next(self.a, ..., foreach="x")`` from the instructions (no source)."""
    code = getattr(func, "__code__", None)
    if code is None or not code.co_varnames:
        return []
    me = code.co_varnames[0]
    ops = [i for i in dis.get_instructions(code)
           if i.opname not in ("CACHE", "PRECALL", "PUSH_NULL", "EXTENDED_ARG", "NOP")]
    found = []
    for k, ins in enumerate(ops[:-1]):
        nxt = ops[k + 1]
        if not (ins.opname in _LOAD_LOCAL and ins.argval == me
                and nxt.opname in ("LOAD_METHOD", "LOAD_ATTR") and nxt.argval == "next"):
            continue
        targets: list[str] = []
        foreach: str | None = None
        j = k + 2
        while j + 1 < len(ops) and ops[j].opname in _LOAD_LOCAL and ops[j].argval == me \
                and ops[j + 1].opname == "LOAD_ATTR":
            targets.append(str(ops[j + 1].argval))
            j += 2
        if j < len(ops) and ops[j].opname == "LOAD_CONST" and isinstance(ops[j].argval, str):
            foreach = ops[j].argval  # followed by KW_NAMES ('foreach',) / CALL_KW
            j += 1
        if j < len(ops) and ops[j].opname not in ("KW_NAMES", "CALL", "CALL_KW",
                                                  "LOAD_CONST", "CALL_METHOD"):
            raise InvalidFlowError(f"step {func.__name__!r}: self.next() takes steps written "
                                   "self.<step> (and foreach='<attribute>')",
                                   step=func.__name__)
        found.append(Transition(tuple(targets), foreach))
    return found
