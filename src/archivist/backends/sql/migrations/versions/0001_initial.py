"""The initial catalog schema: versions, tags, aliases, partitions, lineage, history.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("pk", BigInt, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("name_folded", sa.String(128), nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("project", "name_folded", name="uq_artifacts_project_name"),
    )
    op.create_table(
        "versions",
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
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("deleted_at", sa.Float),
        sa.UniqueConstraint("artifact_pk", "version", name="uq_versions_artifact_version"),
    )
    op.create_index("ix_versions_project_name_version", "versions",
                    ["project", "name", "version"])
    op.create_index("ix_versions_project_created", "versions", ["project", "created_at"])
    op.create_index("ix_versions_project_type_created", "versions",
                    ["project", "artifact_type", "created_at"])
    op.create_index("ix_versions_digest", "versions", ["digest"])
    op.create_index("ix_versions_run", "versions", ["source_run_id"])
    op.create_table(
        "tags",
        sa.Column("seq", BigInt, sa.ForeignKey("versions.seq"), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", JSONType),
        sa.Column("text", sa.String(4096)),
        sa.Column("num", sa.Float),
    )
    op.create_index("ix_tags_key_text", "tags", ["key", "text"])
    op.create_index("ix_tags_key_num", "tags", ["key", "num"])
    op.create_table(
        "aliases",
        sa.Column("artifact_pk", BigInt, sa.ForeignKey("artifacts.pk"), primary_key=True),
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column("seq", BigInt, sa.ForeignKey("versions.seq"), nullable=False),
    )
    op.create_index("ix_aliases_seq", "aliases", ["seq"])
    op.create_index("ix_aliases_alias", "aliases", ["alias"])
    op.create_table(
        "partitions",
        sa.Column("seq", BigInt, sa.ForeignKey("versions.seq"), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(1024), nullable=False),
    )
    op.create_index("ix_partitions_key_value", "partitions", ["key", "value"])
    op.create_table(
        "edges",
        sa.Column("parent", BigInt, sa.ForeignKey("versions.seq"), primary_key=True),
        sa.Column("child", BigInt, sa.ForeignKey("versions.seq"), primary_key=True),
    )
    op.create_index("ix_edges_child_parent", "edges", ["child", "parent"])
    op.create_table(
        "blob_refs",
        sa.Column("seq", BigInt, sa.ForeignKey("versions.seq"), primary_key=True),
        sa.Column("digest", sa.String(71), primary_key=True),
    )
    op.create_index("ix_blob_refs_digest", "blob_refs", ["digest"])
    op.create_table(
        "inflight",
        sa.Column("token", sa.String(36), primary_key=True),
        sa.Column("digest", sa.String(71), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_inflight_digest", "inflight", ["digest"])
    op.create_table(
        "history",
        sa.Column("pk", BigInt, primary_key=True, autoincrement=True),
        sa.Column("artifact_pk", BigInt, sa.ForeignKey("artifacts.pk"), nullable=False),
        sa.Column("seq", BigInt, sa.ForeignKey("versions.seq")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("old", JSONType),
        sa.Column("new", JSONType),
        sa.Column("user", sa.String(256)),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_history_artifact", "history", ["artifact_pk", "pk"])
    # Full text: FTS5 on SQLite (rowid = versions.seq), tsvector + GIN on PostgreSQL.
    # ``_ - . /`` separate tokens under unicode61, so "fraud" finds fraud_detector_v2.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE search_docs USING fts5("
                   "body, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')")
    else:
        op.execute("CREATE TABLE search_docs (rowid BIGINT PRIMARY KEY, body TSVECTOR)")
        op.execute("CREATE INDEX ix_search_docs_body ON search_docs USING GIN (body)")


def downgrade() -> None:
    op.execute("DROP TABLE search_docs")
    for table in ("history", "inflight", "blob_refs", "edges", "partitions", "aliases", "tags",
                  "versions", "artifacts"):
        op.drop_table(table)
