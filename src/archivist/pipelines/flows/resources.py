"""``@resources`` on this machine: what a flow's tasks may hold at once.

With local worker processes the engine starts a task only while the ``@resources`` of
the tasks running (plus its own) stay within the machine: the CPUs this process may use
(``os.sched_getaffinity``), the memory free when the run starts (``MemAvailable``) and
the GPUs it sees. A step without ``@resources`` asks for nothing (``max_workers`` alone
bounds it). A step asking more than the machine has can never start, so the run is
refused before it starts (:func:`check_resources`), as the graph's errors are.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from archivist.errors import InvalidFlowError
from archivist.pipelines.flows.base import FlowBase
from archivist.pipelines.flows.decorators import options_of

#: The three resources, in the order of :class:`Machine`'s fields.
KINDS = ("cpu", "memory", "gpu")


@dataclass(frozen=True)
class Machine:
    """What this machine offers a run: CPUs, free memory (MB), GPUs."""

    cpu: int
    memory: int
    gpu: int

    @classmethod
    def current(cls) -> Machine:
        """The CPUs this process may run on, the memory available now, the GPUs seen
        (``CUDA_VISIBLE_DEVICES`` when set, else the ``/dev/nvidiaN`` devices)."""
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else os.cpu_count() or 1
        return cls(cpus, _free_memory_mb(), _gpus())


def _free_memory_mb() -> int:
    try:
        text = Path("/proc/meminfo").read_text()
        found = re.search(r"^MemAvailable:\s+(\d+) kB", text, re.MULTILINE)
        if found:
            return int(found.group(1)) // 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError, AttributeError):
        return 0


def _gpus() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    return len([p for p in Path("/dev").glob("nvidia*") if re.fullmatch(r"nvidia\d+", p.name)])


def asked_by(flow_cls: type[FlowBase]) -> dict[str, tuple[int, int, int]]:
    """Step -> the ``(cpu, memory, gpu)`` its ``@resources`` asks (steps with one only)."""
    found = {}
    for name, func in flow_cls.spec().steps.items():
        asked = options_of(func).resources()
        if asked:
            found[name] = (asked.get("cpu", 0), asked.get("memory", 0), asked.get("gpu", 0))
    return found


def check_resources(flow_cls: type[FlowBase], machine: Machine | None = None) -> Machine:
    """The machine, once no step of ``flow_cls`` asks more than it has.

    Raises:
        InvalidFlowError: a step's ``@resources`` exceed the machine (the step is named,
            with what it asks and what there is); nothing has run.
    """
    machine = machine or Machine.current()
    have = (machine.cpu, machine.memory, machine.gpu)
    units = ("CPUs", "MB of memory", "GPUs")
    for step, asked in asked_by(flow_cls).items():
        for kind, want, has, unit in zip(KINDS, asked, have, units, strict=True):
            if want > has:
                where = " free" if kind == "memory" else ""
                raise InvalidFlowError(
                    f"step {step!r} of {flow_cls.__name__} asks @resources({kind}={want}) but "
                    f"this machine has {has} {unit}{where}; the task could never start. "
                    "Lower it, or run on a cluster (executor=)", step=step, resource=kind,
                    asked=want, available=has)
    return machine


class ResourceBudget:
    """What the running tasks hold of the machine; :meth:`take` before a task starts,
    :meth:`release` when it ends."""

    def __init__(self, flow_cls: type[FlowBase], machine: Machine | None = None) -> None:
        machine = machine or Machine.current()
        self.free = [machine.cpu, machine.memory, machine.gpu]
        self.asked = asked_by(flow_cls)

    def take(self, step: str, *, alone: bool = False) -> bool:
        """Reserve what ``step`` asks, if it fits in what is free now; ``alone`` (no task
        is running): reserve it anyway (it passed :func:`check_resources`; the memory free
        may have changed since)."""
        asked = self.asked.get(step)
        if asked is None:
            return True
        if not alone and any(want > free for want, free in zip(asked, self.free, strict=True)):
            return False
        self.free = [free - want for want, free in zip(asked, self.free, strict=True)]
        return True

    def release(self, step: str) -> None:
        """Give back what a task of ``step`` held."""
        asked = self.asked.get(step)
        if asked is not None:
            self.free = [free + want for want, free in zip(asked, self.free, strict=True)]
