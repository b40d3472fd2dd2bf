"""What calling a ``@step`` inside a run records.

One call is one task of the run. Its **parents** are, in this order and without repeats:
every :class:`Artifact` passed in; every argument that an earlier step of the same run
returned (the very object, or — for a copy — a value with the same content digest; lists,
tuples and dict values are looked into one level deep); and every version read while
the step ran (``get``, ``get_latest``, ``load``, ``open``, ``download``) through the run's
catalog or another catalog object on the same store and project. Each return value (see
:mod:`archivist.pipelines.step` for the names) is registered with those parents,
``source_pipeline``/``source_run_id``/``source_step`` filled, the code version of the run,
and the partitions taken from the arguments named in ``partition_by``. The outputs of one
call land in one transaction. An output equal to the newest version of its name (same
digest, type, parents and partitions) is that version again, not a new number: a re-run
of an unchanged pipeline leaves its versions as they were.

With ``cache=True`` the call first computes its cache key (:mod:`.cache`); when an
earlier succeeded task of the project has the same key and its outputs still load, they
are returned without running and the task is recorded ``cached``. An output that loads
only by unpickling is not loaded from the cache (the step runs again).

A step that raises marks its task and the run ``failed`` with the error text, then the
exception propagates unchanged.

A step that ends within :data:`~archivist.pipelines.runs.START_ROW_DELAY` is written
once: its finished task row lands in the transaction of its outputs (the "running" row
is written only for a step still running then; ``RunRecorder.start_task(defer=True)``).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping
from typing import Any

from archivist import timepartitions
from archivist.catalog.registration import Registration
from archivist.errors import ArchivistError, DuplicateArtifactWarning, InvalidInputError
from archivist.model import Artifact, TaskRecord
from archivist.pipelines import cache as caching
from archivist.pipelines.context import (
    ActiveRun,
    StepCapture,
    capturing,
    current_step,
    paused,
)
from archivist.pipelines.files import stored_path
from archivist.pipelines.stepspec import StepSpec

#: how a task's return value was shaped, kept in its details so a cache hit rebuilds it
SHAPE_NONE, SHAPE_SINGLE, SHAPE_TUPLE = "none", "single", "tuple"


def call_step(spec: StepSpec, active: ActiveRun, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
    """Run one call of ``spec`` inside ``active`` and record it (see the module doc)."""
    catalog, recorder = active.catalog, active.recorder
    outer = current_step()
    bound = spec.signature.bind(*args, **kwargs)
    bound.apply_defaults()
    inputs = _flatten(bound.arguments, spec)
    matched = {key: _match(active, value) for key, value in inputs.items()}
    parents = _parents(inputs, matched)
    partitions = _partitions(spec, bound.arguments)
    key = None
    if spec.cache:
        digests = {k: caching.input_digest(catalog, v, _digest_of(active, matched[k]))
                   for k, v in inputs.items()}
        key = caching.cache_key(spec.name, spec.code_hash, spec.outputs, digests,
                                {"partitions": partitions, "type": spec.artifact_type})
    details = {"source_hash": spec.code_hash, "partitions": partitions}
    if key is not None:
        hit = _from_cache(spec, active, key)
        if hit is not None:
            value, cached_task = hit
            recorder.reuse_task(spec.name, cached_task, consumed=parents, defer=True, details={
                **details, "shape": cached_task.details.get("shape"),
                "passthrough": cached_task.details.get("passthrough", [])})
            _tell_outer(outer, cached_task.produced)
            return value
    # the "running" row is written only if the step runs a while (see RunRecorder)
    task = recorder.start_task(spec.name, cache_key=key, details=details, defer=True)
    capture = StepCapture(step=spec.name, catalog=catalog, partitions=partitions)
    try:
        with capturing(capture):
            result = spec.fn(*args, **kwargs)
        all_parents = list(dict.fromkeys([*parents, *capture.consumed]))
        done = _store(spec, active, result, all_parents, partitions, task, capture)
    except BaseException as exc:
        consumed = list(dict.fromkeys([*parents, *capture.consumed]))
        recorder.fail_task(task, exc, consumed=consumed, produced=list(capture.logged.values()))
        recorder.mark_failed(f"step {spec.name} failed: {type(exc).__name__}: {exc}")
        raise
    recorder.ended(done)
    _tell_outer(outer, list(done.produced))
    return result


def _store(spec: StepSpec, active: ActiveRun, result: Any, parents: list[str],
           partitions: dict[str, str], task: TaskRecord, capture: StepCapture) -> TaskRecord:
    """Register the outputs and save the finished task, in one transaction (a step
    called inside an open ``batch()``: the task is saved at once, the outputs with the
    batch); returns the stored task. Its ``data`` maps each output (and each version
    logged in the body) to its version id; its details keep the result's shape and the
    outputs that were Artifacts handed through."""
    items = _items(spec, result)
    shape = SHAPE_NONE if result is None else (
        SHAPE_SINGLE if spec.outputs is None else SHAPE_TUPLE)
    catalog, recorder = active.catalog, active.recorder
    data: dict[str, str] = {}
    passthrough: list[str] = []
    pending: list[tuple[str, Any, str]] = []
    with warnings.catch_warnings():
        # re-running a pipeline stores the same content again: expected, not news
        warnings.simplefilter("ignore", DuplicateArtifactWarning)
        with catalog.step_batch() as slot:
            for output, artifact_name, value in items:
                if value is None:
                    continue
                if isinstance(value, Artifact):  # handed through, not stored again
                    data[output] = value.id
                    passthrough.append(output)
                    continue
                path = stored_path(value, f"output {artifact_name!r} of step {spec.name!r}")
                vid = catalog.register_step_output(Registration(
                    artifact_name, spec.type_of(output), data=value if path is None else None,
                    path=path, parent_ids=parents,
                    partitions=partitions, source_step=spec.name, source_run_id=recorder.id,
                    source_pipeline=recorder.pipeline, code_version=recorder.code_version,
                    reuse_unchanged=True))
                data[output] = vid
                pending.append((output, value, vid))
            data.update(capture.logged)
            recorder.supersede(task)  # the row written next replaces any start row
            done = recorder.finished(
                task, consumed=parents, data=data,
                produced=[*(v for *_, v in pending), *capture.logged.values()],
                details={"shape": shape, "passthrough": passthrough})
            if slot is not None:
                slot.task = done  # saved with the outputs
    if slot is None:
        catalog.backend.save_task(done)
    for _output, value, vid in pending:
        active.remember(value, vid)  # digests are read only if a later match needs them
    return done


def _items(spec: StepSpec, result: Any) -> list[tuple[str, str, Any]]:
    layout = spec.artifact_names()
    if spec.outputs is None or result is None:
        return [(layout[0][0], layout[0][1], result)] if spec.outputs is None else []
    if len(layout) == 1:
        return [(layout[0][0], layout[0][1], result)]
    if not isinstance(result, tuple | list) or len(result) != len(layout):
        got = f"{type(result).__name__} of {len(result)}" if isinstance(
            result, tuple | list) else type(result).__name__
        raise InvalidInputError(f"step {spec.name!r} declares {len(layout)} outputs "
                                f"{list(spec.outputs)} but returned a {got}")
    return [(o, n, v) for (o, n), v in zip(layout, result, strict=True)]


def _from_cache(spec: StepSpec, active: ActiveRun, key: str) -> tuple[Any, TaskRecord] | None:
    catalog = active.catalog
    answer = catalog.backend.find_cached_outputs(catalog.project, key)  # one read
    if answer is None:
        return None
    found, records = answer
    shape = found.details.get("shape")
    if shape == SHAPE_NONE:
        return None, found
    values: dict[str, Any] = {}
    passthrough = set(found.details.get("passthrough") or ())
    stored = {a.id: a for a in records}
    try:
        with paused():
            for output, _name in spec.artifact_names():
                vid = found.data.get(output)
                if vid is None:
                    values[output] = None
                    continue
                artifact = stored.get(vid)
                if artifact is None or artifact.deleted or (
                        artifact.format in ("file", "directory") and output not in passthrough):
                    return None  # a file's bytes are no path to hand back: run again
                # the records were read just above: load without looking them up again
                value = (catalog.get(artifact) if output in passthrough
                         else catalog._load_record(artifact))
                values[output] = value
                active.remember(value, artifact)
    except ArchivistError:  # corrupt, needs unpickling, …: run the step again
        return None
    ordered = [values[o] for o, _ in spec.artifact_names()]
    if shape == SHAPE_SINGLE or spec.outputs is None or len(ordered) == 1:
        return ordered[0], found
    return tuple(ordered), found


def _flatten(arguments: Mapping[str, Any], spec: StepSpec) -> dict[str, Any]:
    """Parameter name -> value, with ``*args`` as ``name[i]`` and ``**kw`` as ``name.k``."""
    out: dict[str, Any] = {}
    for name, value in arguments.items():
        kind = spec.signature.parameters[name].kind
        if kind is kind.VAR_POSITIONAL:
            out.update({f"{name}[{i}]": v for i, v in enumerate(value)})
        elif kind is kind.VAR_KEYWORD:
            out.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out


def _match(active: ActiveRun, value: Any) -> list[str]:
    """Version ids an argument stands for (empty: a plain value)."""
    if isinstance(value, Artifact):
        return [value.id]
    found = active.produced_by_identity(value)
    if found is not None:
        return [found]
    if isinstance(value, list | tuple | dict):
        items = value.values() if isinstance(value, dict) else value
        ids = [i for item in items for i in _match_one(active, item)]
        if ids:
            return ids
    if (active.by_digest or active.pending) and not _scalar(value):
        digest = caching.value_digest(active.catalog, value)
        produced = active.digest_map()
        if digest is not None and digest in produced:
            return [produced[digest]]
    return []


def _match_one(active: ActiveRun, value: Any) -> list[str]:
    if isinstance(value, Artifact):
        return [value.id]
    found = active.produced_by_identity(value)
    return [found] if found is not None else []


def _parents(inputs: Mapping[str, Any], matched: Mapping[str, list[str]]) -> list[str]:
    return list(dict.fromkeys(i for key in inputs for i in matched[key]))


def _digest_of(active: ActiveRun, ids: list[str]) -> str | None:
    """The digest identifying an argument matched to versions (``None``: unmatched)."""
    if not ids:
        return None
    known = active.digest_of(ids)
    return ",".join(known[i] or f"id:{i}" for i in ids)


def _partitions(spec: StepSpec, arguments: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    extra: Mapping[str, Any] = next((v for k, v in arguments.items()
                                     if spec.signature.parameters[k].kind
                                     is inspect.Parameter.VAR_KEYWORD), {})
    for key in spec.partition_by:
        if key in arguments:
            value = arguments[key]
        elif key in extra:
            value = extra[key]
        else:
            raise InvalidInputError(f"step {spec.name!r} partitions by {key!r} but the call "
                                    "did not pass it")
        if value is None:
            raise InvalidInputError(f"partition {key!r} of step {spec.name!r} is None")
        if key == spec.time_partition:
            out[key] = timepartitions.bucket(value, spec.granularity)
            out[key + timepartitions.GRANULARITY_SUFFIX] = spec.granularity
            continue
        stored = timepartitions.canonical(value)
        out[key] = stored if isinstance(stored, str) else str(stored)
    return out


def _tell_outer(outer: StepCapture | None, produced: list[str]) -> None:
    """A step called inside another step: its outputs are the outer step's inputs."""
    if outer is not None:
        for vid in produced:
            outer.consumed.setdefault(vid, None)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float)
