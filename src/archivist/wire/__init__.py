"""The JSON form of the records the HTTP API carries, both directions, written once.

The server decodes requests and encodes responses with these functions, and the remote
backend does the reverse, so the two can never disagree on a shape (STYLE P17):

======================  =====================================================================
``Artifact``            :meth:`Artifact.to_dict` (``created_at`` ISO 8601) /
                        :func:`artifact_from_dict`
``NewVersion``          ``dataclasses.asdict`` with tuples as lists: :func:`new_version_to_dict`
                        / :func:`new_version_from_dict`
``HistoryEntry``        :meth:`HistoryEntry.to_dict` / :func:`history_entry_from_dict`
``LineageRows``         ``{"parents","children","upstream","downstream","edges":[[p, c]]}``:
                        :func:`lineage_to_dict` / :func:`lineage_from_dict`
``NewRun``              ``dataclasses.asdict``: :func:`new_run_to_dict` / :func:`new_run_from_dict`
``RunRecord``,          their own ``to_dict`` / ``from_dict`` (``model.py``), wrapped as
``TaskRecord``          :func:`run_from_dict` / :func:`task_from_dict` for typed errors
``ListFilter``          query parameters: :func:`filter_to_params` / :func:`filter_from_params`
a page position         ``limit`` + opaque ``cursor``: :func:`page_to_params` /
                        :func:`page_from_params`, :func:`encode_cursor`, :func:`next_cursor`
reports                 ``VerifyReport``/``GcReport.to_dict()``: :func:`verify_report_from_dict`,
                        :func:`gc_report_from_dict`
an error                ``{"error": {"type","code","message","details"}}``:
                        :func:`error_to_dict` / :func:`error_from_dict`
======================  =====================================================================

Decoders check the *shape* (field names and JSON types) and raise ``InvalidInputError``
naming the field; the meaning (name rules, limits) is checked by :mod:`archivist.names`
where the records are used. Unknown fields of a ``NewVersion`` or ``NewRun`` are refused
(a request that says more than the server understands writes nothing); unknown fields of
an ``Artifact`` are ignored, so an older client can read a newer server.
"""

from __future__ import annotations

from archivist.limits import MAX_PAGE
from archivist.wire.errors import error_from_dict, error_to_dict
from archivist.wire.params import (
    DEFAULT_PAGE,
    decode_cursor,
    decode_tag_value,
    encode_cursor,
    encode_tag_value,
    filter_from_params,
    filter_to_params,
    next_cursor,
    page_from_params,
    page_to_params,
)
from archivist.wire.records import (
    artifact_from_dict,
    artifact_to_dict,
    artifacts_from_list,
    gc_report_from_dict,
    history_entry_from_dict,
    history_entry_to_dict,
    lineage_from_dict,
    lineage_to_dict,
    new_run_from_dict,
    new_run_to_dict,
    new_version_from_dict,
    new_version_to_dict,
    parse_timestamp,
    run_from_dict,
    task_from_dict,
    verify_report_from_dict,
)

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "artifact_from_dict",
    "artifact_to_dict",
    "artifacts_from_list",
    "decode_cursor",
    "decode_tag_value",
    "encode_cursor",
    "encode_tag_value",
    "error_from_dict",
    "error_to_dict",
    "filter_from_params",
    "filter_to_params",
    "gc_report_from_dict",
    "history_entry_from_dict",
    "history_entry_to_dict",
    "lineage_from_dict",
    "lineage_to_dict",
    "new_run_from_dict",
    "new_run_to_dict",
    "new_version_from_dict",
    "new_version_to_dict",
    "next_cursor",
    "page_from_params",
    "page_to_params",
    "parse_timestamp",
    "run_from_dict",
    "task_from_dict",
    "verify_report_from_dict",
]
