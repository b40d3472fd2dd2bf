"""Alembic environment: runs on the connection the backend hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from archivist.backends.sql.tables import metadata_obj

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata_obj,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
