"""``self.next(...)`` calls: read from a step's code (its source with :mod:`ast`, or its
bytecode for a class defined by ``exec``), and, for a switch, the case its condition
chooses at run time."""

from __future__ import annotations

import ast
import dis
import inspect
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archivist.errors import InvalidFlowError


@dataclass(frozen=True)
class Transition:
    """One ``self.next(...)`` call as written in a step (for a switch: its cases)."""

    targets: tuple[str, ...]
    foreach: str | None = None
    condition: str | None = None
    cases: tuple[tuple[Any, str], ...] = ()


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
    keywords: dict[str, Any] = {}
    for keyword in call.keywords:
        value = keyword.value
        if keyword.arg not in ("foreach", "condition") or not (
                isinstance(value, ast.Constant) and isinstance(value.value, str)):
            raise InvalidFlowError(f"step {step!r}: self.next() accepts only "
                                   "foreach='<attribute name>' or condition='<attribute "
                                   "name>' as a keyword", step=step)
        keywords[keyword.arg] = value.value
    if len(call.args) == 1 and isinstance(call.args[0], ast.Dict):
        if "condition" not in keywords or "foreach" in keywords:
            raise InvalidFlowError(f"step {step!r}: a switch is written self.next({{'a': "
                                   f"{me}.a, 'b': {me}.b}}, condition='<attribute>') (and "
                                   "without foreach=)", step=step)
        cases = []
        for key, value in zip(call.args[0].keys, call.args[0].values, strict=True):
            if not isinstance(key, ast.Constant) or not (
                    isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
                    and value.value.id == me):
                shown = ast.unparse(key) if key is not None else "**"
                raise InvalidFlowError(
                    f"step {step!r}: a switch maps literal values to steps written "
                    f"{me}.<step>, got {shown}: {ast.unparse(value)}", step=step)
            cases.append((key.value, value.attr))
        return _switch(step, keywords["condition"], cases)
    if "condition" in keywords:
        raise InvalidFlowError(f"step {step!r}: condition= goes with a dict of cases: "
                               f"self.next({{'a': {me}.a, 'b': {me}.b}}, condition=...)",
                               step=step)
    targets = []
    for arg in call.args:
        if not (isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name)
                and arg.value.id == me):
            raise InvalidFlowError(f"step {step!r}: self.next() takes steps written "
                                   f"{me}.<step>, got {ast.unparse(arg)!r}", step=step)
        targets.append(arg.attr)
    return Transition(tuple(targets), keywords.get("foreach"))


def _switch(step: str, condition: str, cases: list[tuple[Any, str]]) -> Transition:
    if not condition.isidentifier():
        raise InvalidFlowError(f"step {step!r}: condition={condition!r} is not an attribute "
                               "name", step=step)
    for key, _ in cases:
        if key is not None and not isinstance(key, str | int | float | bool):
            raise InvalidFlowError(f"step {step!r}: switch keys are strings, numbers, booleans "
                                   f"or None, got {key!r}", step=step)
    return Transition(tuple(dict.fromkeys(t for _, t in cases)), None, condition,
                      tuple(cases))


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
        keys: tuple[Any, ...] | None = None
        if j + 1 < len(ops) and ops[j].opname == "LOAD_CONST" \
                and isinstance(ops[j].argval, tuple) \
                and ops[j + 1].opname == "BUILD_CONST_KEY_MAP":
            keys = ops[j].argval  # a switch: {"a": self.a, ...}
            j += 2
        if j < len(ops) and ops[j].opname == "LOAD_CONST" and isinstance(ops[j].argval, str):
            foreach = ops[j].argval  # followed by KW_NAMES ('foreach',) / CALL_KW
            j += 1
        if keys is not None:
            if foreach is None or len(keys) != len(targets):
                raise InvalidFlowError(f"step {func.__name__!r}: a switch is written "
                                       "self.next({'a': self.a, ...}, condition='<attribute>')",
                                       step=func.__name__)
            found.append(_switch(func.__name__, foreach, list(zip(keys, targets, strict=True))))
            continue
        if j < len(ops) and ops[j].opname not in ("KW_NAMES", "CALL", "CALL_KW",
                                                  "LOAD_CONST", "CALL_METHOD"):
            raise InvalidFlowError(f"step {func.__name__!r}: self.next() takes steps written "
                                   "self.<step> (and foreach='<attribute>')",
                                   step=func.__name__)
        found.append(Transition(tuple(targets), foreach))
    return found


def choose_case(step: str, condition: str | None, cases: tuple[tuple[Any, str], ...],
                obj: Any, targets: Sequence[Any], given: str | None) -> Transition:
    """The transition of a switch step's ``self.next(targets, condition=given)``: the
    first of its ``cases`` whose key equals ``obj.<condition>`` (Metaflow's ``value in
    cases``).

    Raises:
        InvalidFlowError: the call differs from the code's, ``self.<condition>`` does not
            exist, or no key equals its value (the message lists the cases).
    """
    written = None
    if len(targets) == 1 and isinstance(targets[0], dict):
        written = tuple((k, getattr(t, "__name__", repr(t))) for k, t in targets[0].items())
    if condition is None or given != condition or written != cases:
        shown = "{" + ", ".join(f"{k!r}: self.{t}" for k, t in cases) + "}"
        raise InvalidFlowError(f"step {step!r} must call self.next({shown}, condition="
                               f"{condition!r}) as its code reads; a step goes to the same "
                               "steps every time", step=step)
    try:
        value = getattr(obj, condition)
    except AttributeError:
        raise InvalidFlowError(f"condition variable self.{condition} of the switch in step "
                               f"{step!r} does not exist; set self.{condition} in this step "
                               "(or an earlier one)", step=step) from None
    for key, target in cases:
        try:
            same = bool(key == value)
        except Exception:  # a value that does not compare to a literal (an array…)
            same = False
        if same:
            return Transition((target,), None, condition, ((key, target),))
    raise InvalidFlowError(
        f"switch condition variable {condition!r} of step {step!r} has value {value!r} "
        f"which is not in the available cases: {[key for key, _ in cases]}", step=step,
        condition=condition, value=repr(value)[:200])


def switch_details(transition: Transition | None) -> dict[str, Any]:
    """What a task record keeps of the case a switch took: ``{"switch": {"condition",
    "value", "step"}}`` (the client and a resumed run read which step came next)."""
    if transition is None or transition.condition is None:
        return {}
    value = transition.cases[0][0] if transition.cases else None
    return {"switch": {"condition": transition.condition, "value": value,
                       "step": transition.targets[0]}}
