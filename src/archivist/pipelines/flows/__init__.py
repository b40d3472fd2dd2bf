"""Class flows: ``Flow`` subclasses whose steps call ``self.next(...)``, run by an engine
that schedules their tasks (in worker processes with ``max_workers > 1``), records each
as part of a run, and resumes a failed run from where it stopped.

================  ================================================================
``flow.py``       ``Flow`` and ``Parameter``: what a flow class writes
``base.py``       ``FlowBase``: what the engine asks of a flow class
``graph.py``      the step graph read from ``self.next()`` calls, validated first
``engine.py``     scheduling, joins, recording, resume
``task.py``       one task: lazy attribute loads, the step call, persisting changes
``state.py``      picklable records passed between tasks
``values.py``     the in-process value cache, foreach items
``workers.py``    worker processes, reopening the catalog and the flow class
================  ================================================================
"""
