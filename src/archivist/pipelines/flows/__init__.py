"""Class flows: ``Flow`` subclasses whose steps call ``self.next(...)``, run by an engine
that schedules their tasks (in worker processes with ``max_workers > 1``), records each
as part of a run, and resumes a failed run from where it stopped.

==================  ================================================================
``flow.py``         ``Flow``: what a flow class writes (``spec()``: what it declares)
``parameter.py``    ``Parameter``, ``IncludeFile``: a flow's inputs and their text
``base.py``         ``FlowBase``, ``FlowShape``: what the engine asks of a flow class
``current.py``      ``archivist.current``: the running flow, run, step and task
``graph.py``        the step graph read from ``self.next()`` calls, validated first
``nextcalls.py``    ``self.next()`` calls read from the code; a switch's case at run time
``engine.py``       scheduling, joins, recording, resume
``task.py``         one task: lazy attribute loads, the step call, persisting changes
``inputs.py``       a join's ``inputs``
``attempts.py``     one task under its decorators: catch, retry, timeout per attempt
``decorators.py``   ``@retry``, ``@catch``, ``@timeout``, ``@resources``
``resources.py``    ``@resources`` held by running tasks, within the machine
``state.py``        picklable records passed between tasks
``values.py``       the in-process value cache, foreach items
``workers.py``      worker processes, reopening the catalog and the flow class
==================  ================================================================
"""
