"""Request and response bodies of the HTTP API, as pydantic models (STYLE P27).

Request models refuse unknown fields (``extra="forbid"``) and coerce nothing
(``strict``): a request that says more, or other, than the API understands writes
nothing. Response models document ``/openapi.json``; the routes return the records'
own JSON forms (:mod:`archivist.wire`), which these models describe field for field.

It is one module of a little over 400 lines on purpose: the API's bodies read best as one
list, next to each other.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from archivist.limits import MAX_BATCH
from archivist.model import NewRun, NewVersion, TaskRecord
from archivist.wire import task_from_dict

JsonScalar = str | int | float | bool | None
_ID = "0193f0c2-9b7e-7c3a-8f00-1a2b3c4d5e6f"
_DIGEST = "sha256:" + "ab" * 32


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- errors ---------------------------------------------------------------------------------
class ErrorDetail(Response):
    type: str = Field(description="The error's code, e.g. not_found, invalid_input.",
                      examples=["not_found"])
    code: str = Field(description="Same as type.", examples=["not_found"])
    message: str = Field(description="What was asked, what exists, what to do.")
    details: dict[str, Any] = Field(description="Structured facts (ids, limits, fields).")


class ErrorBody(Response):
    error: ErrorDetail


# -- versions -------------------------------------------------------------------------------
class NewVersionIn(Request):
    """A registration built and validated by the client's catalog; the server checks it
    again with the same rules (SPEC §9) before writing."""

    id: str = Field(description="UUIDv7 chosen by the client.", examples=[_ID])
    project: str = Field(description="Must equal the project of the path.",
                         examples=["default"])
    name: str = Field(examples=["fraud-model"])
    artifact_type: str = Field(examples=["model"])
    created_at: float = Field(description="Epoch seconds.", examples=[1764614400.0])
    kind: Literal["file", "directory", "reference", "none"] = "none"
    format: str | None = Field(None, examples=["skops"])
    digest: str | None = Field(None, examples=[_DIGEST])
    size: int | None = Field(None, ge=0)
    reference_uri: str | None = Field(None, examples=["s3://bucket/data.parquet"])
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, JsonScalar] = Field(default_factory=dict, examples=[{"stage": "dev"}])
    aliases: list[str] = Field(default_factory=list, examples=[["candidate"]])
    partitions: dict[str, str] = Field(default_factory=dict)
    parent_ids: list[str] = Field(default_factory=list)
    blob_digests: list[str] = Field(default_factory=list, description=(
        "Every blob the version needs; each must have been uploaded to the project."))
    description: str | None = None
    source_step: str | None = None
    source_run_id: str | None = None
    source_pipeline: str | None = None
    user: str | None = None
    code_version: str | None = None
    version: int | None = Field(None, ge=1, description="Number to keep (bundle import); "
                                                         "null assigns the next one.")

    def record(self) -> NewVersion:
        """The record this body describes (its fields are the record's, by name)."""
        return NewVersion(**{**dict(self), "aliases": tuple(self.aliases),
                             "parent_ids": tuple(self.parent_ids),
                             "blob_digests": tuple(self.blob_digests)})


class CreateVersions(Request):
    versions: list[NewVersionIn] = Field(min_length=1, max_length=MAX_BATCH)


class ArtifactOut(Response):
    """One version (``Artifact.to_dict()``)."""

    id: str = Field(examples=[_ID])
    artifact_id: str
    name: str
    version: int
    artifact_type: str
    project: str
    created_at: str = Field(description="ISO 8601.")
    digest: str | None = None
    size: int | None = None
    kind: str
    format: str | None = None
    reference_uri: str | None = None
    storage_path: str | None = None
    metadata: dict[str, Any]
    tags: dict[str, Any]
    aliases: list[str]
    partitions: dict[str, str]
    parent_ids: list[str]
    description: str | None = None
    source_step: str | None = None
    source_run_id: str | None = None
    source_pipeline: str | None = None
    user: str | None = None
    code_version: str | None = None
    deleted: bool
    uri: str = Field(examples=["archivist://default/fraud-model:3"])


class ArtifactList(Response):
    data: list[ArtifactOut]


class ArtifactPage(ArtifactList):
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; "
                                                "null on the last page.")


class Lookup(Request):
    ids: list[str] = Field(max_length=MAX_BATCH, examples=[[_ID]])


class TagUpdate(Request):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    set_tags: dict[str, JsonScalar] = Field(default_factory=dict, alias="set",
                                            examples=[{"stage": "production"}])
    remove: list[str] = Field(default_factory=list, examples=[["candidate"]])


class MetadataUpdate(Request):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    set_keys: dict[str, Any] = Field(default_factory=dict, alias="set",
                                     description="Top-level metadata keys to set.",
                                     examples=[{"reviewed": True}])
    remove: list[str] = Field(default_factory=list, description="Top-level keys to remove.",
                              examples=[["draft"]])


class Rename(Request):
    new_name: str = Field(description="The new name (unique in the project regardless of "
                                      "case).", examples=["churn_model"])


class VersionUpdate(Request):
    description: str | None = Field(description="The version's new description; null "
                                                "clears it.", examples=["retrained on May"])


class Spelling(Response):
    spelling: str | None = Field(description="The existing spelling of the name in any "
                                             "case, or null.")


class HistoryEntryOut(Response):
    at: str
    kind: str = Field(examples=["tag"])
    key: str
    old: Any = None
    new: Any = None
    version_id: str | None = None
    user: str | None = None


class HistoryList(Response):
    data: list[HistoryEntryOut]


class LineageOut(Response):
    parents: list[str]
    children: list[str]
    upstream: list[str]
    downstream: list[str]
    edges: list[list[str]] = Field(description="[parent, child] id pairs.")


class ProjectList(Response):
    data: list[str]


# -- blobs and leases -----------------------------------------------------------------------
class Digests(Request):
    digests: list[str] = Field(max_length=MAX_BATCH, examples=[[_DIGEST]],
                               description="At most 10,000 per request.")


class DigestPage(Response):
    data: list[str]
    next_cursor: str | None


class Missing(Response):
    missing: list[str] = Field(description="The digests the project's store lacks.")


class BlobStored(Response):
    digest: str = Field(examples=[_DIGEST])
    size: int


class Lease(Request):
    digests: list[str] = Field(max_length=100_000, examples=[[_DIGEST]])
    expires_at: float = Field(description="Epoch seconds.", examples=[1764618000.0])


# -- maintenance ----------------------------------------------------------------------------
class GcRequest(Request):
    dry_run: bool = True
    grace: str | float = Field("1d", description="Keep blobs younger than this "
                                                 "('30s', '2h', '1d' or seconds).")


class VerifyReportOut(Response):
    ok: bool
    checked: int
    corrupt: list[str]
    missing: list[str]
    suspicious: list[str]
    changed_references: list[str]
    unchecked_references: list[str] = Field(description="External references the server "
                                            "did not re-check: it never reads them.")
    unreferenced: list[str]
    stale_temp: list[str]


class GcReportOut(Response):
    dry_run: bool
    freed: list[str]
    freed_bytes: int
    kept: dict[str, str]
    temp_removed: list[str]


# -- keys -----------------------------------------------------------------------------------
class KeyCreate(Request):
    project: str = Field(description="Must be the admin key's own project.",
                         examples=["default"])
    scope: Literal["read", "write", "admin"]
    name: str | None = Field(None, max_length=128, examples=["ci-pipeline"])


class KeyOut(Response):
    id: str
    project: str
    scope: str
    name: str | None
    created_at: str
    revoked_at: str | None = None


class KeyCreated(Response):
    id: str
    key: str = Field(description="The secret: shown only in this response.")
    project: str
    scope: str
    name: str | None
    created_at: str


class KeyList(Response):
    data: list[KeyOut]


class Health(Response):
    status: Literal["ok"]


class Ready(Response):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(
        description='"database" and "store": "ok", or the error that check met.')


# -- runs -----------------------------------------------------------------------------------
class NewRunIn(Request):
    """A run to create; `number` null lets the server assign the next one."""

    id: str = Field(examples=[_ID])
    project: str = Field(examples=["default"])
    pipeline: str = Field(examples=["fraud_detection"])
    started_at: float = Field(description="Epoch seconds.")
    kind: Literal["pipeline", "flow", "step"] = "pipeline"
    status: Literal["running", "succeeded", "failed"] = "running"
    ended_at: float | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    user: str | None = None
    host: str | None = None
    code_version: str | None = None
    code_dirty: bool | None = None
    source_hash: str | None = None
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    number: int | None = Field(None, ge=1)

    def record(self) -> NewRun:
        """The record this body describes (its fields are the record's, by name)."""
        return NewRun(**dict(self))


class CreateRun(Request):
    run: NewRunIn


class RunUpdate(Request):
    status: Literal["running", "succeeded", "failed"]
    ended_at: float | None = None
    error: str | None = None
    details: dict[str, Any] | None = Field(None, description="Replaces the run's details "
                                                             "when given.")


class TaskIn(Request):
    """One task of a run (`TaskRecord.to_dict()`)."""

    id: str
    run_id: str
    step: str = Field(examples=["train"])
    index: int = Field(0, ge=0)
    status: Literal["running", "succeeded", "failed"] = "running"
    started_at: str | None = Field(None, description="ISO 8601.")
    ended_at: str | None = Field(None, description="ISO 8601.")
    cached: bool = False
    cache_key: str | None = None
    error: str | None = None
    consumed: list[str] = Field(default_factory=list)
    produced: list[str] = Field(default_factory=list)
    data: dict[str, str] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)

    def record(self) -> TaskRecord:
        """The record this body describes (times parsed from ISO 8601).

        Raises:
            InvalidInputError: a time that is not ISO 8601.
        """
        return task_from_dict(dict(self))


class RunLinks(Request):
    consumed: list[str] = Field(default_factory=list, max_length=100_000)
    produced: list[str] = Field(default_factory=list, max_length=100_000)


class TaskOut(Response):
    id: str
    run_id: str
    step: str
    index: int
    status: str
    started_at: str | None
    ended_at: str | None
    cached: bool
    cache_key: str | None
    error: str | None
    consumed: list[str]
    produced: list[str]
    data: dict[str, str]
    details: dict[str, Any]


class RunOut(Response):
    id: str
    project: str
    pipeline: str
    number: int
    pathspec: str = Field(examples=["fraud_detection/3"])
    kind: str
    status: str
    started_at: str
    ended_at: str | None
    parameters: dict[str, Any]
    user: str | None
    host: str | None
    code_version: str | None
    code_dirty: bool | None
    source_hash: str | None
    error: str | None
    consumed: list[str]
    produced: list[str]
    tasks: list[TaskOut]
    details: dict[str, Any]


class RunData(Response):
    data: RunOut


class RunPage(Response):
    data: list[RunOut]
    next_cursor: str | None


class CachedTask(Response):
    data: TaskOut | None


class BlobReferences(Response):
    data: dict[str, bool] = Field(description="digest -> whether a live version needs it.")


class Leased(Response):
    digests: list[str]
