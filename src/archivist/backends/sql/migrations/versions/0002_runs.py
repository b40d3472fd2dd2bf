"""Runs: pipelines (run counters), runs, their tasks, and the versions they link.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("pk", BigInt, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("last_number", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("project", "name", name="uq_pipelines_project_name"),
    )
    op.create_table(
        "runs",
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
    )
    op.create_index("ix_runs_project_started", "runs", ["project", "started_at"])
    op.create_index("ix_runs_project_status", "runs", ["project", "status"])
    op.create_table(
        "run_tasks",
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
    )
    op.create_index("ix_run_tasks_cache_key", "run_tasks", ["cache_key"])
    op.create_table(
        "run_io",
        sa.Column("run_pk", BigInt, sa.ForeignKey("runs.pk"), primary_key=True),
        sa.Column("role", sa.String(3), primary_key=True),
        sa.Column("version_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_run_io_version", "run_io", ["version_id"])


def downgrade() -> None:
    for table in ("run_io", "run_tasks", "runs", "pipelines"):
        op.drop_table(table)
