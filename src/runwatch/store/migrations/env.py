"""Alembic environment: runs against the connection runwatch hands it."""

from alembic import context

from runwatch.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("runwatch migrations run through runwatch.store.engine.upgrade()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
