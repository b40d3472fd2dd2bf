"""``python myflow.py run``: a flow file ending as Metaflow's do::

    if __name__ == "__main__":
        MyFlow()

``MyFlow()`` as a statement of the script being run (its value unused, at module level of
``__main__``) reads ``sys.argv`` as Metaflow's command line and hands it to ``archivist
flow``, which imports the file again and does the rest, so the two spellings behave
alike in everything (exit status, messages, ``--max-workers``):

=====================================  ==============================================
``python myflow.py run --alpha 0.7``   ``archivist flow run myflow.py --param alpha=0.7``
``python myflow.py resume [STEP]``     ``archivist flow resume myflow.py [--step STEP]``
``… resume --origin-run-id 12``        ``… --run MyFlow/12``
``python myflow.py show``              ``archivist flow show myflow.py``
=====================================  ==============================================

A bool parameter is also a flag (``--flag``, ``--no-flag``). Without a command the usage
is printed and the exit status is 2; ``help`` or ``--help`` print it with status 0.
``MyFlow()`` anywhere else (``MyFlow().run()``, an assignment, a notebook, a worker
process) is a plain object. ``MyFlow(use_cli=True)`` asks for the command line
explicitly, ``use_cli=False`` never.
"""

from __future__ import annotations

import dis
import os
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any, NoReturn

from archivist.errors import InvalidInputError

COMMANDS = ("run", "resume", "show")
USAGE = """usage: python {file} COMMAND [OPTIONS]

Commands (the same as `archivist flow COMMAND {file}`):
  run [--PARAMETER VALUE ...] [--max-workers N]   run the flow
  resume [STEP] [--origin-run-id N] [--max-workers N]
                                                  run again from the failed step (or STEP)
  show                                            show the steps and parameters
Parameters of {flow}: {parameters}
"""


def called_as_script(flow_cls: type, frame: FrameType | None) -> bool:
    """Whether ``flow_cls()`` was the statement ``MyFlow()`` of the script being run
    (``python myflow.py``, ``python -m pkg.myflow``): at module level of ``__main__``,
    its value unused."""
    if frame is None or flow_cls.__module__ != "__main__":
        return False
    if frame.f_code.co_name != "<module>" or frame.f_globals.get("__name__") != "__main__":
        return False
    script = frame.f_globals.get("__file__")
    if not isinstance(script, str) or not sys.argv or \
            os.path.abspath(script) != os.path.abspath(sys.argv[0]):
        return False  # a notebook, or exec'd code: not a script run from the shell
    found = False
    for instruction in dis.get_instructions(frame.f_code):
        if found:
            return instruction.opname == "POP_TOP"
        found = instruction.offset == frame.f_lasti
    return False


def dispatch(flow_cls: Any, argv: Sequence[str] | None = None) -> NoReturn:
    """Run ``archivist flow`` for the command in ``argv`` (default ``sys.argv``) on the
    file defining ``flow_cls``, and exit with its status."""
    args = list(sys.argv if argv is None else argv)
    script = getattr(sys.modules.get(flow_cls.__module__), "__file__", None) or args[0]
    parameters = flow_cls.spec().parameters
    usage = USAGE.format(file=os.path.basename(script), flow=flow_cls.__name__,
                         parameters=", ".join(p.name for p in parameters.values()) or "none")
    rest = args[1:]
    if not rest or rest[0] in ("help", "--help", "-h"):
        (sys.stdout if rest else sys.stderr).write(usage)
        sys.exit(0 if rest else 2)
    try:
        command = translate(rest, script, flow_cls.__name__, parameters)
    except InvalidInputError as exc:
        sys.stderr.write(f"error: {exc.message}\n{usage}")
        sys.exit(2)
    sys.stdout.flush()
    sys.stderr.flush()
    done = subprocess.run([sys.executable, "-m", "archivist.cli", *command], check=False)
    sys.exit(done.returncode)


def translate(args: Sequence[str], script: str, flow: str,
              parameters: Any) -> list[str]:
    """The ``archivist`` arguments for Metaflow's ``args`` (``run --alpha 0.7``).

    Raises:
        InvalidInputError: an unknown command or option, a missing value.
    """
    command, rest = args[0], list(args[1:])
    if command not in COMMANDS:
        raise InvalidInputError(f"unknown command {command!r}; commands: "
                                f"{', '.join(COMMANDS)}")
    out = ["flow", command, os.path.abspath(script), "--flow", flow]
    by_name = {p.name: p for p in parameters.values()}
    while rest:
        token = rest.pop(0)
        if command == "resume" and not token.startswith("-") and "--step" not in out:
            out += ["--step", token]
            continue
        option, eq, value = token.partition("=")
        if not option.startswith("--") or command == "show":
            raise InvalidInputError(f"unexpected argument {token!r} for {command}")
        name = option[2:]
        if name in ("max-workers", "origin-run-id") and command != "show":
            if not eq:
                value = _value(rest, option)
            if name == "max-workers":
                out += ["--max-workers", value]
            elif command == "resume":
                out += ["--run", f"{flow}/{value}" if value.isdigit() else value]
            else:
                raise InvalidInputError("--origin-run-id is an option of resume")
            continue
        negated = name.startswith("no-") and name[3:] in by_name and _is_flag(by_name[name[3:]])
        parameter = by_name.get(name[3:] if negated else name)
        if parameter is None or command != "run":
            known = ", ".join(f"--{n}" for n in by_name) or "none"
            raise InvalidInputError(f"unknown option {option!r} for {command} (parameters: "
                                    f"{known})")
        if negated:
            value = "false"
        elif not eq:
            flag = _is_flag(parameter) and (not rest or rest[0].startswith("--"))
            value = "true" if flag else _value(rest, option)
        out += ["--param", f"{parameter.name}={value}"]
    return out


def _value(rest: list[str], option: str) -> str:
    if not rest:
        raise InvalidInputError(f"{option} needs a value")
    return rest.pop(0)


def _is_flag(parameter: Any) -> bool:
    kind = parameter.type or (None if parameter.required else type(parameter.default))
    return kind is bool
