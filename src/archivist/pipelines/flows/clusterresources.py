"""``@resources`` on a Dask cluster, as Dask's own worker resources.

Dask runs a task submitted with ``resources={"GPU": 1}`` only on a worker started with that
resource (``dask worker --resources "GPU=2"``) and never more such tasks at once than the
worker declares. A step's ``@resources(cpu=, memory=, gpu=)`` becomes that request for each
kind the cluster's workers declare (``CPU``, ``MEMORY`` in MB, ``GPU``, in any case). A kind
no worker declares is checked against what the workers have: ``memory`` against their
memory limit (a task past it would be killed by its nanny), ``gpu`` against nothing (no GPU
is known); ``cpu`` is not checked (Dask knows threads, not CPUs). A step no worker could
hold is refused before the run starts, as on one machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archivist.errors import InvalidFlowError
from archivist.pipelines.flows.base import FlowBase
from archivist.pipelines.flows.resources import KINDS, asked_by


def dask_requests(flow_cls: type[FlowBase],
                  workers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Step -> the ``resources=`` its tasks are submitted with (steps that ask one only).

    ``workers`` is ``client.scheduler_info()["workers"]``: address -> ``resources``,
    ``memory_limit`` (bytes, 0 for none), ….

    Raises:
        InvalidFlowError: a step asks more than any worker declares or has.
    """
    declared: dict[str, str] = {}  # kind -> the name the workers give it
    for info in workers.values():
        for name in info.get("resources") or {}:
            if name.lower() in KINDS:
                declared.setdefault(name.lower(), name)
    requests: dict[str, dict[str, float]] = {}
    for step, amounts in asked_by(flow_cls).items():
        request: dict[str, float] = {}
        for kind, amount in zip(KINDS, amounts, strict=True):
            if not amount:
                continue
            if kind in declared:
                name = declared[kind]
                most = max(float((info.get("resources") or {}).get(name, 0))
                           for info in workers.values())
                if amount > most:
                    _refuse(flow_cls, step, kind, amount,
                            f"the most {name} a worker of the cluster declares is {most:g}")
                request[name] = amount
            elif kind == "gpu":
                _refuse(flow_cls, step, kind, amount, "no worker of the cluster declares a "
                        "GPU resource (start them with: dask worker --resources GPU=N)")
            elif kind == "memory":
                limits = [int(info.get("memory_limit") or 0) for info in workers.values()]
                most_mb = float("inf") if 0 in limits else max(limits) // 2**20
                if amount > most_mb:
                    _refuse(flow_cls, step, kind, amount,
                            f"the largest worker memory limit is {most_mb:g} MB")
        if request:
            requests[step] = request
    return requests


def _refuse(flow_cls: type[FlowBase], step: str, kind: str, amount: int, why: str) -> None:
    raise InvalidFlowError(
        f"step {step!r} of {flow_cls.__name__} asks @resources({kind}={amount}) but {why}; "
        "the task could never start", step=step, resource=kind, asked=amount)
