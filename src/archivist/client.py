"""Reading recorded runs in Metaflow's words: ``from archivist.client import Flow, Run``
is ``from metaflow import Flow, Run``::

    from archivist.client import Flow, Run

    run = Flow("TrainFlow").latest_run        # or Run("TrainFlow/12")
    run["train"].task.data.accuracy
    [r.pathspec for r in Flow("TrainFlow").runs()]

:class:`Flow` here reads a flow's runs; ``archivist.Flow`` is the class flows are written
with (Metaflow keeps the two apart the same way: ``FlowSpec`` and ``Flow``).
"""

from __future__ import annotations

from archivist.pipelines.client import DataArtifact, DataView, Run, Step, Task
from archivist.pipelines.flowclient import Flow

__all__ = ["DataArtifact", "DataView", "Flow", "Run", "Step", "Task"]
