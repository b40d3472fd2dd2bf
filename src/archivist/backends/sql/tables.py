"""SQLAlchemy Core tables of the metadata store (one schema for SQLite and PostgreSQL).

Every version row has a global string ``id`` (UUIDv7) and a local integer ``seq`` used
by the other tables: integer joins keep lineage recursion and tag filters cheap. The
schema is owned by the Alembic revisions in ``migrations/``; ``tests/backends`` checks
that ``alembic upgrade head`` produces exactly these tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata_obj = sa.MetaData()

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: One row per (project, name): holds the version counter and case-folded uniqueness.
artifacts = sa.Table(
    "artifacts",
    metadata_obj,
    sa.Column("pk", BigInt, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("name_folded", sa.String(128), nullable=False),
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
)

#: Full-text documents. On SQLite this name is an FTS5 virtual table created by the
#: migration (rowid = versions.seq); on PostgreSQL a table with a tsvector and GIN index.
#: Declared here only so queries can refer to it; ``create_all`` never creates it.
search_docs = sa.Table(
    "search_docs",
    sa.MetaData(),
    sa.Column("rowid", BigInt, primary_key=True),
    sa.Column("body", sa.Text),
)
