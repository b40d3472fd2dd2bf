"""SQLAlchemy Core tables of the metadata store (one schema for SQLite and PostgreSQL).

Every version row has a global string ``id`` (UUIDv7) and a local integer ``seq`` used
by the other tables: integer joins keep lineage recursion and tag filters cheap. The
schema is owned by the Alembic revisions in ``migrations/``; ``tests/backends`` checks
that ``alembic upgrade head`` produces exactly these tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata_obj = sa.MetaData()

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: ``names.fold_name`` of a name: case folding makes a character up to 3 (``ﬃ`` -> ``ffi``,
#: ``ΐ``), so 128 characters fold to at most 384. PostgreSQL enforces the length
#: (revision 0005 widened it); SQLite ignores it, so its declaration stays as created.
FoldedName = sa.String(128).with_variant(sa.String(512), "postgresql")

#: One row per (project, name): holds the version counter and case-folded uniqueness.
artifacts = sa.Table(
    "artifacts",
    metadata_obj,
    sa.Column("pk", BigInt, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("name_folded", FoldedName, nullable=False),
    sa.Column("last_version", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("project", "name_folded", name="uq_artifacts_project_name"),
)

versions = sa.Table(
    "versions",
    metadata_obj,
    sa.Column("seq", BigInt, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("artifact_pk", BigInt, sa.ForeignKey("artifacts.pk"), nullable=False),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("artifact_type", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("format", sa.String(64)),
    sa.Column("digest", sa.String(71)),
    sa.Column("size", sa.BigInteger),
    sa.Column("reference_uri", sa.String(2048)),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("partitions", JSONType, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("source_step", sa.String(256)),
    sa.Column("source_run_id", sa.String(256)),
    sa.Column("source_pipeline", sa.String(256)),
    sa.Column("user", sa.String(256)),
    sa.Column("code_version", sa.String(256)),
    sa.Column("created_at", sa.Float, nullable=False),  # seconds since the epoch, UTC
    sa.Column("deleted_at", sa.Float),
    sa.UniqueConstraint("artifact_pk", "version", name="uq_versions_artifact_version"),
    sa.Index("ix_versions_project_name_version", "project", "name", "version"),
    sa.Index("ix_versions_project_created", "project", "created_at"),
    sa.Index("ix_versions_project_type_created", "project", "artifact_type", "created_at"),
    sa.Index("ix_versions_digest", "digest"),
    sa.Index("ix_versions_run", "source_run_id"),
)

#: Mutable labels. ``value`` is the JSON scalar; ``text`` its string form for equality
#: and ``num`` its numeric value (numbers and booleans) for comparisons.
tags = sa.Table(
    "tags",
    metadata_obj,
    sa.Column("seq", BigInt, sa.ForeignKey("versions.seq"), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", JSONType),
    sa.Column("text", sa.String(4096)),
    sa.Column("num", sa.Float),
    sa.Index("ix_tags_key_text", "key", "text"),
    sa.Index("ix_tags_key_num", "key", "num"),
)

aliases = sa.Table(
    "aliases",
    metadata_obj,
    sa.Column("artifact_pk", BigInt, sa.ForeignKey("artifacts.pk"), primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("seq", BigInt, sa.ForeignKey("versions.seq"), nullable=False),
    sa.Index("ix_aliases_seq", "seq"),
    sa.Index("ix_aliases_alias", "alias"),
)

partitions = sa.Table(
    "partitions",
    metadata_obj,
    sa.Column("seq", BigInt, sa.ForeignKey("versions.seq"), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(1024), nullable=False),
    sa.Index("ix_partitions_key_value", "key", "value"),
)

#: Lineage: parent version -> child version, indexed in both directions.
edges = sa.Table(
    "edges",
    metadata_obj,
    sa.Column("parent", BigInt, sa.ForeignKey("versions.seq"), primary_key=True),
    sa.Column("child", BigInt, sa.ForeignKey("versions.seq"), primary_key=True),
    sa.Index("ix_edges_child_parent", "child", "parent"),
)

#: Every blob a version needs (its file, or a directory's manifest and every file in it).
blob_refs = sa.Table(
    "blob_refs",
    metadata_obj,
    sa.Column("seq", BigInt, sa.ForeignKey("versions.seq"), primary_key=True),
    sa.Column("digest", sa.String(71), primary_key=True),
    sa.Index("ix_blob_refs_digest", "digest"),
)

#: Blobs that a registration in flight is about to reference: gc keeps them until
#: the lease expires, whatever their age.
inflight = sa.Table(
    "inflight",
    metadata_obj,
    sa.Column("token", sa.String(36), primary_key=True),
    sa.Column("digest", sa.String(71), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False),
    # the project a catalog server took the lease for (revision 0004); NULL for a lease
    # taken by a local catalog. gc keeps every leased digest, whatever its project.
    sa.Column("project", sa.String(128)),
    sa.Index("ix_inflight_digest", "digest"),
)

#: Every change of a tag or alias (and deletions): who, when, old, new.
history = sa.Table(
    "history",
    metadata_obj,
    sa.Column("pk", BigInt, primary_key=True, autoincrement=True),
    sa.Column("artifact_pk", BigInt, sa.ForeignKey("artifacts.pk"), nullable=False),
    sa.Column("seq", BigInt, sa.ForeignKey("versions.seq")),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("old", JSONType),
    sa.Column("new", JSONType),
    sa.Column("user", sa.String(256)),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_history_artifact", "artifact_pk", "pk"),
    sa.Index("ix_history_kind_key", "kind", "key"),  # "renamed to" (reads.py)
)

#: Full-text documents. On SQLite this name is an FTS5 virtual table created by the
#: migrations (rowid = versions.seq; columns ``body`` and ``tagtok``); on PostgreSQL a
#: table with a tsvector and a text array, each with a GIN index. ``tagtok`` holds one
#: token per short tag (:func:`archivist.backends.sql.fulltext.tag_token`), so a search
#: meets its text and its tags in one index scan (revision 0008).
#: Declared here only so queries can refer to it; ``create_all`` never creates it.
search_docs = sa.Table(
    "search_docs",
    sa.MetaData(),
    sa.Column("rowid", BigInt, primary_key=True),
    sa.Column("body", sa.Text),
    sa.Column("tagtok", sa.Text().with_variant(ARRAY(sa.Text), "postgresql")),
)

# -- runs (revision 0002) -----------------------------------------------------------------

#: One row per (project, pipeline): holds the run counter, like ``artifacts`` for versions.
pipelines = sa.Table(
    "pipelines",
    metadata_obj,
    sa.Column("pk", BigInt, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("last_number", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("project", "name", name="uq_pipelines_project_name"),
)

#: One execution of a pipeline, flow or step. Times are epoch seconds (UTC).
runs = sa.Table(
    "runs",
    metadata_obj,
    sa.Column("pk", BigInt, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("pipeline_pk", BigInt, sa.ForeignKey("pipelines.pk"), nullable=False),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("pipeline", sa.String(256), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("parameters", JSONType, nullable=False),
    sa.Column("user", sa.String(256)),
    sa.Column("host", sa.String(256)),
    sa.Column("code_version", sa.String(256)),
    sa.Column("code_dirty", sa.Boolean),
    sa.Column("source_hash", sa.String(71)),
    sa.Column("error", sa.Text),
    sa.Column("details", JSONType, nullable=False),
    sa.UniqueConstraint("pipeline_pk", "number", name="uq_runs_pipeline_number"),
    sa.Index("ix_runs_project_started", "project", "started_at"),
    sa.Index("ix_runs_project_status", "project", "status"),
)

#: One task of a run: a step's execution (a foreach step has one per index).
run_tasks = sa.Table(
    "run_tasks",
    metadata_obj,
    sa.Column("pk", BigInt, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("run_pk", BigInt, sa.ForeignKey("runs.pk"), nullable=False),
    sa.Column("step", sa.String(256), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("cache_key", sa.String(71)),
    sa.Column("error", sa.Text),
    sa.Column("consumed", JSONType, nullable=False),
    sa.Column("produced", JSONType, nullable=False),
    sa.Column("data", JSONType, nullable=False),
    sa.Column("details", JSONType, nullable=False),
    sa.UniqueConstraint("run_pk", "step", "idx", name="uq_run_tasks_run_step_idx"),
    sa.Index("ix_run_tasks_cache_key", "cache_key"),
)

#: Versions a run consumed (``role="in"``) or produced (``"out"``), as plain ids.
run_io = sa.Table(
    "run_io",
    metadata_obj,
    sa.Column("run_pk", BigInt, sa.ForeignKey("runs.pk"), primary_key=True),
    sa.Column("role", sa.String(3), primary_key=True),
    sa.Column("version_id", sa.String(36), primary_key=True),
    sa.Index("ix_run_io_version", "version_id"),
)

# -- API keys of the catalog server (revision 0003) -------------------------------------

#: ``secret_hash`` is the SHA-256 (hex) of the secret; the secret itself is never stored.
api_keys = sa.Table(
    "api_keys",
    metadata_obj,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("name", sa.String(128)),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
    sa.Index("ix_api_keys_project", "project"),
)

# -- blobs a project holds in a blob store shared by projects (revision 0004) ------------

#: A project uploaded these bytes to the catalog server itself: it may read them back and
#: register versions needing them. In a store shared by projects, a project sees a blob
#: only through a row here or one of its own versions (``blob_refs``), never by its name.
blob_claims = sa.Table(
    "blob_claims",
    metadata_obj,
    sa.Column("project", sa.String(128), primary_key=True),
    sa.Column("digest", sa.String(71), primary_key=True),
    sa.Column("claimed_at", sa.Float, nullable=False),
    sa.Index("ix_blob_claims_digest", "digest"),
)
